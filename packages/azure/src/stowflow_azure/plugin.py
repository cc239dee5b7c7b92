"""Hook implementations of the stowflow-azure plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
