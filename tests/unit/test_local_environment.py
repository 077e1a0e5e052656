"""A local function's environment: exact for Python, and never removed from the C environment,
where adding a variable while another thread's C code reads it can crash the process."""

import os
import subprocess

from fala.local.lambdas import reserve_c_environment, scoped_environment


def c_environment(key: str) -> str:
    """What C code sees: a child started without env= inherits the C environment."""
    return subprocess.run(
        ["sh", "-c", f'printf %s "${{{key}-unset}}"'], capture_output=True, text=True, check=True
    ).stdout


def test_python_sees_the_functions_values_for_the_call_only():
    os.environ["FALA_ENV_KEPT"] = "before"
    try:
        with scoped_environment({"FALA_ENV_KEPT": "during", "FALA_ENV_ADDED": "during"}):
            assert os.environ["FALA_ENV_KEPT"] == os.getenv("FALA_ENV_ADDED") == "during"
            assert c_environment("FALA_ENV_ADDED") == "during"  # SSL_CERT_FILE for awscrt
        assert os.environ["FALA_ENV_KEPT"] == "before"
        assert c_environment("FALA_ENV_KEPT") == "before"
        assert "FALA_ENV_ADDED" not in os.environ and os.getenv("FALA_ENV_ADDED") is None
    finally:
        os.environ.pop("FALA_ENV_KEPT", None)


def test_a_reserved_variable_is_in_the_c_environment_only():
    reserve_c_environment({"FALA_ENV_RESERVED": "first"})
    assert "FALA_ENV_RESERVED" not in os.environ
    assert c_environment("FALA_ENV_RESERVED") == "first"
