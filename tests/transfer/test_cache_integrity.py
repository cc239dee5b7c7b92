"""A damaged content-cache entry is never linked into a checkout; verify-cache finds it.

Regression (issue 19 item 2): a pull trusted a cached file whose size matched. An entry
changed in place with the same byte count (through a pulled tree's file, which is the same
inode; root ignores the read-only bit) was hardlinked into the next checkout, "2 from
cache", exit 0; restoring the mtime after the edit hid it even from a re-pull into the same
folder. These tests fail on the old code. The corruption is real: bytes written into the
inode, the mtime set back.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from stowflow import transfer
from stowflow.cli.app import main
from stowflow.testing.conformance import read_tree, write_tree
from stowflow.transfer import cache as cache_module
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.store import ObjectStore

FILES = {"app.py": b"print('the real code')\n" * 50, "lib/util.py": b"X = 1\n" * 40}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ObjectStore]:
    opened, _ = transfer.open_store(f"file://{tmp_path / 'bucket'}/p")
    with opened:
        write_tree(tmp_path / "src", FILES)
        transfer.push(tmp_path / "src", opened, "p")
        yield opened


def damage_in_place(path: Path) -> None:
    """Overwrite the start of ``path`` with the same number of bytes (like ``dd
    conv=notrunc``), then set its mtime back, as someone hiding the edit would."""
    st = path.stat()
    os.chmod(path, 0o644)
    with open(path, "r+b") as fh:
        fh.write(b"evil")
    os.chmod(path, st.st_mode & 0o777)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def expected() -> dict[str, tuple[bytes, bool]]:
    return {path: (data, False) for path, data in FILES.items()}


def test_a_damaged_entry_is_refetched_not_linked_into_a_new_checkout(
    store: ObjectStore, tmp_path: Path
) -> None:
    transfer.pull(store, "p", tmp_path / "run1")
    damage_in_place(tmp_path / "run1" / "app.py")  # a run edits its workspace file
    result = transfer.pull(store, "p", tmp_path / "run2")
    assert read_tree(tmp_path / "run2") == expected()
    assert result.cached_files == 1 and result.fetched_objects >= 1


def test_a_damaged_tree_with_its_mtime_restored_is_repaired_by_a_re_pull(
    store: ObjectStore, tmp_path: Path
) -> None:
    transfer.pull(store, "p", tmp_path / "dest")
    damage_in_place(tmp_path / "dest" / "lib" / "util.py")
    transfer.pull(store, "p", tmp_path / "dest")
    assert read_tree(tmp_path / "dest") == expected()


def test_intact_entries_are_not_read_again(store: ObjectStore, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    transfer.pull(store, "p", tmp_path / "one")
    hashed: list[Path] = []
    real = cache_module.hash_file

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(cache_module, "hash_file", counting)
    result = transfer.pull(store, "p", tmp_path / "two")  # links changed the ctimes: restamped
    assert result.cached_files == 2 and hashed == []


def test_verify_cache_reports_then_repairs_a_damaged_entry(
    store: ObjectStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    transfer.pull(store, "p", tmp_path / "dest")
    capsys.readouterr()
    assert main(["storage", "verify-cache"]) == 0
    assert "Checked 2 cached files" in capsys.readouterr().out
    entry = ContentCache().lookup(hashlib.sha256(FILES["app.py"]).hexdigest(),
                                  len(FILES["app.py"]))
    assert entry is not None
    damage_in_place(entry)

    assert main(["storage", "verify-cache"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert f"damaged: {entry}" in out and "1 damaged" in out and "linked into 1" in out
    assert entry.exists()  # reported only

    assert main(["storage", "verify-cache", "--repair"]) == 0
    assert f"removed: {entry}" in " ".join(capsys.readouterr().out.split())
    assert not entry.exists()
    assert main(["storage", "verify-cache"]) == 0
    assert "0 damaged" in capsys.readouterr().out
    result = transfer.pull(store, "p", tmp_path / "again")
    assert read_tree(tmp_path / "again") == expected() and result.fetched_objects >= 1


def test_files_sharing_content_are_linked_without_hashing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fails on the old code: linking the first copy moved the entry's ctime, and the
    # second copy was checked against the stamp read before, so it was hashed each pull.
    same = b"shared = True\n" * 100
    opened, _ = transfer.open_store(f"file://{tmp_path / 'bucket'}/p")
    with opened:
        write_tree(tmp_path / "src", {"a.py": same, "b/a.py": same, "c/d/a.py": same})
        transfer.push(tmp_path / "src", opened, "p")
        transfer.pull(opened, "p", tmp_path / "one")
        hashed: list[object] = []
        real = cache_module.hash_file
        monkeypatch.setattr(cache_module, "hash_file",
                            lambda path: hashed.append(path) or real(path))
        result = transfer.pull(opened, "p", tmp_path / "two")
        assert result.cached_files == 3 and hashed == []
        damage_in_place(tmp_path / "two" / "b" / "a.py")  # all three share the inode
        result = transfer.pull(opened, "p", tmp_path / "three")
        assert read_tree(tmp_path / "three") == {
            p: (same, False) for p in ("a.py", "b/a.py", "c/d/a.py")}
        assert result.cached_files == 0 and len(hashed) == 1


def test_the_recorded_fingerprint_is_the_walked_one(store: ObjectStore, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the record's fingerprint comes from the stats taken while linking, not a walk
    from stowflow.transfer import materialise

    dest = tmp_path / "dest"
    transfer.pull(store, "p", dest)
    record = ContentCache().read_json("records", str(dest))
    assert record["fingerprint"] == materialise.fingerprint(dest)
    monkeypatch.setattr(materialise.TreeBuilder, "__init__", None)  # nothing to build
    assert transfer.pull(store, "p", dest).files == 2


def test_a_tampered_foreign_index_never_names_a_file_outside_the_cache(tmp_path: Path) -> None:
    """A foreign folder's index (``cache/foreign/*.json``) gives each key's sha256; a
    value that is not a digest was joined into a cache path, and a "damaged entry" there
    was evicted: a tampered index could have a pull unlink any file of the same size."""
    bucket = tmp_path / "bucket" / "plain"
    write_tree(bucket, {"a.txt": b"A" * 100})
    opened, prefix = transfer.open_store(f"file://{bucket}")
    with opened:
        transfer.pull(opened, prefix, tmp_path / "run1")
        cache = ContentCache()
        index_file = next((cache.root / "foreign").glob("*.json"))
        index = json.loads(index_file.read_text())
        (key,) = index
        victim = tmp_path / "victim.txt"
        victim.write_bytes(b"V" * 100)  # the same size as a.txt
        # find() joins objects/<sha[:2]>/<sha>: objects/../../<rest> is the victim
        escape = os.path.relpath(victim, cache.root.parent)
        index[key][2] = f"../{escape}"
        index_file.write_text(json.dumps(index))
        transfer.pull(opened, prefix, tmp_path / "run2")
    assert victim.read_bytes() == b"V" * 100
    assert (tmp_path / "run2" / "a.txt").read_bytes() == b"A" * 100


def test_a_removed_workspace_costs_the_next_pull_no_hash(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker deletes each run's workspace; each unlink moves the shared entry's ctime.
    Fails on the old code: the next pull hashed every entry the deleted tree had linked."""
    from stowflow.transfer.materialise import remove_tree

    transfer.pull(store, "p", tmp_path / "run1")
    transfer.pull(store, "p", tmp_path / "run2")  # another live tree shares the entries
    remove_tree(tmp_path / "run1")
    assert not (tmp_path / "run1").exists()
    hashed: list[Path] = []
    real = cache_module.hash_file
    monkeypatch.setattr(cache_module, "hash_file", lambda path: hashed.append(path) or real(path))
    result = transfer.pull(store, "p", tmp_path / "run3")
    assert result.cached_files == 2 and hashed == []
    assert read_tree(tmp_path / "run3") == expected()


def test_removing_a_tree_never_vouches_for_an_entry_edited_through_another(
    store: ObjectStore, tmp_path: Path
) -> None:
    from stowflow.transfer.materialise import remove_tree

    transfer.pull(store, "p", tmp_path / "run1")
    transfer.pull(store, "p", tmp_path / "run2")
    damage_in_place(tmp_path / "run2" / "app.py")  # the same inode as run1's app.py
    remove_tree(tmp_path / "run1")
    result = transfer.pull(store, "p", tmp_path / "run3")
    assert read_tree(tmp_path / "run3") == expected()
    assert result.cached_files == 1 and result.fetched_objects >= 1


def _parsed_file(version: str) -> Path:
    return ContentCache().root / "manifests" / f"{version}.parsed"


def test_a_warm_pull_reads_the_parsed_manifest_not_the_json(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stowflow.transfer import manifest

    first = transfer.pull(store, "p", tmp_path / "one")
    assert first.version is not None and _parsed_file(first.version).is_file()

    def no_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the JSON manifest was parsed again")

    monkeypatch.setattr(manifest, "parse", no_parse)
    transfer.pull(store, "p", tmp_path / "two")
    assert read_tree(tmp_path / "two") == expected()


def test_a_changed_parsed_manifest_is_ignored(store: ObjectStore, tmp_path: Path) -> None:
    """The parsed manifest is checked against its sha256 (of the version id and the data):
    a torn or changed file, or another version's, is never used — the pull parses the
    JSON again. Without the check the pull below would lay out ``evil.py``."""
    version = transfer.pull(store, "p", tmp_path / "one").version
    assert version is not None
    parsed = _parsed_file(version)
    data = parsed.read_bytes()
    assert data.count(b"app.py") == 1
    parsed.write_bytes(data.replace(b"app.py", b"evilpy"))  # same length, digest kept
    transfer.pull(store, "p", tmp_path / "two")
    assert read_tree(tmp_path / "two") == expected()

    # another version's parsed manifest, renamed to this one's
    write_tree(tmp_path / "src2", {"other.py": b"other\n"})
    other = transfer.push(tmp_path / "src2", store, "p").version
    assert other is not None
    transfer.pull(store, "p", tmp_path / "three")
    parsed.write_bytes(_parsed_file(other).read_bytes())
    transfer.pull(store, "p", tmp_path / "four", version=version)
    assert read_tree(tmp_path / "four") == expected()

    parsed.write_bytes(data[: len(data) // 2])  # torn
    transfer.pull(store, "p", tmp_path / "five", version=version)
    assert read_tree(tmp_path / "five") == expected()


def test_a_warm_pull_from_a_stamp_set_still_sees_an_edit_with_its_mtime_set_back(
    store: ObjectStore, tmp_path: Path
) -> None:
    """The second pull writes the stamps of its entries as one set row; the third reads
    them from it: an edit made in between (mtime restored) is still seen."""
    transfer.pull(store, "p", tmp_path / "run1")
    transfer.pull(store, "p", tmp_path / "run2")  # stamps read from, and written to, the set
    damage_in_place(tmp_path / "run2" / "app.py")
    result = transfer.pull(store, "p", tmp_path / "run3")
    assert read_tree(tmp_path / "run3") == expected()
    assert result.cached_files == 1 and result.fetched_objects >= 1


def test_alternating_versions_that_share_entries_hash_nothing(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two versions share ``lib/util.py``'s entry; pulling one moves the entry's ctime
    away from the other's stamp set. Fails without reading the other sets on a mismatch:
    the pull of the first version hashed the shared entry again."""
    first = transfer.pull(store, "p", tmp_path / "v1-a").version
    write_tree(tmp_path / "src2", {**FILES, "app.py": b"print('version two')\n"})
    second = transfer.push(tmp_path / "src2", store, "p").version
    transfer.pull(store, "p", tmp_path / "v2-a", version=second)
    transfer.pull(store, "p", tmp_path / "v1-b", version=first)
    transfer.pull(store, "p", tmp_path / "v2-b", version=second)
    hashed: list[Path] = []
    real = cache_module.hash_file
    monkeypatch.setattr(cache_module, "hash_file", lambda path: hashed.append(path) or real(path))
    result = transfer.pull(store, "p", tmp_path / "v1-c", version=first)
    assert result.cached_files == 2 and hashed == []
    assert read_tree(tmp_path / "v1-c") == expected()


def test_stamp_sets_keep_only_what_each_process_took_and_forget_drops_them(
    tmp_path: Path
) -> None:
    """Two pulls (two books) of the same entries each write the stamps they took into the
    set's row; neither overwrites the other's with what it read before. Removing an
    entry from the cache drops its stamp from every set."""
    from stowflow.transfer.stamps import StampBook

    path = tmp_path / "stamps.sqlite"
    names = ["a" * 64, "b" * 64, "c" * 64]
    one, two = StampBook(path), StampBook(path)
    assert one.read_set(names) is None and two.read_set(names) is None
    one.put(names[0], (1, 10, 100, 1000))
    two.put(names[1], (2, 20, 200, 2000))
    one.flush()
    two.flush()  # merged into the row one wrote, not written over it
    three = StampBook(path)
    assert three.read_set(names) == {names[0]: (1, 10, 100, 1000),
                                     names[1]: (2, 20, 200, 2000)}
    three.put(names[2], (3, 30, 300, 3000))
    three.flush()
    StampBook(path).forget([names[0]])
    assert StampBook(path).read_set(names) == {names[1]: (2, 20, 200, 2000),
                                               names[2]: (3, 30, 300, 3000)}
    assert names[0] not in StampBook(path).read_all(names)


def test_a_new_versions_first_pull_hashes_none_of_the_entries_it_shares(
    store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails if a list of entries without a stamp set of its own read only the per-entry
    rows: the stamps of ``lib/util.py``'s entry are in the first version's set."""
    transfer.pull(store, "p", tmp_path / "v1-a")
    transfer.pull(store, "p", tmp_path / "v1-b")
    write_tree(tmp_path / "src2", {**FILES, "app.py": b"print('version two')\n"})
    transfer.push(tmp_path / "src2", store, "p")
    hashed: list[Path] = []
    real = cache_module.hash_file
    monkeypatch.setattr(cache_module, "hash_file", lambda path: hashed.append(path) or real(path))
    result = transfer.pull(store, "p", tmp_path / "v2")
    assert result.cached_files == 1 and hashed == []


def test_removing_a_tree_removes_all_of_it_and_nothing_a_symlink_points_to(
    store: ObjectStore, tmp_path: Path
) -> None:
    from stowflow.transfer.materialise import remove_tree

    outside = tmp_path / "outside"
    write_tree(outside, {"keep.txt": b"keep\n", "sub/keep.txt": b"keep\n"})
    tree = tmp_path / "run1"
    transfer.pull(store, "p", tree)
    (tree / "deep" / "er").mkdir(parents=True)
    (tree / "deep" / "er" / "empty").write_bytes(b"")
    (tree / "deep" / "link-to-folder").symlink_to(outside)
    (tree / "lib" / "link-to-file").symlink_to(outside / "keep.txt")
    remove_tree(tree)
    assert not tree.exists()
    assert read_tree(outside) == {"keep.txt": (b"keep\n", False), "sub/keep.txt": (b"keep\n", False)}
    link = tmp_path / "link-to-tree"
    link.symlink_to(outside)
    remove_tree(link)  # a symlink is never a pulled tree: what it points to stays
    assert read_tree(outside) == {"keep.txt": (b"keep\n", False), "sub/keep.txt": (b"keep\n", False)}
