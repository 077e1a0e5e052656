"""`fala scan-on-push`: the CDK asset repository scanned on push through one registry rule, added
to whatever scanning configuration the account has (ECR in moto)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from fala.cli import app
from fala.image_scanning import asset_repository, enable_scan_on_push, plan_scan_on_push

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
REPOSITORY = asset_repository(ACCOUNT, REGION)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        # What `cdk bootstrap` creates: immutable tags, no scanning of its own.
        session.client("ecr").create_repository(
            repositoryName=REPOSITORY, imageTagMutability="IMMUTABLE"
        )
        yield session


def _scan_frequency(session: boto3.Session, repository: str = REPOSITORY) -> str:
    (config,) = session.client("ecr").batch_get_repository_scanning_configuration(
        repositoryNames=[repository]
    )["scanningConfigurations"]
    return config["scanFrequency"]


def test_repository_name_is_the_bootstrap_templates() -> None:
    assert REPOSITORY == "cdk-hnb659fds-container-assets-123456789012-us-east-1"
    assert asset_repository("1", "eu-west-1", "myqual") == "cdk-myqual-container-assets-1-eu-west-1"


def test_the_asset_repository_is_scanned_on_push_afterwards(aws: boto3.Session) -> None:
    assert _scan_frequency(aws) == "MANUAL"

    plan = enable_scan_on_push(aws)

    assert plan.changes
    assert _scan_frequency(aws) == "SCAN_ON_PUSH"
    config = aws.client("ecr").get_registry_scanning_configuration()["scanningConfiguration"]
    assert config == {
        "scanType": "BASIC",
        "rules": [
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": REPOSITORY, "filterType": "WILDCARD"}],
            }
        ],
    }


def test_the_accounts_other_rules_and_scan_type_are_kept(aws: boto3.Session) -> None:
    ecr = aws.client("ecr")
    ecr.create_repository(repositoryName="team-api")
    other = {
        "scanFrequency": "SCAN_ON_PUSH",
        "repositoryFilters": [{"filter": "team-*", "filterType": "WILDCARD"}],
    }
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[other])

    enable_scan_on_push(aws)

    (rule,) = ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"]
    assert rule["repositoryFilters"] == [
        {"filter": "team-*", "filterType": "WILDCARD"},
        {"filter": REPOSITORY, "filterType": "WILDCARD"},
    ]
    assert _scan_frequency(aws, "team-api") == "SCAN_ON_PUSH"
    assert _scan_frequency(aws) == "SCAN_ON_PUSH"


def test_nothing_changes_when_a_rule_already_scans_it(aws: boto3.Session) -> None:
    ecr = aws.client("ecr")
    everything = {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
    }
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[everything])

    plan = enable_scan_on_push(aws)

    assert not plan.changes
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert config == {"scanType": "ENHANCED", "rules": [everything]}


def test_enhanced_scanning_stays_enhanced() -> None:
    current = {
        "scanType": "ENHANCED",
        "rules": [
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "prod-*", "filterType": "WILDCARD"}],
            }
        ],
    }
    plan = plan_scan_on_push(current, REPOSITORY)
    assert plan.proposed == {
        "scanType": "ENHANCED",
        "rules": [
            *current["rules"],
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": REPOSITORY, "filterType": "WILDCARD"}],
            },
        ],
    }
    assert len(current["rules"]) == 1, "the plan must not modify what it was given"


def test_a_manual_rule_does_not_count_as_scanning() -> None:
    current = {
        "scanType": "BASIC",
        "rules": [
            {
                "scanFrequency": "MANUAL",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            }
        ],
    }
    assert plan_scan_on_push(current, REPOSITORY).changes


def test_cli_dry_run_shows_the_rule_and_writes_nothing(aws: boto3.Session) -> None:
    result = CliRunner().invoke(app, ["scan-on-push", "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "Would write" in result.output
    assert REPOSITORY in result.output
    assert _scan_frequency(aws) == "MANUAL"

    result = CliRunner().invoke(app, ["scan-on-push"])
    assert result.exit_code == 0, result.output
    assert _scan_frequency(aws) == "SCAN_ON_PUSH"
    result = CliRunner().invoke(app, ["scan-on-push"])
    assert "already scanned" in result.output
