"""Recording deployments: one row per deployment plus a snapshot per (re)deploy."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from stowflow.errors import DeploymentError

if TYPE_CHECKING:
    from stowflow.schedules import ScheduleSpec

@dataclass
class DeploymentSpec:
    """Everything a deployment is: what :func:`upsert_deployment` writes and snapshots.

    Adding a deployment field is two changes: a field here and the column in
    ``db/models.py`` (with its migration); the record, the snapshot and
    ``deployment inspect`` follow from this class. ``paused`` ``None`` keeps a redeployed
    deployment's pause as it was (new: not paused); ``schedules`` ``None`` keeps its
    schedules.
    """

    name: str
    flow_name: str
    entrypoint: str
    work_pool_name: str | None = None
    work_queue_name: str | None = None
    job_variables: dict[str, Any] | None = field(default=None, metadata={"empty": dict})
    parameters: dict[str, Any] | None = field(default=None, metadata={"empty": dict})
    parameter_schema: dict[str, Any] | None = field(default=None, metadata={"empty": dict})
    enforce_parameter_schema: bool = True
    pull_steps: list[Any] | None = field(default=None, metadata={"empty": list})
    tags: list[str] | None = field(default=None, metadata={"empty": list})
    description: str | None = None
    version: str | None = None
    image: str | None = None
    concurrency_limit: int | None = None
    paused: bool | None = None
    schedules: list[ScheduleSpec] | None = None

    def check(self) -> None:
        """Raise :class:`DeploymentError` for a name, flow name or limit that cannot be stored."""
        name, flow_name = self.name, self.flow_name
        if not name or not isinstance(name, str) or "/" in name:
            raise DeploymentError(
                f"invalid deployment name {name!r}: use a non-empty name without '/'")
        if not flow_name or not isinstance(flow_name, str) or "/" in flow_name:
            raise DeploymentError(
                f"invalid flow name {flow_name!r}: use a non-empty name without '/'")
        if self.concurrency_limit is not None and self.concurrency_limit < 1:
            raise DeploymentError(f"deployment '{name}': concurrency_limit must be at least 1")

    def record_values(self) -> dict[str, Any]:
        """Return the deployment row's columns (copies; ``None`` collections made empty)."""
        values: dict[str, Any] = {}
        for item in fields(self):
            if item.name in _NOT_COLUMNS:
                continue
            value = getattr(self, item.name)
            empty = item.metadata.get("empty")  # a dict or list field: stored as a copy
            values[item.name] = empty(value or ()) if empty is not None else value
        return values


#: Spec fields that are not plain columns (paused keeps its old value when None).
_NOT_COLUMNS = frozenset({"paused", "schedules"})
#: The deployment fields a snapshot records, in the order ``deployment inspect`` shows them.
SNAPSHOT_FIELDS = tuple(f.name for f in fields(DeploymentSpec) if f.name != "schedules")


def upsert_deployment(spec: DeploymentSpec | None = None, /, **given: Any) -> str:
    """Create or update deployment ``spec.flow_name/spec.name``; return its id.

    Takes a :class:`DeploymentSpec`, or its fields as keywords. Each call records a
    :class:`~stowflow.db.DeploymentVersionRecord` snapshot; redeploying an existing
    deployment updates it in place (same id) and increases ``version_number``.
    ``pull_steps`` are stored exactly as given, placeholders unresolved. ``schedules``
    (when not ``None``) become the deployment's schedules: unchanged ones keep their future
    runs, changed or removed ones lose them (``schedules.store.replace_schedules``).
    ``paused`` ``None`` keeps a redeployed deployment's pause as it was (new: not paused).
    """
    if spec is None:
        spec = DeploymentSpec(**given)
    elif given:
        raise TypeError("upsert_deployment takes a DeploymentSpec or keywords, not both")
    spec.check()
    name, flow_name, paused, schedules = spec.name, spec.flow_name, spec.paused, spec.schedules
    values = spec.record_values()
    from stowflow.db import DeploymentRecord, DeploymentVersionRecord, session

    with session() as db:
        record = db.scalar(
            select(DeploymentRecord).where(
                DeploymentRecord.flow_name == flow_name, DeploymentRecord.name == name
            )
        )
        if record is None:
            record = DeploymentRecord(**values, paused=bool(paused), version_number=1)
            db.add(record)
            db.flush()
        else:
            for key, value in values.items():
                setattr(record, key, value)
            if paused is not None:
                record.paused = paused
            record.version_number = (record.version_number or 0) + 1
        from stowflow.schedules.store import replace_schedules

        replace_schedules(db, record.id, schedules)
        snapshot = {**values, "paused": record.paused}
        if schedules is not None:
            snapshot["schedules"] = [s.model_dump(mode="json") for s in schedules]
        db.add(
            DeploymentVersionRecord(
                deployment_id=record.id,
                version_number=record.version_number,
                snapshot={"version_number": record.version_number, **snapshot},
            )
        )
        return record.id


#: The deployment columns people write settings into that may hold a literal credential.
SHOWN_MASKED = ("pull_steps", "job_variables")


def masked_settings(value: Any) -> Any:
    """Return a deployment's pull steps or job variables as they are shown (``deployment
    inspect``, the UI, the API): redacted, the literal value of every secret-named field
    (``access_token``, ``GITHUB_TOKEN``...) masked, placeholders kept as written."""
    from stowflow.placeholders import has_placeholder
    from stowflow.redact import mask_secret_fields

    return mask_secret_fields(value, keep=has_placeholder)


def deployment_view(record: Any) -> dict[str, Any]:
    """Return a deployment record's columns as ``deployment inspect`` and the API show them
    (:data:`SHOWN_MASKED` through :func:`masked_settings`, secret parameters' defaults
    through :func:`stowflow.runs.masked_parameters`)."""
    from stowflow.runs.params import masked_parameters

    view = {column.key: getattr(record, column.key)
            for column in type(record).__mapper__.column_attrs}
    for key in SHOWN_MASKED:
        view[key] = masked_settings(view.get(key))
    view["parameters"] = masked_parameters(view.get("parameters"), view.get("parameter_schema"))
    return view


def work_pool_exists(name: str) -> bool:
    """Return whether a work pool called ``name`` exists."""
    from stowflow.db import WorkPoolRecord, session

    with session() as db:
        return db.scalar(select(WorkPoolRecord.id).where(WorkPoolRecord.name == name)) is not None


def check_job_variables(pool_name: str, job_variables: dict[str, Any] | None,
                        image: str | None = None) -> None:
    """Refuse ``job_variables`` the pool's type does not use, then run the type's own
    deploy-time checks on them over the pool's defaults (a docker pool checks that the
    image exists). A deployment's own ``image`` counts as ``job_variables["image"]`` when
    that is not set."""
    if not work_pool_exists(pool_name):
        return  # check_work_pool reports a missing pool
    found = pool_worker_type(pool_name)
    kind = found.name
    unknown = sorted(set(job_variables or {}) - found.job_variables)
    if unknown:
        raise DeploymentError(
            f"work pool '{pool_name}' ({kind}) does not use job variable(s) "
            f"{', '.join(unknown)}",
            hint=f"a {kind} pool uses: {', '.join(sorted(found.job_variables))}"
                 + ("; run images on a docker pool (pip install stowflow-docker)"
                    if "image" in unknown and found.deploy_image is None else ""))
    if image is not None and found.deploy_image is None:
        raise DeploymentError(f"work pool '{pool_name}' is a {kind} pool: it cannot run an image",
                              hint="deploy to a docker pool (pip install stowflow-docker)")
    if found.check_job_variables is not None:
        from stowflow.workers.pools import get_pool
        from stowflow.workers.pools import job_variables as merged_job_variables

        # What a run will get: the pool's defaults under the deployment's own.
        variables = merged_job_variables(get_pool(pool_name), job_variables)
        if image is not None and not (job_variables or {}).get("image"):
            variables["image"] = image
        found.check_job_variables(variables)


def pool_worker_type(pool_name: str) -> Any:
    """Return the :class:`~stowflow.workers.types.WorkerType` of pool ``pool_name``."""
    from stowflow.db import WorkPoolRecord, session
    from stowflow.workers.types import worker_type

    with session() as db:
        kind = db.scalar(select(WorkPoolRecord.type).where(WorkPoolRecord.name == pool_name))
    return worker_type(kind or "process")
