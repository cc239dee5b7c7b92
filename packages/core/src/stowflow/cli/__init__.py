"""The ``stowflow`` command-line interface."""

from __future__ import annotations

import sys

from stowflow.cli.app import build_app
from stowflow.cli.app import main as _main

__all__ = ["build_app", "main"]


def main() -> None:
    """Console-script entry point: run the CLI and exit with its code."""
    sys.exit(_main())
