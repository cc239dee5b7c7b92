"""Manifests: canonical bytes, version ids, and validation before anything is written."""

from __future__ import annotations

import json

import pytest
from stowflow.errors import IntegrityError, StorageError, UnsafePathError
from stowflow.transfer import manifest as mf


def _entry(path: str, data: bytes, **kw: object) -> mf.FileEntry:
    return mf.FileEntry(path, len(data), mf.version_id(data), **kw)  # type: ignore[arg-type]


def test_round_trip_and_version_id_is_the_digest_of_the_bytes() -> None:
    doc = mf.build([_entry("b.py", b"b", location="object"),
                    _entry("a.py", b"a", location="pack", pack="f" * 64, offset=3)],
                   layout="packed", parent=None, packs={"f" * 64: 10})
    data = doc.to_bytes()
    assert [e.path for e in doc.files] == ["a.py", "b.py"]
    parsed = mf.parse(data, where="here", expected_id=mf.version_id(data))
    assert parsed == doc
    assert parsed.to_bytes() == data


def test_bytes_not_matching_the_id_are_refused() -> None:
    data = mf.build([], layout="packed", parent=None).to_bytes()
    with pytest.raises(IntegrityError, match="do not match"):
        mf.parse(data, where="store/key", expected_id="0" * 64)


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a\\b", "a/../../b"])
def test_hostile_paths_are_refused(path: str) -> None:
    data = mf.build([_entry(path, b"x", location="object")], layout="packed",
                    parent=None).to_bytes()
    with pytest.raises(UnsafePathError):
        mf.parse(data, where="m")


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(format=99),
    lambda d: d["files"][0].update(sha256="zz"),
    lambda d: d["files"][0].update(offset=9),  # outside the 10-byte pack
    lambda d: d["files"][0].update(pack="e" * 64),  # an unknown pack
    lambda d: d["files"][0].update({"in": "somewhere"}),
    lambda d: d["files"].append(dict(d["files"][0])),  # the same path twice
])
def test_malformed_manifests_are_refused(mutate: object) -> None:
    doc = mf.build([_entry("a.py", b"abc", location="pack", pack="f" * 64, offset=0)],
                   layout="packed", parent=None, packs={"f" * 64: 10})
    raw = json.loads(doc.to_bytes())
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(StorageError):
        mf.parse(json.dumps(raw).encode(), where="m")


def test_same_content_ignores_where_bytes_live_but_not_modes() -> None:
    a = mf.build([_entry("x", b"1", location="object")], layout="packed", parent=None)
    b = mf.build([_entry("x", b"1", location="pack", pack="f" * 64)], layout="packed",
                 parent="p", packs={"f" * 64: 1})
    c = mf.build([_entry("x", b"1", executable=True, location="object")], layout="packed",
                 parent=None)
    assert a.same_content(b)
    assert not a.same_content(c)
    assert not a.same_content(None)
