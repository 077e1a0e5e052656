"""The voice service against its own OpenAPI document, with schemathesis.

schemathesis reads GET /openapi.json (with the bearer token) and generates requests for every
HTTP operation — valid ones from the schemas ("positive"), and invalid ones ("negative": wrong
types, missing fields, broken bodies) — and sends them to the ASGI app in process. Checks: no
5xx ever, every status is one the document declares, every answer has a declared content type
and matches its schema.

(Each operation's strategy is driven by hypothesis directly rather than through
`schema.parametrize()`: schemathesis 4.32's fixture-loaded schemas touch a pytest private,
`Function._nodeid`, that pytest 9 no longer has.)

The app is the real one over real backends: Piper speaks, faster-whisper listens (the HTTP
routes never call the LLM, so its client points at a closed port). MAX_TEXT_CHARS is 60 so
long generated texts are refused (413) rather than synthesized for seconds each.
`VOICE_OPENAPI_EXAMPLES` (default 50) bounds the examples per operation and mode: ≈ 30 s on 2
cores for ≈ 450 requests.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from voice_service.app import create_app
from voice_service.backends import Backends, FasterWhisperSTT, OpenAIChatLLM, PiperTTS
from voice_service.backends.tts import packaged_piper_voices
from voice_service.cache import MemoryCache
from voice_service.settings import VoiceSettings

from .conftest import FUZZ, count

TOKEN = "openapi-fuzz-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EXAMPLES = int(os.environ.get("VOICE_OPENAPI_EXAMPLES", "50"))
OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("GET", "/v1/models"),
    ("POST", "/generate-voice"),
    ("POST", "/generate-voice/batch"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/audio/transcriptions"),
]


def not_a_server_error_but_501_for_cloning(ctx, response, case):
    """A 5xx is a failure, except the documented 501: a voice `sample` sent to a server that
    speaks with Piper (voice cloning needs XTTS on a GPU)."""
    if response.status_code == 501 and response.json().get("error") == "voice_cloning_unavailable":
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_501_for_cloning,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def voice_openapi(whisper_model_path):
    settings_ = VoiceSettings(
        voice_api_token=TOKEN,
        device="cpu",
        tts_backend="piper",
        default_language="en",
        max_text_chars=60,
        max_upload_bytes=512 * 1024,
    )
    piper = PiperTTS(packaged_piper_voices())
    piper.warm_up()
    backends = Backends(
        stt=FasterWhisperSTT(whisper_model_path, device="cpu"),
        llm=OpenAIChatLLM("http://127.0.0.1:9/v1", "unused", timeout=1, connect_timeout=1),
        tts=piper,
    )
    app = create_app(settings_, backends, cache=MemoryCache())
    return schemathesis.openapi.from_asgi("/openapi.json", app, headers=AUTH)


def test_every_documented_operation_is_fuzzed(voice_openapi):
    documented = {
        (method.upper(), path)
        for path, item in voice_openapi.raw_schema["paths"].items()
        for method in item
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_voice_api_conforms_to_its_openapi(voice_openapi, method, path, mode):
    operation = voice_openapi[path][method]
    if mode is GenerationMode.NEGATIVE and method == "GET":
        pytest.skip("no parameters or body to break")

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(FUZZ, max_examples=EXAMPLES)
    def run(case):
        count("voice service OpenAPI (schemathesis)")
        case.call_and_validate(headers=AUTH, checks=CHECKS)

    run()


def test_the_document_is_behind_the_token(voice_openapi):
    from starlette.testclient import TestClient

    with TestClient(voice_openapi.app) as client:
        assert client.get("/openapi.json").status_code == 401
        document = client.get("/openapi.json", headers=AUTH).json()
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/health"]["get"]["security"] == []
    body = document["paths"]["/generate-voice"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
