"""Translate a ``prefect.yaml`` into a ``stowflow.yaml`` (``stowflow migrate prefect``).

:func:`migrate_prefect_file` reads the file with line numbers, walks every section and
applies the tables of :mod:`stowflow.migrate.prefect_tables`: steps and their arguments,
``requires`` and ``EXTRA_PIP_PACKAGES`` distributions, block and variable placeholders,
deployment fields. Every decision becomes a :class:`MigrationItem` with the line it is
about, so the user sees what was translated, what was changed on the way and what could
not be translated. The result is validated as a ``stowflow.yaml`` before anyone writes it.
Nothing here writes a file: :meth:`Migration.write` does, when asked.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from stowflow.deployments.project import PROJECT_FILE, parse_project
from stowflow.deployments.yamlfile import (
    Location,
    StowflowYamlError,
    line_of,
    load_yaml_with_lines,
    read_text,
)
from stowflow.errors import ConfigError, StepError
from stowflow.migrate.prefect_tables import (
    BLOCK_DISTRIBUTIONS,
    BLOCK_SLUGS,
    DISTRIBUTIONS,
    EXTRAS,
    IMAGE_PULL_POLICIES,
    SAME_DEPLOYMENT_FIELDS,
    SCHEDULE_DROPPED,
    STEP_RULES,
    UNSUPPORTED_DEPLOYMENT_FIELDS,
    StepRule,
)
from stowflow.steps.engine import parse_step
from stowflow.steps.templating import PLACEHOLDER
from stowflow.transfer.ignore import PREFECT_IGNORE, STOWFLOW_IGNORE

PREFECT_FILE = "prefect.yaml"
_CORE = "stowflow"
#: where prefect's auto Dockerfile copies the code (``/opt/prefect/<project folder>``)
PREFECT_IMAGE_CODE_DIR = "/opt/prefect/"

Status = Literal["translated", "changed", "kept", "not translated"]


@dataclass(frozen=True)
class MigrationItem:
    """One decision of the migration, about one place of the ``prefect.yaml``."""

    line: int | None
    field: str
    before: str
    after: str
    status: Status
    note: str = ""


@dataclass(frozen=True)
class NeededBlock:
    """A block the migrated file refers to, and whether one is saved under that name."""

    slug: str
    name: str
    exists: bool
    distribution: str | None

    @property
    def ref(self) -> str:
        """``slug/name``, as ``stowflow block inspect`` takes it."""
        return f"{self.slug}/{self.name}"


@dataclass
class Migration:
    """A translated ``prefect.yaml``: the new file's content and every decision taken."""

    source: Path
    project: dict[str, Any]
    items: list[MigrationItem] = field(default_factory=list)
    blocks: list[NeededBlock] = field(default_factory=list)
    prefectignore: Path | None = None

    @property
    def complete(self) -> bool:
        """True when nothing was left untranslated."""
        return not self.untranslated

    @property
    def untranslated(self) -> list[MigrationItem]:
        """The items that could not be translated."""
        return [item for item in self.items if item.status == "not translated"]

    def text(self) -> str:
        """The ``stowflow.yaml`` text: a header comment and the translated sections."""
        header = (f"# Migrated from {self.source.name} by 'stowflow migrate prefect' on "
                  f"{date.today().isoformat()}.\n")
        if not self.complete:
            header += "# Not translated (see 'stowflow migrate prefect' for the lines):\n"
            header += "".join(f"#   line {item.line}: {item.field}: {item.before}\n"
                              for item in self.untranslated)
        return header + yaml.safe_dump(self.project, sort_keys=False, allow_unicode=True,
                                       default_flow_style=False, width=100)

    def write(self, target: Path, *, force: bool = False) -> Path | None:
        """Write :meth:`text` to ``target`` atomically; return the backup of an old file.

        An existing ``target`` is replaced only with ``force``, and is kept beside it as
        ``<name>.bak`` first, so no data is lost.
        """
        backup = None
        if target.exists():
            if not force:
                raise ConfigError(f"{target} already exists",
                                  hint="pass --force to replace it (the old one is kept as "
                                       f"{target.name}.bak)")
            backup = target.with_name(target.name + ".bak")
            backup.write_bytes(target.read_bytes())
        temporary = target.with_name(f".{target.name}.migrate-{os.getpid()}")
        try:
            temporary.write_text(self.text(), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None
        return backup


def migrate_prefect_file(path: str | Path = PREFECT_FILE,
                         block_exists: Callable[[str, str], bool] | None = None) -> Migration:
    """Translate the ``prefect.yaml`` at ``path`` (a file or the folder holding one).

    ``block_exists(slug, name)`` tells whether a block is saved (default: the block
    store). Raises :class:`StowflowYamlError` when the file cannot be read or parsed; any
    other problem is an item of the returned :class:`Migration`.
    """
    source = Path(path)
    if source.is_dir():
        source = source / PREFECT_FILE
    data, lines = load_yaml_with_lines(read_text(source), str(source))
    if not isinstance(data, dict):
        raise StowflowYamlError("expected a mapping with 'deployments'", file=str(source),
                                line=line_of(lines, ()))
    translator = _Translator(lines)
    project = translator.project(data)
    migration = Migration(source, project, translator.items)
    migration.items.extend(_validate(migration))
    check = block_exists or _block_is_saved
    migration.blocks = [
        NeededBlock(slug, name, check(slug, name), BLOCK_DISTRIBUTIONS.get(slug))
        for slug, name in translator.blocks
    ]
    ignore = source.parent / PREFECT_IGNORE
    if ignore.is_file():
        migration.prefectignore = ignore
    return migration


def rename_prefectignore(migration: Migration) -> Path:
    """Rename the project's ``.prefectignore`` to ``.stowflowignore``; return the new path."""
    if migration.prefectignore is None:
        raise ConfigError(f"there is no {PREFECT_IGNORE} beside {migration.source}")
    target = migration.prefectignore.with_name(STOWFLOW_IGNORE)
    if target.exists():
        raise ConfigError(f"{target} already exists",
                          hint=f"merge {PREFECT_IGNORE} into it by hand, then delete it")
    migration.prefectignore.rename(target)
    return target


def _block_is_saved(slug: str, name: str) -> bool:
    from stowflow.blocks import documents
    from stowflow.errors import BlockNotFoundError

    try:
        documents.read_document(slug, name)
    except BlockNotFoundError:
        return False
    return True


def _validate(migration: Migration) -> list[MigrationItem]:
    """Check the translated file as ``stowflow deploy`` would read it."""
    try:
        parse_project(migration.text(), PROJECT_FILE)
    except StowflowYamlError as exc:
        return [MigrationItem(None, exc.field or "(file)", PROJECT_FILE, "", "not translated",
                              f"the translated file is not valid: {exc.message}")]
    return []


def _field_name(location: Location) -> str:
    """``pull[0].folder``: the location without the step's import path, which the row shows."""
    text = ""
    for index, part in enumerate(location):
        if isinstance(part, int):
            text += f"[{part}]"
        elif not (index and isinstance(location[index - 1], int) and "." in part):
            text += f".{part}" if text else part
    return text or "(top level)"


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _step_ids(data: dict[str, Any]) -> set[str]:
    """Every step id the file defines, in any section or deployment."""
    sections: list[Any] = [data.get(key) for key in ("build", "push", "pull")]
    for deployment in data.get("deployments") or []:
        if isinstance(deployment, dict):
            sections += [deployment.get(key) for key in ("build", "push", "pull")]
    ids = set()
    for steps in sections:
        for step in steps if isinstance(steps, list) else []:
            if isinstance(step, dict) and len(step) == 1:
                settings = next(iter(step.values()))
                if isinstance(settings, dict) and isinstance(settings.get("id"), str):
                    ids.add(settings["id"])
    return ids


def _image_code_directory(build: Any) -> str | None:
    """``{{ <id>.code_directory }}`` of a docker build step with the auto Dockerfile, if any."""
    for step in build if isinstance(build, list) else []:
        if not (isinstance(step, dict) and len(step) == 1):
            continue
        path, settings = next(iter(step.items()))
        rule = STEP_RULES.get(path)
        if (rule is not None and rule.target.endswith(".build_docker_image")
                and isinstance(settings, dict) and settings.get("dockerfile", "auto") == "auto"
                and isinstance(settings.get("id"), str)):
            return "{{ " + settings["id"] + ".code_directory }}"
    return None


def _referenced_steps(value: Any) -> set[str]:
    """The step ids that placeholders in ``value`` refer to."""
    found: set[str] = set()
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            expr = match.group(1)
            if expr and not expr.startswith(("$", "prefect.", "stowflow.")):
                found.add(expr.split(".")[0])
    elif isinstance(value, dict):
        for item in value.values():
            found |= _referenced_steps(item)
    elif isinstance(value, list):
        for item in value:
            found |= _referenced_steps(item)
    return found


def _signature(target: str) -> tuple[set[str], bool] | None:
    """The argument names of the step at ``target`` and whether it takes ``**kwargs``."""
    from stowflow.steps.engine import import_step

    try:
        parameters = inspect.signature(import_step(target)).parameters.values()
    except (StepError, ValueError, TypeError):
        return None
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD}
    return names, any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)


class _Translator:
    """Walks one ``prefect.yaml`` and records every decision as an item."""

    def __init__(self, lines: dict[Location, int]) -> None:
        self.lines = lines
        self.items: list[MigrationItem] = []
        self.blocks: dict[tuple[str, str], None] = {}
        self.step_ids: set[str] = set()
        #: the placeholder of the code folder in an image stowflow's auto Dockerfile builds
        self.image_code_directory: str | None = None

    def note(self, location: Location, before: Any, after: Any, status: Status,
             note: str = "") -> None:
        self.items.append(MigrationItem(line_of(self.lines, location), _field_name(location),
                                        _short(before), _short(after), status, note))

    # -- the file -------------------------------------------------------------------------

    def project(self, data: dict[str, Any]) -> dict[str, Any]:
        from stowflow import __version__

        self.step_ids = _step_ids(data)
        self.image_code_directory = _image_code_directory(data.get("build"))
        out: dict[str, Any] = {}
        for key, value in data.items():
            location: Location = (key,)
            if key == "name":
                out["name"] = value
            elif key == "prefect_version":
                out["stowflow_version"] = __version__
                self.note(location, f"prefect_version: {value}",
                          f"stowflow_version: {__version__}", "changed")
            elif key == "definitions":
                self.note(location, "definitions", "(dropped)", "changed",
                          "its YAML aliases are expanded where they are used")
            elif key in ("build", "push", "pull"):
                out[key] = self.steps(value, location)
            elif key == "deployments":
                out[key] = self.deployments(value, location)
            else:
                self.note(location, key, "", "not translated", "stowflow.yaml has no such section")
        return out

    # -- steps ----------------------------------------------------------------------------

    def steps(self, value: Any, location: Location) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            self.note(location, value, "", "not translated", "expected a list of steps")
            return None
        translated = [self.step(step, (*location, index)) for index, step in enumerate(value)]
        return [step for step in translated if step is not None]

    def step(self, step: Any, location: Location) -> dict[str, Any] | None:
        try:
            path, settings = parse_step(step)
        except StepError as exc:
            self.note(location, step, "", "not translated", exc.message.replace("step #1", "step"))
            return None
        rule = STEP_RULES.get(path)
        step_location: Location = (*location, path)
        if rule is None:
            top = path.split(".")[0]
            if top == "prefect" or top.startswith("prefect_"):
                self.note(step_location, path, "", "not translated",
                          "stowflow has no equivalent of this step; replace it by hand "
                          "(run_shell_script can run any command)")
                return None
            self.note(step_location, path, path, "kept",
                      "not a prefect step: kept as written (it must be importable where "
                      "stowflow deploys and runs)")
            return {path: self.value(settings, step_location, settings.get("id"),
                                     _referenced_steps(settings))}
        self.note(step_location, path, rule.target, "translated")
        return {rule.target: self.arguments(rule, settings, step_location)}

    def arguments(self, rule: StepRule, settings: dict[str, Any],
                  location: Location) -> dict[str, Any]:
        signature = _signature(rule.target)
        step_id = settings.get("id")
        others = _referenced_steps(settings) - {step_id}
        out: dict[str, Any] = {}
        for name, value in settings.items():
            here: Location = (*location, name)
            new_name = rule.renamed.get(name, name)
            if name == "id":
                out["id"] = value
            elif name == "requires":
                requires = self.requirements(value, here, drop_core=True)
                if requires:
                    out["requires"] = requires
            elif name in rule.dropped:
                self.note(here, f"{name}: {_short(value)}", "(dropped)", "changed",
                          rule.dropped[name])
            elif name in rule.unsupported and (signature is None or name not in signature[0]):
                self.note(here, f"{name}: {_short(value)}", "", "not translated",
                          rule.unsupported[name])
            elif signature is not None and new_name not in signature[0] and not signature[1]:
                self.note(here, f"{name}: {_short(value)}", "", "not translated",
                          f"{rule.target} has no argument '{new_name}'")
            elif (rule.target.endswith(".set_working_directory") and name == "directory"
                  and isinstance(value, str) and value.startswith(PREFECT_IMAGE_CODE_DIR)):
                out[name] = self.image_directory(value, here)
            else:
                if new_name != name:
                    self.note(here, name, new_name, "changed", "the argument is named so here")
                out[new_name] = self.value(value, here, step_id, others)
        if signature is None and rule.distribution != _CORE:
            self.note(location, rule.target, rule.target, "kept",
                      f"{rule.distribution} is not installed here, so its arguments were not "
                      f"checked; pip install {rule.distribution} before deploying")
        return out

    def image_directory(self, value: str, location: Location) -> str:
        """Point a pull step at the code folder of the image the build step makes."""
        if self.image_code_directory is None:
            self.note(location, value, "", "not translated",
                      "this is where prefect's image keeps the code; stowflow's auto "
                      "Dockerfile uses its own folder: give the docker build step an id and "
                      "use '{{ <id>.code_directory }}'")
            return value
        self.note(location, value, self.image_code_directory, "changed",
                  "stowflow's auto Dockerfile puts the code in its own folder; the build step "
                  "says where")
        return self.image_code_directory

    def requirements(self, value: Any, location: Location, *, drop_core: bool) -> Any:
        """Map prefect distributions in a ``requires`` value (a string or a list)."""
        if isinstance(value, list):
            mapped = [self.requirement(str(item), (*location, i), drop_core)
                      for i, item in enumerate(value)]
            return [item for item in mapped if item]
        if isinstance(value, str):
            mapped = [self.requirement(item, location, drop_core) for item in value.split()]
            return " ".join(item for item in mapped if item)
        self.note(location, value, "", "not translated", "expected a requirement string or list")
        return None

    def requirement(self, text: str, location: Location, drop_core: bool) -> str:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            return text
        name = canonicalize_name(requirement.name)
        targets = [DISTRIBUTIONS[name]] if name in DISTRIBUTIONS else []
        if name == "prefect":
            targets += [EXTRAS[extra] for extra in sorted(requirement.extras) if extra in EXTRAS]
        if not targets:
            return text
        after = " ".join(t for t in targets if not (drop_core and t == _CORE))
        note = "stowflow's versions are its own: the version constraint is dropped" \
            if requirement.specifier else ""
        if not after:
            note = "stowflow's core is already installed wherever steps run"
        self.note(location, text, after or "(dropped)", "changed" if note else "translated", note)
        return after

    # -- values and placeholders ----------------------------------------------------------

    def value(self, value: Any, location: Location, step_id: str | None = None,
              others: set[str] | None = None) -> Any:
        if isinstance(value, str) and "{{" in value:
            return PLACEHOLDER.sub(
                lambda m: self.placeholder(m, location, step_id, others or set()), value)
        if isinstance(value, dict):
            return {k: self.value(v, (*location, k), step_id, others) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, (*location, i), step_id, others) for i, v in enumerate(value)]
        return value

    def placeholder(self, match: re.Match[str], location: Location, step_id: str | None,
                    others: set[str]) -> str:
        expr = match.group(1)
        original = match.group(0)
        if expr.startswith("prefect.blocks."):
            parts = expr.removeprefix("prefect.blocks.").split(".")
            if len(parts) < 2 or not all(parts[:2]):
                self.note(location, original, "", "not translated",
                          "a block reference is 'prefect.blocks.<type-slug>.<name>'")
                return original
            slug = BLOCK_SLUGS.get(parts[0], parts[0])
            self.blocks.setdefault((slug, parts[1]), None)
            new = "{{ " + ".".join(["stowflow.blocks", slug, *parts[1:]]) + " }}"
            renamed = slug != parts[0]
            self.note(location, original, new, "changed" if renamed else "translated",
                      f"stowflow's block type is '{slug}'" if renamed else "")
            return new
        if expr.startswith("prefect.variables."):
            new = "{{ stowflow.variables." + expr.removeprefix("prefect.variables.") + " }}"
            self.note(location, original, new, "translated")
            return new
        if expr.startswith("prefect."):
            self.note(location, original, "", "not translated",
                      "stowflow has no such placeholder (it knows blocks, variables, "
                      "step outputs and $ENVIRONMENT variables)")
            return original
        if not expr or expr.startswith(("$", "stowflow.")):
            return original
        head, _, rest = expr.partition(".")
        if head == step_id:
            if len(others) == 1 and rest:
                other = next(iter(others))
                new = "{{ " + f"{other}.{rest}" + " }}"
                self.note(location, original, new, "changed",
                          f"a step cannot use its own output; the step's other arguments "
                          f"come from '{other}'")
                return new
            self.note(location, original, "", "not translated",
                      "a step cannot use its own output")
            return original
        if head not in self.step_ids:
            self.note(location, original, "", "not translated",
                      f"no step has id '{head}'")
        return original

    # -- deployments ----------------------------------------------------------------------

    def deployments(self, value: Any, location: Location) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            self.note(location, value, "", "not translated", "expected a list of deployments")
            return []
        out = []
        for index, deployment in enumerate(value):
            here: Location = (*location, index)
            if not isinstance(deployment, dict):
                self.note(here, deployment, "", "not translated", "expected a mapping")
                continue
            out.append(self.deployment(deployment, here))
        return out

    def deployment(self, data: dict[str, Any], location: Location) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in data.items():
            here: Location = (*location, key)
            if key == "schedules" and isinstance(value, list):
                out[key] = [self.schedule(item, (*here, i)) for i, item in enumerate(value)]
            elif key in SAME_DEPLOYMENT_FIELDS:
                out[key] = self.value(value, here)
            elif key == "schedule":
                out["schedules"] = [self.schedule(value, here)] if value else []
                self.note(here, "schedule", "schedules", "changed",
                          "stowflow takes a list of schedules")
            elif key == "concurrency_limit":
                out[key] = self.concurrency_limit(value, here)
            elif key == "work_pool":
                out[key] = self.work_pool(value, here)
            elif key in ("build", "push", "pull"):
                out[key] = self.steps(value, here)
            elif key in UNSUPPORTED_DEPLOYMENT_FIELDS:
                if value not in (None, [], {}, ""):
                    self.note(here, f"{key}: {_short(value)}", "", "not translated",
                              UNSUPPORTED_DEPLOYMENT_FIELDS[key])
            elif key == "paused" and not value:
                continue
            else:
                self.note(here, key, "", "not translated", "stowflow deployments have no such field")
        return out

    def schedule(self, value: Any, location: Location) -> Any:
        """One schedule: the keys both tools share pass, prefect-only ones are decided here."""
        if not isinstance(value, dict):
            return self.value(value, location)
        out: dict[str, Any] = {}
        for key, item in value.items():
            here: Location = (*location, key)
            accepted = SCHEDULE_DROPPED.get(key, ((), "", ""))[0]
            if key in SCHEDULE_DROPPED and (accepted is None or item in accepted):
                self.note(here, f"{key}: {_short(item)}", "(dropped)", "changed",
                          SCHEDULE_DROPPED[key][1])
            elif key in SCHEDULE_DROPPED:
                self.note(here, f"{key}: {_short(item)}", "", "not translated",
                          SCHEDULE_DROPPED[key][2])
            else:
                out[key] = self.value(item, here)
        return out

    def concurrency_limit(self, value: Any, location: Location) -> Any:
        if not isinstance(value, dict):
            return value
        strategy = str(value.get("collision_strategy") or "ENQUEUE").upper()
        if strategy != "ENQUEUE":
            self.note(location, f"collision_strategy: {strategy}", "", "not translated",
                      "stowflow queues runs beyond the limit (ENQUEUE); it cannot cancel them")
        else:
            self.note(location, _short(value), value.get("limit"), "changed",
                      "runs beyond the limit wait their turn, as with ENQUEUE")
        return value.get("limit")

    def work_pool(self, value: Any, location: Location) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            here: Location = (*location, key)
            if key == "job_variables":
                out[key] = self.job_variables(item or {}, here)
            else:
                out[key] = self.value(item, here)
        return out

    def job_variables(self, value: Any, location: Location) -> Any:
        if not isinstance(value, dict):
            return self.value(value, location)
        out: dict[str, Any] = {}
        for key, item in value.items():
            here: Location = (*location, key)
            if key == "env" and isinstance(item, dict):
                out[key] = {
                    name: (self.requirements(str(text), (*here, name), drop_core=True)
                           if name == "EXTRA_PIP_PACKAGES" else self.value(text, (*here, name)))
                    for name, text in item.items()
                }
            elif key == "image_pull_policy" and item in IMAGE_PULL_POLICIES:
                out[key] = IMAGE_PULL_POLICIES[item]
                self.note(here, item, out[key], "translated")
            else:
                out[key] = self.value(item, here)
        return out
