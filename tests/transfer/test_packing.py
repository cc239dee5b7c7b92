"""Packing small files and planning the reads that fetch them back."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from stowflow.errors import StorageError
from stowflow.transfer.packing import (
    MAX_PACK,
    MIN_PACK,
    RANGE_GAP,
    PackItem,
    Wanted,
    build_pack,
    pack_target,
    plan_packs,
    plan_reads,
)


def test_pack_target_uses_every_connection_within_bounds() -> None:
    assert pack_target(0, 16) == MIN_PACK
    assert pack_target(64 * MIN_PACK, 16) == 4 * MIN_PACK
    assert pack_target(10**12, 16) == MAX_PACK


def test_plan_packs_fills_in_order() -> None:
    items = [PackItem(str(n), 40, Path(str(n))) for n in range(10)]
    packs = plan_packs(items, 100)
    assert [len(p) for p in packs] == [2, 2, 2, 2, 2]
    assert [i for p in packs for i in p] == items


def test_build_pack_offsets_and_change_detection(tmp_path: Path) -> None:
    files = []
    for n, data in enumerate([b"hello", b"", b"world!"]):
        path = tmp_path / f"f{n}"
        path.write_bytes(data)
        files.append(PackItem(hashlib.sha256(data).hexdigest(), len(data), path))
    blob, sha, offsets = build_pack(files)
    assert blob == b"helloworld!" and sha == hashlib.sha256(blob).hexdigest()
    assert offsets[files[2].sha256] == 5
    (tmp_path / "f0").write_bytes(b"HELLO")
    with pytest.raises(StorageError, match="changed while"):
        build_pack(files)


def test_reads_whole_pack_when_most_is_needed() -> None:
    reads = plan_reads("p", 100, [Wanted("a", 0, 30), Wanted("b", 50, 30)])
    assert len(reads) == 1 and reads[0].whole and reads[0].byte_range is None


def test_reads_merge_near_ranges_and_split_far_ones() -> None:
    size = 10 * RANGE_GAP
    wanted = [Wanted("a", 0, 10), Wanted("b", 20, 10), Wanted("c", 5 * RANGE_GAP, 10),
              Wanted("a", 0, 10)]
    reads = plan_reads("p", size, wanted)
    assert [(r.start, r.end) for r in reads] == [(0, 30), (5 * RANGE_GAP, 5 * RANGE_GAP + 10)]
    assert [w.sha256 for w in reads[0].wanted] == ["a", "b"]
    assert plan_reads("p", size, []) == []
