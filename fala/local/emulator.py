"""The deployed pipeline, emulated: the synthesized stack's resources inside moto, its state
machine executed by moto's interpreter, its Lambda handlers in-process (shared/DESIGN.md §3)."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from fala.core.intake import execution_name
from fala.core.models import (
    DETAIL_TYPE_FAILED,
    DETAIL_TYPE_PROCESSED,
    OUTCOME_SOURCE,
    RESULTS_PREFIX,
    result_key,
)
from fala.core.sonic.settings import SONIC_OFF_VARIABLE
from fala.local.assembly import LOCAL_REGION, Resolver, Stack, load_stack
from fala.local.atomic_moto import make_moto_writes_atomic
from fala.local.lambdas import (
    LocalFunction,
    LocalLambdaRuntime,
    function_running_now,
    scoped_environment,
)
from fala.local.voice_worker import LocalVoiceWorker, job_queue_url, worker_environment

UPLOAD_PREFIX = "uploads/"
_TAP = "fala-local-tap-"


@dataclass
class RunResult:
    execution_arn: str
    execution_name: str
    status: str
    result: dict[str, Any] | None
    outcome_events: list[dict[str, Any]]
    history: list[dict[str, Any]]
    invocations: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "execution_arn": self.execution_arn,
            "execution_name": self.execution_name,
            "status": self.status,
            "result": self.result,
            "outcome_events": self.outcome_events,
            "history": self.history,
            "invocations": self.invocations,
            "seconds": self.seconds,
        }


# Never real credentials: whatever the emulation calls is answered by moto.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}


def create_tables(stack: Stack, resolver: Resolver) -> None:
    """The stack's DynamoDB tables, in moto."""
    dynamodb = boto3.client("dynamodb")
    for lid, res in stack.of_type("AWS::DynamoDB::GlobalTable").items():
        props = res["Properties"]
        dynamodb.create_table(
            TableName=resolver.physical_name(lid),
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )


def create_secrets(stack: Stack, resolver: Resolver) -> None:
    """The stack's generated secrets (the challenge-signing key), in moto: a fresh random value
    per run, as the deployed stack generates its own at creation."""
    client = boto3.client("secretsmanager")
    for lid in stack.of_type("AWS::SecretsManager::Secret"):
        client.create_secret(Name=resolver.physical_name(lid), SecretString=token_urlsafe(48))
    parameters.clear_caches()  # the names repeat from run to run, the values do not


# Tables whose items outlive a local run, as the deployed ones outlive a request: enrolled voices
# (fala.core.voiceprints), kept in <work dir>/tables/<name>.json. Challenges and idempotency
# records are short-lived by design and start empty.
KEPT_TABLES = ("Speakers",)


def _kept(stack: Stack, resolver: Resolver, state_dir: Path) -> dict[str, Path]:
    """{physical table name: its file} for the stack's KEPT_TABLES."""
    return {
        resolver.physical_name(lid): state_dir / "tables" / f"{name.lower()}.json"
        for lid in stack.of_type("AWS::DynamoDB::GlobalTable")
        for name in KEPT_TABLES
        if name in lid
    }


def kept_table(stack: Stack, resolver: Resolver, name: str) -> str:
    """The physical name of the stack's kept table `name` ("Speakers")."""
    for lid in stack.of_type("AWS::DynamoDB::GlobalTable"):
        if name in lid:
            return resolver.physical_name(lid)
    raise RuntimeError(f"The synthesized stack has no {name} table.")


def restore_tables(stack: Stack, resolver: Resolver, state_dir: Path) -> None:
    """Put the kept tables' saved items back (after create_tables)."""
    dynamodb = boto3.client("dynamodb")
    for table, path in _kept(stack, resolver, state_dir).items():
        if path.is_file():
            for item in json.loads(path.read_text()):
                dynamodb.put_item(TableName=table, Item=_from_json(item))


def save_tables(stack: Stack, resolver: Resolver, state_dir: Path) -> None:
    """Write the kept tables' items to their files (only the owner 0600: voiceprints)."""
    dynamodb = boto3.client("dynamodb")
    for table, path in _kept(stack, resolver, state_dir).items():
        pages = dynamodb.get_paginator("scan").paginate(TableName=table)
        items = [_to_json(item) for page in pages for item in page["Items"]]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps(items, indent=1))


def _to_json(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"B64": base64.b64encode(value["B"]).decode()} if "B" in value else value
        for name, value in item.items()
    }


def _from_json(item: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {"B": base64.b64decode(value["B64"])} if "B64" in value else value
        for name, value in item.items()
    }


@contextlib.contextmanager
def local_tables(stack: Stack, resolver: Resolver, state_dir: Path | None = None) -> Iterator[None]:
    """The stack's tables and secrets in moto, with fake credentials, for the Function URL alone
    (`fala serve`): its challenges (fala.core.challenge) live in one, signed with a key kept in
    one of those. With `state_dir`, the kept tables (enrolled voices) are read from it at the start
    and written back at the end."""
    make_moto_writes_atomic()
    with scoped_environment(FAKE_CREDENTIALS), mock_aws():
        create_tables(stack, resolver)
        create_secrets(stack, resolver)
        if state_dir is not None:
            restore_tables(stack, resolver, state_dir)
        try:
            yield
        finally:
            if state_dir is not None:
                save_tables(stack, resolver, state_dir)


class LocalPipeline:
    """`with LocalPipeline() as pipeline: pipeline.run(path, expected_speech=…)`."""

    def __init__(
        self, stack: Stack | None = None, *, work_dir: Path, env_overrides: dict[str, str]
    ):
        self.stack = stack or load_stack()
        self.resolver = Resolver(self.stack)
        self.work_dir = work_dir
        endpoint = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
        if not (env_overrides.get(endpoint) or os.environ.get(endpoint)):
            # Never a real AWS endpoint: with no Bedrock fake configured, Nova Sonic is off and
            # the conversation falls back to the voice service at once.
            env_overrides = {SONIC_OFF_VARIABLE: "off", **env_overrides}
        self._overrides = env_overrides
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._saved_env: dict[str, str | None] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> LocalPipeline:
        self._saved_env = {k: os.environ.get(k) for k in FAKE_CREDENTIALS}
        os.environ.update(FAKE_CREDENTIALS)
        make_moto_writes_atomic()
        self._mock.start()
        # moto logs every caught task failure as an error; the trace reports them instead.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        # Clients copy the session's event hooks when made: register before the first one.
        boto3.setup_default_session(region_name=LOCAL_REGION)
        self.lambdas = LocalLambdaRuntime(
            self.stack,
            self.resolver,
            work_dir=self.work_dir / "task-roots",
            overrides=self._overrides,
        )
        self.lambdas.register(boto3.DEFAULT_SESSION)
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.events = boto3.client("events")
        self.sfn = boto3.client("stepfunctions")
        self._create_resources()
        self.voice_worker = None
        queue_url = job_queue_url(self.stack, self.resolver)
        if queue_url is not None:
            self.voice_worker = LocalVoiceWorker(
                sqs=self.sqs,
                s3=self.s3,
                sfn=self.sfn,
                queue_url=queue_url,
                environment=worker_environment(self.stack, self.resolver),
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.voice_worker is not None:
            self.voice_worker.close()
        self._mock.stop()
        boto3.DEFAULT_SESSION = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # -- resources ---------------------------------------------------------------------------
    def _create_resources(self) -> None:
        r = self.resolver
        queues = self.stack.of_type("AWS::SQS::Queue")
        for lid in queues:
            self.sqs.create_queue(QueueName=r.physical_name(lid))
        # Visibility and redrive as deployed (dead-letter queues exist by now): a crashed
        # worker's job comes back, and parks after maxReceiveCount.
        for lid, res in queues.items():
            props = r.resolve(res.get("Properties", {}))
            attributes = {}
            if "VisibilityTimeout" in props:
                attributes["VisibilityTimeout"] = str(props["VisibilityTimeout"])
            if "RedrivePolicy" in props:
                attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
            if attributes:
                self.sqs.set_queue_attributes(QueueUrl=r.ref(lid), Attributes=attributes)
        for lid, res in self.stack.of_type("AWS::S3::Bucket").items():
            self.s3.create_bucket(Bucket=r.physical_name(lid))
            versioning = res.get("Properties", {}).get("VersioningConfiguration", {})
            if versioning.get("Status") == "Enabled":
                self.s3.put_bucket_versioning(
                    Bucket=r.physical_name(lid), VersioningConfiguration={"Status": "Enabled"}
                )
        for res in self.stack.of_type("Custom::S3BucketNotifications").values():
            props = r.resolve(res["Properties"])
            self.s3.put_bucket_notification_configuration(
                Bucket=props["BucketName"],
                NotificationConfiguration=props["NotificationConfiguration"],
            )
        for lid in self.stack.of_type("AWS::Events::EventBus"):
            self.events.create_event_bus(Name=r.physical_name(lid))
        create_tables(self.stack, r)
        create_secrets(self.stack, r)
        restore_tables(self.stack, r, self.work_dir)  # enrolled voices (read, never written)
        self.state_machines: dict[str, str] = {}
        for lid, res in self.stack.of_type("AWS::StepFunctions::StateMachine").items():
            props = res["Properties"]
            definition = r.resolve(props["DefinitionString"])
            arn = self.sfn.create_state_machine(
                name=r.physical_name(lid),
                definition=definition,
                roleArn=f"arn:aws:iam::{r.account}:role/{lid}",
                type=props.get("StateMachineType", "STANDARD"),
            )["stateMachineArn"]
            self.state_machines[lid] = arn
        self._rule_targets: dict[str, str] = {}  # tap queue url → function name it stands for
        for lid, res in self.stack.of_type("AWS::Events::Rule").items():
            self._create_rule(lid, r.resolve(res["Properties"]))
        self._outcome_tap = self._tap_queue("outcomes")
        for lid in self.stack.of_type("AWS::Events::EventBus"):
            self._subscribe(
                r.physical_name(lid),
                "outcomes",
                {
                    "source": [OUTCOME_SOURCE],
                    "detail-type": [DETAIL_TYPE_PROCESSED, DETAIL_TYPE_FAILED],
                },
                self._outcome_tap,
            )

    def _create_rule(self, logical_id: str, props: dict[str, Any]) -> None:
        """The rule with its real pattern. SQS targets are moto's own; a Lambda target is replaced
        by a tap queue, because moto's EventBridge does not invoke Lambda targets. We deliver from
        the tap ourselves."""
        bus = props.get("EventBusName", "default")
        for target in props.get("Targets", []):
            if target["Arn"].startswith("arn:aws:sqs:"):
                self.events.put_rule(
                    Name=logical_id,
                    EventBusName=bus,
                    EventPattern=json.dumps(props["EventPattern"]),
                )
                self.events.put_targets(
                    Rule=logical_id,
                    EventBusName=bus,
                    Targets=[{"Id": target["Id"], "Arn": target["Arn"]}],
                )
                continue
            if ":lambda:" not in target["Arn"] and ":function:" not in target["Arn"]:
                raise NotImplementedError(
                    f"Rule {logical_id}: target {target['Arn']} is not emulated"
                )
            tap = self._tap_queue(logical_id)
            self._subscribe(bus, logical_id, props["EventPattern"], tap)
            self._rule_targets[tap] = self.lambdas.find(target["Arn"]).name

    def _tap_queue(self, name: str) -> str:
        return self.sqs.create_queue(QueueName=f"{_TAP}{name}"[:80])["QueueUrl"]

    def _subscribe(self, bus: str, name: str, pattern: Any, queue_url: str) -> None:
        rule = f"{_TAP}{name}"[:64]
        self.events.put_rule(
            Name=rule,
            EventBusName=bus,
            EventPattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
        )
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.events.put_targets(
            Rule=rule, EventBusName=bus, Targets=[{"Id": "tap", "Arn": queue_arn}]
        )

    # -- outputs the CLI and tests need ------------------------------------------------------
    @property
    def upload_bucket(self) -> str:
        notified = [
            self.resolver.resolve(res["Properties"]["BucketName"])
            for res in self.stack.of_type("Custom::S3BucketNotifications").values()
        ]
        if len(notified) != 1:
            raise RuntimeError(
                f"Expected one bucket with EventBridge notifications, found {notified}"
            )
        return notified[0]

    @property
    def start_function(self) -> LocalFunction:
        """The Lambda the upload rule targets (the pipeline's front door)."""
        [name] = set(self._rule_targets.values())
        return self.lambdas.find(name)

    @property
    def state_machine_arn(self) -> str:
        if len(self.state_machines) != 1:
            raise RuntimeError(f"Expected one state machine, found {list(self.state_machines)}")
        return next(iter(self.state_machines.values()))

    # -- running -----------------------------------------------------------------------------
    def upload(self, data: bytes, *, key: str, metadata: dict[str, str]) -> dict[str, Any]:
        """PutObject as a client would: non-ASCII metadata RFC 2047-encoded, as S3 requires."""
        encoded = {k: _ascii_header(v) for k, v in metadata.items()}
        return self.s3.put_object(Bucket=self.upload_bucket, Key=key, Body=data, Metadata=encoded)

    def deliver_events(self) -> list[dict[str, Any]]:
        """EventBridge's last hop: invoke each rule's Lambda target with the matched event."""
        delivered = []
        for queue_url, function_name in self._rule_targets.items():
            for event in self._drain(queue_url):
                _, payload, error = self.lambdas.invoke(self.lambdas.find(function_name), event)
                delivered.append({"event": event, "response": json.loads(payload), "error": error})
        return delivered

    def wait(self, execution_arn: str, *, timeout: float = 600.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.sfn.describe_execution(executionArn=execution_arn)["status"]
            if status != "RUNNING":
                return status
            time.sleep(0.05)
        raise TimeoutError(
            f"{execution_arn} still running after {timeout:.0f} s"
            f" ({self._where_it_stands(execution_arn)})"
        )

    def _where_it_stands(self, execution_arn: str) -> str:
        """A run that never ends, explained: its last event, and which function runs now (one at a
        time, so every other run's Lambda task waits behind it)."""
        events = self.sfn.get_execution_history(
            executionArn=execution_arn, reverseOrder=True, maxResults=1
        )["events"]
        last = "no event"
        if events:
            event = events[0]
            ago = (datetime.now(UTC) - event["timestamp"]).total_seconds()
            last = f"last event {event['type']} {ago:.0f} s ago"
        running = function_running_now()
        return f"{last}; running now: {running or 'no function'}"

    def run(
        self,
        audio: bytes,
        *,
        key: str,
        metadata: dict[str, str],
    ) -> RunResult:
        started = time.perf_counter()
        first_invocation = len(self.lambdas.invocations)
        put = self.upload(audio, key=key, metadata=metadata)
        for delivery in self.deliver_events():
            if delivery["error"]:
                # On AWS the event would be retried and then dead-lettered; locally, say why now.
                raise RuntimeError(f"The start Lambda failed: {delivery['response']}")
        detail = {
            "bucket": {"name": self.upload_bucket},
            "object": {
                "key": key,
                "etag": put["ETag"].strip('"'),
                "version-id": put.get("VersionId"),
            },
        }
        name = execution_name(detail)
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
        status = self.wait(arn)
        return RunResult(
            execution_arn=arn,
            execution_name=name,
            status=status,
            result=self.result_document(key),
            outcome_events=self.outcome_events(),
            history=self.history(arn),
            invocations=self.lambdas.invocations[first_invocation:],
            seconds=round(time.perf_counter() - started, 3),
        )

    def outcome_events(self) -> list[dict[str, Any]]:
        """Outcome events published since the last look (taken off the bus's tap)."""
        return self._drain(self._outcome_tap)

    def take_upload_events(self) -> list[dict[str, Any]]:
        """Upload events matched by the rule but not yet delivered to its Lambda."""
        return [event for queue in self._rule_targets for event in self._drain(queue)]

    def result_document(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.upload_bucket, Key=result_key(key))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def results(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.upload_bucket, Prefix=RESULTS_PREFIX)
        return [item["Key"] for item in listed.get("Contents", [])]

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return json.loads(json.dumps(events, default=str))
            kwargs["nextToken"] = page["nextToken"]

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _ascii_header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode(maxlinelen=0)
