"""GitRepository.pull against the real smart-HTTP server: caching, pins, sparse, atomicity."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from stowflow.errors import (
    GitAuthError,
    GitRefNotFoundError,
    GitRepositoryNotFoundError,
    GitUnreachableError,
)
from stowflow.git import pull
from stowflow.settings import get_settings
from stowflow.storage import GitRepository
from stowflow.testing.servers._process import free_port
from stowflow.testing.servers.git_http import GitHTTPServer


def git_out(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def the_mirror() -> Path:
    root = get_settings().cache_dir / "git"
    mirrors = [p for p in root.iterdir() if p.is_dir() and (p / "HEAD").exists()]
    assert len(mirrors) == 1, mirrors
    return mirrors[0]


def leftovers(folder: Path) -> list[str]:
    """Return the entries of ``folder`` except replaced trees still being deleted."""
    return sorted(p.name for p in folder.iterdir() if ".stowflow-old-" not in p.name)


def object_count(mirror: Path) -> int:
    """Return how many objects ``mirror`` holds (loose and packed)."""
    stats = dict(line.split(": ") for line in
                 git_out("count-objects", "-v", cwd=mirror).splitlines())
    return int(stats["count"]) + int(stats["in-pack"])


def test_public_pull_returns_commit_and_a_clean_checkout(git_remote: GitHTTPServer,
                                                          workdir: Path) -> None:
    repo = git_remote.create_repo(files={"flows/etl.py": "print('hi')\n", "README.md": "r"})
    result = GitRepository(repo.url).pull()
    assert result.directory == workdir / repo.url.rsplit("/", 1)[-1].removesuffix(".git")
    assert result.version == repo.rev_parse()
    assert (result.directory / "flows" / "etl.py").read_text() == "print('hi')\n"
    assert git_out("rev-parse", "HEAD", cwd=result.directory) == repo.rev_parse()
    assert git_out("status", "--porcelain", cwd=result.directory) == ""
    assert git_out("branch", "--show-current", cwd=result.directory) == "main"
    assert git_out("remote", "get-url", "origin", cwd=result.directory) == repo.url


def test_shallow_fetch_and_second_pull_uses_the_cache(git_remote: GitHTTPServer,
                                                       workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    repo.commit({"a.txt": "2"})
    head = repo.commit({"a.txt": "3"})
    storage = GitRepository(repo.url)
    first = storage.pull()
    assert first.version == head
    assert git_out("rev-list", "--count", "HEAD", cwd=first.directory) == "1"
    assert (the_mirror() / "shallow").read_text().split() == [head]
    fetches = git_remote.fetch_count(repo)
    (first.directory / "a.txt").write_text("local edit")
    (first.directory / "stray.txt").write_text("left over")
    second = storage.pull()
    assert second.version == head
    # only ls-remote talked to the server: no pack was requested again
    assert git_remote.fetch_count(repo) == fetches + 1
    assert [r.path.rsplit("/", 1)[-1] for r in git_remote.requests_for(repo)[-2:]] == \
        ["refs", "git-upload-pack"]
    # and the checkout is fresh: local edits and stray files are gone
    assert (second.directory / "a.txt").read_text() == "3"
    assert not (second.directory / "stray.txt").exists()


def test_branch_moved_between_pulls_fetches_only_new_objects(git_remote: GitHTTPServer,
                                                              workdir: Path) -> None:
    files = {f"pkg/module_{i}.py": f"value = {i}\n" for i in range(60)}
    repo = git_remote.create_repo(files=files)
    storage = GitRepository(repo.url, branch="main")
    first = storage.pull()
    before = object_count(the_mirror())
    assert before >= 62  # 60 blobs, 2 trees, 1 commit
    moved = repo.commit({"pkg/module_7.py": "value = 'seven'\n"}, "move main")
    second = storage.pull()
    assert second.version == moved != first.version
    assert (second.directory / "pkg" / "module_7.py").read_text() == "value = 'seven'\n"
    # one new commit, the root tree, the pkg tree and one blob — not the whole tree again
    assert object_count(the_mirror()) - before == 4


def test_one_negotiation_per_pull(git_remote: GitHTTPServer, workdir: Path) -> None:
    """An empty cache is filled by one shallow clone (one connection: no ls-remote before
    it, as `git clone` makes); a moved branch costs the listing and one fetch by commit id
    that lists no refs again."""
    repo = git_remote.create_repo(files={"a.txt": "1"})
    storage = GitRepository(repo.url)
    git_remote.reset()
    first = storage.pull()
    assert first.version == repo.rev_parse()
    requests = [(r.method, r.path.rsplit("/", 1)[-1]) for r in git_remote.requests_for(repo)]
    # one process talked to the host: one capability request, the ref listing, the pack
    assert requests == [("GET", "refs"), ("POST", "git-upload-pack"),
                        ("POST", "git-upload-pack")]
    assert git_out("branch", "--show-current", cwd=first.directory) == "main"
    assert (the_mirror() / "shallow").read_text().split() == [first.version]

    moved = repo.commit({"a.txt": "2"})
    git_remote.reset()
    second = storage.pull()
    assert second.version == moved
    assert (second.directory / "a.txt").read_text() == "2"
    # ls-remote (capabilities + listing), then the fetch (capabilities + the pack only)
    requests = [(r.method, r.path.rsplit("/", 1)[-1]) for r in git_remote.requests_for(repo)]
    assert requests == [("GET", "refs"), ("POST", "git-upload-pack")] * 2


def test_branch_and_tag_names(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "main"})
    feature = repo.commit({"a.txt": "feature"}, branch="feature/x")
    tagged = repo.tag("v1.0", "main")
    result = GitRepository(repo.url, branch="feature/x", name="feat").pull()
    assert result.version == feature
    assert (result.directory / "a.txt").read_text() == "feature"
    assert git_out("branch", "--show-current", cwd=result.directory) == "feature/x"
    by_tag = GitRepository(repo.url, branch="v1.0", name="tagged").pull()
    assert by_tag.version == tagged
    assert (by_tag.directory / "a.txt").read_text() == "main"


def test_default_branch_is_followed(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "main"})
    trunk = repo.commit({"a.txt": "trunk"}, branch="trunk")
    repo.set_default_branch("trunk")
    result = GitRepository(repo.url).pull()
    assert result.version == trunk
    assert git_out("branch", "--show-current", cwd=result.directory) == "trunk"


def test_commit_pin_full_and_short(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    old = repo.rev_parse()
    repo.commit({"a.txt": "2"})
    repo.commit({"a.txt": "3"})
    pinned = GitRepository(repo.url, commit_sha=old, name="full").pull()
    assert pinned.version == old
    assert (pinned.directory / "a.txt").read_text() == "1"
    assert git_out("rev-parse", "HEAD", cwd=pinned.directory) == old

    middle = repo.rev_parse("main~1")
    short = GitRepository(repo.url, commit_sha=middle[:8], name="short").pull()
    assert short.version == middle
    assert (short.directory / "a.txt").read_text() == "2"


def test_missing_refs_and_repositories_are_classified(git_remote: GitHTTPServer,
                                                       workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    with pytest.raises(GitRefNotFoundError, match="not found"):
        GitRepository(repo.url, branch="no-such-branch").pull()
    with pytest.raises(GitRefNotFoundError, match="not found"):
        GitRepository(repo.url, commit_sha="0123456789abcdef0123456789abcdef01234567").pull()
    with pytest.raises(GitRefNotFoundError):
        GitRepository(repo.url, commit_sha="abcdef12").pull()
    with pytest.raises(GitRepositoryNotFoundError, match="repository not found") as info:
        GitRepository(f"{git_remote.base_url}/org/missing.git").pull()
    message = str(info.value)
    assert "\n" not in message and "git:" in message
    assert not (workdir / "missing").exists()


def test_unreachable_host_is_retried_then_classified(workdir: Path) -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(GitUnreachableError, match="host unreachable") as info:
        GitRepository(f"http://127.0.0.1:{port}/org/repo.git").pull()
    assert info.value.hint


def test_sparse_directories_download_only_what_is_needed(git_remote: GitHTTPServer,
                                                         workdir: Path) -> None:
    big = bytes(range(256)) * 4096  # 1 MiB outside the wanted folders
    repo = git_remote.create_repo(files={
        "flows/etl.py": "x = 1\n", "flows/lib/util.py": "y = 2\n", "README.md": "top",
        "data/big.bin": big, "libs/common/c.py": "c", "libs/other/o.py": "o", "libs/l.py": "l",
    })
    result = GitRepository(repo.url, directories=["flows", "libs/common/"]).pull()
    files = sorted(str(p.relative_to(result.directory)) for p in result.directory.rglob("*")
                   if p.is_file() and ".git" not in p.parts)
    assert files == ["README.md", "flows/etl.py", "flows/lib/util.py", "libs/common/c.py",
                     "libs/l.py"]
    mirror = the_mirror()
    missing = git_out("rev-list", "--objects", "--no-walk", "--missing=print", result.version,
                      cwd=mirror)
    missing_ids = {line[1:] for line in missing.splitlines() if line.startswith("?")}
    big_id = git_out("rev-parse", f"{result.version}:data/big.bin", cwd=mirror)
    other_id = git_out("rev-parse", f"{result.version}:libs/other/o.py", cwd=mirror)
    assert {big_id, other_id} <= missing_ids  # never downloaded
    # a later full pull of the same commit fetches the rest
    full = GitRepository(repo.url, name="full").pull()
    assert (full.directory / "data" / "big.bin").read_bytes() == big
    assert (full.directory / "libs" / "other" / "o.py").read_text() == "o"


def test_failed_fetch_leaves_the_previous_checkout(git_remote: GitHTTPServer,
                                                   workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "v1"})
    storage = GitRepository(repo.url)
    first = storage.pull()
    repo.commit({"a.txt": "v2", "b.txt": "new"})
    git_remote.accept({("someone", "a-token-we-do-not-have")})
    with pytest.raises(GitAuthError):
        storage.pull()
    assert (first.directory / "a.txt").read_text() == "v1"
    assert not (first.directory / "b.txt").exists()
    assert git_out("rev-parse", "HEAD", cwd=first.directory) == first.version
    assert leftovers(workdir) == [first.directory.name]


def test_failed_checkout_leaves_the_previous_checkout(git_remote: GitHTTPServer,
                                                      workdir: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    repo = git_remote.create_repo(files={"a.txt": "v1"})
    first = GitRepository(repo.url).pull()
    repo.commit({"a.txt": "v2"})
    import stowflow.git.checkout as checkout

    def broken_swap(tmp: Path, destination: Path) -> None:
        assert (tmp / "a.txt").read_text() == "v2"  # the new tree was built...
        raise OSError("disk full")  # ...but could not be put in place

    monkeypatch.setattr(checkout, "swap_in", broken_swap)
    with pytest.raises(OSError, match="disk full"):
        GitRepository(repo.url).pull()
    assert (first.directory / "a.txt").read_text() == "v1"
    assert leftovers(workdir) == [first.directory.name]


@pytest.mark.parametrize("damage", ["packs", "config", "objects"])
def test_corrupt_mirror_is_rebuilt(git_remote: GitHTTPServer, workdir: Path,
                                   damage: str) -> None:
    repo = git_remote.create_repo(files={f"f{i}.txt": f"{i}" * 100 for i in range(20)})
    storage = GitRepository(repo.url)
    storage.pull()
    mirror = the_mirror()
    if damage == "packs":
        for pack in (mirror / "objects" / "pack").glob("*.pack"):
            data = bytearray(pack.read_bytes())
            data[200:400] = b"\0" * 200
            pack.chmod(0o644)
            pack.write_bytes(bytes(data))
    elif damage == "config":
        (mirror / "config").write_text("[core\n garbage")
    else:
        for path in (mirror / "objects").rglob("*"):
            if path.is_file():
                path.chmod(0o644)
                path.write_bytes(b"")
    result = storage.pull(workdir / "again")
    assert result.version == repo.rev_parse()
    assert (result.directory / "f3.txt").read_text() == "3" * 100
    assert git_out("fsck", "--connectivity-only", cwd=the_mirror()) == ""


def test_concurrent_pulls_of_one_repository(git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={f"m{i}.py": f"v={i}\n" for i in range(200)})
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from stowflow.storage import GitRepository
        result = GitRepository({repo.url!r}).pull(Path(sys.argv[1]))
        print(result.version)
    """)
    procs = [subprocess.Popen([sys.executable, "-c", script, str(workdir / f"dest{i}")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.strip() == repo.rev_parse()
    for i in range(3):
        assert (workdir / f"dest{i}" / "m199.py").read_text() == "v=199\n"
    # threads in one process share the lock too, and one more pull re-uses the mirror
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        shas = list(pool.map(lambda i: pull(repo.url, workdir / f"t{i}").commit_sha,
                             range(3)))
    assert set(shas) == {repo.rev_parse()}
    assert len([p for p in (get_settings().cache_dir / "git").iterdir() if p.is_dir()]) == 1


def test_concurrent_pulls_into_one_destination_leave_a_whole_tree(git_remote: GitHTTPServer,
                                                                  workdir: Path) -> None:
    repo = git_remote.create_repo(files={f"m{i}.py": "x" for i in range(100)})
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda _: pull(repo.url, workdir / "same"), range(3)))
    assert len(list((workdir / "same").glob("m*.py"))) == 100
    assert leftovers(workdir) == ["same"]


def test_a_clean_previous_checkout_is_reused_or_updated_in_place_of_rewriting(
        git_remote: GitHTTPServer, workdir: Path) -> None:
    repo = git_remote.create_repo(files={"keep.py": "k", "change.py": "1",
                                         ".gitignore": "*.pyc\n"})
    storage = GitRepository(repo.url)
    first = storage.pull()
    keep_inode = (first.directory / "keep.py").stat().st_ino
    # same commit, clean tree: nothing is rewritten
    assert storage.pull().version == first.version
    assert (first.directory / "keep.py").stat().st_ino == keep_inode
    # one new commit: only the changed file is written, the rest is carried over
    moved = repo.commit({"change.py": "2", "new.py": "n"})
    second = storage.pull()
    assert second.version == moved
    assert (second.directory / "change.py").read_text() == "2"
    assert (second.directory / "new.py").read_text() == "n"
    assert (second.directory / "keep.py").stat().st_ino == keep_inode
    deadline = time.monotonic() + 30  # the replaced tree may be deleted in the background
    while (second.directory / "keep.py").stat().st_nlink != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # the old tree is gone: the file is linked only from the content cache and this tree
    assert (second.directory / "keep.py").stat().st_nlink == 2
    assert git_out("status", "--porcelain", cwd=second.directory) == ""
    # an ignored file makes the tree differ from a fresh checkout: it is not reused
    (second.directory / "cache.pyc").write_bytes(b"\0")
    third = storage.pull()
    assert not (third.directory / "cache.pyc").exists()
    assert leftovers(workdir) == [first.directory.name]


def test_sparse_set_change_makes_a_fresh_checkout(git_remote: GitHTTPServer,
                                                  workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a/x.py": "x", "b/y.py": "y"})
    GitRepository(repo.url, directories=["a"]).pull()
    dest = GitRepository(repo.url, directories=["b"]).pull().directory
    assert (dest / "b" / "y.py").exists() and not (dest / "a").exists()
    dest = GitRepository(repo.url).pull().directory
    assert (dest / "a" / "x.py").exists() and (dest / "b" / "y.py").exists()


def test_submodules_relative_and_absolute_shallow_with_credentials(git_remote: GitHTTPServer,
                                                                   workdir: Path) -> None:
    token = "sub-token-4242"
    inner = git_remote.create_repo("deps/inner", {"inner.txt": "inner"})
    rel = git_remote.create_repo("deps/rel", {"rel.txt": "r1"})
    rel.commit({"rel.txt": "r2"})
    rel.add_submodule("nested", "../inner.git", inner.rev_parse())  # nested, relative
    absolute = git_remote.create_repo("other/abs", {"abs.txt": "a1"})
    absolute.commit({"abs.txt": "a2"})
    top = git_remote.create_repo("app/top", {"main.py": "m"})
    top.add_submodule("libs/rel", "../../deps/rel.git", rel.rev_parse())
    top.add_submodule("libs/abs", absolute.url, absolute.rev_parse())
    git_remote.accept({("git", token)})

    plain = GitRepository(top.url, credentials=token, name="plain").pull()
    assert not any((plain.directory / "libs" / "rel").iterdir())  # not asked for

    result = GitRepository(top.url, credentials=token, include_submodules=True).pull()
    root = result.directory
    assert (root / "libs" / "rel" / "rel.txt").read_text() == "r2"
    assert (root / "libs" / "rel" / "nested" / "inner.txt").read_text() == "inner"
    assert (root / "libs" / "abs" / "abs.txt").read_text() == "a2"
    for sub in ("libs/rel", "libs/abs"):
        assert git_out("rev-list", "--count", "HEAD", cwd=root / sub) == "1"  # shallow
    status = subprocess.run(["git", "submodule", "status", "--recursive"], cwd=root,
                            capture_output=True, text=True, check=True, timeout=60).stdout
    assert len(status.splitlines()) == 3
    assert all(line.startswith(" ") for line in status.splitlines()), status  # all checked out
    assert all(r.user == "git" for r in git_remote.requests if r.status == 200)
    config = (root / ".git" / "config").read_text() + "".join(
        p.read_text() for p in (root / ".git" / "modules").rglob("config"))
    assert token not in config

    # a moved submodule pointer is followed on the next pull
    moved = absolute.commit({"abs.txt": "a3"})
    top.add_submodule("libs/abs", absolute.url, moved)
    again = GitRepository(top.url, credentials=token, include_submodules=True).pull()
    assert (again.directory / "libs" / "abs" / "abs.txt").read_text() == "a3"


def test_legacy_server_without_fetch_by_commit_id(git_remote: GitHTTPServer,
                                                  workdir: Path) -> None:
    repo = git_remote.create_repo(files={"a.txt": "1"})
    old = repo.rev_parse()
    repo.commit({"a.txt": "2"})
    git_remote.speak_legacy()
    head = GitRepository(repo.url, name="head").pull()
    assert (head.directory / "a.txt").read_text() == "2"
    pinned = GitRepository(repo.url, commit_sha=old, name="pinned").pull()
    assert pinned.version == old
    assert (pinned.directory / "a.txt").read_text() == "1"
    sparse = GitRepository(repo.url, commit_sha=old[:10], directories=["x"], name="s").pull()
    assert (sparse.directory / "a.txt").read_text() == "1"
    # a fresh repository: the short SHA is found through a blob-less history fetch, then
    # the host refuses the blobs by id, so the branches are fetched again, whole
    other = git_remote.create_repo(files={"x/a.txt": "1", "y/b.txt": "b"})
    first = other.rev_parse()
    other.commit({"x/a.txt": "2"})
    result = GitRepository(other.url, commit_sha=first[:9], directories=["x"],
                           name="fresh").pull()
    assert result.version == first
    assert (result.directory / "x" / "a.txt").read_text() == "1"
    assert not (result.directory / "y").exists()
