"""The optional customer-managed KMS key (`fala:kms_key`) and who may use it.

Unset, each store keeps its own default encryption: S3-managed keys, SQS-managed SSE, the
AWS-owned keys of DynamoDB, Step Functions and CloudWatch Logs, the AWS-managed key of Secrets
Manager; the alarm topic stays unencrypted (CloudWatch cannot use SNS's AWS-managed key).

Set ("create", or an existing key's ARN), the upload bucket, the queues and their dead-letter
queues, the idempotency table, the alarm topic, every log group, the state machine, the outcome
bus and its archive, every function's environment variables and the voice API secret use it. The
access-log bucket stays S3-managed: S3 server access logs cannot be delivered to an SSE-KMS bucket.
So does the outcome bus's dead-letter queue (created with the key only): it holds the events
EventBridge could not encrypt or decrypt with the key, still encrypted under it (OutcomeBus).

Who may use the key, and only for what:
- The functions and the voice task role, through IAM policies scoped by `kms:ViaService` (S3,
  SQS, DynamoDB) or by the state machine's encryption context; see `grant_via`. Each function's
  role may also decrypt its own environment (encryption context `LambdaFunctionName`).
- AWS services acting for the stack, through the key policy, each scoped by an encryption context
  or by the source account and resource (confused-deputy protection): CloudWatch Logs (log group
  encryption), EventBridge (rules delivering to the encrypted queues and dead-letter queues; the
  outcome bus and its archive, for that bus's encryption context), CloudWatch alarms (publishing
  to the encrypted topic), and CloudWatch Logs delivery (the state machine's execution logs).
  S3 → EventBridge notifications need nothing: the event is not the object. Publishers to the bus
  (PutEvents) need no key permission either: EventBridge encrypts with its own service principal.

A created key gets those key-policy statements here. An existing key's policy cannot be changed by
this stack: it must already allow them (README, "Security"); synth says so as a warning.
"""

from __future__ import annotations

from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    ArnFormat,
    AspectPriority,
    Aspects,
    Aws,
    Duration,
    IAspect,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from infra.constructs.cfn import l1

CREATE = "create"


class Encryption(Construct):
    def __init__(self, scope: Construct, id: str, *, kms_key: str | None) -> None:
        super().__init__(scope, id)
        self.key: kms.IKey | None = None
        if kms_key == CREATE:
            stack = Stack.of(self)
            key = kms.Key(
                self,
                "Key",
                description=f"Fala ({stack.stack_name}): data at rest",
                alias=f"alias/{stack.stack_name}",
                enable_key_rotation=True,
                # Data encrypted with it (retained buckets, archived logs) outlives the stack.
                removal_policy=RemovalPolicy.RETAIN,
                pending_window=Duration.days(30),
            )
            for statement in service_statements():
                key.add_to_resource_policy(statement)
            self.key = key
        elif kms_key is not None:
            self.key = kms.Key.from_key_arn(self, "Key", kms_key)
            Annotations.of(self).add_warning_v2(
                "fala:kms-key-policy",
                "fala:kms_key names an existing key: its key policy must already allow CloudWatch "
                "Logs, EventBridge (rules, and the outcome bus and its archive), CloudWatch alarms "
                "and CloudWatch Logs delivery (README, Security). This stack cannot change another "
                "key's policy.",
            )
        if self.key is not None:
            for aspect in (_EncryptLogGroups(self.key), _EncryptFunctionEnvironments(self.key)):
                Aspects.of(Stack.of(self)).add(aspect, priority=AspectPriority.MUTATING)

    @property
    def key_arn(self) -> str | None:
        return self.key.key_arn if self.key is not None else None

    def grant_via(self, grantee: iam.IGrantable, service: str, *actions: str) -> None:
        """`actions` on the key for `grantee`, only in calls made through `service` (s3, sqs,
        dynamodb, …) in this region. Nothing when no key is configured."""
        if self.key is None:
            return
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(actions),
            resource_arns=[self.key.key_arn],
            conditions={
                "StringEquals": {"kms:ViaService": f"{service}.{Aws.REGION}.amazonaws.com"}
            },
        )

    def state_machine_name(self, stack: Stack, suffix: str) -> str | None:
        """A state machine under the key needs a name its key grants can spell; None without."""
        return None if self.key is None else f"{stack.stack_name}-{suffix}"

    def encrypt_state_machine(self, machine: sfn.StateMachine, name: str | None) -> None:
        """Definition and execution history of `machine` (named `name`) under the key. Set at the
        CloudFormation level: CDK's own encryption option scopes the role's key grant to the ARN
        of an unnamed state machine, which it renders without a name (a grant that never
        matches), and gives log delivery kms:Decrypt* without a condition."""
        if self.key is None or name is None:
            return
        resource = l1(machine, sfn.CfnStateMachine)
        resource.encryption_configuration = sfn.CfnStateMachine.EncryptionConfigurationProperty(
            type="CUSTOMER_MANAGED_KMS_KEY",
            kms_key_id=self.key.key_arn,
            kms_data_key_reuse_period_seconds=300,
        )
        self.grant_executions(machine.role, name)
        # Execution logs leave for CloudWatch Logs delivery under data keys of this context.
        iam.Grant.add_to_principal(
            grantee=machine.role,
            actions=["kms:GenerateDataKey"],
            resource_arns=[self.key.key_arn],
            conditions={
                "StringEquals": {"kms:EncryptionContext:SourceArn": logs_delivery_context()}
            },
        )

    def grant_executions(
        self, grantee: iam.IGrantable, name: str | None, *, read_only: bool = False
    ) -> None:
        """What a principal that starts or answers executions of the state machine `name` (or,
        `read_only`, reads their history) needs of the key: data keys and their decryption, for
        that state machine's encryption context only."""
        if self.key is None or name is None:
            return
        arn = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:Decrypt"] if read_only else ["kms:Decrypt", "kms:GenerateDataKey"],
            resource_arns=[self.key.key_arn],
            conditions={"StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": arn}},
        )

    def encrypt_table(self, table: dynamodb.TableV2) -> None:
        """Put the table under the key at the CloudFormation level: TableV2's own option cannot
        render a replica's key in an env-agnostic stack. The one replica is the stack's region."""
        if self.key is None:
            return
        resource = l1(table, dynamodb.CfnGlobalTable)
        resource.sse_specification = dynamodb.CfnGlobalTable.SSESpecificationProperty(
            sse_enabled=True, sse_type="KMS"
        )
        resource.add_property_override(
            "Replicas.0.SSESpecification.KMSMasterKeyId", self.key.key_arn
        )

    def encrypt_secret(self, secret: secretsmanager.Secret) -> None:
        """Put the secret under the key at the CloudFormation level, so CDK adds no key-policy
        statement granting the account kms:GenerateDataKey* / kms:ReEncrypt* through Secrets
        Manager; each reader gets kms:Decrypt through grant_via."""
        if self.key is None:
            return
        l1(secret, secretsmanager.CfnSecret).kms_key_id = self.key.key_arn

    def encrypt_queue(self, queue: sqs.Queue) -> None:
        """Put the queue under the key at the CloudFormation level. Through the L2 property
        instead, CDK would grant every sender kms:ReEncrypt* and kms:GenerateDataKey* (and
        EventBridge the same in the key policy); the narrow grants are made by the stack."""
        if self.key is None:
            return
        resource = l1(queue, sqs.CfnQueue)
        resource.sqs_managed_sse_enabled = None
        resource.kms_master_key_id = self.key.key_arn
        # Fewer KMS calls: a data key is reused for 5 minutes (SQS's default is the minimum).
        resource.kms_data_key_reuse_period_seconds = 300

    def encrypt_event_bus(self, bus: events.EventBus, archive: events.Archive) -> None:
        """Put the bus and its archive under the key, at the CloudFormation level, and let
        EventBridge use it for this bus only. Through the L2 `kms_key` instead, CDK would add
        kms:ReEncrypt* and a DescribeKey statement per resource; these statements are also what
        an existing key's policy must hold (README)."""
        if self.key is None:
            return
        resource = l1(bus, events.CfnEventBus)
        resource.kms_key_identifier = self.key.key_arn
        archived = l1(archive, events.CfnArchive)
        archived.kms_key_identifier = self.key.key_arn
        # The bus's name, not its Ref: the key must exist before the bus (no cycle).
        bus_arn = Stack.of(bus).format_arn(
            service="events", resource="event-bus", resource_name=resource.name
        )
        for statement in event_bus_statements(bus_arn):
            self.key.add_to_resource_policy(statement)


def service_statements() -> list[iam.PolicyStatement]:
    """The key-policy statements for AWS services working for this stack, each the narrowest
    the service allows. Also what an existing key's policy must contain (README)."""
    account = {"aws:SourceAccount": Aws.ACCOUNT_ID}

    def arn(service: str, resource: str) -> str:
        return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"

    def statement(sid: str, principal: str, actions: list[str], **conditions: Any) -> Any:
        return iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(principal)],
            actions=actions,
            resources=["*"],  # in a key policy, "*" is this key
            conditions=conditions or None,
        )

    return [
        statement(
            "CloudWatchLogsEncryptsThisAccountsLogGroups",
            f"logs.{Aws.REGION}.amazonaws.com",
            [
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
            ],
            ArnLike={"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:*")},
        ),
        # DescribeKey carries no encryption context; it reveals the key's metadata only.
        statement(
            "CloudWatchLogsDescribesTheKey", f"logs.{Aws.REGION}.amazonaws.com", ["kms:DescribeKey"]
        ),
        statement(
            "EventBridgeRulesDeliverToEncryptedQueues",
            "events.amazonaws.com",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            StringEquals=account,
            ArnLike={"aws:SourceArn": arn("events", "rule/*")},
        ),
        statement(
            "CloudWatchAlarmsPublishToTheEncryptedTopic",
            "cloudwatch.amazonaws.com",
            ["kms:GenerateDataKey", "kms:Decrypt"],
            StringEquals=account,
            ArnLike={"aws:SourceArn": arn("cloudwatch", "alarm:*")},
        ),
        # Step Functions hands its execution logs to CloudWatch Logs delivery under data keys
        # it generates with this encryption context (see Pipeline).
        statement(
            "LogsDeliveryReadsStateMachineLogs",
            "delivery.logs.amazonaws.com",
            ["kms:Decrypt"],
            StringEquals={"kms:EncryptionContext:SourceArn": logs_delivery_context()},
        ),
    ]


def event_bus_statements(bus_arn: str) -> list[iam.PolicyStatement]:
    """The key-policy statements for EventBridge to encrypt one bus and its archive: events,
    rules' patterns and targets, archived events. Every data-key operation carries the bus's ARN
    as encryption context (archives too), so that, not aws:SourceArn, scopes them."""
    events_principal = iam.ServicePrincipal("events.amazonaws.com")
    return [
        iam.PolicyStatement(
            sid="EventBridgeEncryptsTheOutcomeBus",
            principals=[events_principal],
            # ReEncrypt for the archive (EventBridge's documented archive policy).
            actions=["kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo"],
            resources=["*"],
            conditions={
                "StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": bus_arn}
            },
        ),
        # Checked when the bus or archive is created or updated (a symmetric key?); no context.
        iam.PolicyStatement(
            sid="EventBridgeDescribesTheKey",
            principals=[events_principal],
            actions=["kms:DescribeKey"],
            resources=["*"],
        ),
    ]


def logs_delivery_context() -> str:
    """The encryption context Step Functions uses for data keys of its vended execution logs."""
    return f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:*"


@jsii.implements(IAspect)
class _EncryptLogGroups:
    """Every log group of the stack under the key, including those CDK constructs create
    themselves (VPC flow logs): a log group added later cannot be forgotten."""

    def __init__(self, key: kms.IKey) -> None:
        self._key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self._key.key_arn


@jsii.implements(IAspect)
class _EncryptFunctionEnvironments:
    """Every function's environment variables under the key, Fala's and any added later. Lambda
    decrypts them at a cold start with the function's own role, in the encryption context
    {"LambdaFunctionName": <name>}, so each role may decrypt its own function's only. That grant
    is a policy of its own: in the role's default policy, which the function depends on, the
    function's name would make a dependency cycle."""

    def __init__(self, key: kms.IKey) -> None:
        self._key = key

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, lambda_.Function) or node.role is None:
            return
        resource = l1(node, lambda_.CfnFunction)
        if resource.kms_key_arn is not None:
            return
        resource.kms_key_arn = self._key.key_arn
        iam.Policy(
            node,
            "EnvironmentKey",
            roles=[node.role],
            statements=[
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[self._key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:EncryptionContext:LambdaFunctionName": node.function_name
                        }
                    },
                )
            ],
        )
