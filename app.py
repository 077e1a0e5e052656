#!/usr/bin/env python3
"""CDK entry point (cdk.json "app"). Env-agnostic: no account, no lookups, no AWS calls."""

import sys

from infra.assembly import build_app
from infra.config import ConfigError


def main() -> None:
    try:
        app, _ = build_app()
    except ConfigError as exc:
        sys.exit(str(exc))
    app.synth()


if __name__ == "__main__":
    main()
