"""Turning whatever credentials a user gives into the HTTP Basic pair a git host expects.

Accepted forms (see :func:`normalize_credentials`):

- ``None``: public, or whatever the machine's git already has (SSH keys, helpers);
- a plain token string, a :class:`~stowflow.blocks.Secret` block, or a pydantic ``SecretStr``;
- a dict ``{"access_token": str | Secret, "username"?: str, "provider"?: str}``;
- at run time, the revealed data of a block as the templating engine hands it over
  (``{"value": "…"}`` for a Secret, a provider block's fields as a dict);
- any other :class:`~stowflow.blocks.Block` (a provider's credentials block).

The ``stowflow_git_auth`` hook decides the username for the host or block type; core's
``trylast`` default (in ``git/_plugin.py``) sends a bare token with the username
:data:`DEFAULT_USERNAME`. Every secret that comes out is registered with the redactor,
including the base64 ``user:password`` form the ``Authorization`` header carries.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from stowflow.blocks import Block, Secret
from stowflow.errors import ConfigError, GitAuthError
from stowflow.git.auth import GitAuth
from stowflow.git.url import GitURL
from stowflow.placeholders import has_placeholder
from stowflow.redact import register_basic_auth, register_secret

#: The username core sends with a bare token for a host no plugin knows. Most git hosts
#: (GitHub, GitLab, Gitea, Azure DevOps) ignore the username of a token login; hosts that
#: need a particular one (Bitbucket's ``x-token-auth``) are handled by their plugin, or
#: by giving ``{"access_token": ..., "username": ...}``.
DEFAULT_USERNAME = "git"


def _reveal_token(value: Any, where: str) -> str:
    if isinstance(value, Secret):
        token = value.get()
    elif isinstance(value, SecretStr):
        token = value.get_secret_value()
    elif isinstance(value, dict) and "value" in value:
        token = _reveal_token(value["value"], where)
    elif isinstance(value, str):
        token = value
    else:
        raise ConfigError(f"{where} must be a string or a Secret block, not "
                          f"{type(value).__name__}")
    if has_placeholder(token):
        raise ConfigError(f"{where} is an unresolved placeholder: {token.strip()}",
                          hint="placeholders are resolved by the step engine at run time")
    register_secret(token)
    return token


def normalize_credentials(credentials: Any) -> Any:
    """Return ``credentials`` in the form the ``stowflow_git_auth`` hook receives.

    A token given as a Secret block, a ``SecretStr`` or a Secret's revealed data
    (``{"value": ...}``) becomes a plain string; a dict with ``access_token`` gets it as a
    plain string (``username`` and ``provider`` kept); other dicts and Blocks pass as they
    are. Returns ``None`` for no credentials.
    """
    if credentials is None:
        return None
    if isinstance(credentials, Secret | SecretStr | str):
        return _reveal_token(credentials, "the git token")
    if isinstance(credentials, dict):
        if set(credentials) == {"value"}:
            return _reveal_token(credentials, "the git token")
        if "access_token" in credentials:
            normal = dict(credentials)
            normal["access_token"] = _reveal_token(credentials["access_token"],
                                                   "credentials['access_token']")
            return normal
        return dict(credentials)
    if isinstance(credentials, Block):
        return credentials
    raise ConfigError(f"git credentials of type {type(credentials).__name__} are not supported",
                      hint="pass a Secret block, a credentials block, or "
                      "{'access_token': Secret.load('name')}")


def bare_token(credentials: Any) -> tuple[str, str | None] | None:
    """Return ``(token, explicit username or None)`` for a bare-token form, else ``None``.

    Bare-token forms: a string, a Secret block, a dict with ``access_token``. This is what
    provider plugins call to read a token whose host they serve.
    """
    normal = normalize_credentials(credentials)
    if isinstance(normal, str):
        return normal, None
    if isinstance(normal, dict) and "access_token" in normal:
        username = normal.get("username")
        return normal["access_token"], str(username) if username else None
    return None


def resolve_git_auth(url: GitURL, credentials: Any) -> GitAuth | None:
    """Ask the ``stowflow_git_auth`` hook for the Basic pair to send to ``url``.

    Returns ``None`` without credentials. Raises :class:`~stowflow.errors.GitAuthError`
    when no plugin understands the credentials, and
    :class:`~stowflow.errors.ConfigError` for credentials on an SSH URL (SSH uses the
    machine's keys) or a local repository.
    """
    normal = normalize_credentials(credentials)
    if normal is None:
        return None
    if url.is_local:
        raise ConfigError(
            f"credentials cannot be used for a repository on this machine: {url}",
            hint="git reads a file:// repository with the file system's permissions; "
            "remove the credentials",
        )
    if not url.is_http:
        raise ConfigError(
            f"credentials cannot be sent over {url.scheme}: {url}",
            hint="SSH URLs use the machine's SSH keys; use the https:// URL to pass a token",
        )
    from stowflow.plugins import get_plugin_manager

    result = get_plugin_manager().hook.stowflow_git_auth(url=url.url, credentials=normal)
    if isinstance(result, tuple) and len(result) == 2:
        result = GitAuth(*result)
    if not isinstance(result, GitAuth):
        kind = type(credentials).__name__
        raise GitAuthError(
            f"no installed plugin can use credentials of type {kind} for {url}",
            hint="install the plugin of that credentials block, or pass "
            "{'access_token': Secret.load('name'), 'username': ...}",
        )
    if not result.password:
        raise GitAuthError(f"the credentials for {url} have an empty token",
                           hint="check the block's token field")
    if ":" in result.username:
        raise ConfigError(f"git username {result.username!r} contains ':'",
                          hint="HTTP Basic cannot carry ':' in a username")
    register_basic_auth(result.username, result.password)
    return result
