"""Sizes and ages as the CLI reads and prints them (``500MB``, ``2.5 GiB``, ``30d``)."""

from __future__ import annotations

import re

from stowflow.errors import ConfigError

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def format_size(n: int) -> str:
    """Return ``n`` bytes as ``512 B``, ``1.5 KiB`` … ``3.2 GiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def parse_size(text: str, option: str = "--max-size") -> int:
    """Return the bytes of a size such as ``500MB``, ``2GB`` or ``1.5GiB`` (powers of 1024).

    Raises :class:`ConfigError` naming ``option`` for anything else (negative, inf, nan).
    """
    value = text.strip().upper().removesuffix("IB").removesuffix("I")
    number = value.rstrip("KMGTB")
    unit = value[len(number):]
    if unit and not unit.endswith("B"):
        unit += "B"
    try:
        size = float(number) * _SIZE_UNITS[unit]
    except (ValueError, KeyError):
        size = -1.0
    if not 0 <= size < float("inf"):  # negative, inf and nan are not sizes
        raise ConfigError(f"{option} {text!r}: expected a size such as 500MB or 2GB")
    return int(size)


def parse_age(text: str, option: str = "--older-than") -> float:
    """Return the seconds of an age such as ``30d``, ``12h``, ``90m``, ``2w`` or ``45s``.

    Raises :class:`ConfigError` naming ``option`` for anything else.
    """
    match = _AGE.match(text)
    if not match:
        raise ConfigError(f"{option} {text!r}: expected an age such as 30d, 12h or 90m")
    return float(match.group(1)) * _AGE_UNITS[match.group(2).lower()]
