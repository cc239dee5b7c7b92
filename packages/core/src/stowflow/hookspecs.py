"""Hook specifications: the whole surface a stowflow plugin can implement.

A plugin is a module (named by an entry point in the ``stowflow`` group) whose functions
are decorated with :data:`stowflow.hookimpl` and named like the specs below. Core's own
features register through these same hooks.

Registration hooks receive a ``register`` callback and call it once per thing they add;
core owns naming, collisions and error messages. Resolution hooks are ``firstresult``:
the first plugin to return something other than ``None`` wins, and returning ``None``
means "not mine, ask the next plugin". Plugins registered later are asked first; core's
generic fallbacks are marked ``trylast``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from stowflow.blocks import Block
    from stowflow.git.auth import GitAuth
    from stowflow.storage.base import Storage
    from stowflow.transfer.store import ObjectStore
    from stowflow.workers.types import WorkerType

hookspec = pluggy.HookspecMarker("stowflow")


@hookspec
def stowflow_register_block_types(register: Callable[[type[Block]], None]) -> None:
    """Register the block classes a plugin provides.

    Called once, the first time anything asks for the block type registry (loading a block
    by slug, ``stowflow block types``, ``stowflow plugins``).

    :param register: call ``register(BlockClass)`` for each :class:`~stowflow.blocks.Block`
        subclass. A slug registered twice by different classes is reported as an error
        naming both.
    """


@hookspec
def stowflow_register_steps(register: Callable[[Callable[..., Any]], None]) -> None:
    """Register the deployment step functions a plugin provides.

    Called once, when the step registry is first needed (``stowflow plugins``, ``stowflow
    init``, validation of ``stowflow.yaml``). Steps are still addressed in YAML by their
    import path; this registry serves discovery and early error messages.

    :param register: call ``register(step_function)`` for each step function.
    """


@hookspec
def stowflow_register_recipes(register: Callable[[str, str, str], None]) -> None:
    """Register ``stowflow init --recipe NAME`` templates.

    Called when ``stowflow init`` runs or lists recipes.

    :param register: call ``register(name, description, yaml_text)``. ``yaml_text`` holds
        a leading comment and the ``build``, ``push`` and ``pull`` sections; core adds the
        project ``name`` and the standard ``deployments`` list (a recipe that writes its own
        keeps them). It is a ``str.format`` template — double literal braces, so
        ``{{{{ step.key }}}}`` renders as ``{{ step.key }}`` — with the fields
        ``{project_name}``, ``{entrypoint}``, ``{repository}``, ``{branch}``, ``{directory}``.
    """


@hookspec
def stowflow_register_worker_types(register: Callable[[WorkerType], None]) -> None:
    """Register the work pool types a plugin can run (``stowflow work-pool create --type``).

    Called once, when a pool is created, a worker starts or a deployment is checked against
    its pool. Core registers ``process`` the same way.

    :param register: call ``register(WorkerType(...))`` (:class:`stowflow.workers.types.WorkerType`)
        for each type. A name registered twice is reported as an error.
    """


@hookspec(firstresult=True)
def stowflow_storage_for_url(url: str, options: dict[str, Any]) -> Storage | None:
    """Return a :class:`~stowflow.storage.base.Storage` for a source URL, or ``None``.

    Called by ``Flow.from_source(source=URL)``, ``stowflow storage`` commands and
    :func:`stowflow.storage.resolve`, once per URL. Core claims local paths, ``file://``
    and git URLs; object-store URLs fall through to :func:`stowflow_object_store_for_url`.

    :param url: the source exactly as the user wrote it.
    :param options: extra settings given with the URL (credentials, client options).
    :return: a Storage to claim the URL; ``None`` to let the next plugin try.
    """


@hookspec(firstresult=True)
def stowflow_object_store_for_url(url: str, options: dict[str, Any]) -> ObjectStore | None:
    """Return an :class:`~stowflow.transfer.store.ObjectStore` for ``scheme://bucket/...``.

    Called when a remote-storage URL is pushed to or pulled from (``RemoteStorage``,
    ``push_to_remote_storage``, ``pull_from_remote_storage``, ``stowflow storage``). A
    provider plugin claims its schemes (``s3``, ``gs``/``gcs``, ``az``/``abfs``) so that
    transfers use its fast native client; core's ``trylast`` fallback wraps any fsspec
    filesystem.

    :param url: ``scheme://bucket[/prefix]``; the store covers the bucket, the engine
        works under the prefix.
    :param options: settings for the client (credentials block, endpoint, fsspec kwargs).
    :return: an ObjectStore to claim the URL; ``None`` to let the next plugin try.
    """


@hookspec
def stowflow_register_url_schemes(register: Callable[[str, str], None]) -> None:
    """Declare the URL schemes a third-party object-store plugin implements.

    Called once, the first time the scheme table (:mod:`stowflow.transfer.schemes`) is
    read. The official providers' schemes are declared in that table already; a plugin for
    another store registers its own so that ``Flow.from_source("myscheme://...")`` is
    recognised without building a client, and its hook
    :func:`stowflow_object_store_for_url` then builds the store.

    :param register: call ``register(scheme, distribution)`` per scheme (``"myscheme"``,
        ``"stowflow-mystore"``). A scheme another distribution owns is an error.
    """


@hookspec(firstresult=True)
def stowflow_git_auth(url: str, credentials: Any) -> GitAuth | None:
    """Return the username and password a git host expects for ``credentials``.

    Called by core's git engine once per pull of ``url`` that has credentials; the pair is
    sent to every URL on the same ``scheme://host:port/`` (so same-host submodules, with
    relative or absolute URLs, get it too) and to no other host. The credentials' type
    decides when it says anything (a provider's credentials block); for a bare token (a
    plain string, a ``Secret`` block, or a dict ``{"access_token", "username"?,
    "provider"?}``) the host decides, and a dict's ``provider`` key overrides host
    detection.

    :param url: the HTTPS URL being fetched (never containing user info).
    :param credentials: whatever the user gave: a Block, a dict, or a string.
    :return: a :class:`~stowflow.git.auth.GitAuth` to claim the call; ``None`` to let the
        next plugin try. Core's ``trylast`` default sends a bare token as the password of
        a generic username.
    """


@hookspec
def stowflow_install_hints() -> dict[str, str]:  # type: ignore[empty-body]
    """Return ``{url_scheme_or_block_slug_or_module: distribution}`` install hints.

    Called when a URL scheme, block type or module is unknown, to tell the user which
    distribution to ``pip install``. Core ships the hints for the official providers.
    """
