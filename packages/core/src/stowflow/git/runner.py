"""Running git: a controlled environment, credentials only through it, timeouts, retries.

Every git process stowflow starts goes through :func:`run_git`. Its environment:

- ``GIT_TERMINAL_PROMPT=0``, no ``GIT_ASKPASS``/``SSH_ASKPASS`` and an empty ``core.askPass``,
  so a missing or wrong credential fails at once instead of waiting for a prompt;
  ``ssh -o BatchMode=yes`` unless the user set their own ``GIT_SSH_COMMAND``/``GIT_SSH``;
- ``LC_ALL=C`` so git's messages can be classified;
- credentials as ``http.<scheme://host/>.extraHeader = Authorization: Basic …`` passed in
  ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` — never in argv, a URL or
  a config file. With credentials, ``credential.helper`` is emptied so a helper's stored
  password is never tried instead of the one given;
- inherited ``GIT_DIR``-style variables removed, so the caller's environment cannot point
  git at another repository.

Failures become :class:`~stowflow.errors.GitError` subclasses (see :mod:`.classify`);
network errors and timeouts are retried with exponential backoff.
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from stowflow.errors import GitAuthError, GitError
from stowflow.git.auth import GitAuth
from stowflow.git.classify import classify, is_retryable, timeout_error
from stowflow.git.url import GitURL
from stowflow.redact import redact, register_basic_auth
from stowflow.settings import get_settings

log = logging.getLogger(__name__)

#: Inherited variables that would point git elsewhere or inject configuration.
_STRIPPED = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
             "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
             "GIT_ASKPASS", "SSH_ASKPASS", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
             "GIT_PREFIX", "GIT_SHALLOW_FILE", "GIT_QUARANTINE_PATH",
             # these print HTTP headers to stderr; never let them show the Authorization one
             "GIT_CURL_VERBOSE", "GIT_TRACE_CURL", "GIT_TRACE_CURL_NO_DATA")

#: Settings every stowflow git command runs with.
_BASE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.askPass", ""),
    ("credential.interactive", "false"),
    ("protocol.version", "2"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("advice.detachedHead", "false"),
    ("fetch.writeCommitGraph", "false"),
    # A stalled transfer is abandoned after a minute instead of hanging a run.
    ("http.lowSpeedLimit", "1"),
    ("http.lowSpeedTime", "60"),
)

RETRY_DELAYS: tuple[float, ...] = (0.5, 2.0)


@dataclass(frozen=True)
class GitEnv:
    """The environment of git processes for one repository and one set of credentials."""

    url: GitURL | None = None
    auth: GitAuth | None = None
    extra_config: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    #: Seconds each command may take; ``None`` reads ``STOWFLOW_GIT_TIMEOUT``.
    timeout: float | None = None

    def local(self) -> GitEnv:
        """The same settings without the repository's credentials (for local commands)."""
        return GitEnv(timeout=self.timeout)

    def config(self) -> list[tuple[str, str]]:
        """Return the ``(key, value)`` settings passed through ``GIT_CONFIG_*``."""
        items = list(_BASE_CONFIG)
        if self.auth is not None and self.url is not None and self.url.is_http:
            register_basic_auth(self.auth.username, self.auth.password)
            pair = f"{self.auth.username}:{self.auth.password}".encode()
            header = "Authorization: Basic " + base64.b64encode(pair).decode()
            items.append(("credential.helper", ""))
            items.append((f"http.{self.url.auth_scope}.extraHeader", header))
        items.extend(self.extra_config)
        return items

    def environ(self) -> dict[str, str]:
        """Return the full environment for a git process."""
        env = {k: v for k, v in os.environ.items()
               if k not in _STRIPPED and not k.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))}
        env.update({"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C",
                    "LANGUAGE": "C", "GIT_TRACE_REDACT": "1"})
        if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        settings = self.config()
        env["GIT_CONFIG_COUNT"] = str(len(settings))
        for i, (key, value) in enumerate(settings):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
        return env


@dataclass(frozen=True)
class GitResult:
    """What a successful git command printed."""

    stdout: str
    stderr: str
    returncode: int = 0


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _run_once(argv: list[str], env: dict[str, str], cwd: Path | None, input: bytes | None,
              timeout: float, action: str, umask: int = -1) -> tuple[int, str, str]:
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, umask=umask)
    except FileNotFoundError as exc:
        raise GitError(f"git {action} failed: the git executable was not found",
                       hint="install git (2.31 or newer) and make sure it is on PATH") from exc
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        _, err = proc.communicate()
        raise timeout_error(action, timeout, err.decode(errors="replace")) from None
    except BaseException:
        _kill_group(proc)
        proc.wait()
        raise
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def run_git(args: Sequence[str], *, action: str, env: GitEnv | None = None,
            cwd: Path | None = None, git_dir: Path | None = None, input: bytes | None = None,
            timeout: float | None = None, retry: bool = False, check: bool = True,
            umask: int = -1, before_retry: Callable[[], None] | None = None) -> GitResult:
    """Run ``git <args>`` and return its output; raise a classified GitError on failure.

    ``action`` names the operation in errors ("fetch of https://host/org/repo.git").
    ``git_dir`` runs against that repository (``--git-dir``); ``retry`` retries network
    errors and timeouts with backoff (only for commands that are safe to repeat, such as a
    fetch). With ``check=False`` a non-zero exit returns its output instead of raising.
    ``umask`` (when not negative) is the process's umask (files it creates);
    ``before_retry`` undoes what a failed attempt left (a half-made clone).
    Credentials in ``env`` reach git only through its environment.
    """
    git_env = env or GitEnv()
    argv = ["git"]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    argv.extend(args)
    environ = git_env.environ()
    limit = next((t for t in (timeout, git_env.timeout) if t is not None), None)
    if limit is None:
        limit = get_settings().git_timeout
    delays = RETRY_DELAYS if retry else ()
    attempt = 0
    while True:
        started = time.monotonic()
        try:
            code, out, err = _run_once(argv, environ, cwd, input, limit, action, umask)
        except Exception as exc:
            error = exc
        else:
            log.debug("git %s: exit %s in %.3fs", redact(" ".join(argv[1:3])), code,
                      time.monotonic() - started)
            if code == 0 or not check:
                return GitResult(out, err, code)
            error = classify(action, err, code)
            if isinstance(error, GitAuthError):
                error = _auth_error(error, git_env)
        if attempt < len(delays) and isinstance(error, GitError) and is_retryable(error):
            log.warning("%s; retrying in %.1fs", redact(str(error)), delays[attempt])
            time.sleep(delays[attempt])
            attempt += 1
            if before_retry is not None:
                before_retry()
            continue
        raise error


def _auth_error(error: GitAuthError, env: GitEnv) -> GitAuthError:
    """Say whether credentials were sent, and as which user, in an authentication error."""
    if env.auth is None:
        hint = ("the repository needs credentials: pass credentials= (a Secret block or a "
                "provider credentials block)")
    else:
        hint = (f"the host refused the token sent as user {env.auth.username!r}: check that "
                "it is valid, not expired, allowed to read this repository, and that the "
                "username suits the host (give {'access_token': ..., 'username': ...} or use "
                "the host's credentials block)")
    return GitAuthError(error.message, hint=hint)
