"""Build tiny wheels on the fly so install tests never need a package index."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path, name: str, version: str = "1.0", body: str = "",
                extra: dict[str, str] | None = None, entry_points: str | None = None) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with package ``name`` (``__init__.py`` is
    ``body``), ``extra`` files (path → text) and an ``entry_points.txt``; return its path."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": (body or f"VERSION = {version!r}\n").encode(),
        **{path: text.encode() for path, text in (extra or {}).items()},
        f"{dist_info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\n"
                                  f"Version: {version}\n").encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n",
    }
    if entry_points:
        files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in files.items():
            zf.writestr(member, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return path
