"""cdk-nag (AwsSolutions), checkov and cfn-lint on the synthesized templates: the default stack
and each option that adds or changes resources (public URL, GPU voice service, customer-managed
key)."""

from __future__ import annotations

import json

import pytest
from cdk_synth import Synth
from cfnlint.api import ManualArgs, lint
from checkov_scan import TEMPLATE, VARIANTS, scan


@pytest.fixture(params=list(VARIANTS))
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


def test_checkov_finds_nothing_unacknowledged(synth: Synth) -> None:
    result = scan(synth.outdir / TEMPLATE)
    assert result.unacknowledged() == []
    assert result.without_reason() == []
    assert result.passed > 150, "checkov ran almost no check: did it parse the template?"


def test_access_logs_survive_an_overwrite_or_delete_for_their_retention(
    default_synth: Synth,
) -> None:
    """checkov's versioning finding on the access-log bucket is fixed, not acknowledged."""
    (logs,) = [
        b["Properties"]
        for b in default_synth.of_type("AWS::S3::Bucket").values()
        if "LoggingConfiguration" not in b["Properties"]
    ]
    assert logs["VersioningConfiguration"] == {"Status": "Enabled"}
    rules = {r["Id"]: r for r in logs["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-access-logs"]["ExpirationInDays"] == 30
    assert rules["expire-access-logs"]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert rules["remove-expired-delete-markers"]["ExpiredObjectDeleteMarker"] is True
