"""cdk-nag acknowledgements, made per finding next to the resource they concern.

cdk-nag 3.x reports through CDK's policy-validation framework; a finding is acknowledged with
`Validations.of(construct).acknowledge(...)` under the pack's namespace, e.g.
`AwsSolutions::AwsSolutions-IAM5[Resource::*]`, and covers that construct and its children only.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, finding: str, reason: str) -> None:
    """Acknowledge one finding (`IAM5[Resource::*]`, `S1`, ...) of the AwsSolutions pack."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{finding}", reason=reason))
