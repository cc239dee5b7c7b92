"""stowflow: ship workflow code to wherever it runs.

Public API: :func:`flow` and :class:`Flow` (flows), :data:`hookimpl` (for plugins),
:class:`~stowflow.blocks.Block` and :class:`~stowflow.blocks.Secret` (blocks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stowflow.plugins import hookimpl

if TYPE_CHECKING:
    from stowflow.flows import Flow, flow

__version__ = "0.1.0"
__all__ = ["Flow", "__version__", "flow", "hookimpl"]


def __getattr__(name: str) -> Any:
    # Flows pull in the step engine and the database; import them only when asked for.
    if name in {"flow", "Flow"}:
        from stowflow import flows

        return getattr(flows, name)
    raise AttributeError(f"module 'stowflow' has no attribute {name!r}")
