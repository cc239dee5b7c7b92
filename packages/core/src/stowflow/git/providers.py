"""What git provider plugins (GitHub, GitLab, Bitbucket, a third party's) share.

- :func:`claim_git_credentials`: the body of a provider's ``stowflow_git_auth`` hook.
- :func:`check_server_url`: validation of a self-hosted server's ``url`` field.
- :class:`GitProviderRepository`: the base of a provider's repository block, whose
  ``get_directory()`` goes through core's :class:`~stowflow.storage.GitRepository`.

Every provider answers ``stowflow_git_auth`` through :func:`claim_git_credentials`, so
these rules hold for all of them, in one place:

1. **A provider's block** (an instance of its credentials class) is always its own: the
   block type, not the host, decides the username git sends.
2. **Another block** (any other :class:`~stowflow.blocks.Block` but ``Secret``) is not.
3. **A dict with a ``provider`` key** belongs to the provider it names, on any host.
4. **A bare token** — a string, a ``Secret`` block, a ``SecretStr``, a dict
   ``{"access_token", "username"?, "provider"?}`` or the ``{"value": …}`` dict a ``Secret``
   becomes after templating — belongs to the provider whose hosts include the URL's host
   (its public host plus the hosts the user lists in settings).
5. **A block's data dict** (what ``{{ stowflow.blocks.<slug>.<name> }}`` yields at run
   time) belongs to a provider when it validates as that provider's block *and* the
   host is the provider's — one of its hosts as in rule 4, or the host of the dict's own
   ``url`` field when no other registered block type accepts the same dict. A dict that
   fits several block types (``{"token": …}`` fits all three official ones) is never
   assigned by field names alone: it needs a known host or a ``provider`` key.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator

from stowflow.blocks import Block, Secret
from stowflow.errors import ConfigError, StorageNotFoundError, UnsafePathError
from stowflow.git.auth import GitAuth
from stowflow.git.credentials import bare_token
from stowflow.redact import register_basic_auth
from stowflow.storage.base import PullResult
from stowflow.storage.storage_block import StorageBlock

PROVIDER_KEY = "provider"


class GitCredentialsBlock(Protocol):
    """A provider's credentials block: it knows the Basic pair its git host expects."""

    def git_auth(self) -> GitAuth:
        """Return the username and password git sends for this block."""
        ...


B = TypeVar("B", bound=Block)


@dataclass(frozen=True)
class BareToken:
    """A token given without a provider block, with what the user said about it.

    Read by :func:`stowflow.git.credentials.bare_token` from a string, a ``Secret`` block,
    ``{"value": …}`` or ``{"access_token", "username"?, "provider"?}``.
    """

    token: str = field(repr=False)
    username: str | None = None
    provider: str | None = None


def check_server_url(value: str | None) -> str | None:
    """Validate a self-hosted server's base URL; return it without a trailing ``/``.

    For a credentials block's ``url`` validator: empty means the public service (``None``);
    anything but an ``http(s)://host[...]`` URL raises ``ValueError`` (pydantic reports it).
    A URL carrying a user or password is refused, as the secret belongs in the token field.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        parts = urlsplit(value)
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"url must be an http(s) URL such as https://git.example.com, "
                         f"got {value!r}")
    if parts.username or parts.password:
        raise ValueError("url must not contain a user or password; use the token fields")
    return value.rstrip("/")


def url_host(url: str) -> str | None:
    """Return the lower-cased host name of ``url`` (``None`` for a URL without one)."""
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:
        return None


def host_matches(url: str, hosts: Iterable[str]) -> bool:
    """Tell whether ``url``'s host is one of ``hosts`` (entries ``host`` or ``host:port``)."""
    host = url_host(url)
    if host is None:
        return False
    try:
        port = urlsplit(url).port
    except ValueError:
        port = None
    wanted = {h.strip().lower() for h in hosts if h.strip()}
    return host in wanted or (port is not None and f"{host}:{port}" in wanted)


def _validate(block_type: type[B], data: Mapping[str, Any]) -> B | None:
    try:
        return block_type.model_validate(dict(data))
    except ValidationError:
        return None


def _only_accepted_by(block_type: type[Block], data: Mapping[str, Any]) -> bool:
    from stowflow.blocks.types import block_types

    for other in block_types().values():
        if other is not block_type and _validate(other, data) is not None:
            return False
    return True


def _dict_claimed_by_host(url: str, block_type: type[Block], data: Mapping[str, Any],
                          hosts: Callable[[], Iterable[str]]) -> bool:
    if host_matches(url, hosts()):
        return True
    own_url = data.get("url")
    if not isinstance(own_url, str) or url_host(own_url) is None:
        return False
    return url_host(own_url) == url_host(url) and _only_accepted_by(block_type, data)


def claim_git_credentials(
    url: str,
    credentials: Any,
    *,
    provider: str,
    block_type: type[B],
    hosts: Callable[[], Iterable[str]],
    token_auth: Callable[[BareToken, str], GitAuth],
) -> GitAuth | None:
    """Return the GitAuth for ``credentials`` if they are ``provider``'s, else ``None``.

    The one implementation of the rules in this module's docstring, for the body of a
    provider plugin's ``stowflow_git_auth`` hook.

    :param url: the URL being fetched (as the hook received it).
    :param credentials: the credentials the hook received.
    :param provider: the provider's name as users write it in ``provider:`` (``"gitlab"``).
    :param block_type: the provider's credentials block class; it implements
        :class:`GitCredentialsBlock` (``git_auth()``).
    :param hosts: returns the hosts whose bare tokens are the provider's (public host +
        settings); called only when the host decides, so a block costs no settings read.
    :param token_auth: turns a bare token (and the URL) into the pair the host expects.
    :return: the pair to send, registered with the redactor; ``None`` when not ours.
    :raises ConfigError: a dict names this provider but fits none of its forms.
    """
    auth: GitAuth | None = None
    if isinstance(credentials, block_type):
        auth = _block_auth(credentials)
    elif isinstance(credentials, Block) and not isinstance(credentials, Secret):
        return None
    else:
        auth = _claim_plain(url, credentials, provider, block_type, hosts, token_auth)
    if auth is None:
        return None
    if ":" in auth.username:
        # HTTP Basic cannot carry a ':' in the username; git would split it wrongly.
        raise ConfigError(f"git username {auth.username!r} contains ':'",
                          hint="a username for git over HTTPS cannot contain ':'")
    register_basic_auth(auth.username, auth.password)
    return auth


def _block_auth(block: Block) -> GitAuth:
    return cast(GitCredentialsBlock, block).git_auth()


def _claim_plain(url: str, credentials: Any, provider: str, block_type: type[B],
                 hosts: Callable[[], Iterable[str]], token_auth: Callable[[BareToken, str], GitAuth],
                 ) -> GitAuth | None:
    named = None
    if isinstance(credentials, Mapping):
        named = str(credentials.get(PROVIDER_KEY) or "").lower() or None
        if named is not None and named != provider:
            return None
    elif not isinstance(credentials, str | Secret | SecretStr):
        return None
    found = bare_token(dict(credentials) if isinstance(credentials, Mapping) else credentials)
    if found is not None:
        if named == provider or host_matches(url, hosts()):
            return token_auth(BareToken(found[0], found[1], named), url)
        return None
    if not isinstance(credentials, Mapping):
        return None
    data = {k: v for k, v in credentials.items() if k != PROVIDER_KEY}
    block = _validate(block_type, data)
    if block is None:
        if named == provider:
            raise ConfigError(
                f"credentials marked provider: {provider} fit neither a bare token nor "
                f"{block_type.get_block_type_name()} (keys: {', '.join(sorted(data))})",
                hint=f"give {{'access_token': ..., 'provider': '{provider}'}} or the fields "
                f"of {block_type.get_block_type_slug()}",
            )
        return None
    if named == provider or _dict_claimed_by_host(url, block_type, data, hosts):
        return _block_auth(block)
    return None


class GitProviderRepository(StorageBlock):
    """Base of a provider's repository block (``GitHubRepository``, ``GitLabRepository``...).

    A subclass adds ``credentials: <Provider>Credentials | None``; ``get_directory()``
    clones through core's :class:`~stowflow.storage.GitRepository`, so there is one clone
    code path (mirror cache, credentials through the environment) for every provider.
    """

    repository_url: str = Field(
        description="URL of the repository, e.g. https://host/org/repo.git (credentials go "
        "in the credentials field, never in the URL).",
    )
    reference: str | None = Field(
        default=None,
        description="Branch or tag to check out; the repository's default branch when empty.",
    )

    @field_validator("repository_url")
    @classmethod
    def _check_repository_url(cls, value: str) -> str:
        from stowflow.git.url import parse_git_url

        try:
            parse_git_url(value)
        except ConfigError as exc:  # pydantic reports ValueErrors with the field name
            raise ValueError(str(exc)) from exc
        return value.strip()

    def get_directory(self, from_path: str | None = None,
                      local_path: str | Path | None = None,
                      version: str | None = None) -> PullResult:
        """Copy the repository, or its ``from_path`` sub-folder, into ``local_path``.

        Called by a flow run (or user code) that needs the repository's files. Clones
        through :class:`~stowflow.storage.GitRepository` at ``reference`` (at commit
        ``version`` when given: a rerun of the exact code) with this block's
        ``credentials``, then moves the checkout without ``.git`` into ``local_path`` (the
        current directory when empty), merging with what is there (files of the same name
        are replaced). Returns ``local_path`` and the commit SHA checked out.
        """
        from stowflow.storage.git import GitRepository

        destination = (Path(local_path) if local_path is not None else Path.cwd()).absolute()
        destination.parent.mkdir(parents=True, exist_ok=True)
        credentials = getattr(self, "credentials", None)
        repo = GitRepository(url=self.repository_url, credentials=credentials,
                             branch=self.reference, commit_sha=version)
        with _scratch_beside(destination) as tmp:
            pulled = repo.pull(tmp / "checkout")
            checkout = pulled.directory
            source = _inside(checkout, from_path)
            destination.mkdir(exist_ok=True)
            if source.is_dir():
                _move_into(source, destination, skip=".git")
            else:
                shutil.move(source, destination / source.name)
        return PullResult(destination, pulled.version)


@contextmanager
def _scratch_beside(destination: Path) -> Iterator[Path]:
    # On the destination's file system the checkout is moved, not copied, into place.
    try:
        scratch = tempfile.TemporaryDirectory(prefix=".stowflow-repo-", dir=destination.parent)
    except OSError:
        scratch = tempfile.TemporaryDirectory(prefix="stowflow-repo-")
    with scratch as tmp:
        yield Path(tmp)


def _move_into(source: Path, destination: Path, skip: str | None = None) -> None:
    """Move ``source``'s entries into ``destination``, merging folders, replacing files.

    Symlinks are moved as links (following one could bring a file from outside the
    repository into ``destination``).
    """
    for entry in source.iterdir():
        if entry.name == skip:
            continue
        target = destination / entry.name
        both_dirs = (entry.is_dir() and not entry.is_symlink()
                     and target.is_dir() and not target.is_symlink())
        if both_dirs:
            _move_into(entry, target)
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
        shutil.move(entry, target)


def _inside(root: Path, relative: str | None) -> Path:
    if not relative:
        return root
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise UnsafePathError(f"from_path {relative!r} points outside the repository")
    if not candidate.exists():
        raise StorageNotFoundError(f"from_path {relative!r} does not exist in the repository")
    return candidate
