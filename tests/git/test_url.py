"""Unit tests of git URL parsing, normalisation and source claiming."""

from __future__ import annotations

from pathlib import Path

import pytest
from stowflow.errors import ConfigError
from stowflow.git.url import looks_like_git_url, parse_git_url
from stowflow.redact import redact


@pytest.mark.parametrize(
    ("url", "scheme", "host", "path", "name"),
    [
        ("https://github.com/org/repo.git", "https", "github.com", "org/repo.git", "repo"),
        ("https://GitHub.com/org/repo", "https", "github.com", "org/repo", "repo"),
        ("http://127.0.0.1:8080/a/b/c.git", "http", "127.0.0.1", "a/b/c.git", "c"),
        ("git@gitlab.com:group/sub/project.git", "ssh", "gitlab.com", "group/sub/project.git",
         "project"),
        ("ssh://git@host.example:2222/org/repo.git", "ssh", "host.example", "org/repo.git",
         "repo"),
        ("git://host.example/repo", "git", "host.example", "repo", "repo"),
    ],
)
def test_parse(url: str, scheme: str, host: str, path: str, name: str) -> None:
    parsed = parse_git_url(url)
    assert (parsed.scheme, parsed.host, parsed.path, parsed.name) == (scheme, host, path, name)


def test_scp_like_keeps_its_form_and_ssh_port_is_kept() -> None:
    assert parse_git_url("git@gitlab.com:g/p.git").url == "git@gitlab.com:g/p.git"
    assert parse_git_url("ssh://git@h:2222/o/r.git").url == "ssh://git@h:2222/o/r.git"


def test_default_ports_are_dropped_and_identity_is_normalised() -> None:
    a = parse_git_url("https://GITHUB.com:443/org/repo.git")
    b = parse_git_url("https://github.com/org/repo/")
    assert a.netloc == "github.com"
    assert a.canonical == b.canonical == "https://github.com/org/repo"
    assert a.cache_key == b.cache_key
    assert a.auth_scope == "https://github.com/"
    assert parse_git_url("http://127.0.0.1:9/x.git").auth_scope == "http://127.0.0.1:9/"


def test_cache_keys_differ_per_repository() -> None:
    keys = {parse_git_url(u).cache_key for u in
            ["https://h/o/a.git", "https://h/o/b.git", "https://h2/o/a.git", "http://h/o/a.git"]}
    assert len(keys) == 4


@pytest.mark.parametrize("url", ["https://user:hunter2-secret@github.com/org/repo.git",
                                 "https://x-access-token:hunter2-secret@h/o/r.git",
                                 "ssh://git:hunter2-secret@h/o/r.git"])
def test_user_info_is_refused_without_leaking_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_git_url(url)
    assert "hunter2-secret" not in str(info.value)
    assert "credentials" in str(info.value)
    assert redact("hunter2-secret") == "***"


def test_bare_user_in_https_url_is_refused_too() -> None:
    with pytest.raises(ConfigError):
        parse_git_url("https://token@github.com/org/repo.git")


@pytest.mark.parametrize("url", ["", "s3://bucket/x", "https://github.com", "local/path",
                                 "https://h/o/r.git?x=1", "file://otherhost/srv/r.git",
                                 "file:///", "/"])
def test_invalid_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_git_url(url)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file:///srv/git/repo.git", "/srv/git/repo.git"),
        ("FILE:///srv/git/repo.git/", "/srv/git/repo.git"),
        ("file://localhost/srv/repo", "/srv/repo"),
        ("/srv/git/repo.git", "/srv/git/repo.git"),
        ("/srv/git/../repo with space.git", "/srv/repo with space.git"),
    ],
)
def test_file_urls_and_local_paths(url: str, path: str) -> None:
    parsed = parse_git_url(url)
    assert parsed.is_local and not parsed.is_http and parsed.host == ""
    assert parsed.url == f"file://{path}"
    assert parsed.name == path.rsplit("/", 1)[-1].removesuffix(".git")
    # the same repository however it is written shares one mirror
    assert parse_git_url(parsed.url).cache_key == parsed.cache_key
    assert parse_git_url(path).cache_key == parsed.cache_key


def test_relative_and_home_paths_are_made_absolute(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_git_url("./repos/r.git").url == f"file://{tmp_path}/repos/r.git"
    assert parse_git_url("../r.git").url == f"file://{tmp_path.parent}/r.git"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse_git_url("~/r.git").url == f"file://{tmp_path}/home/r.git"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/org/repo.git", True),
        ("https://github.com/org/repo", True),
        ("https://gitlab.com/group/sub/project", True),
        ("https://bitbucket.org/ws/repo/", True),
        ("https://www.github.com/org/repo", True),
        ("https://github.com/org", False),
        ("https://example.com/org/repo", False),
        ("git@github.com:org/repo.git", True),
        ("ssh://host/org/repo", True),
        ("git://host/repo", True),
        ("s3://bucket/folder", False),
        ("/tmp/folder", False),
        ("C:/folder", False),
        ("file:///tmp/x.git", True),
        ("file:///tmp/x.git/", True),
        ("file:///tmp/folder", False),
    ],
)
def test_looks_like_git_url(url: str, expected: bool) -> None:
    assert looks_like_git_url(url) is expected


def test_sparse_directories_are_normalised_and_cone_patterns_match_git() -> None:
    from stowflow.git.checkout import cone_patterns, normalize_directories
    from stowflow.git.mirror import in_cone

    assert normalize_directories(None) == []
    assert normalize_directories("flows/") == ["flows"]
    assert normalize_directories(["./a//b/", "a", "c", "c"]) == ["a", "c"]
    for bad in (["../x"], ["/etc"], ["a/../../b"]):
        with pytest.raises(ConfigError):
            normalize_directories(bad)
    assert cone_patterns(["flows", "libs/common"]) == (
        "/*\n!/*/\n/flows/\n/libs/\n!/libs/*/\n/libs/common/\n")
    dirs = ["flows", "libs/common"]
    assert in_cone("README.md", dirs) and in_cone("libs/l.py", dirs)
    assert in_cone("libs/common/deep/x.py", dirs) and in_cone("flows/a/b.py", dirs)
    assert not in_cone("libs/other/o.py", dirs) and not in_cone("data/x.bin", dirs)
    assert not in_cone("flowsx/a.py", dirs)
    assert in_cone("anything/at/all.py", [])
