"""The ``stowflow.yaml`` model: build, push and pull steps and a list of deployments.

:func:`load_project` reads the file with line numbers and validates it with pydantic; any
problem is a :class:`~stowflow.deployments.yamlfile.StowflowYamlError` that names the
file, the field and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from stowflow.deployments.yamlfile import (
    StowflowYamlError,
    line_of,
    load_yaml_with_lines,
    read_text,
)
from stowflow.errors import StepError
from stowflow.schedules.model import ScheduleSpec
from stowflow.steps.engine import parse_step

PROJECT_FILE = "stowflow.yaml"


def _check_step(step: dict[str, Any]) -> dict[str, Any]:
    try:
        parse_step(step)
    except StepError as exc:
        raise ValueError(exc.message.replace("step #1: ", "").replace("step #1 ", "a step ")) from None
    return step


#: One step: ``{import.path: {id, requires, **kwargs}}``.
Step = Annotated[dict[str, Any], AfterValidator(_check_step)]


class WorkPoolSpec(BaseModel):
    """Where a deployment runs: a work pool, an optional queue, job variables."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Work pool name.")
    work_queue_name: str | None = Field(default=None, description="Queue inside the pool.")
    job_variables: dict[str, Any] = Field(default_factory=dict, description="Job variables, e.g. env.")


class DeploymentConfig(BaseModel):
    """One entry of ``deployments:``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^/]+$",
                      description="Deployment name.")
    entrypoint: str = Field(min_length=3, description="path/to/file.py:function or module:function.")
    parameters: dict[str, Any] = Field(default_factory=dict, description="Default parameters.")
    work_pool: WorkPoolSpec = Field(default_factory=WorkPoolSpec, description="Where it runs.")
    tags: list[str] = Field(default_factory=list, description="Tags.")
    version: str | None = Field(default=None, description="A version label.")
    description: str | None = Field(default=None, description="Description (default: docstring).")
    concurrency_limit: int | None = Field(default=None, ge=1, description="Max concurrent runs.")
    enforce_parameter_schema: bool = Field(default=True, description="Validate run parameters.")
    schedules: list[ScheduleSpec] = Field(
        default_factory=list, description="Schedules: cron, interval or rrule (see stowflow.schedules).")
    image: str | None = Field(default=None, description="Image the code is baked into.")
    build: list[Step] | None = Field(default=None, description="Overrides the top-level build.")
    push: list[Step] | None = Field(default=None, description="Overrides the top-level push.")
    pull: list[Step] | None = Field(default=None, description="Overrides the top-level pull.")

    @field_validator("entrypoint")
    @classmethod
    def _entrypoint(cls, value: str) -> str:
        location, _, function = value.rpartition(":")
        if not location or not function:
            raise ValueError("expected 'path/to/file.py:function' or 'package.module:function'")
        return value


class ProjectConfig(BaseModel):
    """The whole ``stowflow.yaml``."""

    model_config = ConfigDict(extra="forbid")
    #: Where each value was in the file, for errors found after parsing (see :meth:`error`).
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)
    _file: str = PrivateAttr(default=PROJECT_FILE)

    name: str | None = Field(default=None, description="Project name.")
    stowflow_version: str | None = Field(default=None, description="stowflow version written by init.")
    build: list[Step] | None = Field(default=None, description="Steps that build (run once per deploy).")
    push: list[Step] | None = Field(default=None, description="Steps that upload code (once per deploy).")
    pull: list[Step] | None = Field(default=None, description="Steps a worker runs to fetch code.")
    deployments: list[DeploymentConfig] = Field(default_factory=list, description="Deployments.")

    @field_validator("deployments", mode="after")
    @classmethod
    def _unique(cls, value: list[DeploymentConfig]) -> list[DeploymentConfig]:
        seen: set[str] = set()
        for spec in value:
            if spec.name in seen:
                raise ValueError(f"deployment name '{spec.name}' is used twice")
            seen.add(spec.name)
        return value


    def error(self, location: tuple[str | int, ...], message: str,
              hint: str | None = None) -> StowflowYamlError:
        """Return the error for the value at ``location`` (file, line and field named)."""
        field = _field_name(location)
        return StowflowYamlError(f"{field}: {message}", file=self._file,
                                 line=line_of(self._lines, location), field=field, hint=hint)


def _field_name(location: tuple[str | int, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_project(text: str, file: str = PROJECT_FILE) -> ProjectConfig:
    """Validate YAML ``text`` as a ``stowflow.yaml``; errors name ``file``, field and line."""
    data, lines = load_yaml_with_lines(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise StowflowYamlError(
            f"expected a mapping with 'deployments', got {type(data).__name__}",
            file=file, line=line_of(lines, ()),
        )
    try:
        config = ProjectConfig.model_validate(data)
        config._lines, config._file = lines, file
        return config
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            location = tuple(p for p in error["loc"] if isinstance(p, str | int))
            message = error["msg"].removeprefix("Value error, ")
            problems.append((line_of(lines, location), _field_name(location), message))
        line, field, message = problems[0]
        text = f"{field}: {message}" + "".join(
            f"; line {other_line}: {other_field}: {other_message}"
            for other_line, other_field, other_message in problems[1:]
        )
        raise StowflowYamlError(text, file=file, line=line, field=field) from None


def load_project(path: str | Path = PROJECT_FILE) -> ProjectConfig:
    """Read and validate the ``stowflow.yaml`` at ``path``."""
    path = Path(path)
    return parse_project(read_text(path), str(path))
