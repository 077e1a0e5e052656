"""Builds the CDK app: used by app.py (the CLI's entry point) and by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import FalaConfig
from infra.stack import FalaStack

REPO_ROOT = Path(__file__).resolve().parents[1]
STACK_ID = "FalaStack"


def cdk_json_context() -> dict[str, Any]:
    """The context cdk.json gives the CLI, for building the app outside it (tests, tools)."""
    return dict(json.loads((REPO_ROOT / "cdk.json").read_text())["context"])


def build_app(
    context: dict[str, Any] | None = None, *, nag: bool = True, outdir: str | None = None
) -> tuple[App, FalaStack]:
    """The app with its one stack; context=None means the CLI's (cdk.json + -c options)."""
    app = App(context=context, outdir=outdir) if context is not None else App(outdir=outdir)
    config = FalaConfig.from_node(app.node)
    stack = FalaStack(
        app,
        STACK_ID,
        config=config,
        stack_name=f"fala-{config.stage}",
        description=f"Fala speech pipeline ({config.stage})",
    )
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
