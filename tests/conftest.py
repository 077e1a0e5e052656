"""Session-wide fixtures shared by every test folder."""

import pytest


@pytest.fixture(scope="session")
def whisper_model_path() -> str:
    """The Whisper base model folder (assembled from the PyPI parts on first use)."""
    from fala.model_store import whisper_model_dir

    return str(whisper_model_dir())


@pytest.fixture(scope="session")
def speech_validator(whisper_model_path):
    """The real Whisper model, loaded once per test session and shared with the handlers (they
    build theirs through the same `shared_validator` cache)."""
    from fala.core.validation import shared_validator

    return shared_validator(whisper_model_path)
