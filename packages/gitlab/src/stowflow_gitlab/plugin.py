"""Hook implementations of the stowflow-gitlab plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
