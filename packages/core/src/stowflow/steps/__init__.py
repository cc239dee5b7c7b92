"""The step engine: ``run_steps`` runs deployment steps with templating and ``requires``."""

from stowflow.steps.engine import run_steps
from stowflow.steps.templating import resolve

__all__ = ["resolve", "run_steps"]
