"""Core's built-in hook implementations for the git area."""

from __future__ import annotations
