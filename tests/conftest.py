"""Session-wide fixtures shared by every test folder."""

import pytest

from fala.local.atomic_moto import make_moto_writes_atomic

# Tests run moto in-process with threads; its conditional writes must be as atomic as AWS's.
make_moto_writes_atomic()

# Folders whose tests load the real Whisper model (the pipelines theirs, not through the fixture).
_MODEL_FOLDERS = ("e2e", "hostile", "model")


def pytest_collection_modifyitems(items):
    """Mark every test whose outcome can depend on Whisper's int8 kernels `model`, so that
    `make test-isa` reruns just those under other instruction sets (tests/with_isa.sh)."""
    for item in items:
        folder = item.path.parent.name
        if "whisper_model_path" in item.fixturenames or folder in _MODEL_FOLDERS:
            item.add_marker(pytest.mark.model)


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


@pytest.fixture(scope="session")
def stack():
    """The synthesized app (cdk.out, re-synthesized only when an input changed)."""
    from fala.local.assembly import load_stack, synth

    return load_stack(synth())


@pytest.fixture(scope="module")
def url_server(stack, whisper_model_path, tmp_path_factory):
    """`fala serve`'s server, in-process on a free loopback port."""
    import threading

    from fala.local.assembly import Resolver
    from fala.local.emulator import local_tables
    from fala.local.function_url import make_server, url_function
    from fala.local.lambdas import LocalLambdaRuntime

    resolver = Resolver(stack)
    runtime = LocalLambdaRuntime(
        stack,
        resolver,
        work_dir=tmp_path_factory.mktemp("task-roots"),
        overrides={"WHISPER_MODEL_DIR": whisper_model_path},
    )
    httpd = make_server(url_function(stack, runtime, resolver), "127.0.0.1", 0)
    with local_tables(stack, resolver):
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield httpd
        httpd.shutdown()
        httpd.server_close()
