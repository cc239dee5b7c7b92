"""Entrypoints: ``path/to/file.py:func`` (relative to a source root) or ``pkg.module:func``.

:func:`locate` turns an entrypoint into the file that defines the function, refusing any
path that resolves outside the source root (``..``, absolute paths, symlinks out).
:func:`load_flow_from_entrypoint` imports that file and returns the :class:`Flow`.
A module entrypoint is looked for under the source root first, then among installed
modules (a flow shipped in an installed package is code the user chose to install).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from stowflow.errors import FlowError

if TYPE_CHECKING:
    from stowflow.flows.core import Flow


@dataclass(frozen=True)
class Entrypoint:
    """A parsed entrypoint: the file (if known), the module name (if any), the function."""

    text: str
    function: str
    path: Path | None = None
    module: str | None = None


def parse(entrypoint: str) -> tuple[str, str]:
    """Split ``entrypoint`` into ``(location, function)``; raise :class:`FlowError` if malformed."""
    if not isinstance(entrypoint, str) or ":" not in entrypoint:
        raise FlowError(
            f"invalid entrypoint {entrypoint!r}",
            hint="use 'path/to/file.py:function' or 'package.module:function'",
        )
    location, _, function = entrypoint.rpartition(":")
    if not location or not function or not all(p.isidentifier() for p in function.split(".")):
        raise FlowError(
            f"invalid entrypoint {entrypoint!r}: expected 'path/to/file.py:function' or "
            "'package.module:function'"
        )
    return location, function


def _is_path(location: str) -> bool:
    return location.endswith(".py") or "/" in location or "\\" in location


def locate(entrypoint: str, root: str | Path) -> Entrypoint:
    """Return where ``entrypoint`` lives under ``root``.

    Raises :class:`FlowError` when the path escapes ``root``, the file does not exist, or
    the module cannot be found.
    """
    location, function = parse(entrypoint)
    base = Path(root).expanduser().resolve()
    if _is_path(location):
        if "\\" in location or Path(location).is_absolute() or location.startswith("~"):
            raise FlowError(
                f"entrypoint {entrypoint!r} must be a relative path inside the source root",
                hint=f"write it relative to {base}",
            )
        target = (base / location).resolve()
        if not target.is_relative_to(base):
            raise FlowError(
                f"entrypoint {entrypoint!r} resolves outside the source root {base}",
                hint="entrypoints must name a file inside the code that is deployed",
            )
        if not target.is_file():
            raise FlowError(f"entrypoint {entrypoint!r}: no file '{location}' in {base}")
        return Entrypoint(entrypoint, function, path=target)
    parts = location.split(".")
    if not all(p.isidentifier() for p in parts):
        raise FlowError(f"entrypoint {entrypoint!r}: '{location}' is not a module name")
    for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
        resolved = candidate.resolve()
        if candidate.is_file():
            if not resolved.is_relative_to(base):
                raise FlowError(f"entrypoint {entrypoint!r} resolves outside the source root {base}")
            return Entrypoint(entrypoint, function, path=resolved, module=location)
    try:
        spec = importlib.util.find_spec(location)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise FlowError(
            f"entrypoint {entrypoint!r}: module '{location}' is neither under {base} nor installed"
        )
    origin = Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    return Entrypoint(entrypoint, function, path=origin, module=location)


def _module_name(path: Path, root: Path) -> str:
    """Return the name the flow file is imported under, as its own ``__name__``.

    The dotted path relative to the source root (``flows/etl.py`` → ``flows.etl``), so the
    flow's ``logging.getLogger(__name__)`` reads as the user expects. When that name is
    taken by a module already imported, a unique private name keeps the two apart.
    """
    try:
        relative = path.relative_to(root).with_suffix("")
        dotted = ".".join(relative.parts)
    except ValueError:
        dotted = ""
    if dotted.replace(".", "").replace("_", "").isalnum() and dotted not in sys.modules:
        return dotted
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return f"__stowflow_entrypoint_{digest}"


def _import_file(path: Path, root: Path, entrypoint: str) -> ModuleType:
    for folder in (str(path.parent), str(root)):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    name = _module_name(path, root)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FlowError(f"entrypoint {entrypoint!r}: cannot load '{path}' as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import(found: Entrypoint, root: Path) -> ModuleType:
    try:
        if found.path is not None and (found.module is None or found.path.is_relative_to(root)):
            return _import_file(found.path, root, found.text)
        assert found.module is not None
        return importlib.import_module(found.module)
    except SyntaxError as exc:
        raise FlowError(
            f"entrypoint {found.text!r}: syntax error in {exc.filename} line {exc.lineno}: {exc.msg}"
        ) from exc
    except ModuleNotFoundError as exc:
        raise FlowError(
            f"entrypoint {found.text!r}: importing it failed: {exc}",
            hint="install the flow's dependencies (a pip_install_requirements pull step or "
            "EXTRA_PIP_PACKAGES in the job variables' env)",
        ) from exc
    except FlowError:
        raise
    except Exception as exc:
        raise FlowError(
            f"entrypoint {found.text!r}: importing it raised {type(exc).__name__}: {exc}"
        ) from exc


def load_flow_from_entrypoint(entrypoint: str, root: str | Path = ".") -> Flow:
    """Import ``entrypoint`` from the code in ``root`` and return its :class:`Flow`.

    A plain function is wrapped in a Flow. Raises :class:`FlowError` for a malformed or
    escaping entrypoint, an import failure (naming the missing module), or a missing
    function.
    """
    from stowflow.flows.core import Flow

    base = Path(root).expanduser().resolve()
    found = locate(entrypoint, base)
    module = _import(found, base)
    obj: Any = module
    for attr in found.function.split("."):
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise FlowError(
                f"entrypoint {entrypoint!r}: '{found.function}' is not defined in "
                f"{found.path or found.module}"
            ) from None
    if isinstance(obj, Flow):
        return obj
    if callable(obj):
        return Flow(obj)
    raise FlowError(f"entrypoint {entrypoint!r}: '{found.function}' is not a function")
