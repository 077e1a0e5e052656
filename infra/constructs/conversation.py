"""Spoken conversation through Amazon Nova Sonic (Bedrock bidirectional streaming), a zip Lambda.

The function reads the upload from S3, holds one turn with Nova Sonic, writes the reply WAV next to
the result document and returns a `fala.core.models.Conversation`. Its IAM is one action on one
model in the configured Sonic region (which may differ from the stack's).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from fala.core.sonic.settings import SESSION_LIMIT_SECONDS
from infra.config import FalaConfig
from infra.constructs.lambda_defaults import zip_function

# Time kept back from the Lambda timeout for reading the upload, writing the reply and returning.
_BUDGET_MARGIN_SECONDS = 20


class SonicConversation(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: FalaConfig, results_bucket_name: str
    ) -> None:
        super().__init__(scope, id)
        budget = min(
            config.converse_timeout_seconds - _BUDGET_MARGIN_SECONDS,
            int(SESSION_LIMIT_SECONDS) - _BUDGET_MARGIN_SECONDS,
        )
        self.function = zip_function(
            self,
            "ConverseFn",
            source="converse",
            service="fala-conversation",
            description="Fala pipeline: one spoken turn with Amazon Nova Sonic",
            config=config,
            memory_size=config.converse_memory_mb,
            timeout=Duration.seconds(config.converse_timeout_seconds),
            environment={
                "SONIC_MODEL_ID": config.sonic_model_id,
                "SONIC_REGION": config.sonic_region,
                "SYSTEM_PROMPT": config.system_prompt,
                "SONIC_BUDGET_SECONDS": str(budget),
                "DEFAULT_LANGUAGE": config.default_language,
                "RESULTS_BUCKET": results_bucket_name,
            },
        )
        self.model_arn = Stack.of(self).format_arn(
            service="bedrock",
            region=config.sonic_region,
            account="",
            resource="foundation-model",
            resource_name=config.sonic_model_id,
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["bedrock:InvokeModelWithBidirectionalStream"],
                resources=[self.model_arn],
            )
        )
