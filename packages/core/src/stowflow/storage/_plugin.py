"""Core's built-in hook implementations for the storage area."""

from __future__ import annotations
