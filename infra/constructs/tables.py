"""DynamoDB tables of the stack: small records that expire."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.encryption import Encryption
from infra.nag import skip_checkov


def expiring_table(
    scope: Construct, id: str, *, encryption: Encryption, without_backups: str | None = None
) -> dynamodb.TableV2:
    """A table keyed by a string `id` whose items DynamoDB deletes after their `expiration`
    (epoch seconds, TTL), under the stack's key when there is one, with point-in-time recovery
    unless `without_backups` says why an erased item must not live on in 35 days of backups."""
    table = dynamodb.TableV2(
        scope,
        id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        time_to_live_attribute="expiration",
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=without_backups is None
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )
    encryption.encrypt_table(table)
    if without_backups is not None:
        skip_checkov(table, "CKV_AWS_165", without_backups)
    return table
