"""Hook implementations of the stowflow-github plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
