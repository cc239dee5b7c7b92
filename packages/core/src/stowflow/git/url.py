"""Parsing and normalising git URLs: ``https://``, ``http://``, ``ssh://``, ``git://``, scp-like,
``file://`` and plain local paths (a bare repository on a shared disk).

A :class:`GitURL` is the one place that knows a repository's host, path and name, the
scope its credentials apply to, and the key of its node-local mirror. User info in an HTTP
URL (``https://user:token@host/...``) is refused: credentials go in ``credentials=``, never
in a URL that git would write to ``.git/config`` and print in errors.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from dataclasses import dataclass

from stowflow.errors import ConfigError
from stowflow.redact import mask_url, register_secret

#: Hosts whose repositories are git repositories even without a ``.git`` suffix.
KNOWN_GIT_HOSTS = frozenset({"github.com", "gitlab.com", "bitbucket.org"})

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>[^/].*)$")
_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}
_LOCAL_PREFIXES = ("/", "./", "../", "~/")


@dataclass(frozen=True)
class GitURL:
    """A parsed git URL without credentials.

    ``scheme`` is ``https``, ``http``, ``ssh``, ``git`` (scp-like ``git@host:org/repo`` is
    ``ssh``) or ``file`` (a repository on this machine's file system: ``host`` is empty and
    ``path`` the absolute path without its leading slash); ``path`` has no leading slash;
    ``user`` is only ever an SSH login name.
    """

    scheme: str
    host: str
    port: int | None
    path: str
    user: str | None = None
    scp_like: bool = False

    @property
    def is_http(self) -> bool:
        """True for ``http``/``https`` URLs, the ones credentials are sent to."""
        return self.scheme in ("http", "https")

    @property
    def is_local(self) -> bool:
        """True for a repository on this machine's file system (``file://`` or a path)."""
        return self.scheme == "file"

    @property
    def netloc(self) -> str:
        """``host[:port]`` with the default port left out."""
        if self.port is None or self.port == _DEFAULT_PORTS.get(self.scheme):
            return self.host
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The URL as git is given it (scp-like URLs keep their form)."""
        login = f"{self.user}@" if self.user else ""
        if self.is_local:
            return f"file:///{self.path}"  # git takes the path after file:// literally
        if self.scp_like:
            return f"{login}{self.host}:{self.path}"
        return f"{self.scheme}://{login}{self.netloc}/{self.path}"

    @property
    def auth_scope(self) -> str:
        """``scheme://host[:port]/``: the URL prefix an ``http.<url>.extraHeader`` covers.

        Every repository on the same host (submodules included) matches it; others do not.
        """
        return f"{self.scheme}://{self.netloc}/"

    @property
    def name(self) -> str:
        """The repository name: the last path component without ``.git`` (``repo``)."""
        last = self.path.rstrip("/").rsplit("/", 1)[-1]
        return last.removesuffix(".git") or self.host

    @property
    def canonical(self) -> str:
        """The URL normalised for identity: lower-case scheme and host, no ``.git``, no ``/``."""
        path = self.path.rstrip("/").removesuffix(".git")
        return f"{self.scheme}://{self.netloc.lower()}/{path}"

    @property
    def cache_key(self) -> str:
        """A readable, collision-free folder name for this repository's mirror."""
        readable = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{self.netloc}-{self.path}").strip("-")
        digest = hashlib.sha256(self.canonical.encode()).hexdigest()[:12]
        return f"{readable.removesuffix('.git')[:80]}-{digest}"

    def same_host(self, other: GitURL) -> bool:
        """True when ``other`` is served by the same scheme, host and port."""
        return (self.scheme, self.netloc.lower()) == (other.scheme, other.netloc.lower())

    def __str__(self) -> str:
        return self.url


def _refuse_user_info(url: str, user: str | None, password: str | None) -> None:
    if password:
        register_secret(password)
    if password or user:
        safe = mask_url(url)
        raise ConfigError(
            f"credentials in the git URL {safe!r} are refused: they would be written to "
            ".git/config and shown in logs",
            hint="remove them from the URL and pass credentials=... (a Secret block, or a "
            "provider credentials block)",
        )


def parse_git_url(url: str) -> GitURL:
    """Parse ``url`` into a :class:`GitURL`; raise :class:`~stowflow.errors.ConfigError` if invalid.

    Accepts ``https://host/org/repo(.git)``, ``http://…``, ``ssh://[user@]host[:port]/path``,
    ``git://…``, scp-like ``user@host:org/repo.git``, ``file:///srv/repo.git`` and a plain
    local path (absolute, or starting ``./``, ``../`` or ``~/``; made absolute against the
    current folder, so a stored deployment does not depend on where it was made). An HTTP
    URL carrying user info is refused (its password is registered with the redactor first,
    so the error cannot leak it).
    """
    text = url.strip()
    if text.lower().startswith("file://"):
        return _local_url(text, text[len("file://"):])
    if text.startswith(_LOCAL_PREFIXES) or text in (".", ".."):
        return _local_url(text, text)
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ConfigError(f"not a git URL: {text!r}",
                              hint="use https://, ssh://, git://, file:// or user@host:path")
        if scheme in ("http", "https"):
            _refuse_user_info(text, parts.username, parts.password)
            user = None
        else:
            if parts.password:
                _refuse_user_info(text, parts.username, parts.password)
            user = parts.username
        if not parts.hostname:
            raise ConfigError(f"git URL {text!r} has no host")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"git URL {text!r} has an invalid port") from exc
        path = parts.path.lstrip("/")
        if parts.query or parts.fragment:
            raise ConfigError(f"git URL {text!r} must not have a query or fragment")
        if not path:
            raise ConfigError(f"git URL {text!r} names no repository",
                              hint="for example https://github.com/org/repo.git")
        return GitURL(scheme, parts.hostname.lower(), port, path, user)
    match = _SCP_LIKE.match(text)
    if match and "/" not in match["host"]:
        return GitURL("ssh", match["host"].lower(), None, match["path"], match["user"],
                      scp_like=True)
    raise ConfigError(f"not a git URL: {text!r}",
                      hint="use https://host/org/repo.git, ssh://host/org/repo.git, "
                      "git@host:org/repo.git, file:///path/to/repo.git or an absolute path")


def _local_url(text: str, path: str) -> GitURL:
    """A ``file`` GitURL for ``path`` (what followed ``file://``, or a plain path)."""
    if text.lower().startswith("file://"):
        host, slash, rest = path.partition("/")
        if host not in ("", "localhost") or not slash:
            raise ConfigError(f"git URL {text!r} names another machine",
                              hint="file:// URLs name this machine's files: "
                              "file:///path/to/repo.git")
        path = "/" + rest
    absolute = os.path.abspath(os.path.expanduser(path))
    if absolute == "/":
        raise ConfigError(f"git URL {text!r} names no repository",
                          hint="for example file:///srv/git/repo.git")
    return GitURL("file", "", None, absolute.lstrip("/"))


def looks_like_git_url(url: str) -> bool:
    """True when ``url`` is certainly a git repository URL (used to claim sources).

    ``ssh://``, ``git://`` and scp-like ``user@host:path`` always are; an ``http(s)`` URL is
    when its path ends with ``.git`` or it is on a known git host (``github.com``,
    ``gitlab.com``, ``bitbucket.org``) and names at least ``org/repo``; a ``file://`` URL is
    when its path ends with ``.git`` (a plain folder of code is not a repository URL; see
    :func:`is_bare_repository` for a bare repository without the suffix).
    """
    text = url.strip()
    lowered = text.lower()
    if lowered.startswith(("ssh://", "git://")):
        return True
    if lowered.startswith("file://"):
        return urllib.parse.urlsplit(text).path.rstrip("/").endswith(".git")
    if lowered.startswith(("http://", "https://")):
        parts = urllib.parse.urlsplit(text)
        path = parts.path.rstrip("/")
        if path.endswith(".git"):
            return True
        host = (parts.hostname or "").lower().removeprefix("www.")
        return host in KNOWN_GIT_HOSTS and len([p for p in path.split("/") if p]) >= 2
    if "://" in text:
        return False
    match = _SCP_LIKE.match(text)
    return bool(match and match["user"] and "/" not in match["host"])


def is_bare_repository(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a bare git repository (or a ``.git`` folder) on this machine.

    Such a folder holds no work tree, so as a code source it can only mean "check this
    repository out"; a folder of code (with or without its own ``.git``) is used as it is.
    """
    folder = os.fspath(path)
    return (os.path.isfile(os.path.join(folder, "HEAD"))
            and os.path.isdir(os.path.join(folder, "objects"))
            and os.path.isdir(os.path.join(folder, "refs"))
            and not os.path.exists(os.path.join(folder, ".git")))
