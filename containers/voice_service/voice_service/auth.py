"""Bearer-token auth: one shared token, compared in constant time.

The token comes from VOICE_API_TOKEN (ECS injects it from Secrets Manager as a container secret;
set by hand locally) or is read once from Secrets Manager by VOICE_API_TOKEN_SECRET_ARN.
No token configured is a deployment error: the service refuses to start rather than run open.
"""

from __future__ import annotations

import hmac
import json

from voice_service.errors import Forbidden, Unauthorized
from voice_service.settings import VoiceSettings


def resolve_token(settings: VoiceSettings, secrets_client=None) -> str:
    if settings.voice_api_token:
        return settings.voice_api_token
    if settings.voice_api_token_secret_arn:
        if secrets_client is None:
            import boto3

            secrets_client = boto3.client("secretsmanager", region_name=settings.aws_region)
        value = secrets_client.get_secret_value(SecretId=settings.voice_api_token_secret_arn)
        secret = value["SecretString"].strip()
        if secret.startswith("{"):  # a JSON secret: {"token": "..."}
            secret = str(json.loads(secret)["token"])
        return secret
    raise ValueError(
        "No API token: set VOICE_API_TOKEN (or VOICE_API_TOKEN_SECRET_ARN to read it from "
        "Secrets Manager). The service does not run without authentication."
    )


class TokenChecker:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("The API token is empty")
        self._token = token.encode()

    def check(self, authorization: str | None, query_token: str | None = None) -> None:
        """Raises Unauthorized (no credentials) or Forbidden (wrong token)."""
        presented: str | None = None
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthorized(
                    "The Authorization header must be `Bearer <token>` (the service's API token)."
                )
            presented = value.strip()
        elif query_token:  # browsers cannot set headers on a WebSocket handshake
            presented = query_token
        if presented is None:
            raise Unauthorized(
                "Missing credentials: send `Authorization: Bearer <token>` "
                "(WebSocket clients that cannot set headers may use `?token=`)."
            )
        if not hmac.compare_digest(presented.encode(), self._token):
            raise Forbidden("The API token is not valid for this service.")
