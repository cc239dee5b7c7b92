"""``stowflow init`` recipes: those plugins register (:func:`recipes`), and the part of
every recipe that core owns — ``name`` and ``deployments``.

A recipe (registered through ``stowflow_register_recipes``) says only where the code goes
and how it comes back — a header comment and the ``build``/``push``/``pull`` sections.
:func:`complete_recipe` adds the project ``name`` and the standard ``deployments`` list, so
the shape of a deployment is written once, here, for every provider.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stowflow.errors import PluginError
from stowflow.plugins import Collected, get_plugin_manager

NAME_LINE = "name: {project_name}\n"

DEPLOYMENTS_SECTION = """\
deployments:
- name: {project_name}
  entrypoint: {entrypoint}
  parameters: {{}}
  work_pool: {{name: my-pool, work_queue_name: null, job_variables: {{}}}}
  tags: []
  version: null
  description: null
  concurrency_limit: null
  enforce_parameter_schema: true
  schedules: []
"""

_TOP_LEVEL = re.compile(r"^(name|deployments):", re.MULTILINE)


def complete_recipe(yaml_text: str) -> str:
    """Return ``yaml_text`` with core's ``name`` and ``deployments`` sections added.

    A section the recipe already has at the top level is left as the recipe wrote it. The
    result is still a ``str.format`` template (fields ``{project_name}``, ``{entrypoint}``).
    """
    present = set(_TOP_LEVEL.findall(yaml_text))
    text = yaml_text if yaml_text.endswith("\n") else yaml_text + "\n"
    if "name" not in present:
        # After the leading comment lines, so the file still opens with its explanation.
        lines = text.splitlines(keepends=True)
        head = 0
        while head < len(lines) and lines[head].startswith("#"):
            head += 1
        text = "".join(lines[:head]) + NAME_LINE + "".join(lines[head:])
    if "deployments" not in present:
        text += DEPLOYMENTS_SECTION
    return text


@dataclass(frozen=True)
class Recipe:
    """A ``stowflow init`` template: a plugin's build/push/pull sections, completed by core."""

    name: str
    description: str
    yaml_text: str

    def render(self, **fields: str) -> str:
        """Return the whole ``stowflow.yaml``: core's ``name`` and ``deployments`` added, filled in.

        Raises ``KeyError`` (or ``ValueError``) for a field the template names but
        ``fields`` lacks, or for unbalanced braces.
        """
        return complete_recipe(self.yaml_text).format(**fields)


def _collect_recipes() -> dict[str, Recipe]:
    found: dict[str, Recipe] = {}

    def register(name: str, description: str, yaml_text: str) -> None:
        if name in found:
            raise PluginError(f"init recipe '{name}' is registered twice")
        found[name] = Recipe(name, description, yaml_text)

    get_plugin_manager().hook.stowflow_register_recipes(register=register)
    return found


_registered = Collected(_collect_recipes)


def recipes() -> dict[str, Recipe]:
    """Return ``{name: Recipe}`` for every ``stowflow init`` recipe the plugins register."""
    return dict(_registered.get())
