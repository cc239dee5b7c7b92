"""Hook implementations of the stowflow-bitbucket plugin (registered through the `stowflow` entry point)."""

from __future__ import annotations
