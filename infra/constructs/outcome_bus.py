"""The project's own event bus: "Speech Processed" / "Speech Failed" outcomes for subscribers.

With `fala:kms_key`, the bus and its archive are under the customer-managed key (Encryption), and
the bus has a dead-letter queue for the events EventBridge cannot encrypt or decrypt with it (key
disabled or deleted, key policy wrong), as AWS recommends for such a bus. EventBridge puts them
there still encrypted under the key ("Encrypted Events", `detail.encrypted-payload`), so the queue
itself stays on SQS-managed keys: under the failing key it would refuse them too."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.encryption import Encryption
from infra.constructs.queues import dead_letter_queue

OUTSIDE_KEY = (
    "The outcome bus's dead letters are the events EventBridge could not encrypt or decrypt "
    "with the customer-managed key (disabled, deleted, policy wrong); under that key this queue "
    "would refuse them too. They arrive still encrypted under that key (AWS Encryption SDK "
    "ciphertext in detail.encrypted-payload); SQS-managed keys encrypt the envelope at rest."
)


class OutcomeBus(Construct):
    def __init__(
        self, scope: Construct, id: str, *, archive_retention_days: int, encryption: Encryption
    ) -> None:
        super().__init__(scope, id)
        self.dead_letters: sqs.Queue | None = None
        if encryption.key is not None:
            self.dead_letters = dead_letter_queue(
                self,
                "DeadLetters",
                holds="the outcome bus (events it could not encrypt or decrypt)",
                encryption=encryption,
                outside_key=OUTSIDE_KEY,
            )
        self.bus = events.EventBus(
            self,
            "Bus",
            description="Fala speech pipeline outcomes",
            dead_letter_queue=self.dead_letters,
        )
        if self.dead_letters is not None:
            # CDK sets the bus's DeadLetterConfig only; EventBridge sends as itself, for this bus.
            self.dead_letters.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="OutcomeBusDeadLetters",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["sqs:SendMessage"],
                    resources=[self.dead_letters.queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": self.bus.event_bus_arn}},
                )
            )
        # Outcomes are replayable, so a subscriber added later (or fixed) can catch up.
        self.archive = self.bus.archive(
            "Archive",
            description="Every outcome published on the Fala bus",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(archive_retention_days),
        )
        encryption.encrypt_event_bus(self.bus, self.archive)
