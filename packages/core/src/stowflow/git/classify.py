"""Turning a failed git command into one clear :class:`~stowflow.errors.GitError`.

git reports every failure as exit code 128 with English text on stderr (the runner forces
``LC_ALL=C``). :func:`classify` reads that text and picks the error class, a one-line
reason and a hint; :func:`stderr_tail` keeps the last lines, redacted, for the message.
:func:`is_retryable` says which errors are worth another attempt (network and timeouts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stowflow.errors import (
    GitAuthError,
    GitError,
    GitRefNotFoundError,
    GitRepositoryNotFoundError,
    GitTimeoutError,
    GitUnreachableError,
)
from stowflow.redact import redact


class GitCorruptionError(GitError):
    """A local repository (the mirror cache) is damaged; the mirror is rebuilt on this."""


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    error: type[GitError]
    reason: str
    hint: str


def _rule(pattern: str, error: type[GitError], reason: str, hint: str) -> _Rule:
    return _Rule(re.compile(pattern, re.IGNORECASE), error, reason, hint)


_AUTH_HINT = ("check that the credentials are valid and allowed to read this repository")
_RULES: tuple[_Rule, ...] = (
    _rule(r"authentication failed|terminal prompts disabled|could not read (username|password)"
          r"|invalid username or password|HTTP Basic: Access denied|returned error: 40[13]\b"
          r"|permission denied \(publickey|Host key verification failed|access denied",
          GitAuthError, "authentication failed", _AUTH_HINT),
    _rule(r"repository '.*' not found|repository not found|returned error: 404"
          r"|does not appear to be a git repository|not found: .*\.git|project you were looking",
          GitRepositoryNotFoundError, "repository not found",
          "check the URL; a private repository also answers 'not found' to wrong credentials"),
    _rule(r"couldn't find remote ref|not our ref|no such ref|unadvertised object"
          r"|did not match any|not a valid object name|unknown revision|reference is not a tree"
          r"|remote error: upload-pack: not our|not found in upstream",
          GitRefNotFoundError, "branch, tag or commit not found",
          "check the branch name or commit SHA (a commit must be pushed to the repository)"),
    _rule(r"operation too slow|timed out|timeout", GitTimeoutError, "timed out",
          "the host is slow or unreachable; try again, or raise STOWFLOW_GIT_TIMEOUT"),
    _rule(r"could not resolve host|failed to connect|connection refused|couldn't connect"
          r"|network is unreachable|connection reset|remote end hung up|RPC failed|early EOF"
          r"|SSL|gnutls|empty reply from server|returned error: 5\d\d|recv failure"
          r"|could not read from remote repository|unable to access",
          GitUnreachableError, "host unreachable",
          "check the network and the host name; the request was retried"),
    _rule(r"corrupt|bad object|unable to read [0-9a-f]{7,}|unable to read sha1 file|packfile .* cannot be accessed"
          r"|not a git repository|missing (blob|tree|commit) object|invalid object"
          r"|bad tree|loose object|inflate|index-pack failed|did not receive expected object"
          r"|fatal: bad config|unable to read tree|error: object file .* is empty"
          r"|invalid sha1 pointer|broken link|unable to parse|index file .* is too small"
          r"|not a tree object",
          GitCorruptionError, "the local mirror is damaged",
          "it is rebuilt automatically; delete STOWFLOW_HOME/cache/git if this persists"),
)


def stderr_tail(stderr: str, lines: int = 3, limit: int = 400) -> str:
    """Return the last ``lines`` meaningful lines of git's stderr, redacted, on one line."""
    kept = [line.strip() for line in stderr.splitlines()
            if line.strip() and not line.lower().startswith(("hint:", "remote: counting",
                                                             "remote: enumerating"))]
    text = " | ".join(kept[-lines:])
    text = redact(text)
    return text if len(text) <= limit else "…" + text[-limit:]


def classify(action: str, stderr: str, returncode: int | None = None) -> GitError:
    """Return the :class:`GitError` for ``action`` (e.g. "fetch of https://h/r.git") failing.

    The message is one line: what failed, why, and git's own last words (redacted).
    """
    tail = stderr_tail(stderr)
    for rule in _RULES:
        if rule.pattern.search(stderr):
            return rule.error(f"git {action} failed: {rule.reason} (git: {tail})",
                              hint=rule.hint)
    code = f"exit code {returncode}" if returncode is not None else "an error"
    return GitError(f"git {action} failed with {code} (git: {tail or 'no output'})",
                    hint="run the same git command by hand to see more")


def timeout_error(action: str, seconds: float, stderr: str = "") -> GitTimeoutError:
    """Return the error for ``action`` killed after ``seconds``."""
    tail = stderr_tail(stderr)
    detail = f" (git: {tail})" if tail else ""
    return GitTimeoutError(
        f"git {action} timed out after {seconds:g}s{detail}",
        hint="the host is slow or unreachable; try again, or raise STOWFLOW_GIT_TIMEOUT",
    )


def is_retryable(error: GitError) -> bool:
    """True for failures worth retrying: an unreachable host or a timeout."""
    return isinstance(error, GitUnreachableError | GitTimeoutError)
