"""The voice service's errors against the shared registry (fala.core.errors): what a job reports is
always a registered name, the HTTP-only errors stay out of it, and the registry is the same in
every process, whatever it imported (the voice service's package is imported here)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from voice_service import errors as service_errors

from fala.core import errors as core
from fala.core.outcome import error_info

# Defined by the voice service for its HTTP API only: a job never fails with one of these.
HTTP_ONLY = {
    "Unauthorized",
    "Forbidden",
    "RequestTimeout",
    "TextTooLong",
    "NothingToSpeak",
    "VoiceCloningUnavailable",
}


def _service_types() -> dict[str, type[core.FalaError]]:
    return {
        name: value
        for name in service_errors.__all__
        if isinstance(value := getattr(service_errors, name), type)
        and issubclass(value, core.FalaError)
    }


def test_registry_is_the_same_whatever_a_process_imported() -> None:
    """This process imported the voice service; a fresh one (like the PublishOutcome Lambda)
    did not. Both see the same registry, so the state machine's retry lists and the result
    documents cannot depend on import order."""
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from fala.core.errors import error_types; "
            "print(json.dumps(sorted(error_types())))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(fresh.stdout) == sorted(core.error_types())
    assert HTTP_ONLY.isdisjoint(core.error_types())


def test_every_service_error_is_registered_or_http_only() -> None:
    registry = core.error_types()
    for name, cls in _service_types().items():
        if cls.__module__ == core.__name__:
            assert registry[name] is cls, name  # re-exported from the registry
        else:
            assert name in HTTP_ONLY, f"{name}: register it in fala/core/errors.py or list it"
            assert name not in registry
    assert {n for n, c in _service_types().items() if c.__module__ != core.__name__} == HTTP_ONLY


def test_codes_are_unique_across_the_registry_and_the_service() -> None:
    everything = {**core.error_types(), **_service_types()}
    codes = [cls.code for cls in everything.values()]
    assert len(codes) == len(set(codes)), sorted(codes)
    for cls in everything.values():
        assert 400 <= cls.status < 600, cls


@pytest.mark.parametrize("name", sorted(HTTP_ONLY))
def test_an_http_only_error_is_reported_by_a_registered_base(name: str) -> None:
    error = getattr(service_errors, name)("what went wrong, and what to do")
    reported = core.registered_type(error)
    assert reported.__name__ in core.error_types()
    assert isinstance(error, reported)
    # The result document a job failure would get: a code and what to do next.
    info = error_info({"Error": reported.__name__, "Cause": error.message})
    assert info.code == reported.code and info.how_to_retry


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("BackendUnavailable", "backend_unavailable"),
        ("LLMUnavailable", "llm_unavailable"),
        ("STTUnavailable", "stt_unavailable"),
        ("TTSUnavailable", "tts_unavailable"),
    ],
)
def test_backend_outages_a_job_reports_are_explained_in_the_result(name: str, code: str) -> None:
    """The worker retries these, then fails the task by name; the result document (written by a
    Lambda without the service's code) gives the code and says to redrive."""
    assert getattr(service_errors, name) is core.error_types()[name]
    info = error_info({"Error": name, "Cause": '{"errorMessage": "the LLM endpoint is down"}'})
    assert (info.code, info.retryable) == (code, True)
    assert "Redrive" in info.how_to_retry
    assert not core.needs_new_upload(core.error_types()[name])
