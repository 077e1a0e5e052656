"""checkov on the synthesized CloudFormation templates: passed, failed and acknowledged checks.

checkov lives in its own virtualenv, `.venv-checkov` (`make setup` builds it from
`.ci/requirements-checkov.txt`): its pins (boto3 1.35, packaging 23, ...) conflict with
requirements.txt. A finding is acknowledged in the resource's metadata (infra/nag.py).

    .venv/bin/python tests/infra/checkov_scan.py     # = make checkov

synthesizes every variant afresh, prints checkov's and cdk-nag's counts per template and exits 1
if any check failed or any acknowledgement has no reason. tests/infra/test_compliance.py asserts
the same in pytest (`make test`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
TEMPLATE = "FalaStack.template.json"

# What is synthesized and scanned: the default stack, each option that adds or changes resources.
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},
    "public_url": {"fala:function_url_auth": "NONE"},
    "voice": {"fala:voice_service": "true"},
    "voice_kms": {"fala:voice_service": "true", "fala:kms_key": "create"},
    "voice_tls": {
        "fala:voice_service": "true",
        # An ACM certificate's ARN in the form ACM gives it (synth makes no lookup).
        "fala:voice_certificate_arn": (
            "arn:aws:acm:us-east-1:123456789012:certificate/0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f"
        ),
    },
}


@dataclass(frozen=True)
class Scan:
    resources: int
    passed: int
    failed: list[dict[str, Any]]
    skipped: list[dict[str, Any]]

    def unacknowledged(self) -> list[str]:
        return [f"{f['check_id']} {f['resource']}: {f['check_name']}" for f in self.failed]

    def without_reason(self) -> list[str]:
        """Acknowledgements whose comment does not say why."""
        return [
            f"{s['check_id']} {s['resource']}"
            for s in self.skipped
            if len((s.get("check_result") or {}).get("suppress_comment") or "") < 20
        ]


def scan(template: Path) -> Scan:
    """Run checkov's CloudFormation checks on one template (offline: no policy download)."""
    if not CHECKOV.is_file():
        raise FileNotFoundError(f"{CHECKOV} is missing: run `make setup` (it builds .venv-checkov)")
    proc = subprocess.run(
        [
            str(CHECKOV),
            "--file",
            str(template),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # Exit code 1 means "checks failed"; anything else non-zero is checkov itself failing.
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"checkov failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    report = json.loads(proc.stdout)
    results = report.get("results", {})
    summary = report["summary"]
    return Scan(
        resources=summary["resource_count"],
        passed=summary["passed"],
        failed=results.get("failed_checks", []),
        skipped=results.get("skipped_checks", []),
    )


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from cdk_synth import synthesize  # the same synthesis the infrastructure tests use

    problems: list[str] = []
    rows = [
        (
            "template",
            "resources",
            "checkov passed",
            "failed",
            "acknowledged",
            "cdk-nag findings",
            "acknowledged",
        )
    ]
    with tempfile.TemporaryDirectory(prefix="fala-checkov-") as tmp:
        for name, context in VARIANTS.items():
            synth = synthesize(Path(tmp) / name, **context)
            result = scan(synth.outdir / TEMPLATE)
            (nag,) = [
                r
                for r in synth.validation_report["pluginReports"]
                if r["pluginName"] == "AwsSolutions"
            ]
            rows.append(
                (
                    name,
                    str(result.resources),
                    str(result.passed),
                    str(len(result.failed)),
                    str(len(result.skipped)),
                    str(len(nag["violations"])),
                    str(len(nag["suppressedViolations"])),
                )
            )
            problems += [f"{name}: cdk-nag {v['ruleName']}" for v in nag["violations"]]
            problems += [f"{name}: {p}" for p in result.unacknowledged()]
            problems += [f"{name}: no reason given for {p}" for p in result.without_reason()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    for problem in problems:
        print(f"UNACKNOWLEDGED {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
