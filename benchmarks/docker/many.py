"""Benchmark: 10 deployments from one project that share one ``build:`` and ``push:``.

One project, one ``stowflow.yaml`` whose ``build:`` (``build_docker_image``, auto
Dockerfile) and ``push:`` (``push_docker_image`` to the test registry with a credentials
block) sections are shared by 10 deployments (``job_variables.image: '{{ push-image.image
}}'``). Measured in the same run:

- **deploy --all**: one ``stowflow deploy --all``;
- **one by one**: ``stowflow deploy dN`` for each of the 10, as a tool that runs the
  build and push per deployment does (each time after a code change, so every build is a
  real one and every push sends a new manifest).

It counts the image builds (``Step 1/`` in the output) and the manifests the registry
received (its access log), and times both. Starts its own dockerd (or uses
``DOCKER_HOST``), the test fixtures' registry and offline base image.

Run: ``.nox/tests/bin/python benchmarks/docker/many.py [--quick]`` (``--quick``: 4
deployments).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

FLOW = 'from stowflow import flow\n\n\n@flow\ndef hello():\n    print("v{n}")\n'


def _deploy(args: list[str]) -> tuple[float, str]:
    from stowflow.cli.app import main as cli

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["deploy", *args])
    seconds = time.perf_counter() - start
    assert code == 0, f"deploy {args} exited {code}: {err.getvalue()[-2000:]}"
    return seconds, out.getvalue() + err.getvalue()


def _manifests(registry, name: str) -> int:  # type: ignore[no-untyped-def]
    return registry.log_text().count(f"PUT /v2/{name}/manifests/")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 4 if args.quick else 10

    from stowflow.testing.servers.docker import (
        ensure_python_base_image,
        start_docker_daemon,
        start_docker_registry,
    )

    daemon = start_docker_daemon()
    registry = start_docker_registry()
    base = Path(tempfile.mkdtemp(prefix="stowflow-docker-many-"))
    os.environ.update(DOCKER_HOST=daemon.host, STOWFLOW_HOME=str(base / "home"),
                      STOWFLOW_DOCKER_BUILD_NETWORK="host")
    os.environ.pop("STOWFLOW_DATABASE_URL", None)
    cwd = Path.cwd()
    try:
        os.environ["STOWFLOW_DOCKER_BASE_IMAGE"] = ensure_python_base_image(daemon)
        from stowflow.workers.pools import create_pool
        from stowflow_docker import DockerRegistryCredentials

        DockerRegistryCredentials(username=registry.username, password=registry.password,
                                  registry_url=registry.address).save("bench")
        create_pool("many", type="docker")
        project = base / "project"
        project.mkdir()
        repository = "bench/many"
        credentials = "{{ stowflow.blocks.docker-registry-credentials.bench }}"
        (project / "stowflow.yaml").write_text(json.dumps({
            "build": [{"stowflow_docker.deployments.steps.build_docker_image": {
                "id": "build-image", "image_name": f"{registry.address}/{repository}"}}],
            "push": [{"stowflow_docker.deployments.steps.push_docker_image": {
                "id": "push-image", "image_name": "{{ build-image.image_name }}",
                "tag": "{{ build-image.tag }}", "credentials": credentials}}],
            "pull": [{"stowflow.deployments.steps.set_working_directory": {
                "directory": "{{ build-image.code_directory }}"}}],
            "deployments": [{"name": f"d{i}", "entrypoint": "flows.py:hello",
                             "work_pool": {"name": "many", "job_variables": {
                                 "image": "{{ push-image.image }}",
                                 "registry_credentials": credentials}}}
                            for i in range(count)],
        }))
        os.chdir(project)
        version = 0

        def change() -> None:
            nonlocal version
            version += 1
            (project / "flows.py").write_text(FLOW.format(n=version))

        change()
        _deploy(["--all"])  # warm-up: the base layers and stowflow's wheels, built once
        change()
        before = _manifests(registry, repository)
        together, output = _deploy(["--all"])
        together_builds = output.count("Step 1/")
        together_pushes = _manifests(registry, repository) - before
        before = _manifests(registry, repository)
        one_by_one, builds = 0.0, 0
        for i in range(count):
            change()
            seconds, output = _deploy([f"d{i}"])
            one_by_one += seconds
            builds += output.count("Step 1/")
        pushes = _manifests(registry, repository) - before
        print(f"{count} deployments sharing one build: machine load {os.getloadavg()[0]:.1f}")
        print(f"deploy --all   {together:7.2f} s  builds {together_builds:2d}  "
              f"pushes {together_pushes:2d}")
        print(f"one by one     {one_by_one:7.2f} s  builds {builds:2d}  pushes {pushes:2d}")
        print(f"ratio one-by-one / --all: {one_by_one / together:.1f}x")
    finally:
        os.chdir(cwd)
        registry.stop()
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
