"""fala:kms_key: every store under the customer-managed key when one is configured, each store's
default encryption otherwise, and key use granted narrowly (no wildcard actions, each grant
scoped by service or encryption context)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cdk_synth import Synth, only, synthesize

from infra.config import ConfigError, FalaConfig

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The stores that hold data at rest, and where each keeps its customer-managed key.
KEY_PROPERTY = {
    "AWS::SQS::Queue": "KmsMasterKeyId",
    "AWS::SNS::Topic": "KmsMasterKeyId",
    "AWS::Logs::LogGroup": "KmsKeyId",
    "AWS::SecretsManager::Secret": "KmsKeyId",
    "AWS::Events::EventBus": "KmsKeyIdentifier",
    "AWS::Events::Archive": "KmsKeyIdentifier",
}
BUS_CONTEXT = "kms:EncryptionContext:aws:events:event-bus:arn"
FUNCTION_CONTEXT = "kms:EncryptionContext:LambdaFunctionName"


@pytest.fixture(scope="module")
def existing_key_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-key-arn"), **{"fala:kms_key": KEY_ARN})


def _key_ref(synth: Synth) -> dict[str, Any]:
    key_id, _ = only(synth.of_type("AWS::KMS::Key"))
    return {"Fn::GetAtt": [key_id, "Arn"]}


def _bus_dead_letters_id(synth: Synth) -> str:
    """The outcome bus's dead-letter queue (it has one only under a customer-managed key)."""
    _, bus = only(synth.of_type("AWS::Events::EventBus"))
    arn = bus["Properties"]["DeadLetterConfig"]["Arn"]
    assert arn["Fn::GetAtt"][1] == "Arn"
    return str(arn["Fn::GetAtt"][0])


def _buckets(synth: Synth) -> tuple[dict[str, Any], dict[str, Any]]:
    """(upload bucket, access-log bucket) properties."""
    buckets = synth.of_type("AWS::S3::Bucket").values()
    (uploads,) = [b["Properties"] for b in buckets if "LoggingConfiguration" in b["Properties"]]
    (logs,) = [b["Properties"] for b in buckets if "LoggingConfiguration" not in b["Properties"]]
    return uploads, logs


def _sse(bucket: dict[str, Any]) -> dict[str, Any]:
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    return rule


def _kms_statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    return [
        (policy_id, statement)
        for policy_id, policy in synth.of_type("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(a.startswith("kms:") for a in _actions(statement))
    ]


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


# --- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["create", KEY_ARN, KEY_ARN.replace("1234abcd-12ab-34cd-56ef-1234567890ab", "mrk-" + "0" * 32)],
)
def test_kms_key_accepts_create_or_a_key_arn(value: str) -> None:
    assert FalaConfig.from_context({"fala:kms_key": value}).kms_key == value


@pytest.mark.parametrize(
    "value", ["yes", "alias/fala", "arn:aws:kms:us-east-1:123456789012:alias/fala", "1234abcd"]
)
def test_kms_key_rejects_aliases_and_bare_ids(value: str) -> None:
    with pytest.raises(ConfigError, match="fala:kms_key"):
        FalaConfig.from_context({"fala:kms_key": value})


# --- unset: each store's own default ---------------------------------------------------------


def test_without_a_key_every_store_keeps_its_default_encryption(default_synth: Synth) -> None:
    assert not default_synth.of_type("AWS::KMS::Key")
    uploads, access_logs = _buckets(default_synth)
    assert _sse(uploads) == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert _sse(access_logs) == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    for queue in default_synth.of_type("AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert "KmsMasterKeyId" not in queue["Properties"]
    for cfn_type, prop in KEY_PROPERTY.items():
        for resource in default_synth.of_type(cfn_type).values():
            # (CDK renders the archive's as "": EventBridge's own key)
            assert not resource["Properties"].get(prop), cfn_type
    for function in default_synth.of_type("AWS::Lambda::Function").values():
        assert "KmsKeyArn" not in function["Properties"]
    for table in default_synth.of_type("AWS::DynamoDB::GlobalTable").values():
        assert "SSESpecification" not in table["Properties"]
    _, machine = only(default_synth.of_type("AWS::StepFunctions::StateMachine"))
    assert "EncryptionConfiguration" not in machine["Properties"]
    assert "StateMachineName" not in machine["Properties"]
    assert _kms_statements(default_synth) == []
    assert "KmsKeyArn" not in default_synth.template.to_json()["Outputs"]


# --- "create": a new, rotated key for everything ---------------------------------------------


def test_created_key_rotates_and_outlives_the_stack(voice_kms_synth: Synth) -> None:
    key_id, key = only(voice_kms_synth.of_type("AWS::KMS::Key"))
    outputs = voice_kms_synth.template.to_json()["Outputs"]
    assert outputs["KmsKeyArn"]["Value"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    _, alias = only(voice_kms_synth.of_type("AWS::KMS::Alias"))
    assert alias["Properties"]["AliasName"] == "alias/fala-dev"


def test_every_store_uses_the_created_key(voice_kms_synth: Synth) -> None:
    key = _key_ref(voice_kms_synth)
    uploads, access_logs = _buckets(voice_kms_synth)
    assert _sse(uploads) == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key, "SSEAlgorithm": "aws:kms"},
    }
    # S3 server access logs cannot be delivered to an SSE-KMS bucket.
    assert _sse(access_logs) == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    # The bus's dead letters are kept off the key on purpose (test_outcome_bus_dead_letters_...).
    bus_dead_letters = _bus_dead_letters_id(voice_kms_synth)
    stores = 0
    for cfn_type, prop in KEY_PROPERTY.items():
        for logical_id, resource in voice_kms_synth.of_type(cfn_type).items():
            if logical_id != bus_dead_letters:
                assert resource["Properties"].get(prop) == key, logical_id
                stores += 1
    queues = [
        q for k, q in voice_kms_synth.of_type("AWS::SQS::Queue").items() if k != bus_dead_letters
    ]
    assert len(queues) == 3  # the job queue, the intake and the job dead-letter queues
    assert all("SqsManagedSseEnabled" not in q["Properties"] for q in queues)
    # 6 function log groups, the execution log group, the voice service's and the flow logs'
    assert len(voice_kms_synth.of_type("AWS::Logs::LogGroup")) == 9
    # ..., the voice API's token and the challenge key (secrets), the outcome bus and its archive
    assert stores == 3 + 1 + 9 + 2 + 2
    tables = voice_kms_synth.of_type("AWS::DynamoDB::GlobalTable").values()
    assert len(tables) == 3  # the idempotency records, the challenges and the voiceprints
    for table in tables:
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        (replica,) = table["Properties"]["Replicas"]
        assert replica["SSESpecification"] == {"KMSMasterKeyId": key}
    _, machine = only(voice_kms_synth.of_type("AWS::StepFunctions::StateMachine"))
    assert machine["Properties"]["EncryptionConfiguration"] == {
        "Type": "CUSTOMER_MANAGED_KMS_KEY",
        "KmsKeyId": key,
        "KmsDataKeyReusePeriodSeconds": 300,
    }


def _service_statements(synth: Synth) -> dict[str, list[dict[str, Any]]]:
    _, key = only(synth.of_type("AWS::KMS::Key"))
    by_principal: dict[str, list[dict[str, Any]]] = {}
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        principal = statement["Principal"]
        name = str(principal.get("Service") or principal.get("AWS"))
        by_principal.setdefault(name, []).append(statement)
    return by_principal


def test_key_policy_lets_each_service_do_only_its_part(voice_kms_synth: Synth) -> None:
    statements = _service_statements(voice_kms_synth)
    (root,) = [s for name, ss in statements.items() if ":root" in name for s in ss]
    # The one broad statement: the account's IAM policies decide (the key stays manageable).
    assert root["Action"] == "kms:*"
    logs_principal = next(name for name in statements if "logs." in name and "delivery" not in name)
    assert set(statements) == {
        str(root["Principal"]["AWS"]),
        logs_principal,
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
        "delivery.logs.amazonaws.com",
    }
    for name, service_statements in statements.items():
        if ":root" in name:
            continue
        for statement in service_statements:
            assert all("*" not in action for action in _actions(statement)), statement
            if statement["Action"] != "kms:DescribeKey":
                assert statement["Condition"], statement

    (logs, describe) = statements[logs_principal]
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
    assert describe["Action"] == "kms:DescribeKey"
    rules, bus, describe_for_events = statements["events.amazonaws.com"]
    assert bus["Sid"] == "EventBridgeEncryptsTheOutcomeBus"
    assert list(bus["Condition"]["StringEquals"]) == [BUS_CONTEXT]
    assert describe_for_events["Action"] == "kms:DescribeKey"
    for statement in (rules, *statements["cloudwatch.amazonaws.com"]):
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
        assert statement["Condition"]["StringEquals"] == {
            "aws:SourceAccount": {"Ref": "AWS::AccountId"}
        }
        assert "aws:SourceArn" in statement["Condition"]["ArnLike"]
    (delivery,) = statements["delivery.logs.amazonaws.com"]
    assert delivery["Action"] == "kms:Decrypt"
    assert "kms:EncryptionContext:SourceArn" in delivery["Condition"]["StringEquals"]


def test_no_policy_grants_wildcard_actions_under_a_key(voice_kms_synth: Synth) -> None:
    wildcards = {
        (policy_id.split("InstanceRole")[0], action)
        for policy_id, policy in voice_kms_synth.of_type("AWS::IAM::Policy").items()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in _actions(statement)
        if "*" in action
    }
    # Only the ECS agent's documented grant on the GPU instances (cdk-nag IAM5, acknowledged).
    assert wildcards == {("VoiceServiceGpuInstances", "ecs:Submit*")}


def test_every_key_grant_is_on_the_key_and_scoped(voice_kms_synth: Synth) -> None:
    key = _key_ref(voice_kms_synth)
    grants = _kms_statements(voice_kms_synth)
    assert grants
    for policy_id, statement in grants:
        assert statement["Resource"] == key, policy_id
        (condition,) = statement["Condition"]["StringEquals"]
        assert condition == "kms:ViaService" or condition.startswith("kms:EncryptionContext:"), (
            policy_id,
            condition,
        )


def _grants_of(synth: Synth, role_ref: dict[str, Any]) -> dict[str, set[str]]:
    """{scope: actions} of a role's key grants; scope is the service or encryption context."""
    grants: dict[str, set[str]] = {}
    for statement in synth.statements_of_role(role_ref):
        if not any(a.startswith("kms:") for a in _actions(statement)):
            continue
        ((condition, value),) = statement["Condition"]["StringEquals"].items()
        if condition == "kms:ViaService":
            scope = value["Fn::Join"][1][0].rstrip(".")
        else:
            scope = condition.removeprefix("kms:EncryptionContext:")
        grants.setdefault(scope, set()).update(_actions(statement))
    return grants


def _function_role(synth: Synth, description: str) -> dict[str, Any]:
    _, function = synth.function(description_starts=description)
    return {"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]}


def test_each_principal_gets_only_the_key_actions_it_needs(voice_kms_synth: Synth) -> None:
    synth = voice_kms_synth
    machine = "aws:states:stateMachineArn"
    use_machine = {"kms:Decrypt", "kms:GenerateDataKey"}
    # Every function decrypts its own environment at a cold start.
    environment = {"LambdaFunctionName": {"kms:Decrypt"}}
    assert _grants_of(synth, _function_role(synth, "Fala pipeline: describe")) == {
        "s3": {"kms:Decrypt"},
        **environment,
    }
    # The API records and redeems challenges in their (encrypted) table; the step redeems. Both
    # read the (encrypted) key that signs the challenge tokens.
    assert _grants_of(synth, _function_role(synth, "Fala speech validation step")) == {
        "s3": {"kms:Decrypt"},
        "dynamodb": {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
        "secretsmanager": {"kms:Decrypt"},
        **environment,
    }
    assert _grants_of(synth, _function_role(synth, "Fala speech validation API")) == {
        "dynamodb": {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
        "secretsmanager": {"kms:Decrypt"},
        **environment,
    }
    # Publish writes the result, records the execution, and reads the execution's history;
    # putting the outcome on the (encrypted) bus needs no key grant: EventBridge encrypts.
    assert _grants_of(synth, _function_role(synth, "Fala pipeline: write")) == {
        "s3": {"kms:GenerateDataKey"},
        "dynamodb": {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"},
        machine: {"kms:Decrypt"},
        **environment,
    }
    assert _grants_of(synth, _function_role(synth, "Fala pipeline: one spoken turn")) == {
        "s3": {"kms:Decrypt", "kms:GenerateDataKey"},
        **environment,
    }
    # start_pipeline starts executions and parks failed events in the intake DLQ.
    assert _grants_of(synth, _function_role(synth, "Fala intake")) == {
        "sqs": {"kms:Decrypt", "kms:GenerateDataKey"},
        machine: use_machine,
        **environment,
    }
    _, resource = only(synth.of_type("AWS::StepFunctions::StateMachine"))
    assert _grants_of(synth, {"Ref": resource["Properties"]["RoleArn"]["Fn::GetAtt"][0]}) == {
        machine: use_machine,
        "SourceArn": {"kms:GenerateDataKey"},  # execution logs handed to log delivery
    }
    _, task = only(synth.of_type("AWS::ECS::TaskDefinition"))
    task_role = {"Ref": task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]}
    assert _grants_of(synth, task_role) == {
        "s3": {"kms:Decrypt", "kms:GenerateDataKey"},
        "sqs": {"kms:Decrypt"},
        machine: use_machine,
    }
    execution_role = {"Ref": task["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]}
    assert _grants_of(synth, execution_role) == {"secretsmanager": {"kms:Decrypt"}}


def test_outcome_bus_and_archive_use_the_key_for_this_bus_only(voice_kms_synth: Synth) -> None:
    synth = voice_kms_synth
    key = _key_ref(synth)
    bus_id, bus = only(synth.of_type("AWS::Events::EventBus"))
    _, archive = only(synth.of_type("AWS::Events::Archive"))
    assert bus["Properties"]["KmsKeyIdentifier"] == key
    assert archive["Properties"]["KmsKeyIdentifier"] == key
    assert archive["Properties"]["SourceArn"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    (statement,) = [
        s for s in _service_statements(synth)["events.amazonaws.com"] if BUS_CONTEXT in str(s)
    ]
    # Data keys for this bus (and its archive, which re-encrypts) only: its ARN is the context.
    assert sorted(statement["Action"]) == [
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]
    bus_arn = statement["Condition"]["StringEquals"][BUS_CONTEXT]["Fn::Join"][1]
    assert bus_arn[-1] == f":event-bus/{bus['Properties']['Name']}"
    assert {"Ref": "AWS::AccountId"} in bus_arn
    # Named, not referenced: the bus needs the key first, so the key cannot need the bus.
    pseudo = [{"Ref": f"AWS::{name}"} for name in ("Partition", "Region", "AccountId")]
    assert all(isinstance(part, str) or part in pseudo for part in bus_arn), bus_arn


# --- the outcome bus's dead-letter queue (only under a customer-managed key) -----------------


def test_outcome_bus_dead_letters_are_kept_off_the_key_they_failed_on(
    voice_kms_synth: Synth,
) -> None:
    synth = voice_kms_synth
    queue_id = _bus_dead_letters_id(synth)
    queue = synth.resources[queue_id]
    assert queue["Type"] == "AWS::SQS::Queue"
    # EventBridge puts them there still encrypted under the key; a queue under that key would
    # refuse them exactly when the key is what failed (disabled or deleted).
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue["Properties"]
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    skips = {s["id"]: s["comment"] for s in queue["Metadata"]["checkov"]["skip"]}
    assert "encrypted-payload" in skips["CKV_AWS_27"]
    assert "fala:kms_key" not in skips["CKV_AWS_27"]  # not the generic "set a key" reason
    # Sending to an SQS-managed queue needs nothing in the key policy.
    _, key = only(synth.of_type("AWS::KMS::Key"))
    assert queue_id not in json.dumps(key["Properties"]["KeyPolicy"])


def test_only_eventbridge_for_the_outcome_bus_may_send_dead_letters(voice_kms_synth: Synth) -> None:
    synth = voice_kms_synth
    bus_id, _ = only(synth.of_type("AWS::Events::EventBus"))
    queue_id = _bus_dead_letters_id(synth)
    (policy,) = [
        p["Properties"]
        for p in synth.of_type("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]}}}
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_outcome_bus_dead_letters_page_operators_and_are_on_the_dashboard(
    voice_kms_synth: Synth,
) -> None:
    synth = voice_kms_synth
    queue_id = _bus_dead_letters_id(synth)
    (alarm_id,) = [
        k
        for k, a in synth.of_type("AWS::CloudWatch::Alarm").items()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]
    alarm = synth.resources[alarm_id]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    topic_id, _ = only(synth.of_type("AWS::SNS::Topic"))
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]
    assert alarm["AlarmDescription"].startswith("OutcomeBus: messages parked; ")
    assert "fala redrive" not in alarm["AlarmDescription"]  # redrive cannot decrypt them
    _, dashboard = only(synth.of_type("AWS::CloudWatch::Dashboard"))
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert "OutcomeBus dead letters" in body
    assert json.dumps({"Fn::GetAtt": [alarm_id, "Arn"]}) in body  # in the alarm status widget
    output = synth.template.to_json()["Outputs"]["OutcomeDeadLetterQueueUrl"]
    assert output["Value"] == {"Ref": queue_id}


def test_an_existing_key_gets_the_bus_dead_letters_too(existing_key_synth: Synth) -> None:
    queue = existing_key_synth.resources[_bus_dead_letters_id(existing_key_synth)]
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


@pytest.mark.parametrize("variant", ["default_synth", "voice_synth"])
def test_without_a_key_the_outcome_bus_has_no_dead_letter_queue(
    variant: str, request: pytest.FixtureRequest
) -> None:
    synth: Synth = request.getfixturevalue(variant)
    bus_id, bus = only(synth.of_type("AWS::Events::EventBus"))
    assert "DeadLetterConfig" not in bus["Properties"]
    # No queue policy names the bus: no queue takes its dead letters.
    for policy in synth.of_type("AWS::SQS::QueuePolicy").values():
        assert bus_id not in json.dumps(policy), policy
    # The intake DLQ; with the voice service also the job queue and its DLQ.
    assert len(synth.of_type("AWS::SQS::Queue")) == (1 if variant == "default_synth" else 3)
    descriptions = [
        a["Properties"]["AlarmDescription"]
        for a in synth.of_type("AWS::CloudWatch::Alarm").values()
    ]
    assert not [d for d in descriptions if d.startswith("OutcomeBus")]
    assert "OutcomeDeadLetterQueueUrl" not in synth.template.to_json()["Outputs"]


def test_every_function_environment_is_under_the_key_and_only_its_role_decrypts_it(
    voice_kms_synth: Synth,
) -> None:
    synth = voice_kms_synth
    key = _key_ref(synth)
    functions = synth.of_type("AWS::Lambda::Function")
    with_environment = {k: f for k, f in functions.items() if "Environment" in f["Properties"]}
    assert len(with_environment) == 6
    for function_id, function in with_environment.items():
        assert function["Properties"]["KmsKeyArn"] == key, function_id
        decrypts = [
            statement
            for statement in synth.statements_of_function(function)
            if FUNCTION_CONTEXT in statement.get("Condition", {}).get("StringEquals", {})
        ]
        (statement,) = decrypts
        assert statement["Action"] == "kms:Decrypt"
        assert statement["Resource"] == key
        assert statement["Condition"]["StringEquals"][FUNCTION_CONTEXT] == {"Ref": function_id}
        # checkov's environment-encryption check passes, so nothing acknowledges it.
        skips = function.get("Metadata", {}).get("checkov", {}).get("skip", [])
        assert "CKV_AWS_173" not in {skip["id"] for skip in skips}, function_id
    # CDK's own handlers have no environment to encrypt.
    for function_id in set(functions) - set(with_environment):
        assert "KmsKeyArn" not in functions[function_id]["Properties"], function_id


def test_without_a_key_the_environment_acknowledgement_says_how_to_add_one(
    default_synth: Synth,
) -> None:
    for function_id, function in default_synth.of_type("AWS::Lambda::Function").items():
        skips = {
            skip["id"]: skip["comment"]
            for skip in function.get("Metadata", {}).get("checkov", {}).get("skip", [])
        }
        if "Environment" in function["Properties"]:
            assert "fala:kms_key" in skips["CKV_AWS_173"], function_id
        else:
            assert "CKV_AWS_173" not in skips, function_id


def test_state_machine_grants_name_its_own_arn(voice_kms_synth: Synth) -> None:
    """The encryption context names the state machine, so it must have that name."""
    _, machine = only(voice_kms_synth.of_type("AWS::StepFunctions::StateMachine"))
    assert machine["Properties"]["StateMachineName"] == "fala-dev-pipeline"
    contexts = [
        statement["Condition"]["StringEquals"]["kms:EncryptionContext:aws:states:stateMachineArn"]
        for _, statement in _kms_statements(voice_kms_synth)
        if "kms:EncryptionContext:aws:states:stateMachineArn"
        in statement["Condition"]["StringEquals"]
    ]
    # the state machine's role, start_pipeline, the voice task role, publish (reads history)
    assert len(contexts) == 4
    for arn in contexts:
        assert arn["Fn::Join"][1][-1] == ":stateMachine:fala-dev-pipeline"


# --- an existing key ---------------------------------------------------------------------------


def test_an_existing_key_is_used_not_created(existing_key_synth: Synth) -> None:
    synth = existing_key_synth
    assert not synth.of_type("AWS::KMS::Key")
    uploads, _ = _buckets(synth)
    assert _sse(uploads)["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == KEY_ARN
    bus_dead_letters = _bus_dead_letters_id(synth)
    for cfn_type, prop in KEY_PROPERTY.items():
        for logical_id, resource in synth.of_type(cfn_type).items():
            if logical_id != bus_dead_letters:
                assert resource["Properties"].get(prop) == KEY_ARN, logical_id
    assert "KmsMasterKeyId" not in synth.resources[bus_dead_letters]["Properties"]
    for policy_id, statement in _kms_statements(synth):
        assert statement["Resource"] == KEY_ARN, policy_id


def test_an_existing_key_needs_its_policy_checked_and_synth_says_so(
    existing_key_synth: Synth,
) -> None:
    warnings = [
        violation["ruleName"]
        for report in existing_key_synth.validation_report["pluginReports"]
        for violation in report["violations"]
    ]
    assert warnings == ["Annotation::fala:kms-key-policy"]


def test_readme_lists_the_key_policy_an_existing_key_needs() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for sid in (
        "CloudWatchLogsEncryptsThisAccountsLogGroups",
        "EventBridgeRulesDeliverToEncryptedQueues",
        "CloudWatchAlarmsPublishToTheEncryptedTopic",
        "LogsDeliveryReadsStateMachineLogs",
        "EventBridgeEncryptsTheOutcomeBus",
        "EventBridgeDescribesTheKey",
    ):
        assert sid in readme
