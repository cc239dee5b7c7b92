"""``stowflow deploy``: run build and push once, then register the chosen deployments.

Build and push steps run once per invocation (per distinct set of steps, when a
deployment overrides them), in the project folder. Pull steps are stored with their
placeholders: only references to build/push outputs are filled in at deploy time; blocks,
variables and environment variables are resolved on the worker at run time, so no secret
is ever stored resolved. ``dry_run`` runs nothing and writes nothing: it reports the files
a push would upload and the deployments that would be written.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stowflow.deployments.project import PROJECT_FILE, DeploymentConfig, ProjectConfig, load_project
from stowflow.errors import DeploymentError
from stowflow.flows.deploy import Confirm
from stowflow.flows.metadata import read_flow_metadata
from stowflow.schedules.model import ScheduleSpec, invalid_parameters, missing_parameters
from stowflow.steps import requires as _requires
from stowflow.steps.engine import import_step, parse_step, run_steps
from stowflow.steps.templating import resolve

LOCAL_PULL_STEP = "stowflow.deployments.steps.set_working_directory"


@dataclass
class PlannedDeployment:
    """A deployment as it will be (or was) recorded."""

    name: str
    flow_name: str
    entrypoint: str
    work_pool_name: str | None
    work_queue_name: str | None
    job_variables: dict[str, Any]
    parameters: dict[str, Any]
    parameter_schema: dict[str, Any]
    enforce_parameter_schema: bool
    pull_steps: list[Any]
    tags: list[str]
    description: str | None
    version: str | None
    image: str | None
    concurrency_limit: int | None
    schedules: list[ScheduleSpec] = field(default_factory=list)
    id: str | None = None


@dataclass
class PushPreview:
    """What a push would upload: paths with sizes, and the total."""

    files: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        """The sum of the file sizes."""
        return sum(size for _, size in self.files)


@dataclass
class DeployReport:
    """What ``deploy_project`` did (or, on a dry run, would do)."""

    dry_run: bool
    deployments: list[PlannedDeployment] = field(default_factory=list)
    step_runs: int = 0
    push_preview: PushPreview | None = None
    missing_requirements: list[str] = field(default_factory=list)


def select_deployments(config: ProjectConfig, names: list[str], all_: bool) -> list[DeploymentConfig]:
    """Return the deployments ``names`` (or all) picks; raise :class:`DeploymentError` otherwise."""
    available = [spec.name for spec in config.deployments]
    if not available:
        raise DeploymentError(
            f"{PROJECT_FILE} defines no deployments",
            hint="add an entry under 'deployments:' with a name and an entrypoint",
        )
    if all_:
        return list(config.deployments)
    if not names:
        if len(available) == 1:
            return list(config.deployments)
        raise DeploymentError(
            "which deployment? this project defines several",
            hint=f"name one of {', '.join(available)}, or pass --all",
        )
    by_name = {spec.name: spec for spec in config.deployments}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise DeploymentError(
            f"no deployment named {', '.join(repr(n) for n in unknown)} in {PROJECT_FILE}",
            hint=f"deployments: {', '.join(available)}",
        )
    return [by_name[n] for n in dict.fromkeys(names)]


def _effective(spec: DeploymentConfig, config: ProjectConfig, section: str) -> list[Any] | None:
    own = getattr(spec, section)
    return own if own is not None else getattr(config, section)


def preview_push(root: Path, push: list[Any] | None = None) -> PushPreview:
    """Return the files a push of ``root`` would upload, with the rules a push applies.

    The ignore file is ``.stowflowignore`` unless a push step names another one
    (``ignore_file:``) as plain text.
    """
    from stowflow.transfer.ignore import walk

    ignore_file: str | None = ".stowflowignore"
    for index, step in enumerate(push or []):
        _, settings = parse_step(step, index)
        value = settings.get("ignore_file", ignore_file)
        if value is None or (isinstance(value, str) and "{{" not in value):
            ignore_file = value
            break
    return PushPreview([(f.relpath, f.size) for f in walk(root, ignore_file)])


def _missing(steps: list[Any] | None) -> list[str]:
    found = []
    for index, step in enumerate(steps or []):
        path, settings = parse_step(step, index)
        reqs = _requires.parse_requirements(settings.get("requires"), step=settings.get("id") or path)
        found += [str(r) for r in _requires.missing_requirements(reqs)]
    return found


def check_pull_steps(steps: list[Any] | None) -> None:
    """Import every pull step that can be imported here, so a misspelled step fails at deploy.

    A step is skipped when its ``requires`` are not installed here or its top-level package
    is absent (the worker installs them, or gets them with ``EXTRA_PIP_PACKAGES``); when the
    package is here, a missing module or function is a :class:`StepError` naming the step.
    """
    for index, step in enumerate(steps or []):
        path, settings = parse_step(step, index)
        label = settings.get("id") or path
        reqs = _requires.parse_requirements(settings.get("requires"), step=label)
        if _requires.missing_requirements(reqs):
            continue
        if importlib.util.find_spec(path.split(".")[0]) is None:
            continue
        import_step(path, label=label)


def plan_deployment(
    spec: DeploymentConfig, config: ProjectConfig, root: Path, outputs: dict[str, Any]
) -> PlannedDeployment:
    """Return what deploying ``spec`` records, given the build/push ``outputs``."""
    metadata = read_flow_metadata(spec.entrypoint, root)

    def fill(value: Any) -> Any:
        return resolve(value, outputs, step=f"deployment {spec.name}", partial=True)

    pull = _effective(spec, config, "pull")
    if pull is None:
        pull = [{LOCAL_PULL_STEP: {"directory": str(root)}}]
    check_pull_steps(pull)
    parameters = fill(spec.parameters)
    if spec.enforce_parameter_schema and parameters:
        metadata.parameters.validate(
            {k: v for k, v in parameters.items() if not (isinstance(v, str) and "{{" in v)},
            partial=True,
        )
    return PlannedDeployment(
        name=spec.name,
        flow_name=metadata.name,
        entrypoint=spec.entrypoint,
        work_pool_name=fill(spec.work_pool.name),
        work_queue_name=fill(spec.work_pool.work_queue_name),
        job_variables=fill(spec.work_pool.job_variables),
        parameters=parameters,
        parameter_schema=metadata.parameters.schema(),
        enforce_parameter_schema=spec.enforce_parameter_schema,
        pull_steps=fill(pull),
        tags=fill(spec.tags),
        description=spec.description if spec.description is not None else metadata.description,
        version=fill(spec.version) if spec.version is not None else metadata.version,
        image=fill(spec.image),
        concurrency_limit=spec.concurrency_limit,
        schedules=list(spec.schedules),
    )


def check_schedules(config: ProjectConfig, chosen: list[DeploymentConfig], root: Path) -> None:
    """Raise the file/line/field error of the first schedule whose runs would lack a
    required parameter or whose own parameters the flow's schema refuses (when the
    deployment enforces it), before anything is built, pushed or written."""
    index_of = {spec.name: index for index, spec in enumerate(config.deployments)}
    for spec in chosen:
        if not spec.schedules:
            continue
        schema = read_flow_metadata(spec.entrypoint, root).parameters.schema()
        for position, schedule in enumerate(spec.schedules):
            missing = missing_parameters(schedule, spec.parameters, schema)
            if missing:
                raise config.error(
                    ("deployments", index_of[spec.name], "schedules", position),
                    f"the flow requires {', '.join(repr(m) for m in missing)} and neither the "
                    "deployment's nor the schedule's parameters give a value",
                    hint="add them under the deployment's 'parameters:' or the schedule's")
            problems = invalid_parameters(schedule, schema) if spec.enforce_parameter_schema \
                else []
            if problems:
                field, message = problems[0]
                where: tuple[str | int, ...] = (
                    "deployments", index_of[spec.name], "schedules", position, "parameters",
                    *([field.split(".")[0]] if field else []))
                raise config.error(where, message,
                                   hint=f"the flow's parameters are: "
                                   f"{', '.join(schema.get('properties') or {}) or 'none'}")


def deploy_project(
    project_file: str | Path = PROJECT_FILE,
    names: list[str] | None = None,
    *,
    all_: bool = False,
    dry_run: bool = False,
    create_missing: Confirm = False,
) -> DeployReport:
    """Deploy ``names`` (or all) from ``project_file``; return a :class:`DeployReport`.

    Build then push steps run once per distinct set (in the project folder); each
    deployment's job variables are checked against its pool's type (a docker pool checks
    that the image exists); then each deployment is recorded with :func:`~stowflow.deployments.records.upsert_deployment`.
    With ``dry_run`` nothing runs and nothing is written. A missing work pool or queue
    is created when ``create_missing`` (or the function given, asked first) says so, else
    it fails the deploy before anything is built (see ``flows.deploy.ensure_work_pool``).
    """
    from stowflow.deployments import records
    from stowflow.deployments.records import check_job_variables, upsert_deployment
    from stowflow.flows.deploy import check_work_pool, ensure_work_pool

    path = Path(project_file).expanduser().resolve()
    config = load_project(path)
    root = path.parent
    chosen = select_deployments(config, names or [], all_)
    report = DeployReport(dry_run=dry_run)
    check_schedules(config, chosen, root)
    if not dry_run:  # fail before anything is built or pushed
        for spec in chosen:
            pool = spec.work_pool.name
            if not pool:
                raise DeploymentError(
                    f"deployment '{spec.name}' has no work pool",
                    hint="set work_pool.name in stowflow.yaml",
                )
            if "{{" not in pool:
                queue = spec.work_pool.work_queue_name
                ensure_work_pool(pool, queue if queue and "{{" not in queue else None,
                                 create=create_missing)
    outputs_by_steps: dict[str, dict[str, Any]] = {}
    planned: list[PlannedDeployment] = []
    for spec in chosen:
        build, push = _effective(spec, config, "build"), _effective(spec, config, "push")
        key = json.dumps([build, push], sort_keys=True, default=str)
        if key not in outputs_by_steps:
            if dry_run:
                outputs_by_steps[key] = {}
                report.missing_requirements += [
                    r for r in _missing(build) + _missing(push) + _missing(
                        _effective(spec, config, "pull"))
                    if r not in report.missing_requirements
                ]
                if push and report.push_preview is None:
                    report.push_preview = preview_push(root, push)
            else:
                with contextlib.chdir(root):
                    built = run_steps(build)
                    outputs_by_steps[key] = run_steps(push, upstream=built)
                report.step_runs += len(build or []) + len(push or [])
        planned.append(plan_deployment(spec, config, root, outputs_by_steps[key]))
    if not dry_run:
        for plan in planned:
            check_work_pool(str(plan.work_pool_name))
            if plan.work_queue_name:
                ensure_work_pool(str(plan.work_pool_name), plan.work_queue_name,
                                 create=create_missing)
            check_job_variables(str(plan.work_pool_name), plan.job_variables, plan.image)
        for plan in planned:
            values = {k: v for k, v in plan.__dict__.items() if k != "id"}
            plan.id = upsert_deployment(records.DeploymentSpec(**values))
    report.deployments = planned
    return report
