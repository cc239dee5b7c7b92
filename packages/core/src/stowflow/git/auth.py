"""What the ``stowflow_git_auth`` hook returns: the HTTP Basic pair a git host expects."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GitAuth:
    """A username and password (a token) for one git host.

    ``password`` is never printed: ``repr`` masks it.
    """

    username: str
    password: str = field(repr=False)
