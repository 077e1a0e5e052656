"""The reply: any OpenAI-compatible chat endpoint (Ollama's /v1 in AWS, a cyllama server locally).

Every call is time-boxed (connect and read timeouts); a down or slow endpoint becomes an
`LLMUnavailable` naming the URL, never a hang.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from voice_service.errors import LLMUnavailable


@dataclass(frozen=True)
class ChatReply:
    text: str
    usage: dict[str, int] = field(default_factory=dict)


class LLMBackend(Protocol):
    name: str
    model: str

    def chat(self, messages: list[dict[str, str]]) -> ChatReply: ...

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Text deltas as the model produces them."""
        ...


class OpenAIChatLLM:
    name = "openai-chat"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        max_tokens: int = 120,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_tokens = max_tokens
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
        )

    def _body(self, messages: list[dict[str, str]], stream: bool) -> dict[str, object]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.max_tokens,
            "temperature": 0.3,
            # small models go on to write the next turns of the dialogue themselves
            "stop": ["\nUser:", "\nAssistant:"],
            "stream": stream,
        }

    def _unavailable(self, what: str) -> LLMUnavailable:
        return LLMUnavailable(
            f"The LLM endpoint {self.base_url}/chat/completions {what}. Check LLM_BASE_URL and "
            "that the model server (the Ollama sidecar in AWS, `fala voice` locally) is running."
        )

    def chat(self, messages: list[dict[str, str]]) -> ChatReply:
        try:
            response = self._client.post("/chat/completions", json=self._body(messages, False))
        except httpx.TimeoutException as exc:
            raise self._unavailable(f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(f"could not be reached ({exc})") from exc
        if response.status_code >= 400:
            raise self._unavailable(f"answered HTTP {response.status_code}: {response.text[:200]}")
        try:
            payload = response.json()
            text = payload["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._unavailable(
                f"answered an unexpected body: {response.text[:200]!r}"
            ) from exc
        usage = {k: v for k, v in (payload.get("usage") or {}).items() if isinstance(v, int)}
        return ChatReply(text.strip(), usage)

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        try:
            with self._client.stream(
                "POST", "/chat/completions", json=self._body(messages, True)
            ) as response:
                if response.status_code >= 400:
                    body = response.read().decode(errors="replace")[:200]
                    raise self._unavailable(f"answered HTTP {response.status_code}: {body}")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        delta = json.loads(data)["choices"][0].get("delta", {}).get("content")
                    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
                        continue
                    if delta:
                        yield delta
        except httpx.TimeoutException as exc:
            raise self._unavailable(f"timed out ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable(f"could not be reached ({exc})") from exc

    def close(self) -> None:
        self._client.close()
