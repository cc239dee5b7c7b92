"""Sizes and ages as the CLI reads and prints them (``500MB``, ``2.5 GiB``, ``30d``)."""

from __future__ import annotations

import re

from stowflow.errors import ConfigError
from stowflow.sizes import format_size

_SIZE_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
__all__ = ["format_size", "parse_age", "parse_size"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


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
