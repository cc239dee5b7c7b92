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
