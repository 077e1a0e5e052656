"""Dead-letter queues: where anything that failed every retry is kept for `fala redrive`."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.encryption import Encryption
from infra.nag import acknowledge, skip_checkov


def dead_letter_queue(
    scope: Construct,
    id: str,
    *,
    holds: str,
    encryption: Encryption,
    outside_key: str | None = None,
) -> sqs.Queue:
    """An encrypted (SQS-managed, or the customer-managed key when configured), TLS-only queue
    keeping messages 14 days (SQS's maximum). `outside_key` says why this one stays on
    SQS-managed keys even when a customer-managed key is configured (recorded for checkov)."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    if outside_key is None:
        encryption.encrypt_queue(queue)
    elif encryption.key is not None:
        skip_checkov(queue, "CKV_AWS_27", outside_key)
    acknowledge(queue, "SQS3", f"This queue is itself the dead-letter queue of {holds}.")
    return queue
