"""Reading what `cdk synth` produced, and resolving its CloudFormation intrinsics locally."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_OUT = REPO_ROOT / "cdk.out"
# What the synthesized app is made of: a change in any of these makes cdk.out stale.
SYNTH_INPUTS = ("app.py", "cdk.json", "infra", "functions", "containers", "fala/core")

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


class SynthError(RuntimeError):
    pass


class UnknownIntrinsic(ValueError):
    """The template uses an intrinsic the local emulation cannot resolve; extend `Resolver`."""


# The emulation runs every path, so it synthesizes the optional GPU voice service too (its job
# queue and the fallback step; ECS itself is not emulated, the job worker runs in-process).
LOCAL_CONTEXT = {"fala:voice_service": "true"}
_CONTEXT_MARKER = "fala-local-context.json"


def synth(
    *, force: bool = False, out_dir: Path = CDK_OUT, context: Mapping[str, str] | None = None
) -> Path:
    """`cdk synth` into cdk.out unless it is newer than every input. Needs no AWS and no Docker.
    `context` adds `-c fala:<name>=<value>` settings (tests synthesize variants into their own
    `out_dir`, e.g. the shortest heartbeat the config allows)."""
    # One synth at a time per output folder: the CDK CLI refuses a second one into the same
    # folder (`fala serve` and `fala run` started together); the later one then finds it current.
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with (out_dir.parent / f".{out_dir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _synth(force=force, out_dir=out_dir, context=context)


def _synth(*, force: bool, out_dir: Path, context: Mapping[str, str] | None) -> Path:
    wanted = {**LOCAL_CONTEXT, **(context or {})}
    marker = out_dir / _CONTEXT_MARKER
    if not force and _synthesized_here(marker) == wanted and not _is_stale(out_dir):
        return out_dir
    cdk = REPO_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise SynthError("The CDK CLI is not installed: run `make setup` (npm ci) first.")
    env = {**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"}
    proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [
            str(cdk),
            "synth",
            "--quiet",
            "--output",
            str(out_dir),
            *(arg for key, value in wanted.items() for arg in ("--context", f"{key}={value}")),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SynthError(f"cdk synth failed:\n{proc.stdout}\n{proc.stderr}")
    manifest_mtime = (out_dir / "manifest.json").stat().st_mtime_ns
    marker.write_text(json.dumps({"context": wanted, "manifest_mtime_ns": manifest_mtime}))
    return out_dir


def _synthesized_here(marker: Path) -> dict[str, str] | None:
    """The context of the assembly this module synthesized in the marker's folder, or None when
    another synth has written it since (`npx cdk synth` or `cdk deploy` into cdk.out, without
    the local context): the emulation must not run that one."""
    try:
        recorded = json.loads(marker.read_text())
        manifest_mtime = (marker.parent / "manifest.json").stat().st_mtime_ns
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.get("manifest_mtime_ns") != manifest_mtime:
        return None
    return recorded.get("context")


def _is_stale(out_dir: Path) -> bool:
    manifest = out_dir / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    return any(path.stat().st_mtime > built for path in _input_files())


def _input_files() -> Iterator[Path]:
    for name in SYNTH_INPUTS:
        path = REPO_ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@dataclass
class Stack:
    name: str
    template: dict[str, Any]
    out_dir: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.resources.items() if r["Type"] == resource_type}

    def asset_dir(self, logical_id: str) -> Path:
        path = self.resources[logical_id].get("Metadata", {}).get("aws:asset:path")
        if path is None:
            raise SynthError(f"{logical_id} has no aws:asset:path metadata (asset metadata off?)")
        return self.out_dir / path


def load_stack(out_dir: Path = CDK_OUT, name: str | None = None) -> Stack:
    manifest = json.loads((out_dir / "manifest.json").read_text())
    stacks = {
        artifact_id: artifact
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    if name is None:
        if len(stacks) != 1:
            raise SynthError(f"Name one stack of: {', '.join(stacks)}")
        name = next(iter(stacks))
    template_file = stacks[name]["properties"]["templateFile"]
    return Stack(name, json.loads((out_dir / template_file).read_text()), out_dir)


@dataclass
class Resolver:
    """Resolves Ref/GetAtt/Join/Sub of one template to stand-in local names and ARNs."""

    stack: Stack
    region: str = LOCAL_REGION
    account: str = LOCAL_ACCOUNT
    _names: dict[str, str] = field(default_factory=dict)

    def physical_name(self, logical_id: str) -> str:
        """The name a resource gets locally: derived from its logical id, valid for its type."""
        if logical_id not in self._names:
            rtype = self.stack.resources[logical_id]["Type"]
            name = logical_id
            if rtype == "AWS::S3::Bucket":
                name = f"local-{logical_id.lower()}"[:63]
            self._names[logical_id] = name
        return self._names[logical_id]

    def arn(self, logical_id: str) -> str:
        rtype = self.stack.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        pattern = _ARN_PATTERNS.get(rtype)
        if pattern is None:
            raise UnknownIntrinsic(f"No local ARN for {rtype} ({logical_id})")
        return pattern.format(region=self.region, account=self.account, name=name)

    def ref(self, target: str) -> str:
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack.name,
        }
        if target in pseudo:
            return pseudo[target]
        rtype = self.stack.resources[target]["Type"]
        if rtype in _REF_IS_ARN:
            return self.arn(target)
        if rtype == "AWS::SQS::Queue":
            return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(target)}"
        return self.physical_name(target)

    def get_att(self, logical_id: str, attribute: str) -> str:
        rtype = self.stack.resources[logical_id]["Type"]
        if attribute == "Arn":
            return self.arn(logical_id)
        if rtype == "AWS::StepFunctions::StateMachine" and attribute == "Name":
            return self.physical_name(logical_id)
        if rtype == "AWS::SQS::Queue" and attribute == "QueueName":
            return self.physical_name(logical_id)
        if rtype == "AWS::Events::EventBus" and attribute == "Name":
            return self.physical_name(logical_id)
        raise UnknownIntrinsic(f"Fn::GetAtt {logical_id}.{attribute} ({rtype})")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(index)]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key.startswith("Fn::") or key == "Condition":
                raise UnknownIntrinsic(f"{key} is not supported by the local emulation")
        return {k: self.resolve(v) for k, v in value.items()}


_ARN_PATTERNS = {
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "AWS::StepFunctions::StateMachine": "arn:aws:states:{region}:{account}:stateMachine:{name}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "AWS::S3::Bucket": "arn:aws:s3:::{name}",
    "AWS::Events::EventBus": "arn:aws:events:{region}:{account}:event-bus/{name}",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{name}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{name}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}:*",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::DynamoDB::GlobalTable": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "AWS::SNS::Topic": "arn:aws:sns:{region}:{account}:{name}",
    "AWS::KMS::Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:{region}:{account}:secret:{name}",
}
_REF_IS_ARN = {"AWS::StepFunctions::StateMachine", "AWS::SNS::Topic", "AWS::SecretsManager::Secret"}
