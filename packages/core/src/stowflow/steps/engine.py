"""The step engine: run a list of deployment steps, templating each from the ones before.

A step is a one-key mapping ``{import.path.of.step: {id, requires, **kwargs}}``. For each
step, in order, the engine installs what ``requires`` names (see :mod:`.requires`),
imports the function by its path, resolves the ``{{ placeholders }}`` in its arguments
against the outputs so far (see :mod:`.templating`), calls it, and keeps the returned dict
under the step's ``id``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from stowflow.errors import StepError, StowflowError
from stowflow.plugins import Collected, get_plugin_manager
from stowflow.redact import redact
from stowflow.steps import requires as _requires
from stowflow.steps.templating import resolve

log = logging.getLogger(__name__)


def _collect_steps() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}

    def register(func: Callable[..., Any]) -> None:
        found[f"{func.__module__}.{func.__qualname__}"] = func

    get_plugin_manager().hook.stowflow_register_steps(register=register)
    return found


_registered = Collected(_collect_steps)


def registered_steps() -> dict[str, Callable[..., Any]]:
    """Return ``{import.path.of.step: function}`` for every step the plugins register."""
    return dict(_registered.get())


def parse_step(step: Any, index: int = 0) -> tuple[str, dict[str, Any]]:
    """Return ``(import_path, settings)`` of one step, or raise :class:`StepError`."""
    if not isinstance(step, Mapping) or len(step) != 1:
        raise StepError(
            f"step #{index + 1} must be a mapping with exactly one key, the step's import path; "
            f"got {_short(step)}",
            hint="for example: - stowflow.deployments.steps.set_working_directory: {directory: .}",
        )
    path, settings = next(iter(step.items()))
    if not isinstance(path, str) or "." not in path or not all(path.split(".")):
        raise StepError(
            f"step #{index + 1}: {path!r} is not an import path like 'package.module.function'"
        )
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise StepError(
            f"step '{path}': its settings must be a mapping of arguments, got {_short(settings)}"
        )
    step_id = settings.get("id")
    if step_id is not None and (not isinstance(step_id, str) or not step_id):
        raise StepError(f"step '{path}': 'id' must be a non-empty string, got {step_id!r}")
    return path, dict(settings)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def import_step(path: str, *, label: str | None = None) -> Callable[..., Any]:
    """Import and return the step function at ``path`` (``package.module.function``).

    Raises :class:`StepError` naming the step when the module or function is missing; a
    missing module names the distribution to install when a plugin hints one.
    """
    label = label or path
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        from stowflow.blocks.types import distribution_hint_for_module

        missing = exc.name or module_name
        top = module_name.split(".")[0]
        inside_path = module_name == missing or module_name.startswith(missing + ".")
        if inside_path and missing != top and importlib.util.find_spec(top) is not None:
            raise StepError(
                f"step '{label}': there is no module '{missing}'",
                hint="check the step's import path (package.module.function)",
            ) from exc
        if module_name == missing or module_name.startswith(missing + "."):
            dist = distribution_hint_for_module(module_name)
            raise StepError(
                f"step '{label}': module '{module_name}' is not installed",
                hint=f"add 'requires: {dist}' to the step, or pip install {dist}",
            ) from exc
        raise StepError(f"step '{label}': importing '{module_name}' failed: {exc}") from exc
    except Exception as exc:
        raise StepError(f"step '{label}': importing '{module_name}' failed: {exc}") from exc
    try:
        func = getattr(module, attr)
    except AttributeError:
        raise StepError(f"step '{label}': module '{module_name}' has no step '{attr}'") from None
    if not callable(func):
        raise StepError(f"step '{label}': '{path}' is not a function")
    return func


def run_step(path: str, func: Callable[..., Any], kwargs: dict[str, Any], label: str) -> dict[str, Any]:
    """Call one step function with ``kwargs``; return its outputs as a dict."""
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as exc:
        raise StepError(f"step '{label}': wrong arguments for {path}: {exc}") from None
    except ValueError:  # builtins without a signature: let the call decide
        pass
    try:
        result = func(**kwargs)
    except StowflowError as exc:
        # Keep the error's class (callers tell auth from not-found) and say which step.
        exc.message = f"step '{label}' failed: {exc.message}"
        exc.args = (exc.message,)
        raise
    except Exception as exc:
        raise StepError(f"step '{label}' failed: {type(exc).__name__}: {redact(str(exc))}") from exc
    if result is None:
        return {}
    if not isinstance(result, Mapping):
        raise StepError(
            f"step '{label}' returned {type(result).__name__}; a step must return a dict of outputs"
        )
    return dict(result)


def run_steps(steps: list[Any] | None, upstream: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Run ``steps`` in order and return their outputs.

    ``upstream`` seeds the outputs (for example the build and push outputs when pull steps
    run). The result holds every step's outputs under its ``id`` and, merged at the top
    level, every output key (later steps win, so ``result["directory"]`` is the last
    directory). Raises :class:`StepError` or :class:`TemplateError` naming the step.
    """
    outputs: dict[str, Any] = dict(upstream or {})
    if steps is None:
        return outputs
    if not isinstance(steps, list):
        raise StepError(f"steps must be a list, got {type(steps).__name__}")
    for index, step in enumerate(steps):
        path, settings = parse_step(step, index)
        step_id = settings.pop("id", None)
        label = step_id or path
        requires = settings.pop("requires", None)
        _requires.ensure_requirements(requires, step=label)
        func = import_step(path, label=label)
        kwargs = resolve(settings, outputs, step=label)
        log.info("running step %s", label)
        result = run_step(path, func, kwargs, label)
        outputs.update(result)
        if step_id:
            outputs[step_id] = result
    return outputs
