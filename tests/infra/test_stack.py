"""FalaStack's resources and wiring, asserted on the template synthesized once per session."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from cdk_synth import Synth, named, only

from infra.constructs.validation import API_CMD, TASK_CMD

TYPED_USER_ERRORS = {
    "InvalidAudio",
    "AudioTooLong",
    "InvalidExpectedSpeech",
    "UploadNotFound",
    "UploadRejected",
}
# Lambda's own failures (the service, throttling, the SDK): another try may succeed.
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
]


def _upload_bucket_id(synth: Synth) -> str:
    return only(
        {
            k: v
            for k, v in synth.of_type("AWS::S3::Bucket").items()
            if "LoggingConfiguration" in v["Properties"]
        }
    )[0]


@pytest.fixture(scope="module")
def definition(default_synth: Synth) -> dict[str, Any]:
    return default_synth.definition()


# --- storage --------------------------------------------------------------------------------


def test_upload_bucket_is_private_encrypted_versioned_and_logged(
    default_synth: Synth, template: Template
) -> None:
    bucket_id = _upload_bucket_id(default_synth)
    bucket = default_synth.resources[bucket_id]["Properties"]
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    logs_bucket_id = bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert default_synth.resources[logs_bucket_id]["Type"] == "AWS::S3::Bucket"


def test_upload_bucket_sends_events_to_eventbridge(template: Template) -> None:
    template.has_resource_properties(
        "Custom::S3BucketNotifications",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {}}},
    )


def test_upload_bucket_expires_uploads_and_results_by_prefix(default_synth: Synth) -> None:
    bucket = default_synth.resources[_upload_bucket_id(default_synth)]["Properties"]
    rules = {rule.get("Prefix"): rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["uploads/"]["ExpirationInDays"] == 7
    assert rules["uploads/"]["Status"] == "Enabled"
    assert rules["results/"]["ExpirationInDays"] == 30


def test_buckets_refuse_plain_http(default_synth: Synth, template: Template) -> None:
    for bucket_id in default_synth.of_type("AWS::S3::Bucket"):
        template.has_resource_properties(
            "AWS::S3::BucketPolicy",
            {
                "Bucket": {"Ref": bucket_id},
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [
                            Match.object_like(
                                {
                                    "Effect": "Deny",
                                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                                }
                            )
                        ]
                    )
                },
            },
        )


# --- intake ---------------------------------------------------------------------------------


def test_upload_rule_matches_object_created_under_uploads(
    default_synth: Synth, template: Template
) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": {
                    "bucket": {"name": [{"Ref": _upload_bucket_id(default_synth)}]},
                    "object": {"key": [{"prefix": "uploads/"}]},
                },
            }
        },
    )


def test_upload_rule_targets_start_pipeline_with_retries_and_dlq(default_synth: Synth) -> None:
    start_id, _ = default_synth.function(description_starts="Fala intake")
    queue_id, queue = only(default_synth.of_type("AWS::SQS::Queue"))
    _, rule = only(default_synth.of_type("AWS::Events::Rule"))
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [start_id, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 4}
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
    assert queue["Properties"]["SqsManagedSseEnabled"] is True


def test_start_pipeline_async_invocations_retry_then_go_to_dlq(
    default_synth: Synth, template: Template
) -> None:
    start_id, start = default_synth.function(description_starts="Fala intake")
    queue_id, _ = only(default_synth.of_type("AWS::SQS::Queue"))
    template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "FunctionName": {"Ref": start_id},
            "MaximumRetryAttempts": 2,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [queue_id, "Arn"]}}},
        },
    )
    machine_id, _ = only(default_synth.of_type("AWS::StepFunctions::StateMachine"))
    assert start["Properties"]["Environment"]["Variables"]["STATE_MACHINE_ARN"] == {
        "Ref": machine_id
    }


def test_dead_letter_queue_refuses_plain_http(default_synth: Synth, template: Template) -> None:
    queue_id, _ = only(default_synth.of_type("AWS::SQS::Queue"))
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "Queues": [{"Ref": queue_id}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


# --- state machine --------------------------------------------------------------------------


def test_state_machine_is_standard_with_full_logging_and_tracing(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True},
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_states_read_like_a_runbook(definition: dict[str, Any]) -> None:
    assert definition["StartAt"] == "Describe upload"
    assert set(definition["States"]) == {
        "Describe upload",
        "Choose path",
        "Validate speech",
        "Converse with Nova Sonic",
        "No GPU fallback deployed",
        "Validate and converse",
        "Publish outcome",
        "Speech processed",
        "Publish failure",
        "Speech failed",
    }


def test_describe_upload_gets_the_event_and_writes_the_job(
    default_synth: Synth, definition: dict[str, Any]
) -> None:
    describe_id, _ = default_synth.function(description_starts="Fala pipeline: describe")
    state = definition["States"]["Describe upload"]
    assert state["Resource"] == f"<{describe_id}>"  # direct invoke: payload_response_only
    assert "Parameters" not in state and "InputPath" not in state  # the whole event
    assert state["ResultPath"] == "$.job"
    assert state["Next"] == "Choose path"


def test_choice_routes_each_mode_and_defaults_to_validation(
    definition: dict[str, Any],
) -> None:
    choice = definition["States"]["Choose path"]
    assert choice["Type"] == "Choice"
    assert choice["Choices"] == [
        {"Variable": "$.job.mode", "StringEquals": "validate", "Next": "Validate speech"},
        {"Variable": "$.job.mode", "StringEquals": "converse", "Next": "Converse with Nova Sonic"},
        {"Variable": "$.job.mode", "StringEquals": "auto", "Next": "Validate and converse"},
    ]
    assert choice["Default"] == "Validate speech"


def test_validate_speech_passes_the_job_and_retries_all_but_user_errors(
    default_synth: Synth, definition: dict[str, Any]
) -> None:
    task_id, _ = default_synth.function(description_starts="Fala speech validation step")
    state = definition["States"]["Validate speech"]
    assert state["Resource"] == f"<{task_id}>"
    assert state["InputPath"] == "$.job"
    assert state["ResultPath"] == "$.validation"
    assert state["Next"] == "Publish outcome"
    final, retry = state["Retry"]
    assert set(final["ErrorEquals"]) >= TYPED_USER_ERRORS and final["MaxAttempts"] == 0
    assert retry["ErrorEquals"] == ["States.ALL"]
    assert {k: v for k, v in retry.items() if k != "ErrorEquals"} == {
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


def test_describe_upload_retries_all_but_user_errors(definition: dict[str, Any]) -> None:
    final, retry = definition["States"]["Describe upload"]["Retry"]
    assert set(final["ErrorEquals"]) >= TYPED_USER_ERRORS and final["MaxAttempts"] == 0
    assert retry == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


def _all_states(states: dict[str, Any]) -> dict[str, Any]:
    found = dict(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            found.update(_all_states(branch["States"]))
    return found


def test_typed_user_errors_are_never_retried(definition: dict[str, Any]) -> None:
    for name, state in _all_states(definition["States"]).items():
        for retrier in state.get("Retry", []):
            # Retriers match in order: a user error meets a MaxAttempts 0 retrier first.
            if set(retrier["ErrorEquals"]) & TYPED_USER_ERRORS:
                assert retrier["MaxAttempts"] == 0, name
            if retrier["ErrorEquals"] == ["States.ALL"] and not name.startswith("Publish"):
                first = state["Retry"][0]
                assert set(first["ErrorEquals"]) >= TYPED_USER_ERRORS, name
                assert first["MaxAttempts"] == 0, name


def _retrier_for(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    """The retrier Step Functions applies to `error`: the first that names it or States.ALL."""
    for retrier in state.get("Retry", []):
        if error in retrier["ErrorEquals"] or "States.ALL" in retrier["ErrorEquals"]:
            return retrier
    return None


def test_every_lambda_step_retries_lambdas_transient_errors(
    default_synth: Synth, definition: dict[str, Any]
) -> None:
    functions = set(default_synth.of_type("AWS::Lambda::Function"))
    steps = {
        name: state
        for name, state in _all_states(definition["States"]).items()
        if state.get("Resource", "").strip("<>") in functions
    }
    assert {"Describe upload", "Validate speech", "Converse with Nova Sonic"} <= set(steps)
    assert {"Publish outcome", "Publish failure", "Validate speech (auto)"} <= set(steps)
    for name, state in steps.items():
        for error in TRANSIENT_LAMBDA_ERRORS:
            retrier = _retrier_for(state, error)
            assert retrier is not None and retrier["MaxAttempts"] > 0, (name, error)
        if not name.startswith("Publish"):  # publishing is idempotent: it retries anything
            for error in TYPED_USER_ERRORS:
                assert _retrier_for(state, error)["MaxAttempts"] == 0, (name, error)


@pytest.mark.parametrize("name", ["Describe upload", "Validate speech"])
def test_failures_are_caught_into_publish_failure(definition: dict[str, Any], name: str) -> None:
    assert definition["States"][name]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Publish failure"}
    ]


@pytest.mark.parametrize(
    ("name", "next_state"),
    [("Publish outcome", "Speech processed"), ("Publish failure", "Speech failed")],
)
def test_publish_states_send_execution_and_state(
    default_synth: Synth, definition: dict[str, Any], name: str, next_state: str
) -> None:
    publish_id, _ = default_synth.function(description_starts="Fala pipeline: write")
    state = definition["States"][name]
    assert state["Resource"] == f"<{publish_id}>"
    assert state["Parameters"] == {"execution.$": "$$.Execution.Id", "state.$": "$"}
    assert state["Next"] == next_state
    assert state["Retry"][-1] == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2,
        "JitterStrategy": "FULL",
    }


def test_failure_path_keeps_the_error_for_the_fail_state(definition: dict[str, Any]) -> None:
    assert definition["States"]["Publish failure"]["ResultPath"] is None
    assert definition["States"]["Speech failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }
    assert definition["States"]["Speech processed"] == {"Type": "Succeed"}
    assert "ResultPath" not in definition["States"]["Publish outcome"]


# --- functions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "env"),
    [
        ("Fala intake", {"STATE_MACHINE_ARN"}),
        (
            "Fala pipeline: describe",
            {"MAX_UPLOAD_BYTES": str(20 * 1024 * 1024), "DEFAULT_LANGUAGE": "pt-BR"},
        ),
        ("Fala pipeline: write", {"RESULTS_BUCKET", "EVENT_BUS_NAME"}),
    ],
)
def test_zip_functions_share_the_lambda_defaults(
    default_synth: Synth, description: str, env: set[str] | dict[str, str]
) -> None:
    _, function = default_synth.function(description_starts=description)
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "handler.handler"
    assert props["Architectures"] == ["x86_64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    variables = props["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"].startswith("fala-")
    assert "POWERTOOLS_METRICS_NAMESPACE" in variables
    if isinstance(env, dict):
        assert {k: variables[k] for k in env} == env
    else:
        assert env <= set(variables)
    log_group_id = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert default_synth.resources[log_group_id]["Properties"]["RetentionInDays"] == 30


def test_image_functions_share_one_image_with_their_own_commands(default_synth: Synth) -> None:
    _, api = default_synth.function(description_starts="Fala speech validation API")
    _, task = default_synth.function(description_starts="Fala speech validation step")
    assert api["Properties"]["ImageConfig"]["Command"] == API_CMD
    assert task["Properties"]["ImageConfig"]["Command"] == TASK_CMD
    assert api["Properties"]["Code"]["ImageUri"] == task["Properties"]["Code"]["ImageUri"]
    assert api["Metadata"]["aws:asset:path"] == task["Metadata"]["aws:asset:path"]
    for props in (api["Properties"], task["Properties"]):
        assert props["PackageType"] == "Image"
        assert props["MemorySize"] == 2560
        assert props["Timeout"] == 60
        assert props["Architectures"] == ["x86_64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        variables = props["Environment"]["Variables"]
        assert variables["MAX_AUDIO_SECONDS"] == "30"
        assert variables["MAX_EXPECTED_SPEECH_CHARS"] == "200"
        assert variables["DEFAULT_LANGUAGE"] == "pt-BR"
    assets = json.loads((default_synth.outdir / "FalaStack.assets.json").read_text())
    assert len(assets["dockerImages"]) == 1


def test_image_build_context_holds_only_the_allowlist(default_synth: Synth) -> None:
    _, api = default_synth.function(description_starts="Fala speech validation API")
    context = default_synth.outdir / api["Metadata"]["aws:asset:path"]
    files = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert "containers/whisper_validation/Dockerfile" in files
    assert "fala/__init__.py" in files
    assert "fala/core/models.py" in files
    for name in files:
        assert name == "fala/__init__.py" or name.startswith(
            ("fala/core/", "containers/whisper_validation/")
        ), name
        assert "__pycache__" not in name


def test_function_url_requires_iam_auth_by_default(default_synth: Synth) -> None:
    api_id, api = default_synth.function(description_starts="Fala speech validation API")
    _, url = only(default_synth.of_type("AWS::Lambda::Url"))
    assert url["Properties"]["AuthType"] == "AWS_IAM"
    assert url["Properties"]["TargetFunctionArn"] == {"Fn::GetAtt": [api_id, "Arn"]}
    assert "Cors" not in url["Properties"]
    assert "ReservedConcurrentExecutions" not in api["Properties"]


def test_public_function_url_only_when_configured_and_then_throttled(
    public_url_synth: Synth,
) -> None:
    _, api = public_url_synth.function(description_starts="Fala speech validation API")
    _, url = only(public_url_synth.of_type("AWS::Lambda::Url"))
    assert url["Properties"]["AuthType"] == "NONE"
    assert "Cors" not in url["Properties"]
    assert api["Properties"]["ReservedConcurrentExecutions"] == 5


def test_challenges_live_in_a_table_only_the_validation_functions_reach(
    default_synth: Synth,
) -> None:
    table_id, table = named(default_synth.of_type("AWS::DynamoDB::GlobalTable"), "Challenges")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }

    def granted(function: dict[str, Any]) -> set[str]:
        return _table_actions(default_synth, table_id, function)

    api_id, api = default_synth.function(description_starts="Fala speech validation API")
    task_id, task = default_synth.function(description_starts="Fala speech validation step")
    env = api["Properties"]["Environment"]["Variables"]
    assert env["CHALLENGE_TABLE"] == {"Ref": table_id}
    assert (env["CHALLENGE_TTL_SECONDS"], env["CHALLENGE_UTC_OFFSET_MINUTES"]) == ("60", "-180")
    assert task["Properties"]["Environment"]["Variables"]["CHALLENGE_TABLE"] == {"Ref": table_id}
    # issue (put), redeem (conditional update), and read back a refused token's state
    assert granted(api) == {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem"}
    assert granted(task) == {"dynamodb:UpdateItem", "dynamodb:GetItem"}  # redeems only
    for function_id, function in default_synth.of_type("AWS::Lambda::Function").items():
        if function_id not in (api_id, task_id):
            assert granted(function) == set(), function_id


def test_challenge_tokens_are_signed_with_a_generated_key_only_validation_reads(
    default_synth: Synth,
) -> None:
    key_id, key = named(default_synth.of_type("AWS::SecretsManager::Secret"), "ChallengeKey")
    generated = key["Properties"]["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32 and generated["ExcludePunctuation"] is True
    api_id, _ = default_synth.function(description_starts="Fala speech validation API")
    task_id, _ = default_synth.function(description_starts="Fala speech validation step")
    for function_id, function in default_synth.of_type("AWS::Lambda::Function").items():
        readers = function_id in (api_id, task_id)
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert (variables.get("CHALLENGE_KEY_SECRET") == {"Ref": key_id}) is readers
        granted = {
            action
            for statement in default_synth.statements_of_function(function)
            if {"Ref": key_id} in _as_list(statement["Resource"])
            for action in _as_list(statement["Action"])
        }
        expected = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
        assert granted == (expected if readers else set()), function_id


def test_voiceprints_live_without_backups_in_a_table_only_validation_reaches(
    default_synth: Synth,
) -> None:
    table_id, table = named(default_synth.of_type("AWS::DynamoDB::GlobalTable"), "Speakers")
    props = table["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # biometric data: an erased voiceprint must not survive in point-in-time backups
    [replica] = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    skipped = {s["id"] for s in table["Metadata"]["checkov"]["skip"]}
    assert "CKV_AWS_165" in skipped

    def granted(function: dict[str, Any]) -> set[str]:
        return _table_actions(default_synth, table_id, function)

    api_id, api = default_synth.function(description_starts="Fala speech validation API")
    task_id, task = default_synth.function(description_starts="Fala speech validation step")
    for function in (api, task):
        env = function["Properties"]["Environment"]["Variables"]
        assert env["SPEAKER_TABLE"] == {"Ref": table_id}
        assert (env["SPEAKER_THRESHOLD"], env["SPEAKER_TELEPHONE_THRESHOLD"]) == ("0.83", "0.88")
        assert env["SPEAKER_RETENTION_DAYS"] == "365"
    assert granted(api) == {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem"}
    assert granted(task) == {"dynamodb:GetItem"}  # checks a voice, never enrols or erases
    for function_id, function in default_synth.of_type("AWS::Lambda::Function").items():
        if function_id not in (api_id, task_id):
            assert granted(function) == set(), function_id


def _table_actions(synth: Synth, table_id: str, function: dict[str, Any]) -> set[str]:
    """The actions `function`'s role may take on the table `table_id`."""
    table_arn = {"Fn::GetAtt": [table_id, "Arn"]}
    return {
        action
        for statement in synth.statements_of_function(function)
        if table_arn in _as_list(statement["Resource"])
        for action in _as_list(statement["Action"])
    }


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --- least privilege ------------------------------------------------------------------------


def test_no_policy_grants_wildcard_actions(default_synth: Synth) -> None:
    for policy_id, policy in default_synth.of_type("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            for action in [actions] if isinstance(actions, str) else actions:
                assert "*" not in action, (policy_id, action)


def _grants(statements: list[dict[str, Any]], action: str) -> list[Any]:
    return [s["Resource"] for s in statements if s["Action"] == action]


def test_each_function_reaches_only_what_it_needs(default_synth: Synth) -> None:
    bucket_arn = {"Fn::GetAtt": [_upload_bucket_id(default_synth), "Arn"]}
    uploads = [{"Fn::Join": ["", [bucket_arn, "/uploads/*"]]}]
    results = [{"Fn::Join": ["", [bucket_arn, "/results/*"]]}]
    bus_id, _ = only(default_synth.of_type("AWS::Events::EventBus"))
    machine_id, _ = only(default_synth.of_type("AWS::StepFunctions::StateMachine"))

    def statements_of(description: str) -> list[dict[str, Any]]:
        return default_synth.statements_of_function(
            default_synth.function(description_starts=description)[1]
        )

    describe = statements_of("Fala pipeline: describe")
    task = statements_of("Fala speech validation step")
    api = statements_of("Fala speech validation API")
    publish = statements_of("Fala pipeline: write")
    start = statements_of("Fala intake")

    assert _grants(describe, "s3:GetObject") == uploads
    assert _grants(task, "s3:GetObject") == uploads
    # ListBucket on the bucket itself, so a deleted upload reads as 404 rather than 403
    assert _grants(describe, "s3:ListBucket") == _grants(task, "s3:ListBucket") == [bucket_arn]
    assert not _grants(publish, "s3:ListBucket")
    assert not [s for s in api if str(s["Action"]).startswith("s3:")]
    assert _grants(publish, "s3:PutObject") == results
    assert _grants(publish, "events:PutEvents") == [{"Fn::GetAtt": [bus_id, "Arn"]}]
    assert _grants(start, "states:StartExecution") == [{"Ref": machine_id}]
    for statements in (describe, task, api, publish):
        assert not _grants(statements, "states:StartExecution")


def test_no_hard_coded_partition(default_synth: Synth) -> None:
    assert "arn:aws:" not in json.dumps(default_synth.template.to_json())


# --- outcome bus and outputs ----------------------------------------------------------------


def test_outcome_bus_is_archived(default_synth: Synth, template: Template) -> None:
    bus_id, _ = only(default_synth.of_type("AWS::Events::EventBus"))
    template.has_resource_properties(
        "AWS::Events::Archive",
        {"SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]}, "RetentionDays": 30},
    )


def test_outputs(default_synth: Synth, template: Template) -> None:
    outputs = template.to_json()["Outputs"]
    assert set(outputs) >= {
        "UploadBucketName",
        "UploadPrefix",
        "ResultsPrefix",
        "ValidationApiUrl",
        "StateMachineArn",
        "StateMachineConsoleUrl",
        "OutcomeBusName",
    }
    assert outputs["UploadPrefix"]["Value"] == "uploads/"
    assert outputs["ResultsPrefix"]["Value"] == "results/"
    assert outputs["UploadBucketName"]["Value"] == {"Ref": _upload_bucket_id(default_synth)}
    console = json.dumps(outputs["StateMachineConsoleUrl"]["Value"])
    assert '{"Ref": "AWS::Region"}' in console
    assert "statemachines/view/" in console
