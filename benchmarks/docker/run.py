"""Benchmark: a code-only change, rebuilt with stowflow's auto Dockerfile and with a naive one.

A project whose ``requirements.txt`` takes a while to install (several packages from PyPI)
is built once with each Dockerfile, then one line of its flow changes and each is rebuilt:

- **auto** (``build_docker_image``, ``dockerfile: auto``): dependencies, then stowflow, then
  the code in the last layer, so the rebuild copies one small layer;
- **naive** (the anchor tool's layout): ``COPY . .`` then ``pip install -r requirements.txt``,
  so any change to a file reinstalls every requirement.

Both start from the same base image and stowflow wheels; the ratio (naive rebuild / auto
rebuild) is measured in the same run. Starts its own dockerd (or uses ``DOCKER_HOST``) and the
offline base image of the test fixtures. Needs PyPI through this machine's pip configuration.

Run: ``.nox/tests/bin/python benchmarks/docker/run.py [--quick]`` (``--quick``: fewer
requirements).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

REQUIREMENTS = ["requests", "python-dateutil", "attrs", "tabulate", "click", "jinja2",
                "pyparsing", "six", "toolz", "tenacity", "rich", "pydantic"]
FLOW = 'from stowflow import flow\n\n\n@flow\ndef hello():\n    print("v{n}")\n'


def main() -> None:
    """Build, change the code, rebuild; print the seconds and the ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from stowflow.testing.servers.docker import ensure_python_base_image, start_docker_daemon

    daemon = start_docker_daemon()
    os.environ["DOCKER_HOST"] = daemon.host
    home = tempfile.mkdtemp(prefix="sf-bench-docker-")
    os.environ["STOWFLOW_HOME"] = home
    try:
        base = ensure_python_base_image(daemon)
        os.environ["STOWFLOW_DOCKER_BASE_IMAGE"] = base
        from stowflow_docker.dockerfile import CODE_DIR
        from stowflow_docker.images import DockerImage, build_image

        project = Path(home) / "project"
        project.mkdir()
        reqs = REQUIREMENTS[:4] if args.quick else REQUIREMENTS
        (project / "requirements.txt").write_text("\n".join(reqs) + "\n")
        (project / "flows.py").write_text(FLOW.format(n=1))
        (project / "Dockerfile.naive").write_text(
            f"FROM {base}\nWORKDIR {CODE_DIR}\nCOPY . .\n"
            "RUN python -m pip install --no-cache-dir -r requirements.txt\n")
        tag = str(int(time.time()))
        quiet = lambda _line: None  # noqa: E731

        def timed(image: DockerImage) -> float:
            start = time.perf_counter()
            build_image(image, project, progress=quiet)
            return time.perf_counter() - start

        auto = lambda n: DockerImage("bench/auto", tag=f"{tag}-{n}", network_mode="host")  # noqa: E731
        naive = lambda n: DockerImage("bench/naive", tag=f"{tag}-{n}",  # noqa: E731
                                      dockerfile="Dockerfile.naive", network_mode="host")
        first_auto, first_naive = timed(auto(1)), timed(naive(1))
        (project / "flows.py").write_text(FLOW.format(n=2))
        again_auto, again_naive = timed(auto(2)), timed(naive(2))
        print(f"requirements: {len(reqs)} packages from PyPI")
        print(f"first build:   auto {first_auto:7.2f} s   naive {first_naive:7.2f} s")
        print(f"code change:   auto {again_auto:7.2f} s   naive {again_naive:7.2f} s")
        print(f"ratio naive/auto on a code-only change: {again_naive / again_auto:.1f}x "
              "(target >= 5x)")
    finally:
        daemon.stop()


if __name__ == "__main__":
    main()
