"""Scan on push for the images `cdk deploy` pushes: the Whisper Lambda image and the voice service.

CDK pushes both to the bootstrap stack's ContainerAssetsRepository,
`cdk-<qualifier>-container-assets-<account>-<region>`. The default bootstrap template (version 33,
shipped with the pinned CLI) creates it with immutable tags but no scanning: repository-level
scan-on-push was taken out of the template (aws-cdk pull request 21342) once ECR deprecated it in
favour of registry-level scanning rules.

A registry's scanning configuration is one per account and region, shared by every repository in
it, so the app stack does not own it (a stack that did would overwrite any other rules, and two
stages would fight over it). `fala scan-on-push` instead adds one rule, for the asset repository
only, to the configuration already there, keeping its scan type (BASIC, or ENHANCED with Amazon
Inspector) and its other rules; when a rule already scans the repository it changes nothing.
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass
from typing import Any

DEFAULT_QUALIFIER = "hnb659fds"  # `cdk bootstrap`'s default --qualifier
SCANNING = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")


def asset_repository(account: str, region: str, qualifier: str = DEFAULT_QUALIFIER) -> str:
    """The bootstrap template's ContainerAssetsRepository name (unless renamed at bootstrap)."""
    return f"cdk-{qualifier}-container-assets-{account}-{region}"


@dataclass(frozen=True)
class ScanPlan:
    repository: str
    current: dict[str, Any]  # {"scanType", "rules"} as ECR returns it
    proposed: dict[str, Any] | None  # None: already scanned, nothing to change

    @property
    def changes(self) -> bool:
        return self.proposed is not None


def _covers(rule: dict[str, Any], repository: str) -> bool:
    # ECR's WILDCARD filters know one metacharacter, `*`; repository names have no [ or ?.
    return any(
        fnmatch.fnmatchcase(repository, f["filter"]) for f in rule.get("repositoryFilters", [])
    )


def plan_scan_on_push(current: dict[str, Any], repository: str) -> ScanPlan:
    """The registry scanning configuration with `repository` scanned on push, or None if a rule
    already scans it (on push or continuously)."""
    rules = current.get("rules") or []
    if any(r["scanFrequency"] in SCANNING and _covers(r, repository) for r in rules):
        return ScanPlan(repository, current, None)
    proposed_rules = copy.deepcopy(rules)
    new_filter = {"filter": repository, "filterType": "WILDCARD"}
    on_push = [r for r in proposed_rules if r["scanFrequency"] == "SCAN_ON_PUSH"]
    if on_push:  # ECR allows one rule per frequency: extend it
        on_push[0]["repositoryFilters"].append(new_filter)
    else:
        proposed_rules.append({"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [new_filter]})
    proposed = {"scanType": current.get("scanType") or "BASIC", "rules": proposed_rules}
    return ScanPlan(repository, current, proposed)


def enable_scan_on_push(
    session: Any, *, qualifier: str = DEFAULT_QUALIFIER, dry_run: bool = False
) -> ScanPlan:
    """Plan (and unless `dry_run`, apply) scan on push for this account's CDK asset repository
    in the session's region."""
    account = session.client("sts").get_caller_identity()["Account"]
    ecr = session.client("ecr")
    repository = asset_repository(account, ecr.meta.region_name, qualifier)
    current = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    plan = plan_scan_on_push(current, repository)
    if plan.proposed is not None and not dry_run:
        ecr.put_registry_scanning_configuration(**plan.proposed)
    return plan
