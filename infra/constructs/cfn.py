"""The CloudFormation resource behind an L2 construct, typed: `node.default_child` is typed as
any construct (or None), so each caller would otherwise cast or silence the type checker."""

from __future__ import annotations

from aws_cdk import CfnElement, Stack
from constructs import IConstruct


def l1[L1: CfnElement](construct: IConstruct, kind: type[L1]) -> L1:
    """The resource `construct` renders, as `kind` (aws_s3.CfnBucket, ...); TypeError otherwise."""
    child = construct.node.default_child
    if not isinstance(child, kind):
        raise TypeError(
            f"{construct.node.path} renders {type(child).__name__}, not {kind.__name__}"
        )
    return child


def logical_id(construct: IConstruct) -> str:
    """The logical id of the resource `construct` renders (cdk-nag names resources by it)."""
    return Stack.of(construct).get_logical_id(l1(construct, CfnElement))
