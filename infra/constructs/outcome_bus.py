"""The project's own event bus: "Speech Processed" / "Speech Failed" outcomes for subscribers.

With `fala:kms_key`, the bus and its archive are under the customer-managed key (Encryption)."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from infra.constructs.encryption import Encryption


class OutcomeBus(Construct):
    def __init__(
        self, scope: Construct, id: str, *, archive_retention_days: int, encryption: Encryption
    ) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="Fala speech pipeline outcomes")
        # Outcomes are replayable, so a subscriber added later (or fixed) can catch up.
        self.archive = self.bus.archive(
            "Archive",
            description="Every outcome published on the Fala bus",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=Duration.days(archive_retention_days),
        )
        encryption.encrypt_event_bus(self.bus, self.archive)
