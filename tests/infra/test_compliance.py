"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized templates."""

from __future__ import annotations

import json

import pytest
from cdk_synth import Synth
from cfnlint.api import ManualArgs, lint


@pytest.fixture(params=["default", "public_url"])
def synth(request: pytest.FixtureRequest) -> Synth:
    return request.getfixturevalue(f"{request.param}_synth")


def test_cdk_nag_reports_no_unacknowledged_findings(synth: Synth) -> None:
    (report,) = [
        r for r in synth.validation_report["pluginReports"] if r["pluginName"] == "AwsSolutions"
    ]
    unacknowledged = [
        f"{v['ruleName']} at {[r['constructPath'] for r in v['violatingConstructs']]}"
        for v in report["violations"]
    ]
    assert unacknowledged == []
    assert report["conclusion"] == "success"


def test_every_acknowledgement_gives_a_reason(synth: Synth) -> None:
    (report,) = synth.validation_report["pluginReports"]
    acknowledged = report["suppressedViolations"]
    assert acknowledged, "cdk-nag ran but acknowledged nothing: is the plugin registered?"
    for finding in acknowledged:
        assert finding["acknowledgedId"].startswith("AwsSolutions::")
        assert len(finding["reason"]) > 20, finding["ruleName"]


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    matches = lint(json.dumps(synth.template.to_json()), config=ManualArgs(regions=["us-east-1"]))
    errors = [f"{m.rule.id} {m.message}" for m in matches if m.rule.id.startswith("E")]
    assert errors == []
