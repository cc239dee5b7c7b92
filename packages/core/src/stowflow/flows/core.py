"""``@flow`` and :class:`Flow`: a function with validated parameters that can be deployed."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from stowflow.errors import FlowError
from stowflow.flows.metadata import FlowMetadata, default_flow_name, read_flow_metadata
from stowflow.flows.parameters import Parameters
from stowflow.redact import redact

if TYPE_CHECKING:
    from stowflow.storage.base import Storage

log = logging.getLogger("stowflow.flows")


class _SourceMethod:
    """Make ``from_source`` callable on the class and on an instance alike."""

    def __init__(self, func: Callable[..., Flow]) -> None:
        self.func = func
        functools.update_wrapper(self, func)  # type: ignore[arg-type]

    def __get__(self, instance: Flow | None, owner: type[Flow]) -> Callable[..., Flow]:
        return functools.partial(self.func, owner, instance)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@contextlib.contextmanager
def _prints_logged(logger: logging.Logger) -> Iterator[None]:
    original = builtins.print

    def logged_print(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        if kwargs.get("file") is None:
            logger.info(redact(kwargs.get("sep", " ").join(str(a) for a in args)))

    builtins.print = logged_print
    try:
        yield
    finally:
        builtins.print = original


class Flow:
    """A workflow function. Call it to run it here; ``deploy`` or ``serve`` it to run elsewhere.

    A flow made by ``@flow`` wraps a live function. A flow made by :meth:`from_source`
    knows its storage and entrypoint and only the metadata read from the source; its
    function is imported on first call.
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        log_prints: bool = False,
        retries: int = 0,
        metadata: FlowMetadata | None = None,
        storage: Storage | None = None,
        entrypoint: str | None = None,
        source_directory: Path | None = None,
    ) -> None:
        if fn is None and metadata is None:
            raise FlowError("a Flow needs a function (use @flow) or source metadata (from_source)")
        if fn is not None and not callable(fn):
            raise FlowError(f"@flow decorates functions, not {type(fn).__name__}")
        if not isinstance(retries, int) or retries < 0:
            raise FlowError(f"retries must be a non-negative integer, got {retries!r}")
        self.fn = fn
        if fn is not None:
            self.name = name or default_flow_name(fn.__name__)
            self.description = description or inspect.getdoc(fn)
            self.parameters = Parameters.from_function(self.name, fn)
            functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        else:
            assert metadata is not None
            self.name = name or metadata.name
            self.description = description or metadata.description
            self.parameters = metadata.parameters
        self.version = version if version is not None else (metadata.version if metadata else None)
        self.log_prints = log_prints
        self.retries = retries
        self.storage = storage
        self.entrypoint = entrypoint
        self.source_directory = source_directory

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r})"

    # --- parameters ---------------------------------------------------------------------

    @property
    def parameter_schema(self) -> dict[str, Any]:
        """The JSON schema of this flow's parameters."""
        return self.parameters.schema()

    def validate_parameters(self, parameters: dict[str, Any], *, partial: bool = False) -> dict[str, Any]:
        """Return ``parameters`` validated against the type hints, with defaults filled in.

        ``partial`` checks only the values given. Raises :class:`FlowError` naming each
        bad, unknown or missing parameter.
        """
        return self.parameters.validate(parameters, partial=partial)

    # --- running here -------------------------------------------------------------------

    def _function(self) -> Callable[..., Any]:
        if self.fn is None:
            from stowflow.flows.entrypoints import load_flow_from_entrypoint

            assert self.entrypoint is not None and self.source_directory is not None
            loaded = load_flow_from_entrypoint(self.entrypoint, self.source_directory)
            self.fn = loaded.fn
            self.parameters = loaded.parameters
        assert self.fn is not None
        return self.fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the flow in this process: validate the arguments, call, retry on failure.

        An ``async def`` flow is run to completion with :func:`asyncio.run`; called from
        inside a running event loop it returns the coroutine for the caller to await
        (without retries).
        """
        fn = self._function()
        signature = inspect.signature(fn)
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values()):
            call_args, call_kwargs = args, kwargs
        else:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise FlowError(f"flow '{self.name}': {exc}") from None
            values = dict(bound.arguments)
            extra = values.pop(
                next((p.name for p in signature.parameters.values()
                      if p.kind is inspect.Parameter.VAR_KEYWORD), ""), {}
            )
            call_args, call_kwargs = (), {**self.validate_parameters(values), **extra}
        attempt = 0
        while True:
            try:
                with _prints_logged(logging.getLogger(f"stowflow.flows.{self.name}")) \
                        if self.log_prints else contextlib.nullcontext():
                    result = fn(*call_args, **call_kwargs)
                    if inspect.iscoroutine(result) and not _loop_running():
                        result = asyncio.run(result)  # an async flow called from sync code
                    return result
            except Exception as exc:
                if attempt >= self.retries:
                    raise
                attempt += 1
                log.warning("flow '%s' failed (%s: %s); retry %d of %d", self.name,
                            type(exc).__name__, exc, attempt, self.retries)

    # --- deploying ----------------------------------------------------------------------

    @_SourceMethod
    def from_source(cls, instance: Flow | None, source: Any, entrypoint: str) -> Flow:
        """Return a flow whose code lives in ``source`` at ``entrypoint``.

        ``source`` is a local path, a URL (git or object store, resolved through the storage
        plugins), a :class:`~stowflow.storage.base.Storage`, or a storage block (anything
        with ``get_directory``). The code is fetched (through the shared cache for remote
        sources) and the flow's metadata is read with ``ast``; nothing is imported. Calls
        for the same source, ref, settings and credentials within a minute share one pull
        (:func:`stowflow.flows.sources.pull_source`), so deploying many flows from one
        repository fetches it once.
        Works as ``Flow.from_source(...)``, ``flow.from_source(...)`` and
        ``my_flow.from_source(...)`` (then ``log_prints`` and ``retries`` carry over).
        """
        from stowflow.flows.sources import pull_source
        from stowflow.storage.resolve import resolve

        storage = resolve(source)
        directory = Path(pull_source(storage).directory)
        metadata = read_flow_metadata(entrypoint, directory)
        return cls(
            metadata=metadata,
            storage=storage,
            entrypoint=entrypoint,
            source_directory=directory,
            log_prints=instance.log_prints if instance else False,
            retries=instance.retries if instance else 0,
        )

    def deploy(
        self,
        name: str,
        work_pool_name: str,
        image: Any = None,
        job_variables: dict[str, Any] | None = None,
        parameters: dict[str, Any] | None = None,
        description: str | None = None,
        tags: list[str] | None = None,
        version: str | None = None,
        enforce_parameter_schema: bool = True,
        build: bool = True,
        push: bool = True,
        work_queue_name: str | None = None,
        concurrency_limit: int | None = None,
        cron: str | None = None,
        interval: Any = None,
        rrule: str | None = None,
        timezone: str | None = None,
        schedules: list[Any] | None = None,
        paused: bool | None = None,
        create_missing: bool = False,
    ) -> str:
        """Record a deployment of this flow in work pool ``work_pool_name``; return its id.

        The deployment stores ``storage.to_pull_step()`` (unresolved) so a worker can fetch
        the code. Without a source (``from_source``) an ``image`` is required: a name, or an
        image object of the pool type's plugin (``stowflow_docker.DockerImage``), built
        (``build``) from the current directory with the code baked in and pushed (``push``)
        by the pool type. Redeploying
        updates the deployment and records a new version. ``cron`` (in ``timezone``),
        ``interval`` (seconds or a timedelta), ``rrule`` and ``schedules`` (a list of
        ``{cron|interval|rrule, timezone, anchor_date, active, parameters,
        max_active_runs}``) set its schedules. ``create_missing`` creates a missing work
        pool or queue instead of failing.
        """
        from stowflow.flows.deploy import deploy_flow

        return deploy_flow(
            self, name=name, work_pool_name=work_pool_name, image=image,
            job_variables=job_variables, parameters=parameters, description=description,
            tags=tags, version=version, enforce_parameter_schema=enforce_parameter_schema,
            build=build, push=push, work_queue_name=work_queue_name,
            concurrency_limit=concurrency_limit, cron=cron, interval=interval, rrule=rrule,
            timezone=timezone, schedules=schedules, paused=paused,
            create_missing=create_missing,
        )

    def serve(self, name: str, **kwargs: Any) -> Any:
        """Create deployment ``name`` and run its runs in this process (until Ctrl-C)."""
        from stowflow.flows.serve import serve_flow

        return serve_flow(self, name, **kwargs)


@overload
def flow(__fn: Callable[..., Any]) -> Flow: ...


@overload
def flow(
    __fn: None = None, *, name: str | None = None, description: str | None = None,
    version: str | None = None, log_prints: bool = False, retries: int = 0,
) -> Callable[[Callable[..., Any]], Flow]: ...


def flow(
    __fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    version: str | None = None,
    log_prints: bool = False,
    retries: int = 0,
) -> Flow | Callable[[Callable[..., Any]], Flow]:
    """Make a function a :class:`Flow`; use as ``@flow`` or ``@flow(name=..., ...)``.

    ``name`` defaults to the function name with dashes for underscores; ``description``
    to its docstring; ``log_prints`` also logs ``print`` output; ``retries`` reruns a
    failed call that many times.
    """

    def decorate(fn: Callable[..., Any]) -> Flow:
        return Flow(fn, name=name, description=description, version=version,
                    log_prints=log_prints, retries=retries)

    if __fn is not None:
        return decorate(__fn)
    return decorate


def _attach_from_source() -> None:
    # ``flow.from_source(...)`` as design.md writes it: the decorator function carries it too.
    flow.from_source = Flow.from_source  # type: ignore[attr-defined]


_attach_from_source()
