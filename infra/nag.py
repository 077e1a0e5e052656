"""Acknowledged findings of the two template checkers, cdk-nag and checkov, each with its reason.

cdk-nag 3.x reports through CDK's policy-validation framework; a finding is acknowledged with
`Validations.of(construct).acknowledge(...)` under the pack's namespace, e.g.
`AwsSolutions::AwsSolutions-IAM5[Resource::*]`, and covers that construct and its children only.

checkov reads the template: a finding is acknowledged in the resource's own metadata,
`Metadata: {checkov: {skip: [{id, comment}]}}`. Findings that concern one resource are
acknowledged next to it (`skip_checkov`); those that hold for every resource of a kind, for the
same reason, are acknowledged here by `CheckovDefaults` — and only while the resource really is
as the reason says (a log group is acknowledged "not under a customer-managed key" only if it has
none).
"""

from __future__ import annotations

import jsii
from aws_cdk import Acknowledgment, CfnResource, IAspect, Validations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (`IAM5[Resource::*]`, `S1`, ...) of the AwsSolutions pack."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=reason))


def skip_checkov(scope: IConstruct, check: str, reason: str) -> None:
    """Acknowledge one checkov finding (`CKV_AWS_18`, ...) on the resource `scope` renders."""
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} renders no single CloudFormation resource")
    metadata = resource.get_metadata("checkov") or {}
    skips = [s for s in metadata.get("skip", []) if s["id"] != check]
    resource.add_metadata("checkov", {"skip": [*skips, {"id": check, "comment": reason}]})


def _acknowledged(resource: CfnResource, check: str) -> bool:
    metadata = resource.get_metadata("checkov") or {}
    return any(s["id"] == check for s in metadata.get("skip", []))


NO_CMK = "Set fala:kms_key to put it under a customer-managed key."

# Lambda findings that hold for every function of the stack, Fala's and CDK's own handlers.
LAMBDA_REASONS = {
    "CKV_AWS_115": (
        "No reserved concurrency by design: reserving it carves capacity out of the account's "
        "pool (and fails deploys in accounts with the minimum limit); the public Function URL, "
        "the one entry point strangers can reach, is throttled when enabled."
    ),
    "CKV_AWS_117": (
        "The functions reach only AWS APIs (S3, Step Functions, EventBridge, Bedrock, DynamoDB) "
        "over TLS with IAM auth; a VPC would add NAT or endpoints and cold-start cost, no "
        "isolation."
    ),
}
# Only for a function with environment variables that are not under the customer-managed key
# (CDK's handlers have none, so the check passes for them).
LAMBDA_ENVIRONMENT_REASON = (
    "Environment values are settings and resource names, never secrets (the one secret, the "
    "voice API token, lives in Secrets Manager); Lambda encrypts them at rest with its "
    f"AWS-managed key. {NO_CMK}"
)
# CDK's own single-purpose handlers, invoked synchronously by CloudFormation custom resources.
CDK_HANDLERS = ("BucketNotificationsHandler", "Custom::VpcRestrictDefaultSG")
CDK_HANDLER_DLQ_REASON = (
    "CDK's custom-resource handler, invoked synchronously by CloudFormation, which reports a "
    "failure as a failed deployment; a dead-letter queue applies to asynchronous invocations only."
)


@jsii.implements(IAspect)
class CheckovDefaults:
    """checkov acknowledgements that hold for every resource of a kind (see module docstring)."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, lambda_.CfnFunction) or (
            isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function"
        ):
            for check, reason in LAMBDA_REASONS.items():
                skip_checkov(node, check, reason)
            if isinstance(node, lambda_.CfnFunction) and node.kms_key_arn is None:
                skip_checkov(node, "CKV_AWS_173", LAMBDA_ENVIRONMENT_REASON)
            if any(part.startswith(CDK_HANDLERS) for part in node.node.path.split("/")):
                skip_checkov(node, "CKV_AWS_116", CDK_HANDLER_DLQ_REASON)
        elif isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            skip_checkov(
                node,
                "CKV_AWS_158",
                f"CloudWatch Logs encrypts every log group at rest with its own key. {NO_CMK}",
            )
        elif isinstance(node, sqs.CfnQueue) and node.kms_master_key_id is None:
            # A queue kept off the key on purpose carries its own reason (dead_letter_queue).
            if node.sqs_managed_sse_enabled is True and not _acknowledged(node, "CKV_AWS_27"):
                skip_checkov(
                    node,
                    "CKV_AWS_27",
                    "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled), which this "
                    f"check does not recognise. {NO_CMK}",
                )
        elif isinstance(node, sns.CfnTopic) and node.kms_master_key_id is None:
            skip_checkov(
                node,
                "CKV_AWS_26",
                "CloudWatch alarms cannot publish to a topic under SNS's AWS-managed key; the "
                f"messages carry alarm names and states only. {NO_CMK}",
            )
        elif isinstance(node, secretsmanager.CfnSecret) and node.kms_key_id is None:
            skip_checkov(
                node,
                "CKV_AWS_149",
                "Encrypted with Secrets Manager's AWS-managed key (aws/secretsmanager), which only "
                f"this account's principals with access to the secret can use. {NO_CMK}",
            )
