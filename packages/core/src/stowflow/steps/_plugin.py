"""Core's built-in hook implementations for the steps area."""

from __future__ import annotations
