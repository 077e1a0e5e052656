"""Synthesizes the app once per session per configuration; the tests share the results."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# cdk_synth (and through it the repo root) importable whether or not tests/ becomes a package.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aws_cdk.assertions import Template
from cdk_synth import Synth, synthesize
from checkov_scan import VARIANTS


@pytest.fixture(scope="session")
def default_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-default"))


@pytest.fixture(scope="session")
def public_url_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-public"), **{"fala:function_url_auth": "NONE"})


@pytest.fixture(scope="session")
def voice_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk-voice"), **{"fala:voice_service": "true"})


@pytest.fixture(scope="session")
def voice_kms_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Everything deployed, under a customer-managed key the stack creates."""
    return synthesize(
        tmp_path_factory.mktemp("cdk-voice-kms"),
        **{"fala:voice_service": "true", "fala:kms_key": "create"},
    )


@pytest.fixture(scope="session")
def voice_tls_synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The voice service behind an HTTPS listener (fala:voice_certificate_arn)."""
    return synthesize(tmp_path_factory.mktemp("cdk-voice-tls"), **VARIANTS["voice_tls"])


@pytest.fixture(scope="session")
def template(default_synth: Synth) -> Template:
    return default_synth.template
