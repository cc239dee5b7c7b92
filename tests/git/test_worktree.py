"""Work trees laid out from the content cache by hard links, against the real HTTP server.

A pull into a new folder links every file the cache holds (nothing is written), and the
result is a real git work tree: ``git status`` is clean without re-reading files,
``git log`` works, exec bits, symlinks, empty and duplicate files and sparse cones are
what ``git checkout`` would make.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from stowflow.git import pull
from stowflow.settings import get_settings
from stowflow.testing.servers.git_http import GitHTTPServer
from stowflow.transfer.cache import ContentCache
from stowflow.transfer.stamps import StampBook


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          timeout=60).stdout.strip()


def tree_of(folder: Path) -> dict[str, tuple[str, bytes]]:
    """Return ``{path: (kind, content or link target)}`` of every file outside ``.git``."""
    out: dict[str, tuple[str, bytes]] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel == ".git" or rel.startswith(".git/"):
            continue
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path).encode())
        elif path.is_file():
            kind = "exec" if path.stat().st_mode & stat.S_IXUSR else "file"
            out[rel] = (kind, path.read_bytes())
    return out


def cache_inodes() -> set[int]:
    root = get_settings().cache_dir / "transfer" / "objects"
    return {p.stat().st_ino for p in root.glob("*/*")}


def make_repo(git_remote: GitHTTPServer):
    repo = git_remote.create_repo(files={
        "run.sh": "#!/bin/sh\necho hi\n", "flows/etl.py": "print('etl')\n",
        "flows/copy.py": "print('etl')\n",  # the same content twice
        "empty.txt": "", "deep/a/b/c/d/e/f.txt": "deep", "data/big.bin": os.urandom(300_000),
        "libs/common/c.py": "c", "libs/other/o.py": "o",
    })
    subprocess.run(["git", "update-index", "--chmod=+x", "run.sh"], cwd=repo.work, check=True)
    os.symlink("flows/etl.py", repo.work / "etl-link.py")
    os.symlink("../flows", repo.work / "libs" / "flows-link")
    return repo, repo.commit({}, "exec bit and symlinks")


def test_new_workspace_links_the_cache_and_is_a_git_work_tree(git_remote: GitHTTPServer,
                                                               tmp_path: Path) -> None:
    repo, head = make_repo(git_remote)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", repo.url, str(clone)], check=True, timeout=60)
    first = pull(repo.url, tmp_path / "first")
    assert first.commit_sha == head
    assert tree_of(first.directory) == tree_of(clone)  # exec bit, symlinks, empty file
    fetches = git_remote.fetch_count(repo)

    run = pull(repo.url, tmp_path / "run-1").directory
    assert git_remote.fetch_count(repo) == fetches + 1  # the ls-remote only: no pack
    assert tree_of(run) == tree_of(clone)
    inodes = cache_inodes()
    for rel in ("flows/etl.py", "flows/copy.py", "data/big.bin", "run.sh",
                "deep/a/b/c/d/e/f.txt"):
        assert (run / rel).stat().st_ino in inodes, rel  # a hard link, not a copy
        assert (run / rel).stat().st_ino == (first.directory / rel).stat().st_ino
        assert not (run / rel).stat().st_mode & stat.S_IWUSR  # read-only, as cached
    # a real work tree: clean status, history, branch, and a status that reads no file
    assert git("status", "--porcelain", "--untracked-files=all", cwd=run) == ""
    assert git("log", "-1", "--format=%H %s", cwd=run) == f"{head} exec bit and symlinks"
    assert git("branch", "--show-current", cwd=run) == "main"
    assert git("rev-parse", "origin/main", cwd=run) == head
    assert git("diff", "--stat", "HEAD", cwd=run) == ""
    trace = subprocess.run(["git", "status", "--porcelain"], cwd=run, capture_output=True,
                           text=True, check=True, timeout=60,
                           env={**os.environ, "GIT_TRACE_PERFORMANCE": "1"}).stderr
    index_before = (run / ".git" / "index").read_bytes()
    assert "refresh index" in trace
    assert (run / ".git" / "index").read_bytes() == index_before  # nothing to refresh
    # and it behaves like one: a change shows, a commit can be made on top
    (run / "new.txt").write_text("n")
    assert git("status", "--porcelain", cwd=run) == "?? new.txt"


def test_new_commit_writes_only_changed_files(git_remote: GitHTTPServer,
                                              tmp_path: Path) -> None:
    repo, _ = make_repo(git_remote)
    first = pull(repo.url, tmp_path / "first").directory
    before = cache_inodes()
    moved = repo.commit({"flows/etl.py": "print('v2')\n", "added.txt": "new"})
    run = pull(repo.url, tmp_path / "run").directory
    assert git("rev-parse", "HEAD", cwd=run) == moved
    assert (run / "flows" / "etl.py").read_text() == "print('v2')\n"
    assert (run / "flows" / "etl.py").stat().st_ino not in before  # written once, new
    assert (run / "data" / "big.bin").stat().st_ino == \
        (first / "data" / "big.bin").stat().st_ino  # unchanged: linked
    assert len(cache_inodes() - before) == 2  # exactly the two new contents were written
    assert git("status", "--porcelain", "--untracked-files=all", cwd=run) == ""


def test_cache_entries_are_named_by_blob_id_and_verified_as_such(git_remote: GitHTTPServer,
                                                                 tmp_path: Path) -> None:
    """git checked every blob it fetched, so a checkout adopts its files under their blob
    ids without reading them; ``verify-cache`` knows both kinds of key."""
    repo, _ = make_repo(git_remote)
    first = pull(repo.url, tmp_path / "first").directory
    blob = git("rev-parse", "HEAD:data/big.bin", cwd=first)
    objects = get_settings().cache_dir / "transfer" / "objects"
    entry = objects / blob[:2] / blob
    assert entry.stat().st_ino == (first / "data" / "big.bin").stat().st_ino
    assert (objects / git("rev-parse", "HEAD:run.sh", cwd=first)[:2]).is_dir()
    cache = ContentCache()
    report = cache.verify()
    assert report.checked >= 5 and report.damaged == []
    entry.chmod(0o644)
    with open(entry, "r+b") as handle:  # damage it in place (the tree shares the inode)
        handle.write(b"XXXX")
    report = cache.verify(repair=True)
    assert [path.name for path, _links in report.damaged] == [blob]
    run = pull(repo.url, tmp_path / "run").directory  # fetched from the mirror again
    assert git("status", "--porcelain", cwd=run) == ""
    assert (run / "data" / "big.bin").stat().st_ino != (first / "data" / "big.bin").stat().st_ino


def test_a_file_edited_in_place_does_not_reach_the_next_workspace(git_remote: GitHTTPServer,
                                                                  tmp_path: Path) -> None:
    repo, _ = make_repo(git_remote)
    first = pull(repo.url, tmp_path / "first").directory
    target = first / "flows" / "etl.py"
    target.chmod(0o644)  # what a user (or root, who ignores the mode) can do
    with open(target, "r+b") as handle:  # in place: the cache entry shares the inode
        handle.write(b"XXXXX")
    # the same content in one tree is one inode: both paths show the edit
    assert git("status", "--porcelain", cwd=first).split("\n") == [
        "M flows/copy.py", " M flows/etl.py"]
    run = pull(repo.url, tmp_path / "run").directory
    assert (run / "flows" / "etl.py").read_text() == "print('etl')\n"
    assert (run / "flows" / "copy.py").read_text() == "print('etl')\n"
    assert git("status", "--porcelain", cwd=run) == ""
    again = pull(repo.url, first).directory  # and the edited tree itself is replaced
    assert (again / "flows" / "etl.py").read_text() == "print('etl')\n"


def test_an_edit_with_its_mtime_and_mode_set_back_is_still_seen(git_remote: GitHTTPServer,
                                                                tmp_path: Path) -> None:
    """The cache entry's ctime stamp sees what an mtime check cannot: an in-place edit
    whose mtime and mode were restored (``touch -r``, ``chmod``) after it."""
    repo, _ = make_repo(git_remote)
    first = pull(repo.url, tmp_path / "first").directory
    target = first / "data" / "big.bin"
    before = target.stat()
    target.chmod(0o644)
    with open(target, "r+b") as handle:  # the same size, in place: the entry's inode
        handle.write(b"\0" * 64)
    target.chmod(stat.S_IMODE(before.st_mode))
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    run = pull(repo.url, tmp_path / "run").directory
    assert (run / "data" / "big.bin").read_bytes() == (repo.work / "data" / "big.bin").read_bytes()
    assert git("status", "--porcelain", cwd=run) == ""


def test_sparse_workspace_marks_the_rest_skip_worktree(git_remote: GitHTTPServer,
                                                       tmp_path: Path) -> None:
    repo, _ = make_repo(git_remote)
    clone = tmp_path / "clone"  # what git's own cone-mode sparse checkout makes
    subprocess.run(["git", "clone", "-q", "--no-checkout", repo.url, str(clone)], check=True,
                   timeout=60)
    git("sparse-checkout", "set", "--cone", "libs/common", cwd=clone)
    git("checkout", "-q", "main", cwd=clone)
    assert "libs/common/c.py" in tree_of(clone) and "data/big.bin" not in tree_of(clone)
    for name in ("one", "two"):
        run = pull(repo.url, tmp_path / name, directories=["libs/common"]).directory
        assert tree_of(run) == tree_of(clone)
        assert git("status", "--porcelain", "--untracked-files=all", cwd=run) == ""
        skipped = git("ls-files", "-t", cwd=run).splitlines()
        assert "S data/big.bin" in skipped and "H libs/common/c.py" in skipped
        # the user can widen the cone with git itself, from the mirror's objects
        assert git("sparse-checkout", "list", cwd=run) == "libs/common"


def test_an_empty_cache_is_not_searched_blob_by_blob(git_remote: GitHTTPServer,
                                                     tmp_path: Path, monkeypatch) -> None:
    """A first pull into an empty cache looks up no entry (no stat, no stamp query per
    blob: their shard folders do not exist); the next pull finds and links them all."""
    repo, _ = make_repo(git_remote)
    calls: list[str] = []
    stamp_reads: list[int] = []
    find, read = ContentCache.find, StampBook.read

    def counting_find(self, sha, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(sha)
        return find(self, sha, *args, **kwargs)

    def counting_read(self, names):  # type: ignore[no-untyped-def]
        names = list(names)
        stamp_reads.append(len(names))
        return read(self, names)

    monkeypatch.setattr(ContentCache, "find", counting_find)
    monkeypatch.setattr(StampBook, "read", counting_read)
    first = pull(repo.url, tmp_path / "first").directory
    assert calls == [] and not any(stamp_reads)
    assert git("status", "--porcelain", cwd=first) == ""
    run = pull(repo.url, tmp_path / "run").directory
    assert len(calls) >= 4 and any(stamp_reads)  # every cached blob is looked up now
    assert (run / "data" / "big.bin").stat().st_ino == (first / "data" / "big.bin").stat().st_ino
    assert git("status", "--porcelain", cwd=run) == ""


def test_a_removed_workspace_costs_the_next_pull_no_hash(git_remote: GitHTTPServer,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails on the old code: deleting a workspace moved every shared entry's ctime, so the
    next pull hashed each one (as a git blob) before linking it."""
    from stowflow.transfer import cache as cache_module
    from stowflow.transfer.materialise import remove_tree

    repo, _ = make_repo(git_remote)
    pull(repo.url, tmp_path / "run1")
    remove_tree(tmp_path / "run1")
    hashed: list[object] = []
    real = cache_module.content_key
    monkeypatch.setattr(cache_module, "content_key",
                        lambda path, name: hashed.append(path) or real(path, name))
    run = pull(repo.url, tmp_path / "run2").directory
    assert hashed == []
    assert (run / "data" / "big.bin").read_bytes() == (repo.work / "data" / "big.bin").read_bytes()
    assert git("status", "--porcelain", cwd=run) == ""


def folders_of(folder: Path) -> set[str]:
    """Return every folder under ``folder`` outside ``.git`` (empty ones included)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_dir() and not p.is_symlink() and ".git" not in p.relative_to(folder).parts}


def reshape(repo) -> str:  # type: ignore[no-untyped-def]
    """Commit a change of every kind a tree can see: file <-> folder, gitlink -> file, a
    folder emptied, an exec bit flipped on the same content, a symlink retargeted, a file
    changed, one added; return the new commit."""
    import shutil

    work = repo.work
    (work / "a.txt").unlink()
    (work / "a.txt").mkdir()
    (work / "a.txt" / "inner.txt").write_text("now a folder")
    shutil.rmtree(work / "d")
    (work / "d").write_text("now a file")
    shutil.rmtree(work / "gone")
    subprocess.run(["git", "rm", "-q", "--cached", "sub"], cwd=work, check=True)
    (work / "sub").write_text("was a submodule")
    (work / "flows" / "etl.py").chmod(0o755)
    (work / "etl-link.py").unlink()
    os.symlink("run.sh", work / "etl-link.py")
    (work / "data" / "big.bin").write_bytes(os.urandom(1000))
    (work / "flows" / "new.py").write_text("new")
    return repo.commit({}, "reshape")


@pytest.mark.parametrize("directories", [None, ["flows"]])
def test_a_moved_branch_changes_only_what_differs_and_matches_a_fresh_checkout(
        git_remote: GitHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        directories: list[str] | None) -> None:
    """The commit the mirror last fetched is laid out while the host is asked; when the
    branch has moved, only the paths that differ are changed — and the result is what
    ``git clone`` makes of the new commit, for every kind of change. Fails on the old code
    (which laid out only the new commit, after the host answered)."""
    from stowflow.git import worktree

    repo, _ = make_repo(git_remote)
    sub = git_remote.create_repo(files={"s.txt": "s"})
    files = {"a.txt": "a file", "d/x.txt": "in d", "gone/deep/only.txt": "only"}
    old = repo.commit(files)
    old = repo.add_submodule("sub", sub.url, sub.rev_parse())
    first = pull(repo.url, tmp_path / "first", directories=directories).directory
    assert git("rev-parse", "HEAD", cwd=first) == old
    new = reshape(repo)
    laid_out: list[str] = []
    moved: list[str] = []
    real_lay_out, real_retarget = worktree.lay_out, worktree.retarget
    monkeypatch.setattr(worktree, "lay_out", lambda builder, mirror, sha, dirs: (
        laid_out.append(sha), real_lay_out(builder, mirror, sha, dirs))[1])
    monkeypatch.setattr(worktree, "retarget", lambda layout, mirror, sha: (
        moved.append(sha), real_retarget(layout, mirror, sha))[1])
    run = pull(repo.url, tmp_path / "run", directories=directories).directory
    assert (laid_out, moved) == ([old], [new])
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", repo.url, str(clone)], check=True,
                   timeout=60)
    if directories:
        git("sparse-checkout", "set", "--cone", *directories, cwd=clone)
    git("checkout", "-q", "main", cwd=clone)
    assert tree_of(run) == tree_of(clone)
    assert folders_of(run) == folders_of(clone)  # no folder left behind, the gitlink's gone
    assert git("rev-parse", "HEAD", cwd=run) == new
    assert git("status", "--porcelain", "--untracked-files=all", "--ignored", cwd=run) == ""
    assert git("ls-files", "-s", cwd=run) == git("ls-files", "-s", cwd=clone)
    if directories:
        assert "S data/big.bin" in git("ls-files", "-t", cwd=run).splitlines()
    else:  # the unchanged files are the first tree's inodes: linked, not written
        assert (run / "run.sh").stat().st_ino == (first / "run.sh").stat().st_ino
    assert git("status", "--porcelain", cwd=first) == ""  # the first tree is untouched


def test_the_last_fetched_commit_is_laid_out_privately_while_the_host_answers(
        git_remote: GitHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While ``ls-remote`` runs, the commit last fetched is already linked in a temporary
    tree only its owner can enter (0700); a host that then refuses the caller leaves
    nothing behind and the destination is never made. Fails on the old code (nothing was
    laid out before the host answered)."""
    import time

    from stowflow.errors import GitAuthError
    from stowflow.git.mirror import Mirror

    repo, _ = make_repo(git_remote)
    git_remote.accept({("user", "good-token")})
    good = {"access_token": "good-token", "username": "user"}
    pull(repo.url, tmp_path / "first", credentials=good)
    seen: list[tuple[int, bool]] = []
    real = Mirror.remote_refs

    def watching(self, branch):  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            trees = list(tmp_path.glob(".*.stowflow-new-*"))
            if trees and (trees[0] / "data" / "big.bin").exists():
                seen.append((stat.S_IMODE(trees[0].stat().st_mode),
                             (trees[0] / "data" / "big.bin").stat().st_ino in cache_inodes()))
                break
            time.sleep(0.01)
        return real(self, branch)

    monkeypatch.setattr(Mirror, "remote_refs", watching)
    run = pull(repo.url, tmp_path / "run", credentials=good).directory
    assert seen == [(0o700, True)]
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    with pytest.raises(GitAuthError):
        pull(repo.url, tmp_path / "refused", credentials={"access_token": "bad-token",
                                                           "username": "user"})
    assert seen[1:] == [(0o700, True)]  # laid out, then thrown away
    assert sorted(p.name for p in tmp_path.iterdir()
                  if ".stowflow-old-" not in p.name and p.name != "git-argv.log") == \
        ["first", "run"]


def test_after_a_moved_branch_the_next_pull_reads_its_stamps_as_one_set(
        git_remote: GitHTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull moved to a new commit leaves that commit's stamp set, which the next pull
    (laying that commit out first) reads as one row: no scan of every set, no hash. Fails
    on the code before (the set was the first-laid-out commit's, so each new commit
    scanned every stamp set twice)."""
    from stowflow.transfer import cache as cache_module

    repo, _ = make_repo(git_remote)
    pull(repo.url, tmp_path / "first")
    repo.commit({"flows/etl.py": "print('v2')\n"})
    pull(repo.url, tmp_path / "run1")
    repo.commit({"flows/etl.py": "print('v3')\n"})
    scans: list[object] = []
    hashed: list[object] = []
    real_scan, real_key = StampBook.read_all, cache_module.content_key
    monkeypatch.setattr(StampBook, "read_all", lambda self, names, **kw: (
        scans.append(1), real_scan(self, names, **kw))[1])
    monkeypatch.setattr(cache_module, "content_key",
                        lambda path, name: hashed.append(path) or real_key(path, name))
    run = pull(repo.url, tmp_path / "run2").directory
    assert (scans, hashed) == ([], [])
    assert (run / "flows" / "etl.py").read_text() == "print('v3')\n"
    assert git("status", "--porcelain", cwd=run) == ""
