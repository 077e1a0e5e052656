"""Synthesizing the app in-process for the infrastructure tests.

Bundling of the zip functions is skipped here (`aws:cdk:bundling-stacks: []`): template
assertions do not need the bundles, and test_bundling.py exercises the bundler itself.
(A module with a unique name, so tests never depend on which `conftest` Python imports.)
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from aws_cdk.assertions import Template  # noqa: E402

from infra.assembly import STACK_ID, build_app, cdk_json_context  # noqa: E402


@dataclass(frozen=True)
class Synth:
    template: Template
    outdir: Path
    validation_report: dict[str, Any]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.to_json()["Resources"]

    def of_type(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def function(self, *, description_starts: str) -> tuple[str, dict[str, Any]]:
        """The one Lambda function whose description starts so: (logical id, resource)."""
        return only(
            {
                k: v
                for k, v in self.of_type("AWS::Lambda::Function").items()
                if v["Properties"].get("Description", "").startswith(description_starts)
            }
        )

    def definition(self) -> dict[str, Any]:
        """The state machine's ASL, each CloudFormation token replaced by a <LogicalId> text."""
        _, machine = only(self.of_type("AWS::StepFunctions::StateMachine"))
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]

        def text(part: Any) -> str:
            if isinstance(part, str):
                return part
            ref = part.get("Ref") or part["Fn::GetAtt"][0]
            return f"<{ref}>"

        return json.loads("".join(text(p) for p in parts))

    def statements_of_role(self, role_ref: dict[str, Any]) -> list[dict[str, Any]]:
        """Every policy statement attached to the role (`{"Ref": <role id>}`)."""
        return [
            statement
            for policy in self.of_type("AWS::IAM::Policy").values()
            if role_ref in policy["Properties"]["Roles"]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        ]

    def statements_of_function(self, function: dict[str, Any]) -> list[dict[str, Any]]:
        return self.statements_of_role({"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]})


def only(resources: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    assert len(resources) == 1, sorted(resources)
    return next(iter(resources.items()))


def named(resources: dict[str, Any], part: str) -> tuple[str, dict[str, Any]]:
    """The one resource whose logical id contains `part` ("Challenges", "Published")."""
    return only({lid: r for lid, r in resources.items() if part in lid})


def synthesize(tmp_dir: Path, **overrides: Any) -> Synth:
    context = {
        **cdk_json_context(),
        "aws:cdk:bundling-stacks": [],
        # The CLI sets this; assets' aws:asset:path metadata is what tools read to find code.
        "aws:cdk:enable-asset-metadata": True,
        **overrides,
    }
    app, stack = build_app(context, nag=True, outdir=str(tmp_dir))
    template = Template.from_stack(stack)
    app.synth()  # runs the cdk-nag plugin and writes validation-report.json
    report = json.loads((tmp_dir / "validation-report.json").read_text())
    assert (tmp_dir / f"{STACK_ID}.template.json").is_file()
    return Synth(template=template, outdir=tmp_dir, validation_report=report)
