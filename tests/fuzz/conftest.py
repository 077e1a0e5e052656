"""The hypothesis profile of the fuzz folder, and a count of the examples it ran.

Every test takes its settings from the "fuzz" profile (`@settings(FUZZ, max_examples=N)`), so the
profile is never loaded globally and other folders keep their own settings. With CI=true the run is
derandomized (the same examples every time) and uses no example database, so CI is reproducible;
locally the examples vary from run to run and failures are remembered in .hypothesis/.

The total number of examples run is printed at the end of the session (`-s` not needed).
"""

from __future__ import annotations

import os
from collections import Counter

from hypothesis import HealthCheck, settings

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "fuzz",
    deadline=None,
    derandomize=CI,
    database=None if CI else settings.default.database,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")

EXAMPLES: Counter[str] = Counter()
_SECONDS: list[float] = []  # durations of this folder's tests


def count(test: str) -> None:
    """Called once per generated example by every fuzz test."""
    EXAMPLES[test] += 1


def pytest_runtest_logreport(report) -> None:
    if "fuzz/" in report.nodeid.replace("\\", "/"):
        _SECONDS.append(report.duration)


def pytest_terminal_summary(terminalreporter) -> None:
    if not EXAMPLES:
        return
    seconds = sum(_SECONDS)
    write = terminalreporter.write_line
    terminalreporter.section("fuzz examples")
    for name, n in sorted(EXAMPLES.items()):
        write(f"{n:>7,}  {name}")
    mode = "derandomized (CI)" if CI else "random"
    write(f"{sum(EXAMPLES.values()):>7,}  generated examples in total, {seconds:.1f} s, {mode}")
