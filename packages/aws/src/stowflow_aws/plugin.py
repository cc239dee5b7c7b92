"""Hook implementations of the stowflow-aws plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
