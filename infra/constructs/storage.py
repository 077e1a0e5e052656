"""The upload bucket: users drop audio under uploads/, the pipeline writes results/ next to it."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from fala.core.models import RESULTS_PREFIX
from infra.constructs.cfn import logical_id
from infra.constructs.encryption import Encryption
from infra.nag import acknowledge, skip_checkov

UPLOADS_PREFIX = "uploads/"


class Storage(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        upload_expiration_days: int,
        results_expiration_days: int,
        access_log_expiration_days: int,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self._encryption = encryption
        self.uploads_prefix = UPLOADS_PREFIX
        self.results_prefix = RESULTS_PREFIX

        # S3 server access logs cannot be delivered to an SSE-KMS bucket: S3-managed keys here.
        self.access_logs_bucket = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            # Versioned, so a log object overwritten or deleted can still be read for as long.
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(access_log_expiration_days),
                    noncurrent_version_expiration=Duration.days(access_log_expiration_days),
                ),
                s3.LifecycleRule(
                    id="remove-expired-delete-markers", expired_object_delete_marker=True
                ),
            ],
        )
        acknowledge(
            self.access_logs_bucket,
            "S1",
            "This is the server access log destination; logging its own access would loop.",
        )
        skip_checkov(
            self.access_logs_bucket,
            "CKV_AWS_18",
            "This is the server access log destination; logging its own access would loop.",
        )

        # CDK's bucket-notifications custom resource turns EventBridge delivery on. Its handler
        # gets this role (instead of an anonymous one at the stack root) so the finding sits here.
        notifications_role = iam.Role(
            self,
            "NotificationsHandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="CDK bucket-notifications handler (enables EventBridge on the bucket)",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaBasicExecutionRole"
                )
            ],
        )
        acknowledge(
            notifications_role,
            "IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "Role of CDK's own bucket-notifications handler, whose log group name is generated; "
            "the managed policy only lets it write its logs.",
        )

        self.bucket = s3.Bucket(
            self,
            "Uploads",
            # The pipeline starts from S3 "Object Created" events on the default event bus.
            event_bridge_enabled=True,
            encryption=(
                s3.BucketEncryption.KMS if encryption.key else s3.BucketEncryption.S3_MANAGED
            ),
            encryption_key=encryption.key,
            # One data key per bucket for a while, not one KMS request per object.
            bucket_key_enabled=True if encryption.key else None,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="uploads-bucket/",
            notifications_handler_role=notifications_role,
            removal_policy=RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-uploads",
                    prefix=UPLOADS_PREFIX,
                    expiration=Duration.days(upload_expiration_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                s3.LifecycleRule(
                    id="expire-results",
                    prefix=RESULTS_PREFIX,
                    expiration=Duration.days(results_expiration_days),
                    noncurrent_version_expiration=Duration.days(1),
                ),
                # Versioning keeps a delete marker per expired object; clean those up too.
                s3.LifecycleRule(
                    id="remove-expired-delete-markers", expired_object_delete_marker=True
                ),
            ],
        )

    def grant_read_uploads(self, grantee: iam.IGrantable) -> iam.Grant:
        """s3:GetObject on uploads/* (HeadObject and ranged reads are GetObject too), plus
        s3:ListBucket on the bucket: without it S3 answers a deleted object with 403, not 404,
        and the pipeline could not tell "gone" from "forbidden"."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket"], resource_arns=[self.bucket.bucket_arn]
        )
        self._encryption.grant_via(grantee, "s3", "kms:Decrypt")
        return self._grant_prefix(grantee, "s3:GetObject", UPLOADS_PREFIX, "read any upload")

    def grant_write_results(self, grantee: iam.IGrantable) -> iam.Grant:
        """s3:PutObject on results/* only (single-part puts: a data key, no decrypt)."""
        self._encryption.grant_via(grantee, "s3", "kms:GenerateDataKey")
        return self._grant_prefix(grantee, "s3:PutObject", RESULTS_PREFIX, "write any result")

    def _grant_prefix(
        self, grantee: iam.IGrantable, action: str, prefix: str, purpose: str
    ) -> iam.Grant:
        grant = iam.Grant.add_to_principal(
            grantee=grantee,
            actions=[action],
            resource_arns=[self.bucket.arn_for_objects(f"{prefix}*")],
        )
        # Object keys are chosen by users, so a prefix wildcard is the narrowest possible grant.
        bucket_id = logical_id(self.bucket)
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            acknowledge(
                principal,
                f"IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
                f"{action} is limited to the {prefix} prefix; the function must {purpose}, "
                "whose keys users choose.",
            )
        return grant
