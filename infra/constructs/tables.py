"""DynamoDB tables of the stack: small records that expire."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.constructs.encryption import Encryption


def expiring_table(scope: Construct, id: str, *, encryption: Encryption) -> dynamodb.TableV2:
    """A table keyed by a string `id` whose items DynamoDB deletes after their `expiration`
    (epoch seconds, TTL), with point-in-time recovery, under the stack's key when there is one."""
    table = dynamodb.TableV2(
        scope,
        id,
        partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
        time_to_live_attribute="expiration",
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        removal_policy=RemovalPolicy.DESTROY,
    )
    encryption.encrypt_table(table)
    return table
