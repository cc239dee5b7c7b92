"""The stowflow error hierarchy.

Every failure a user can cause or meet is one of these. Each carries a message that says
what failed and where, and an optional ``hint`` that says what to do. Provider SDK errors
are translated into this hierarchy at the boundary (with the cause chained), and every
message passes through the shared redactor, so no credential value leaves in an error.
"""

from __future__ import annotations

from stowflow.redact import redact


class StowflowError(Exception):
    """Base of every error stowflow raises on purpose.

    ``message`` says what went wrong and where; ``hint`` (optional) says what to do.
    Both are redacted of every secret value known to the process when the error is made.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = redact(message)
        self.hint = redact(hint) if hint else None
        super().__init__(self.message)

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class ConfigError(StowflowError):
    """Settings, environment or configuration files are invalid."""


class PluginError(StowflowError):
    """A plugin could not be loaded, or a hook implementation misbehaved."""


class MissingDistributionError(StowflowError):
    """Something needs a distribution that is not installed; the message names it."""

    def __init__(self, what: str, distribution: str) -> None:
        self.distribution = distribution
        super().__init__(
            f"{what} needs the '{distribution}' package, which is not installed",
            hint=f"pip install {distribution}",
        )


# --- blocks -----------------------------------------------------------------------------


class BlockError(StowflowError):
    """A block could not be saved, loaded, validated or deleted."""


class BlockDataError(BlockError, ConfigError):
    """A value given as a block (a block, its data as a dict, or nothing) is not a valid one."""


class BlockNotFoundError(BlockError):
    """No block document with the requested type and name exists."""


class BlockAlreadyExistsError(BlockError):
    """A block document with this type and name exists and ``overwrite`` was not given."""


class BlockInUseError(BlockError):
    """A block document cannot be deleted: other blocks refer to it (the message names them)."""


class BlockTypeNotFoundError(BlockError):
    """A block type slug is not known to any installed plugin or registered module."""


class SecretDecryptionError(BlockError):
    """A stored secret could not be decrypted: the secret key changed or the data is corrupt."""


# --- storage and transfer ---------------------------------------------------------------


class StorageError(StowflowError):
    """A storage operation (list, get, put, delete, pull, push) failed."""


class StorageNotFoundError(StorageError):
    """The bucket, container, prefix, key or version does not exist."""


class StorageAuthError(StorageError):
    """The store refused the credentials (not authenticated or not authorised)."""


class StorageUnreachableError(StorageError):
    """The store's endpoint could not be reached (DNS, connection refused, TLS)."""


class StorageTransientError(StorageError):
    """A failure worth retrying: timeout, connection reset, 5xx, throttling."""


class UnsafePathError(StorageError):
    """A key or manifest path would escape its destination (``..``, absolute, backslash)."""


class IntegrityError(StorageError):
    """Downloaded bytes do not match the size or sha256 the manifest promised."""


class DiskFullError(StorageError):
    """A local disk (a pull's destination or the node cache) has no room for the content."""


class UnsupportedURLError(StorageError):
    """No installed storage understands this URL; the hint names what to install."""


# --- git --------------------------------------------------------------------------------


class GitError(StowflowError):
    """A git operation failed; subclasses say why."""


class GitAuthError(GitError):
    """The git host rejected the credentials, or needed some and got none."""


class GitRepositoryNotFoundError(GitError):
    """The repository does not exist (or is hidden from these credentials)."""


class GitRefNotFoundError(GitError):
    """The branch, tag or commit does not exist in the repository."""


class GitUnreachableError(GitError):
    """The git host could not be reached."""


class GitTimeoutError(GitError):
    """A git command took longer than its time limit."""


# --- steps, templates, deployments, runs ------------------------------------------------


class TemplateError(StowflowError):
    """A ``{{ placeholder }}`` could not be resolved; the message names it and its step."""


class StepError(StowflowError):
    """A deployment step could not be found, installed, called, or it failed."""


class DeploymentError(StowflowError):
    """A deployment could not be defined, validated or recorded."""


class DeploymentPausedError(DeploymentError):
    """A paused deployment was asked for a run without forcing it."""


class FlowError(StowflowError):
    """A flow could not be loaded, its entrypoint is invalid, or its parameters are wrong."""


class NotFoundError(StowflowError):
    """A named object (work pool, deployment, flow run, variable) does not exist."""


class RunError(StowflowError):
    """A flow run could not be created, claimed or executed."""


# --- container images (raised by image plugins such as stowflow-docker) -------------------


class ImageError(StowflowError):
    """A container image could not be built, pushed, pulled, found or run."""


class ImageNotFoundError(ImageError):
    """An image does not exist locally or in its registry."""


class ImageBuildError(ImageError):
    """An image build failed; the message names the failing step and its output's tail."""


class RegistryAuthError(ImageError):
    """A registry refused the credentials (or required some and got none)."""


class DaemonUnreachableError(ImageError):
    """No container daemon answered where the environment says one is."""
