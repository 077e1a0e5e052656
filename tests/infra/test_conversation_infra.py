"""The converse path (Nova Sonic Lambda, fallback to the GPU voice service), the optional GPU
service on ECS, and idempotent publishing — asserted on synthesized templates."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from cdk_synth import Synth, named, only

from infra.constructs.pipeline import SONIC_FALLBACK_ERRORS, USER_ERRORS
from infra.constructs.voice_jobs import JobTimings

# --- Nova Sonic ------------------------------------------------------------------------------


def test_converse_function_may_stream_only_the_configured_model(default_synth: Synth) -> None:
    _, function = default_synth.function(description_starts="Fala pipeline: one spoken turn")
    props = function["Properties"]
    assert props["Runtime"] == "python3.12"
    env = props["Environment"]["Variables"]
    assert env["SONIC_MODEL_ID"] == "amazon.nova-2-sonic-v1:0"
    assert env["SONIC_REGION"] == "us-east-1"
    # The session budget stays under the function timeout and Bedrock's 8-minute limit.
    assert int(env["SONIC_BUDGET_SECONDS"]) < min(props["Timeout"], 480)
    bedrock = [
        s
        for s in default_synth.statements_of_function(function)
        if str(s["Action"]).startswith("bedrock:")
    ]
    (statement,) = bedrock
    assert statement["Action"] == "bedrock:InvokeModelWithBidirectionalStream"
    resource = json.dumps(statement["Resource"])
    assert ":bedrock:us-east-1::foundation-model/amazon.nova-2-sonic-v1:0" in resource


def test_sonic_is_retried_with_jitter_then_explained_when_no_fallback_exists(
    default_synth: Synth,
) -> None:
    states = default_synth.definition()["States"]
    sonic = states["Converse with Nova Sonic"]
    assert sonic["InputPath"] == "$.job" and sonic["ResultPath"] == "$.conversation"
    final, retry = sonic["Retry"]
    assert final == {
        "ErrorEquals": [*USER_ERRORS, "SonicModelNotFound", "SonicNotConfigured"],
        "MaxAttempts": 0,
    }
    assert retry["ErrorEquals"] == ["States.ALL"]
    assert retry["JitterStrategy"] == "FULL" and retry["MaxAttempts"] == 3
    fallback, rest = sonic["Catch"]
    assert set(fallback["ErrorEquals"]) == set(SONIC_FALLBACK_ERRORS)
    assert fallback["Next"] == "No GPU fallback deployed"
    assert rest == {
        "ErrorEquals": ["States.ALL"],
        "ResultPath": "$.error",
        "Next": "Publish failure",
    }
    explain = states["No GPU fallback deployed"]
    assert explain["ResultPath"] == "$.error" and explain["Next"] == "Publish failure"
    assert "fala:voice_service=true" in explain["Parameters"]["Cause.$"]
    assert not default_synth.of_type("AWS::ECS::Service")


def test_auto_runs_both_paths_in_parallel_and_keeps_both_results(default_synth: Synth) -> None:
    both = default_synth.definition()["States"]["Validate and converse"]
    assert both["Type"] == "Parallel"
    assert [b["StartAt"] for b in both["Branches"]] == [
        "Validate speech (auto)",
        "Converse with Nova Sonic (auto)",
    ]
    assert both["ResultPath"] == "$.paths"
    # Each branch outputs its result under its own name, merged by Publish outcome.
    validate = both["Branches"][0]["States"]["Validate speech (auto)"]
    assert (validate["ResultSelector"], validate["ResultPath"]) == ({"validation.$": "$"}, "$")
    sonic = both["Branches"][1]["States"]["Converse with Nova Sonic (auto)"]
    assert (sonic["ResultSelector"], sonic["ResultPath"]) == ({"conversation.$": "$"}, "$")
    assert both["Catch"][0]["Next"] == "Publish failure"
    # Inside a branch a catch cannot leave it: the missing fallback fails the branch instead.
    branch = both["Branches"][1]["States"]
    assert branch["No GPU fallback deployed (auto)"]["Next"] == "Conversation failed (auto)"
    assert branch["Conversation failed (auto)"]["Type"] == "Fail"


# --- the GPU voice service (optional) ---------------------------------------------------------


def test_fallback_sends_a_job_with_a_task_token_and_waits_with_heartbeats(
    voice_synth: Synth,
) -> None:
    states = voice_synth.definition()["States"]
    sonic = states["Converse with Nova Sonic"]
    assert sonic["Catch"][0]["Next"] == "Converse on GPU voice service"
    gpu = states["Converse on GPU voice service"]
    assert gpu["Resource"].endswith(":states:::events:putEvents.waitForTaskToken")
    assert gpu["HeartbeatSeconds"] == 60 and gpu["TimeoutSeconds"] == 600
    (entry,) = gpu["Parameters"]["Entries"]
    assert entry["DetailType"] == "Voice Job Requested" and entry["Source"] == "fala.pipeline"
    assert entry["Detail"]["task_token.$"] == "$$.Task.Token"
    assert entry["Detail"]["job.$"] == "$.job"
    assert gpu["ResultPath"] == "$.conversation" and gpu["Next"] == "Publish outcome"
    assert gpu["Catch"] == [
        {
            "ErrorEquals": ["States.Timeout"],
            "ResultPath": "$.error",
            "Next": "GPU voice service timed out",
        },
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Publish failure"},
    ]
    # A timeout is explained (which limit, what to check) before the failure is published.
    explain = states["GPU voice service timed out"]
    assert explain["ResultPath"] == "$.error" and explain["Next"] == "Publish failure"
    assert explain["Parameters"]["Error"] == "States.Timeout"
    assert "no heartbeat for 60 s" in explain["Parameters"]["Cause"]
    assert "600 s" in explain["Parameters"]["Cause"]


def test_jobs_are_queued_with_a_dead_letter_queue(voice_synth: Synth) -> None:
    queues = voice_synth.of_type("AWS::SQS::Queue")
    jobs = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    (job_queue,) = jobs
    assert job_queue["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 3
    # Shorter than the task's 60 s heartbeat: a dead worker's job is visible again while its task
    # still waits, so another worker takes it over (the worker renews it with each beat).
    assert job_queue["Properties"]["VisibilityTimeout"] == 40
    rule = [
        r
        for r in voice_synth.of_type("AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("detail-type") == ["Voice Job Requested"]
    ]
    (rule,) = rule
    (target,) = rule["Properties"]["Targets"]
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] == 8


@pytest.mark.parametrize("heartbeat", [10, 11, 60, 899])
def test_job_timings_let_another_worker_take_over_before_the_heartbeat_ends(heartbeat) -> None:
    timings = JobTimings(heartbeat_seconds=heartbeat, timeout_seconds=900)
    # beats fit the visibility twice; a lapsed visibility leaves a beat's time before the task's
    # heartbeat ends; the back-off (x delivery count, up to 2) stays inside the heartbeat too
    assert 2 * timings.beat_every <= timings.visibility_seconds
    assert timings.visibility_seconds + timings.beat_every <= heartbeat
    assert 2 * timings.retry_delay_seconds < heartbeat


def test_voice_worker_gets_the_timings_that_fit_the_task(voice_synth: Synth) -> None:
    _, task = only(voice_synth.of_type("AWS::ECS::TaskDefinition"))
    [voice] = [c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "Voice"]
    env = {e["Name"]: e["Value"] for e in voice["Environment"]}
    assert (env["HEARTBEAT_SECONDS"], env["JOB_VISIBILITY_SECONDS"]) == ("20", "40")
    assert (env["RETRY_DELAY_SECONDS"], env["MAX_RECEIVES"]) == ("20", "3")


def test_gpu_tasks_run_on_gpu_capacity_that_scales_to_zero(voice_synth: Synth) -> None:
    template = voice_synth.template
    template.has_resource_properties(
        "AWS::AutoScaling::AutoScalingGroup", {"MinSize": "0", "MaxSize": "2"}
    )
    template.has_resource_properties(
        "AWS::ECS::CapacityProvider",
        {
            "AutoScalingGroupProvider": Match.object_like(
                {"ManagedScaling": Match.object_like({"Status": "ENABLED"})}
            )
        },
    )
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": Match.array_with(
                [
                    Match.object_like({"Name": "Ollama", "ResourceRequirements": Match.absent()}),
                    Match.object_like(
                        {
                            "Name": "Voice",
                            "ResourceRequirements": [{"Type": "GPU", "Value": "1"}],
                            "Secrets": [Match.object_like({"Name": "VOICE_API_TOKEN"})],
                        }
                    ),
                ]
            )
        },
    )
    _, service = only(voice_synth.of_type("AWS::ECS::Service"))
    assert service["Properties"]["DesiredCount"] == 0
    steps = [
        p
        for p in voice_synth.of_type("AWS::ApplicationAutoScaling::ScalingPolicy").values()
        if p["Properties"]["PolicyType"] == "StepScaling"
    ]
    assert steps, "no queue-depth scaling"
    template.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        {
            "Scheme": "internal",
            "LoadBalancerAttributes": Match.array_with(
                [{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]
            ),
        },
    )


def test_voice_tasks_answer_only_this_state_machine(voice_synth: Synth) -> None:
    _, task = only(voice_synth.of_type("AWS::ECS::TaskDefinition"))
    role = {"Ref": task["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]}
    statements = voice_synth.statements_of_role(role)
    machine_id, _ = only(voice_synth.of_type("AWS::StepFunctions::StateMachine"))
    answers = [s for s in statements if "states:SendTaskSuccess" in s["Action"]]
    (answer,) = answers
    assert set(answer["Action"]) == {
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
    }
    assert answer["Resource"] == {"Ref": machine_id}


def test_voice_service_outputs(voice_synth: Synth) -> None:
    outputs = voice_synth.template.to_json()["Outputs"]
    assert {"VoiceServiceUrl", "VoiceApiTokenSecretArn", "VoiceJobQueueUrl"} <= set(outputs)


# --- exactly-once publishing -------------------------------------------------------------------


def test_publish_records_each_execution_in_an_idempotency_table(default_synth: Synth) -> None:
    table_id, table = named(default_synth.of_type("AWS::DynamoDB::GlobalTable"), "Published")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }
    _, function = default_synth.function(description_starts="Fala pipeline: write")
    env = function["Properties"]["Environment"]["Variables"]
    assert env["IDEMPOTENCY_TABLE"] == {"Ref": table_id}
    statements = default_synth.statements_of_function(function)
    dynamo = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if a.startswith("dynamodb:")
    }
    assert dynamo == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
