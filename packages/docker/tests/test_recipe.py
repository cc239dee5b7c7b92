"""`stowflow init --recipe docker` and `stowflow deploy --all`: one build shared by many deployments."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from stowflow.cli.app import main
from stowflow.db import DeploymentRecord, session
from stowflow.testing.servers.docker import DockerDaemon
from stowflow.workers.pools import create_pool

pytestmark = pytest.mark.slow


def test_deploy_all_builds_once_and_templates_the_image(
        docker_env: DockerDaemon, project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project)
    assert main(["init", "--recipe", "docker", "--entrypoint", "flows.py:hello"]) == 0
    config = yaml.safe_load((project / "stowflow.yaml").read_text())
    config["build"][0]["stowflow_docker.deployments.steps.build_docker_image"][
        "image_name"] = "stowflow-test/many"
    first = config["deployments"][0]
    config["deployments"] = [{**first, "name": f"d{i}"} for i in range(3)]
    (project / "stowflow.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    create_pool("my-docker-pool", type="docker")
    capsys.readouterr()
    assert main(["deploy", "--all"]) == 0
    err = capsys.readouterr().err
    assert err.count("Step 1/") == 1  # one build for the three deployments
    with session() as db:
        records = list(db.query(DeploymentRecord).order_by(DeploymentRecord.name))
    images = {r.job_variables["image"] for r in records}
    assert [r.name for r in records] == ["d0", "d1", "d2"]
    assert len(images) == 1 and next(iter(images)).startswith("stowflow-test/many:")
    assert all(r.pull_steps == [{"stowflow.deployments.steps.set_working_directory":
                                 {"directory": "/opt/stowflow/flows"}}] for r in records)
