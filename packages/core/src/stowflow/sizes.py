"""Byte counts as people read them (``512 B``, ``1.5 KiB`` … ``3.2 GiB``)."""

from __future__ import annotations


def format_size(n: int) -> str:
    """Return ``n`` bytes as ``512 B``, ``1.5 KiB`` … ``3.2 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover
