"""Core's built-in hook implementations for the transfer area."""

from __future__ import annotations
