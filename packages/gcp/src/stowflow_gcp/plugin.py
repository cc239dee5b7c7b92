"""Hook implementations of the stowflow-gcp plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
