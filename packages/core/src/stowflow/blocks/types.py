"""Block types: those plugins register (:func:`block_types`), finding a class by slug, and
recording types (``stowflow block register``)."""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from types import ModuleType

from stowflow.blocks.core import DEFINED_BLOCK_TYPES, Block, document_store
from stowflow.errors import (
    BlockError,
    BlockTypeNotFoundError,
    MissingDistributionError,
    PluginError,
)
from stowflow.plugins import Collected, get_plugin_manager


def _collect_block_types() -> dict[str, type[Block]]:
    found: dict[str, type[Block]] = {}

    def register(cls: type[Block]) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Block)):
            raise PluginError(f"register() expects a Block subclass, got {cls!r}")
        slug = cls.get_block_type_slug()
        other = found.get(slug)
        if other is not None and other is not cls:
            raise PluginError(
                f"block type '{slug}' is registered twice: by "
                f"{other.__module__}.{other.__qualname__} and "
                f"{cls.__module__}.{cls.__qualname__}"
            )
        found[slug] = cls

    get_plugin_manager().hook.stowflow_register_block_types(register=register)
    return found


_registered = Collected(_collect_block_types)


def block_types() -> dict[str, type[Block]]:
    """Return ``{slug: Block class}`` for every block type the plugins register."""
    return dict(_registered.get())


def distribution_of_module(module_name: str) -> str | None:
    """Return the installed distribution that provides ``module_name``, or ``None``."""
    top = module_name.split(".")[0]
    dists = importlib.metadata.packages_distributions().get(top)
    return dists[0] if dists else None


def distribution_hint_for_module(module_name: str) -> str:
    """Return the distribution to install for a missing ``module_name``."""
    from stowflow.plugins import install_hints

    top = module_name.split(".")[0]
    return install_hints().get(top) or top.replace("_", "-")


def get_block_class(slug: str) -> type[Block]:
    """Return the Block class of type ``slug``.

    Looks in the plugin registry first, then among the Block classes defined in this
    process, then in types recorded by ``stowflow block register`` (importing their module). A recorded type whose module is gone raises
    :class:`~stowflow.errors.MissingDistributionError` naming the distribution.
    """
    known = block_types()
    if slug in known:
        return known[slug]
    if slug in DEFINED_BLOCK_TYPES:
        return DEFINED_BLOCK_TYPES[slug]
    record = document_store().read_block_type(slug)
    if record is not None:
        try:
            module = importlib.import_module(record.module)
        except ImportError as exc:
            dist = record.distribution or distribution_hint_for_module(record.module)
            raise MissingDistributionError(f"block type '{slug}'", dist) from exc
        for cls in blocks_in_module(module):
            if cls.get_block_type_slug() == slug:
                return cls
    from stowflow.plugins import install_hints

    hinted = install_hints().get(slug)
    if hinted:
        raise MissingDistributionError(f"block type '{slug}'", hinted)
    raise BlockTypeNotFoundError(
        f"unknown block type '{slug}'",
        hint="'stowflow block types' lists the known types; "
        "'stowflow block register -m MODULE' records more",
    )


def known_block_types() -> dict[str, type[Block]]:
    """Return every block type usable here, by slug: those installed plugins register and
    those recorded by ``block register`` whose module imports (others are left out)."""
    found = dict(block_types())
    for record in document_store().list_block_types():
        if record.slug not in found:
            try:
                found[record.slug] = get_block_class(record.slug)
            except BlockError:
                continue  # its distribution is not installed in this environment
    return dict(sorted(found.items()))


def load_block_by_id(document_id: str) -> Block:
    """Load the block document with this id (used for nested block references)."""
    slug, name, data, secrets = document_store().read_document_by_id(document_id)
    block = get_block_class(slug)._from_document(data, secrets)
    block._document_id, block._document_name = document_id, name
    return block


def blocks_in_module(module: ModuleType) -> list[type[Block]]:
    """Return the concrete Block subclasses a module defines or exports, in name order."""
    exported = getattr(module, "__all__", None)
    names = exported if exported is not None else dir(module)
    found: dict[str, type[Block]] = {}
    for name in names:
        obj = getattr(module, name, None)
        if inspect.isclass(obj) and issubclass(obj, Block) and obj is not Block:
            found[obj.get_block_type_slug()] = obj
    return [found[slug] for slug in sorted(found)]


def ensure_block_type_recorded(cls: type[Block]) -> None:
    """Record ``cls``'s type (slug, module, schema) unless it is recorded as it is."""
    record = document_store().read_block_type(cls.get_block_type_slug())
    if record is None or record.module != cls.__module__:
        record_block_type(cls)


def record_block_type(cls: type[Block]) -> None:
    """Record ``cls`` as a block type: slug, display name, module, distribution, schema."""
    document_store().write_block_type(
        cls.get_block_type_slug(),
        cls.get_block_type_name(),
        cls.__module__,
        distribution_of_module(cls.__module__),
        cls.model_json_schema(),
    )


_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def register_module(module_name: str) -> list[type[Block]]:
    """Import ``module_name`` and record every Block class it defines or exports.

    Returns the classes recorded. An unknown module raises an error naming the
    distribution to install; a module without blocks raises an error saying so.
    """
    if not _MODULE_NAME.match(module_name):
        raise BlockError(f"{module_name!r} is not a module name",
                         hint="give a dotted import path, e.g. stowflow_aws or my_pkg.blocks")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            dist = distribution_hint_for_module(module_name)
            raise MissingDistributionError(f"module '{module_name}'", dist) from exc
        raise BlockError(f"module '{module_name}' failed to import: {exc}") from exc
    except Exception as exc:  # its own code failed (SyntaxError, an error at import time)
        raise BlockError(f"module '{module_name}' failed to import: "
                         f"{type(exc).__name__}: {exc}") from exc
    classes = blocks_in_module(module)
    if not classes:
        raise BlockError(f"module '{module_name}' defines no Block classes")
    for cls in classes:
        record_block_type(cls)
    return classes

