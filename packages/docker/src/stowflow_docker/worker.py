"""The ``docker`` work pool type: each claimed run in a fresh container of the deployment's image.

Claiming, heartbeats, cancellation grace and crash reaping are core's
:class:`~stowflow.workers.worker.Worker`; this module is only its launcher. For each run,
:meth:`DockerLauncher.launch` (the ``resolve`` and ``auth`` phases, on the worker):

- reads the job variables (the pool's ``base_job_template`` overlaid with the
  deployment's ``job_variables``; ``env`` merged key by key as for process pools);
- resolves the pull steps' placeholders here (blocks, variables), so the container needs
  no database: it gets them, with the secret values to redact, on stdin — never in its
  environment, command or labels, so ``docker inspect`` shows none of them;
- pulls the image per ``image_pull_policy`` (with ``registry_credentials``, sent to the
  daemon in the request's auth header), and records its id as the run's code version
  until the pull steps report a commit or version;
- starts the container (``python -m stowflow_docker.container``) and a thread that turns
  its stdout messages into run states, phase events and log lines as they arrive.

A container that ends without reporting a final state is CRASHED by the worker with its
exit code and output tail; an out-of-memory kill says so. A worker that loses its daemon
(a remote one whose network went away) for :data:`DAEMON_GRACE` seconds marks the run
CRASHED with that reason: the container cannot report any more, and it stops by itself
once the worker's attach connection is gone (its stdin closes) or, when the network went
silent instead (a partition closes nothing), once the worker's keepalive newlines on its
stdin stop for :data:`LIFELINE_S` seconds. The worker inspects its containers with a short
timeout (:data:`POLL_TIMEOUT`), so an unanswering daemon never blocks its loop for long;
a finished run's output stream is closed, so no reader thread stays behind on a dead
connection. A container the worker could not remove when its run ended (the daemon was out
of reach) is removed by the next docker worker on that daemon, before its first run
(:meth:`DockerLauncher.sweep_leftovers`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, SecretStr
from stowflow.errors import (
    ConfigError,
    DaemonUnreachableError,
    ImageNotFoundError,
    NotFoundError,
    StowflowError,
)
from stowflow.placeholders import is_placeholder
from stowflow.redact import redact
from stowflow.runs import (
    InvalidTransitionError,
    State,
    deployment_for_run,
    get_flow_run,
    is_final,
    is_image_id,
    phase,
    pull_steps_for,
    record_event,
    set_state,
    update_run,
    write_logs,
)
from stowflow.workers.pools import get_pool
from stowflow.workers.pools import job_variables as pool_job_variables

from stowflow_docker._client import docker_client
from stowflow_docker._errors import translated
from stowflow_docker.container import MARKER

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container
    from stowflow.db import FlowRunRecord

log = logging.getLogger(__name__)

#: The job variables a docker pool honours (``env`` is core's).
JOB_VARIABLES = frozenset({"image", "env", "network_mode", "volumes", "mem_limit",
                           "auto_remove", "image_pull_policy", "registry_credentials"})
PULL_POLICIES = ("always", "if_not_present", "never")
COMMAND = ["python", "-m", "stowflow_docker.container"]
LABEL_RUN, LABEL_WORKER = "io.stowflow.flow-run-id", "io.stowflow.worker"
#: Set on containers of ``auto_remove: false`` runs: kept for inspection, even when reaped.
LABEL_KEEP = "io.stowflow.keep"
#: Where a container's EXTRA_PIP_PACKAGES layers live (a volume per image).
CONTAINER_HOME = "/opt/stowflow/home"
#: Never given to a container, whatever the job environment says: it has no database.
_NEVER_PASSED = frozenset({"STOWFLOW_DATABASE_URL", "STOWFLOW_SECRET_KEY"})
_NO_STOWFLOW = ("No module named stowflow_docker", "No module named 'stowflow")
#: Seconds a run's daemon may stay unreachable before the worker gives the run up (CRASHED).
DAEMON_GRACE = 10.0
#: Seconds a container waits without a keepalive from its worker before it stops itself
#: (below the worker's default crash timeout of 60 s: it is gone before it is reaped).
LIFELINE_S = 30.0
#: Seconds between the worker's keepalive newlines on a container's stdin.
KEEPALIVE_INTERVAL = 2.0
#: Seconds one inspection of a run's container may take (the client's default is 300).
POLL_TIMEOUT = 10


def job_variables(run: FlowRunRecord, deployment: dict[str, Any]) -> dict[str, Any]:
    """Return the run's job variables: the pool's defaults overlaid with the deployment's."""
    pool = None
    if run.work_pool_name:
        with contextlib.suppress(Exception):
            pool = get_pool(run.work_pool_name)
    own = deployment.get("job_variables") or {}
    merged = pool_job_variables(pool, own)
    if not own.get("image") and deployment.get("image"):  # deploy(image=) beats the pool's
        merged["image"] = deployment["image"]
    return merged


def check_variables(variables: dict[str, Any], *, need_image: bool = True) -> None:
    """Refuse job variable values a container cannot honour (one clear ConfigError).

    ``need_image=False`` checks a pool's defaults, where the image may be left to each
    deployment."""
    policy = variables.get("image_pull_policy") or "if_not_present"
    if policy not in PULL_POLICIES:
        raise ConfigError(f"image_pull_policy {policy!r} is not one of {', '.join(PULL_POLICIES)}")
    if need_image and not variables.get("image"):
        raise ConfigError("the deployment names no image",
                          hint="deploy with image=... or set job_variables.image")
    for key, kind in (("image", str), ("volumes", (list, dict)), ("auto_remove", bool),
                      ("network_mode", str), ("mem_limit", (str, int)), ("env", dict),
                      ("registry_credentials", (str, dict))):
        value = variables.get(key)
        wrong_bool = isinstance(value, bool) and kind is not bool  # True is an int
        if value is not None and (wrong_bool or not isinstance(value, kind)):
            raise ConfigError(f"job variable {key} has the wrong type: {type(value).__name__}",
                              hint=_SHAPES[key])
    _check_volumes(variables.get("volumes"))
    limit = variables.get("mem_limit")
    if isinstance(limit, str) and "{{" not in limit:
        from docker.errors import DockerException
        from docker.utils import parse_bytes

        try:
            parse_bytes(limit)
        except DockerException as exc:
            raise ConfigError(f"job variable mem_limit {limit!r} is not a size",
                              hint=_SHAPES["mem_limit"]) from exc
    credentials = variables.get("registry_credentials")
    if isinstance(credentials, str) and credentials and not is_placeholder(credentials):
        raise ConfigError("registry_credentials must be a block placeholder such as "
                          "'{{ stowflow.blocks.docker-registry-credentials.NAME }}'")


_SHAPES = {
    "image": "an image reference, e.g. registry.example.com/team/flows:1",
    "volumes": "a list of 'HOST:CONTAINER[:ro|rw]' strings, or a mapping HOST -> "
               "{bind: CONTAINER, mode: ro|rw}",
    "auto_remove": "true or false",
    "network_mode": "a Docker network mode, e.g. host, none or a network's name",
    "mem_limit": "bytes (an integer) or a size such as '512m' or '2g'",
    "env": "a mapping NAME -> value",
    "registry_credentials": "'{{ stowflow.blocks.docker-registry-credentials.NAME }}'",
}


_MOUNT_OPTIONS = frozenset({"ro", "rw", "z", "Z", "nocopy", "shared", "slave", "private",
                            "rshared", "rslave", "rprivate"})


def _check_volumes(volumes: Any) -> None:
    """Refuse a ``volumes`` entry Docker could not mount (the SDK would fail at run time)."""
    entries: list[tuple[Any, Any, Any]]
    if isinstance(volumes, dict):
        entries = [(str(host), spec.get("bind"), spec.get("mode", "rw"))
                   if isinstance(spec, dict) else (str(host), None, None)
                   for host, spec in volumes.items()]
    else:
        entries = []
        for item in volumes or []:
            parts = item.split(":") if isinstance(item, str) else []
            entries.append((parts[0] if parts else None, parts[1] if len(parts) > 1 else None,
                            parts[2] if len(parts) == 3 else "rw" if len(parts) == 2 else None))
    for host, bind, mode in entries:
        if not (host and isinstance(bind, str) and bind.startswith("/")
                and isinstance(mode, str) and set(mode.split(",")) <= _MOUNT_OPTIONS):
            raise ConfigError(f"job variable volumes has an entry Docker cannot mount: "
                              f"{host}:{bind}:{mode}", hint=_SHAPES["volumes"])


def block_secrets(value: Any) -> list[str]:
    """Return every secret value in a block (nested blocks and models included)."""
    found: list[str] = []
    if isinstance(value, SecretStr):
        found.append(value.get_secret_value())
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            found += block_secrets(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            found += block_secrets(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found += block_secrets(item)
    return found


def resolve_for_container(pull_steps: list[Any]) -> tuple[list[Any], list[str], list[str]]:
    """Resolve the pull steps here; return them, the secret values they carry, the blocks."""
    from stowflow.blocks import Block
    from stowflow.steps.templating import placeholders, resolve

    refs = sorted({".".join(expr.split(".")[2:4]) for expr in placeholders(pull_steps)
                   if expr.startswith("stowflow.blocks.")})
    secrets: list[str] = []
    for ref in refs:
        secrets += block_secrets(Block.load(ref.replace(".", "/", 1)))
    return resolve(pull_steps, step="pull steps"), secrets, [r.replace(".", "/", 1) for r in refs]


def registry_credentials(value: Any) -> Any:
    """Return a DockerRegistryCredentials for a job variable (placeholder resolved) or None."""
    if value in (None, ""):
        return None
    from stowflow.steps.templating import resolve

    from stowflow_docker.deployments.steps import as_credentials

    resolved = resolve(value, step="registry_credentials")
    if isinstance(resolved, str):
        raise ConfigError("registry_credentials must be a block placeholder such as "
                          "'{{ stowflow.blocks.docker-registry-credentials.NAME }}'")
    return as_credentials(resolved)


def pinned_image(client: docker.DockerClient, run: FlowRunRecord) -> str:
    """Return the image id a retry is pinned to, when this Docker host has it; else an
    ImageNotFoundError (an image id is a host's own: it cannot be pulled by id)."""
    import docker.errors

    image_id = str(run.pinned_code_version)
    try:
        return str(client.images.get(image_id).id)
    except docker.errors.ImageNotFound:
        raise ImageNotFoundError(
            f"flow run {run.id} reruns image {image_id} (the image the retried run "
            f"{run.retry_of} ran), and this Docker host no longer has it",
            hint="run it on the worker host that has the image, or retry with --latest-code"
        ) from None


def ensure_image(client: docker.DockerClient, image: str, policy: str,
                 credentials: Any) -> tuple[str, bool]:
    """Make ``image`` present per ``policy``; return its id and whether it was pulled."""
    import docker.errors

    from stowflow_docker.images import split_reference

    local = None
    with contextlib.suppress(docker.errors.ImageNotFound):
        local = client.images.get(image)
    if local is not None and policy != "always":
        return str(local.id), False
    if policy == "never":
        raise ImageNotFoundError(f"image {image} is not on the Docker host and "
                                 "image_pull_policy is 'never'",
                                 hint="pull or build it there, or use if_not_present")
    auth = credentials.auth_config() if credentials is not None else None
    tag: str | None
    if "@" in image:  # pinned by digest: the daemon takes the digest as the tag
        repository, tag = image.split("@", 1)
    else:
        repository, tag = split_reference(image)
    with translated("pulling", image):
        pulled = client.images.pull(repository, tag=tag or "latest", auth_config=auth)
    return str(pulled.id), True


@dataclass
class ContainerRun:
    """A run executing in a container, reported back through its stdout."""

    run_id: str
    worker_name: str
    container: Container
    stdin: Any
    remove: bool
    mem_limit: Any = None
    #: Seconds the daemon may stay unreachable before the run is given up.
    daemon_grace: float = DAEMON_GRACE
    #: The container as seen by a client with a short timeout (for :meth:`poll`).
    watched: Container | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    got_running: bool = False
    got_final: bool = False
    _reader: threading.Thread | None = None
    _stream: Any = None
    _exit_code: int | None = None
    _lost_since: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def start_reading(self) -> None:
        """Start the threads that follow the container's output and keep its stdin alive."""
        self._reader = threading.Thread(target=self._read, name=f"stowflow-docker-{self.run_id}",
                                        daemon=True)
        self._reader.start()
        threading.Thread(target=self._keep_alive, name=f"stowflow-docker-alive-{self.run_id}",
                         daemon=True).start()

    def _keep_alive(self) -> None:
        """Write a newline to the container's stdin every KEEPALIVE_INTERVAL seconds: its
        lifeline (it stops itself when they stop coming)."""
        sock = getattr(self.stdin, "_sock", self.stdin)
        while not self._done.wait(KEEPALIVE_INTERVAL):
            try:
                sock.sendall(b"\n")
            except OSError:  # the connection is gone: the container noticed it too
                return

    def _read(self) -> None:
        buffer = b""
        try:
            # docker-py reads a followed stream without a timeout: cleanup() closes it.
            self._stream = self.container.logs(stream=True, follow=True, stdout=True,
                                               stderr=True)
            if self._done.is_set():  # cleaned up while the request was on its way
                self._stream.close()
            for chunk in self._stream:
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self._handle(line.decode(errors="replace"))
            if buffer:
                self._handle(buffer.decode(errors="replace"))
        except Exception as exc:  # the daemon went away: poll() settles the run
            if self._done.is_set():  # cleanup() closed the stream: the run is settled
                return
            log.warning("flow run %s: lost the container's output: %s", self.run_id, exc)
            with contextlib.suppress(Exception):
                write_logs(self.run_id, [("WARNING", "the worker lost the container's output "
                                          f"stream: {type(exc).__name__}: {exc}")])

    def _handle(self, line: str) -> None:
        if not line.startswith(MARKER):
            if line.strip():
                self.tail.append(redact(line))
                write_logs(self.run_id, [("INFO", line)])
            return
        message = json.loads(line[len(MARKER):])
        if "logs" in message:
            write_logs(self.run_id, [(str(lv), str(m)) for lv, m in message["logs"]])
        elif "event" in message:
            event = message["event"]
            record_event(self.run_id, event["phase"], status=event["status"],
                         duration_s=event.get("duration_s"), details=event.get("details"))
        elif "running" in message:
            self.got_running = True
            self._transition(State.RUNNING, None, worker_name=self.worker_name)
        elif "code_version" in message:
            update_run(self.run_id, code_version=str(message["code_version"])[:200])
        elif "final" in message:
            self.got_final = True
            final = message["final"]
            self._transition(State(final["state"]), final.get("message"))

    def _transition(self, state: State, message: str | None, **fields: Any) -> None:
        try:
            set_state(self.run_id, state, message=message, **fields)
        except InvalidTransitionError as exc:  # cancelled or reaped meanwhile
            log.info("flow run %s: %s", self.run_id, exc)

    def poll(self) -> int | None:
        """Return the container's exit code once it ended and its output was read."""
        if self._exit_code is not None:
            return self._exit_code
        import docker.errors

        try:
            with translated("inspecting the container of flow run", self.run_id):
                try:
                    watched = self.watched or self.container
                    watched.reload()
                    self.container.attrs = watched.attrs
                    status = self.container.attrs.get("State", {})
                except docker.errors.NotFound:  # removed under us (docker rm -f): it has ended
                    status = {"Running": False, "ExitCode": 0 if self.got_final else -1}
        except DaemonUnreachableError as exc:
            return self._daemon_lost(exc)
        self._lost_since = None
        if status.get("Running") or status.get("Status") in ("created", "restarting"):
            return None
        if self._reader is not None:
            self._reader.join(timeout=10)
        code = int(status.get("ExitCode", -1))
        if not self.got_final:
            self._explain(code, status)
        self._exit_code = code
        return code

    def _daemon_lost(self, exc: DaemonUnreachableError) -> int | None:
        """The daemon did not answer: wait ``daemon_grace`` seconds for it, then give the
        run up as CRASHED with the reason (returns -1 then, ``None`` while waiting)."""
        now = time.monotonic()
        if self._lost_since is None:
            self._lost_since = now
            log.warning("flow run %s: the Docker daemon does not answer: %s", self.run_id, exc)
        if now - self._lost_since < self.daemon_grace:
            return None
        host = os.environ.get("DOCKER_HOST") or "the default socket"
        reason = (f"the worker lost the connection to the Docker daemon ({host}) running the "
                  f"container for {self.daemon_grace:g} s: {exc}; the container stops by "
                  "itself once the worker's attach connection is gone")
        if not self.got_final:  # else the run ended and only its container is out of reach
            write_logs(self.run_id, [("ERROR", reason)])
            self._transition(State.CRASHED, reason)
        self._exit_code = -1
        return -1

    def _explain(self, code: int, status: dict[str, Any]) -> None:
        """Say why a container ended without a final state, where the worker cannot tell."""
        image = self.container.attrs.get("Config", {}).get("Image")
        if status.get("OOMKilled"):
            reason = (f"the container ran out of memory (mem_limit {self.mem_limit}) and was "
                      "killed" if self.mem_limit else "the container ran out of memory")
            write_logs(self.run_id, [("ERROR", reason)])
            self._transition(State.CRASHED, reason)
        elif not self.got_running and any(m in line for line in self.tail for m in _NO_STOWFLOW):
            reason = (f"image {image} has no stowflow in it: install stowflow and "
                      "stowflow-docker in the image (pip install stowflow-docker), or build "
                      "it with build_docker_image (dockerfile: auto)")
            write_logs(self.run_id, [("ERROR", reason)])
            self._transition(State.FAILED, reason)

    def terminate(self) -> None:
        """Send SIGTERM to the container's process."""
        with contextlib.suppress(Exception):
            (self.watched or self.container).kill(signal="SIGTERM")

    def kill(self) -> None:
        """Kill the container now."""
        with contextlib.suppress(Exception):
            (self.watched or self.container).kill()

    def output_tail(self) -> str:
        """Return the last raw lines the container printed (redacted)."""
        return "\n".join(self.tail)

    def cleanup(self) -> None:
        """Close the container's stdin and remove it (unless ``auto_remove`` is false)."""
        self._done.set()
        with contextlib.suppress(Exception):
            self.stdin.close()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.close()
        if self.remove:
            with contextlib.suppress(Exception):
                (self.watched or self.container).remove(force=True)


@dataclass
class DockerLauncher:
    """Starts each claimed run of a docker pool in a container (see the module docstring)."""

    pool: str
    #: Seconds a run's daemon may stay unreachable before the run is CRASHED.
    daemon_grace: float = DAEMON_GRACE
    #: Seconds a container goes on without its worker's keepalive (``None``: for ever).
    lifeline_s: float | None = LIFELINE_S
    #: Seconds one inspection of a container may take.
    poll_timeout: int = POLL_TIMEOUT
    _client: docker.DockerClient | None = None
    _poll_client: docker.DockerClient | None = None
    _swept: bool = False

    @property
    def client(self) -> docker.DockerClient:
        """The Docker client (opened on first use, from the environment)."""
        if self._client is None:
            self._client = docker_client()
        return self._client

    @property
    def poll_client(self) -> docker.DockerClient:
        """A client of the same daemon whose calls give up after ``poll_timeout`` seconds."""
        if self._poll_client is None:
            self._poll_client = docker_client(timeout=self.poll_timeout)
        return self._poll_client

    def sweep_leftovers(self) -> list[str]:
        """Remove the stopped containers of finished runs that were to be removed (no
        ``auto_remove: false``) but are still on this daemon — their worker could not reach
        it when the run ended; return the run ids. Runs this database does not know, and
        containers still running, are left alone."""
        removed: list[str] = []
        try:
            with translated("listing the containers of finished runs on", "this daemon"):
                stopped = self.poll_client.containers.list(
                    all=True, filters={"label": LABEL_RUN,
                                       "status": ["exited", "dead", "created"]})
        except StowflowError as exc:
            log.warning("could not look for leftover containers: %s", exc)
            return removed
        for container in stopped:
            run_id = container.labels.get(LABEL_RUN, "")
            if container.labels.get(LABEL_KEEP) == "1":
                continue
            try:
                if not is_final(get_flow_run(run_id).state):
                    continue
            except NotFoundError:
                continue
            try:
                with translated("removing the container of flow run", run_id):
                    container.remove(force=True)
                removed.append(run_id)
            except StowflowError as exc:
                log.warning("flow run %s: could not remove its container: %s", run_id, exc)
        if removed:
            log.info("removed the containers of %d finished runs left on the daemon",
                     len(removed))
        return removed

    def launch(self, run: FlowRunRecord, worker_name: str) -> ContainerRun:
        """Resolve the run, pull its image, start its container; return the handle (the
        first launch removes what earlier workers left: :meth:`sweep_leftovers`)."""
        if not self._swept:
            self._swept = True
            self.sweep_leftovers()
        with phase(run.id, "resolve") as p:
            deployment = deployment_for_run(run)
            variables = job_variables(run, deployment)
            check_variables(variables)
            image = str(variables["image"])
            policy = variables.get("image_pull_policy") or "if_not_present"
            credentials = registry_credentials(variables.get("registry_credentials"))
            if is_image_id(run.pinned_code_version):  # a retry on the image the run ran
                image_id, pulled = pinned_image(self.client, run), False
            else:
                image_id, pulled = ensure_image(self.client, image, policy, credentials)
            p.details.update(deployment=f"{deployment['flow_name']}/{deployment['name']}",
                             deployment_version=run.deployment_version, image=image,
                             image_id=image_id, pulled=pulled, env=sorted(variables["env"]))
        update_run(run.id, code_version=image_id[:200])
        with phase(run.id, "auth") as p:
            pull_steps, secrets, blocks = resolve_for_container(
                pull_steps_for(run, list(deployment.get("pull_steps") or [])))
            p.details["blocks"] = blocks
            if not blocks:
                p.status = "skipped"
        job = {"run_id": run.id, "entrypoint": deployment["entrypoint"],
               "deployment": f"{deployment['flow_name']}/{deployment['name']}",
               "parameters": run.parameters or {}, "pull_steps": pull_steps,
               "secrets": secrets, "lifeline_s": self.lifeline_s}
        return self._start(run, worker_name, image, image_id, variables, job)

    def _start(self, run: FlowRunRecord, worker_name: str, image: str, image_id: str,
               variables: dict[str, Any], job: dict[str, Any]) -> ContainerRun:
        env = {k: v for k, v in variables["env"].items() if k not in _NEVER_PASSED}
        env = {**env, "STOWFLOW_FLOW_RUN_ID": run.id, "STOWFLOW_HOME": CONTAINER_HOME,
               "PYTHONUNBUFFERED": "1"}
        volumes = variables.get("volumes") or []
        if env.get("EXTRA_PIP_PACKAGES"):
            # Installs are cached across runs of the same image.
            volume = f"stowflow-envlayers-{image_id.split(':')[-1][:16]}"
            volumes = ([*volumes, f"{volume}:{CONTAINER_HOME}/cache/envlayers"]
                       if isinstance(volumes, list) else
                       {**volumes, volume: {"bind": f"{CONTAINER_HOME}/cache/envlayers",
                                            "mode": "rw"}})
        options: dict[str, Any] = {
            "command": COMMAND, "environment": env, "stdin_open": True,  # docker-py sets StdinOnce with it
            "labels": {LABEL_RUN: run.id, LABEL_WORKER: worker_name,
                       **({} if variables.get("auto_remove", True) else {LABEL_KEEP: "1"})},
            "name": f"stowflow-{run.id[:12]}-{worker_name[-6:]}".replace("/", "-"),
            "volumes": volumes or None, "network_mode": variables.get("network_mode"),
            "mem_limit": variables.get("mem_limit"),
        }
        watcher = self.poll_client  # opened (and pinged) before there is a container
        with translated("starting a container of", image):
            container = self.client.containers.create(image_id, **{
                k: v for k, v in options.items() if v is not None})
            stdin = container.attach_socket(params={"stdin": 1, "stream": 1})
            container.start()
            sock = getattr(stdin, "_sock", stdin)
            sock.sendall((json.dumps(job) + "\n").encode())
        handle = ContainerRun(run.id, worker_name, container, stdin,
                              remove=bool(variables.get("auto_remove", True)),
                              mem_limit=variables.get("mem_limit"),
                              daemon_grace=self.daemon_grace,
                              watched=watcher.containers.prepare_model(
                                  dict(container.attrs)))
        handle.start_reading()
        return handle

    def reaped(self, run_ids: list[str]) -> None:
        """Remove the containers of runs marked CRASHED because their worker died (they
        stopped when its connection closed; this takes them off the Docker host)."""
        for run_id in run_ids:
            try:
                with translated("removing the container of flow run", run_id):
                    for container in self.client.containers.list(
                            all=True, filters={"label": f"{LABEL_RUN}={run_id}"}):
                        if container.labels.get(LABEL_KEEP) != "1":
                            container.remove(force=True)
            except StowflowError as exc:  # the daemon is elsewhere or away: not this run's end
                log.warning("flow run %s: could not remove its container: %s", run_id, exc)

    def close(self) -> None:
        """Close the Docker client (the worker is stopping)."""
        for client in (self._client, self._poll_client):
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()


def make_launcher(pool: str) -> DockerLauncher:
    """Return the launcher of a docker pool's worker (the worker type's factory)."""
    return DockerLauncher(pool)


__all__ = ["JOB_VARIABLES", "ContainerRun", "DockerLauncher", "make_launcher"]
