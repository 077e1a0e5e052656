"""Dead-letter queues: where anything that failed every retry is kept for `fala redrive`."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.encryption import Encryption
from infra.nag import acknowledge


def dead_letter_queue(
    scope: Construct, id: str, *, holds: str, encryption: Encryption
) -> sqs.Queue:
    """An encrypted (SQS-managed, or the customer-managed key when configured), TLS-only queue
    keeping messages 14 days (SQS's maximum)."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    encryption.encrypt_queue(queue)
    acknowledge(queue, "SQS3", f"This queue is itself the dead-letter queue of {holds}.")
    return queue
