"""Path and key safety: what a pull may write, and how prefixes become directories."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stowflow.errors import UnsafePathError
from stowflow.transfer.paths import check_tree, dir_prefix, join_key, normalize_prefix, safe_relpath


@pytest.mark.parametrize("path", ["a", "a/b.py", "naïve file ✓.txt", "with space/x", ".hidden/y",
                                  "a..b", "...", "x/..y"])
def test_safe_paths_pass(path: str) -> None:
    assert safe_relpath(path) == path


@pytest.mark.parametrize("path", ["", "/abs", "../x", "a/../../x", "a/./b", "a//b", "a/",
                                  "a\\b", "..", ".", "C:/x", "c:", "a\x00b", "a\nb"])
def test_unsafe_paths_are_refused_naming_the_place(path: str) -> None:
    with pytest.raises(UnsafePathError) as info:
        safe_relpath(path, where="s3://b/key")
    assert "s3://b/key" in str(info.value)


@given(st.lists(st.sampled_from(["a", "..", ".", "", "b\\c", "/", "d"]), min_size=1, max_size=6))
def test_accepted_paths_never_escape(parts: list[str]) -> None:
    path = "/".join(parts)
    try:
        safe_relpath(path)
    except UnsafePathError:
        return
    import posixpath

    normalised = posixpath.normpath(path)
    assert not normalised.startswith("..") and not normalised.startswith("/")
    assert normalised == path


def test_prefixes_are_directories() -> None:
    assert dir_prefix("folder") == "folder/"
    assert dir_prefix("/a/b/") == "a/b/"
    assert dir_prefix("") == ""
    assert join_key("", "x") == "x" and join_key("p/", "x") == "p/x"
    assert normalize_prefix("//p//") == "p"
    with pytest.raises(UnsafePathError):
        normalize_prefix("a/../b")


def test_a_file_that_is_also_a_folder_is_refused() -> None:
    check_tree(["a/b", "a/c", "ab"])
    with pytest.raises(UnsafePathError, match="both a file and a folder"):
        check_tree(["a", "a/b"])


def _refused_by_the_rules(path: str) -> bool:
    """The rules of :func:`safe_relpath` spelled out one by one (the reference model)."""
    import unicodedata

    parts = path.split("/")
    return (not path or path.startswith("/") or "\\" in path
            or any(unicodedata.category(ch) == "Cc" for ch in path)
            or any(part in ("", ".", "..") for part in parts)
            or (len(parts[0]) == 2 and parts[0][1] == ":"))


@given(st.text(alphabet=st.sampled_from(["a", "é", ".", "/", ":", "\\", "\x00", "\n", "\x1f",
                                         "\x7f", "\x85", "\x9f", "\xa0", "\u2028", " "]),
               max_size=8))
def test_the_fast_check_refuses_exactly_what_the_rules_refuse(path: str) -> None:
    # safe_relpath lets most paths through on one regex; it must agree with every rule
    try:
        safe_relpath(path)
        refused = False
    except UnsafePathError:
        refused = True
    assert refused == _refused_by_the_rules(path)


def test_check_tree_finds_a_file_under_a_folder_seen_before() -> None:
    # folders already checked are skipped; a clash deeper down must still be seen
    with pytest.raises(UnsafePathError, match="'a/b' is both"):
        check_tree(["a/c/d", "a/b/e", "a/b"])
    with pytest.raises(UnsafePathError, match="'a/b' is both"):
        check_tree(["a/b", "a/c/d", "a/b/e"])
