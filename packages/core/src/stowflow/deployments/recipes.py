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


def deployments_section(work_pool: str = "my-pool", image: str | None = None) -> str:
    """Return the standard ``deployments`` section (a ``str.format`` template, fields
    ``{project_name}`` and ``{entrypoint}``) for a pool named ``work_pool``.

    ``image`` (a value or a ``{{ step.output }}`` placeholder) becomes the deployment's
    ``image`` job variable, as a recipe that runs its code in containers needs.
    """
    job_variables = "{{}}" if image is None else "{{image: " + _literal(f'"{image}"') + "}}"
    return (
        "deployments:\n"
        "- name: {project_name}\n"
        "  entrypoint: {entrypoint}\n"
        "  parameters: {{}}\n"
        f"  work_pool: {{{{name: {work_pool}, work_queue_name: null, "
        f"job_variables: {job_variables}}}}}\n"
        "  tags: []\n"
        "  version: null\n"
        "  description: null\n"
        "  concurrency_limit: null\n"
        "  enforce_parameter_schema: true\n"
        "  schedules: []\n"
    )


#: The section :func:`complete_recipe` adds to a recipe that has none.
DEPLOYMENTS_SECTION = deployments_section()


def _literal(text: str) -> str:
    """``text`` escaped so that ``str.format`` gives it back unchanged."""
    return text.replace("{", "{{").replace("}", "}}")


def _quoted_placeholder(expression: str) -> str:
    """``"{{ expression }}"`` as a YAML string, escaped for ``str.format``."""
    return _literal('"{{ ' + expression + ' }}"')


def object_store_recipe(*, service: str, push_step: str, pull_step: str, place: str,
                        credentials_slug: str) -> str:
    """Return the ``build``/``push``/``pull`` recipe of an object-store provider.

    The code is pushed on deploy by ``push_step`` and pulled before each run by
    ``pull_step`` (full step addresses, whose distribution is the ``requires:``) into
    ``place`` (the step argument naming the bucket or container), with credentials from
    a block of type ``credentials_slug`` named ``my-creds``. ``service`` names the store
    in the header comment.
    """
    distribution = push_step.split(".", 1)[0].replace("_", "-")
    credentials = _quoted_placeholder(f"stowflow.blocks.{credentials_slug}.my-creds")
    return (
        f"# stowflow.yaml for {{project_name}}: code is pushed to {service}\n"
        "# on deploy and pulled from it by the worker before each run.\n"
        "build: null\n"
        "push:\n"
        f"- {push_step}:\n"
        "    id: push_code\n"
        f"    requires: {distribution}>=0.1\n"
        f"    {place}: my-{place}\n"
        "    folder: {project_name}\n"
        f"    credentials: {credentials}\n"
        "pull:\n"
        f"- {pull_step}:\n"
        "    id: pull_code\n"
        f"    requires: {distribution}>=0.1\n"
        f"    {place}: {_quoted_placeholder('push_code.' + place)}\n"
        f"    folder: {_quoted_placeholder('push_code.folder')}\n"
        f"    credentials: {credentials}\n"
    )

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
