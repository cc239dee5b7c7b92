"""The node-local mirror cache: one bare repository per git URL under ``STOWFLOW_HOME``.

A pull never re-clones. Under a file lock (so concurrent processes take turns):

- an **empty** mirror asked for a branch, a tag or the default branch is made by one
  ``git clone --bare --depth 1 --single-branch`` straight into its place: one
  negotiation, as ``git clone`` makes, and the clone proves the credentials itself;
- otherwise the host is asked which commit the ref names (``ls-remote``, which also proves
  the credentials can read the repository — the cache never serves code to someone who
  could not fetch it), and that commit is fetched shallow (``--depth 1``, by its id, so
  the fetch lists no refs again) only when the mirror lacks it. Because the mirror keeps
  earlier commits, the fetch sends only new objects;
- then exactly the blobs the checkout needs that are still missing are fetched (for a
  sparse checkout the commit comes with ``--filter=blob:none``, so files outside
  ``directories`` are never downloaded).

A damaged mirror shows up as a :class:`~stowflow.git.classify.GitCorruptionError` from
any git command on it; :meth:`Mirror.rebuild` replaces it with an empty one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from stowflow.errors import GitRefNotFoundError, GitTimeoutError
from stowflow.git.classify import GitCorruptionError
from stowflow.git.runner import GitEnv, GitResult, run_git
from stowflow.git.url import GitURL
from stowflow.settings import get_settings

_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class Target:
    """The commit a pull checks out, and the branch it came from (``None`` for a pin)."""

    commit_sha: str
    branch: str | None


def mirrors_root() -> Path:
    """Return the folder holding every mirror: ``<cache_dir>/git``."""
    return get_settings().cache_dir / "git"


def in_cone(path: str, directories: Sequence[str]) -> bool:
    """True when a cone-mode sparse checkout of ``directories`` includes file ``path``.

    Cone mode (git's default) keeps files at the top level, files directly in each parent
    of a requested directory, and everything under the requested directories.
    """
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    for directory in directories:
        if path.startswith(directory + "/"):
            return True
        if parent == "" or directory == parent or directory.startswith(parent + "/"):
            return True
    return not directories


class Mirror:
    """The bare mirror of one repository; use :meth:`locked` around :meth:`prepare`."""

    def __init__(self, url: GitURL, env: GitEnv, root: Path | None = None) -> None:
        self.url = url
        self.env = env
        self.path = (root or mirrors_root()) / url.cache_key
        self._lock_timeout = env.timeout if env.timeout is not None else \
            get_settings().git_timeout
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    # --- plumbing -----------------------------------------------------------------------

    def git(self, *args: str, action: str, retry: bool = False, input: bytes | None = None,
            check: bool = True) -> GitResult:
        """Run git against this mirror with the repository's credentials in the environment."""
        return run_git(list(args), action=action, env=self.env, git_dir=self.path,
                       input=input, retry=retry, check=check)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the mirror's inter-process lock (waiting at most the git timeout)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self._lock_path), timeout=self._lock_timeout)
        try:
            with lock:
                yield
        except Timeout as exc:
            raise GitTimeoutError(
                f"waited too long for the git cache lock of {self.url}",
                hint=f"another process is fetching it; if none is, delete {self._lock_path}",
            ) from exc

    def exists(self) -> bool:
        """True when the mirror folder exists."""
        return (self.path / "HEAD").exists()

    def ensure(self) -> bool:
        """Create the mirror (bare, ``origin`` = the URL, never any credentials) if missing.

        Returns True when it was just created (so it holds nothing yet).
        """
        if self.exists():
            return False
        if self.path.exists():
            self._remove()
        tmp = self.path.with_name(f"{self.path.name}.new-{uuid.uuid4().hex[:8]}")
        write_skeleton(tmp, bare=True, config=(
            f'[remote "origin"]\n\turl = {config_quote(self.url.url)}\n'
            "[gc]\n\tauto = 0\n[core]\n\tlogAllRefUpdates = false\n"))
        os.rename(tmp, self.path)
        return True

    def rebuild(self) -> None:
        """Throw the mirror away and create an empty one (after corruption)."""
        self._remove()
        self.ensure()

    def _remove(self) -> None:
        trash = self.path.with_name(f"{self.path.name}.trash-{uuid.uuid4().hex[:8]}")
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    @property
    def is_partial(self) -> bool:
        """True once a filtered fetch made this a partial clone (blobs may be missing)."""
        pack = self.path / "objects" / "pack"
        return pack.is_dir() and any(p.suffix == ".promisor" for p in pack.iterdir())

    def shallow_file(self) -> str:
        """Return the mirror's list of shallow commits (empty when it has full history)."""
        try:
            return (self.path / "shallow").read_text()
        except FileNotFoundError:
            return ""

    # --- queries ------------------------------------------------------------------------

    def has_commit(self, sha: str, ref: str | None = None) -> bool:
        """True when a ref of the mirror points at commit ``sha`` (directly or as a tag).

        Refs are read instead of the object itself because reading a missing object in a
        partial clone would make git fetch it — and its whole history — on the spot. They
        are read from the files (``ref`` first), without a process; only a loose tag ref
        (whose commit is inside the tag object) needs ``git for-each-ref``.
        """
        refs = self.local_refs()
        if ref is not None and refs.get(ref) == sha:
            return True
        if sha in refs.values():
            return True
        if not any(name.startswith("refs/tags/") and not name.endswith("^{}")
                   and f"{name}^{{}}" not in refs for name in refs):
            return False
        out = self.git("for-each-ref", "--format=%(objectname) %(*objectname)",
                       action=f"read of the cache of {self.url}").stdout
        return sha in out.split()

    def local_refs(self) -> dict[str, str]:
        """Return the mirror's refs, ``{name: sha}`` (``name^{}``: a packed tag's commit).

        Read from ``packed-refs`` and the loose ref files, as git reads them (a loose ref
        wins over a packed one).
        """
        refs: dict[str, str] = {}
        with contextlib.suppress(OSError):
            last = ""
            for line in (self.path / "packed-refs").read_text().splitlines():
                if line.startswith("^") and last:
                    refs[f"{last}^{{}}"] = line[1:].strip()
                elif line and not line.startswith("#"):
                    sha, _, last = line.partition(" ")
                    refs[last] = sha
        refs_dir = self.path / "refs"
        for folder, _dirs, files in os.walk(refs_dir):
            for name in files:
                path = Path(folder, name)
                with contextlib.suppress(OSError):
                    sha = path.read_text().strip()
                    if _FULL_SHA.match(sha):
                        key = path.relative_to(self.path).as_posix()
                        refs.pop(f"{key}^{{}}", None)
                        refs[key] = sha
        return refs

    def last_known(self, branch: str | None, commit_sha: str | None) -> str | None:
        """Return the commit the mirror last fetched for this request, or ``None``.

        A guess, read from the mirror's own refs (no process, no network): the host decides
        with :meth:`prepare`. A pull lays this commit out while the host answers. Only a
        commit a ref names is returned, so its trees are in the mirror (reading an object
        a partial clone lacks would make git fetch it).
        """
        if not self.exists():
            return None
        refs = self.local_refs()
        if commit_sha:
            sha = commit_sha.strip().lower()
            return sha if _FULL_SHA.match(sha) and sha in refs.values() else None
        if branch:
            name = branch.removeprefix("refs/heads/")
            names = [f"refs/heads/{name}", f"refs/tags/{name}^{{}}", f"refs/tags/{name}"]
        else:
            try:
                head = (self.path / "HEAD").read_text().strip()
            except OSError:
                return None
            names = [head[5:]] if head.startswith("ref: ") else []
            names.append("refs/stowflow/HEAD")
        return next((refs[name] for name in names if name in refs), None)

    def remote_refs(self, branch: str | None) -> dict[str, str]:
        """Ask the host for ``HEAD`` and ``branch`` (as a branch and as a tag).

        Returns ``{refname: sha}`` plus ``"symref:HEAD"`` → the default branch's ref name.
        Fails fast on bad credentials, a missing repository or an unreachable host.
        """
        patterns = ["HEAD"]
        if branch:
            name = branch.removeprefix("refs/heads/")
            patterns += [f"refs/heads/{name}", f"refs/tags/{name}", f"refs/tags/{name}^{{}}"]
        out = self.git("ls-remote", "--symref", "origin", *patterns,
                       action=f"ls-remote of {self.url}", retry=True).stdout
        refs: dict[str, str] = {}
        for line in out.splitlines():
            left, _, right = line.partition("\t")
            if left.startswith("ref: "):
                refs[f"symref:{right}"] = left[5:]
            elif right:
                refs[right] = left
        return refs

    # --- the pull -----------------------------------------------------------------------

    def prepare(self, branch: str | None, commit_sha: str | None,
                directories: Sequence[str]) -> Target:
        """Make the mirror hold the requested commit and the blobs the checkout needs.

        ``commit_sha`` (full or short) pins; else ``branch`` (a branch or a tag); else the
        host's default branch. Returns the resolved :class:`Target`. Call under
        :meth:`locked`.
        """
        filtered = bool(directories)
        if not self.exists() and not commit_sha:
            # Nothing is cached, so nothing can be served without a fetch, and the fetch
            # proves the credentials itself: one clone, one negotiation, as `git clone`.
            target = self._clone(branch, filtered)
        else:
            empty = self.ensure()
            if commit_sha:
                if not empty:
                    self.remote_refs(branch)  # proves the credentials before a cache hit
                target = Target(self._pin(commit_sha, filtered), branch)
            else:
                target = self._follow(self.remote_refs(branch), branch, filtered, empty)
        self._fetch_missing_blobs(target.commit_sha, directories)
        return target

    def _clone(self, branch: str | None, filtered: bool) -> Target:
        """Make the missing mirror with one shallow bare clone of ``branch`` (a branch or a
        tag; the default branch when ``None``), into a temporary sibling renamed into place.
        """
        if self.path.exists():
            self._remove()  # a mirror that lost its HEAD
        tmp = self.path.with_name(f"{self.path.name}.new-{uuid.uuid4().hex[:8]}")
        args = ["clone", "--bare", "--depth=1", "--single-branch", "--no-tags", "--quiet",
                "--template=", "-c", "gc.auto=0", "-c", "core.logAllRefUpdates=false"]
        if filtered:
            args.append("--filter=blob:none")
        name = branch.removeprefix("refs/heads/") if branch else None
        if name:
            args += ["--branch", name]
        try:
            run_git([*args, "--", self.url.url, str(tmp)], action=f"fetch of {self.url}",
                    env=self.env, cwd=self.path.parent, retry=True,
                    before_retry=lambda: shutil.rmtree(tmp, ignore_errors=True))
            os.rename(tmp, self.path)
        except GitRefNotFoundError:
            shutil.rmtree(tmp, ignore_errors=True)
            raise _not_found(self.url, name or "HEAD") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        head = (self.path / "HEAD").read_text().strip()
        refs = self.local_refs()
        if head.startswith("ref: "):  # a branch: the default one, or the one named
            ref = head[5:]
            if ref not in refs:
                raise GitRefNotFoundError(
                    f"git fetch of {self.url} failed: the repository has no commits",
                    hint="push a commit, or pass branch= or commit_sha=")
            label = ref.removeprefix("refs/heads/")
            return Target(refs[ref], label)
        if not _FULL_SHA.match(head):  # pragma: no cover - git wrote something else
            raise GitCorruptionError(f"the git cache of {self.url} has no HEAD after a clone",
                                     hint="it is rebuilt automatically")
        return Target(head, name)  # a tag: the clone detached HEAD at its commit

    def _fetch(self, refspecs: Sequence[str], *, filtered: bool, depth: int | None = 1,
               extra: Sequence[str] = ()) -> None:
        args = ["fetch", "--no-tags", "--no-write-fetch-head", "--no-progress",
                "--recurse-submodules=no"]
        if depth is not None:
            args.append(f"--depth={depth}")
        if filtered:
            args.append("--filter=blob:none")
        args += [*extra, "origin", *refspecs]
        self.git(*args, action=f"fetch of {self.url}", retry=True)

    def _follow(self, refs: dict[str, str], branch: str | None, filtered: bool,
                empty: bool) -> Target:
        label: str | None
        if branch:
            name = branch.removeprefix("refs/heads/")
            if f"refs/heads/{name}" in refs:
                ref, label = f"refs/heads/{name}", name
            elif f"refs/tags/{name}" in refs:
                ref, label = f"refs/tags/{name}", name
            else:
                raise _not_found(self.url, name)
        else:
            if "HEAD" not in refs:
                raise GitRefNotFoundError(
                    f"git fetch of {self.url} failed: the repository has no commits",
                    hint="push a commit, or pass branch= or commit_sha=")
            ref = refs.get("symref:HEAD", "HEAD")
            refs.setdefault(ref, refs["HEAD"])
            label = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
        advertised = refs.get(f"{ref}^{{}}") or refs[ref]
        if empty or not self.has_commit(advertised, ref):
            local = ref if ref != "HEAD" else "refs/stowflow/HEAD"
            if ref.startswith("refs/tags/"):  # the tag object comes with its name
                self._fetch([f"+{ref}:{local}"], filtered=filtered)
            else:
                try:
                    # by id: an advertised tip, which every server serves, and the fetch
                    # needs no second listing of the refs (one request fewer)
                    self._fetch([f"+{advertised}:{local}"], filtered=filtered)
                except GitRefNotFoundError:  # the branch moved on since the listing
                    self._fetch([f"+{ref}:{local}"], filtered=filtered)
            advertised = self._resolve_local(f"{local}^{{commit}}")
        return Target(advertised, label)

    def _pin(self, commit_sha: str, filtered: bool) -> str:
        sha = commit_sha.lower()
        full = bool(_FULL_SHA.match(sha))
        if full and self.has_commit(sha):
            return sha
        refused = False
        if full:
            try:
                self._fetch([f"+{sha}:refs/stowflow/pinned/{sha}"], filtered=filtered)
                return self._resolve_local(f"{sha}^{{commit}}", wanted=commit_sha)
            except GitRefNotFoundError:
                refused = True  # some hosts serve no commit by id: look on the branches
        found = self._resolve_short(sha)
        if found is None:
            # A short SHA cannot be asked for: fetch the branches' history — commits and
            # trees only, unless the host already refused to serve objects by id — and
            # look again.
            extra = ["--unshallow"] if self.shallow_file() else []
            self._fetch(["+refs/heads/*:refs/heads/*"], filtered=not refused, depth=None,
                        extra=extra)
            found = self._resolve_short(sha)
        if found is None:
            raise GitRefNotFoundError(
                f"git fetch of {self.url} failed: commit {commit_sha!r} not found on any branch",
                hint="check the SHA; a commit must be pushed to a branch of the repository")
        # The commit and its trees are here now; remember it so the next pin is a ref hit.
        ref = self.path / "refs" / "stowflow" / "pinned" / found
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(found + "\n")
        return found

    def _resolve_short(self, short: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", "--end-of-options",
                          f"{short}^{{commit}}", action="read of the cache", check=False)
        if "ambiguous" in result.stderr:
            raise GitRefNotFoundError(f"commit {short!r} is ambiguous in {self.url}",
                                      hint="give more characters of the SHA")
        sha = result.stdout.strip()
        return sha if _FULL_SHA.match(sha) else None

    def _resolve_local(self, rev: str, wanted: str | None = None) -> str:
        if rev.startswith("refs/") and not rev.startswith("refs/tags/") \
                and rev.endswith("^{commit}"):
            # a fetch wrote a loose ref to a commit (the mirror never packs refs): read it
            with contextlib.suppress(OSError):
                sha = (self.path / rev.removesuffix("^{commit}")).read_text().strip()
                if _FULL_SHA.match(sha):
                    return sha
        result = self.git("rev-parse", "--verify", "--quiet", "--end-of-options", rev,
                          action="read of the cache", check=False)
        sha = result.stdout.strip()
        if not _FULL_SHA.match(sha):
            if wanted:
                raise GitRefNotFoundError(
                    f"git fetch of {self.url} failed: commit {wanted!r} not found",
                    hint="check the SHA and that it was pushed")
            raise GitCorruptionError(f"the git cache of {self.url} lost {rev} after a fetch",
                                     hint="it is rebuilt automatically")
        return sha

    def _fetch_missing_blobs(self, sha: str, directories: Sequence[str]) -> None:
        if not self.is_partial:
            return
        listing = self.git("rev-list", "--objects", "--no-walk", "--missing=print", sha,
                           action="read of the cache").stdout
        missing = {line[1:].split()[0] for line in listing.splitlines() if line.startswith("?")}
        if not missing:
            return
        tree = self.git("ls-tree", "-r", "-z", "--full-tree", sha,
                        action="read of the cache").stdout
        wanted = []
        for entry in tree.split("\0"):
            meta, _, path = entry.partition("\t")
            parts = meta.split()
            if len(parts) == 3 and parts[1] == "blob" and parts[2] in missing \
                    and in_cone(path, directories):
                wanted.append(parts[2])
        if not wanted:
            return
        # The same request git's own lazy fetch makes: these objects, nothing else.
        try:
            self.git("-c", "fetch.negotiationAlgorithm=noop", "fetch", "origin", "--no-tags",
                     "--no-write-fetch-head", "--recurse-submodules=no", "--no-progress",
                     "--filter=blob:none", "--stdin", action=f"fetch of files from {self.url}",
                     input="\n".join(sorted(set(wanted))).encode() + b"\n", retry=True)
        except GitRefNotFoundError:
            # An old server that serves no object by id: fetch the branches again, whole.
            extra = ["--refetch", f"--filter=blob:limit={2**31 - 1}"]
            if self.shallow_file():
                extra.append("--unshallow")
            self._fetch(["+refs/heads/*:refs/heads/*"], filtered=False, depth=None,
                        extra=extra)


def _not_found(url: GitURL, name: str) -> GitRefNotFoundError:
    return GitRefNotFoundError(f"git fetch of {url} failed: branch or tag {name!r} not found",
                               hint="check the branch name; 'git ls-remote URL' lists the "
                               "branches")


def write_skeleton(git_dir: Path, *, bare: bool, config: str = "") -> None:
    """Create an empty repository at ``git_dir`` as ``git init --template=`` would on Linux.

    Written directly: it saves a process per pull, and git reads nothing else from it.
    """
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        (git_dir / sub).mkdir(parents=True, exist_ok=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    core = ("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
            f"\tbare = {'true' if bare else 'false'}\n")
    if not bare:
        core += "\tlogallrefupdates = true\n"
    (git_dir / "config").write_text(core + config)


def config_quote(value: str) -> str:
    """Return ``value`` quoted for a git config file."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


