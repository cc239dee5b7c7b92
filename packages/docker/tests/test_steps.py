"""build_docker_image / push_docker_image against the real daemon and registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stowflow.errors import (
    ConfigError,
    DaemonUnreachableError,
    ImageBuildError,
    ImageNotFoundError,
    RegistryAuthError,
)
from stowflow.testing import assert_no_secret
from stowflow.testing.servers.docker import DockerDaemon, DockerRegistry
from stowflow_docker import DockerRegistryCredentials
from stowflow_docker.deployments.steps import build_docker_image, push_docker_image
from stowflow_docker.dockerfile import CODE_DIR

pytestmark = pytest.mark.slow


def run_in(daemon: DockerDaemon, image: str, *command: str) -> str:
    """Run ``command`` in a throw-away container of ``image``; return its stdout."""
    return daemon.cli("run", "--rm", "--network", "none", image, *command).stdout.decode()


def test_auto_build_bakes_code_last_and_tags_by_content(
        docker_env: DockerDaemon, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / ".stowflowignore").write_text("secret-notes.txt\n")
    (project / ".dockerignore").write_text("build-junk/\n")
    (project / "secret-notes.txt").write_text("keep out")
    (project / "build-junk").mkdir()
    (project / "build-junk" / "x.bin").write_bytes(b"x")
    first = build_docker_image("stowflow-test/steps", path=str(project))
    assert set(first) == {"image_name", "tag", "image", "image_id", "code_directory"}
    assert first["code_directory"] == CODE_DIR
    assert first["image"] == f"stowflow-test/steps:{first['tag']}"
    assert first["image_id"].startswith("sha256:")
    listing = run_in(docker_env, first["image"], "sh", "-c",
                     f"cd {CODE_DIR} && find . -type f | sort && pwd")
    # ignore files honoured (secret-notes.txt, build-junk/ left out), WORKDIR set
    assert listing.split() == ["./.dockerignore", "./.stowflowignore", "./flows.py", CODE_DIR]
    out = run_in(docker_env, first["image"], "python", "-c",
                 "import stowflow, stowflow_docker; print('ok')")
    assert out.strip() == "ok"

    again = build_docker_image("stowflow-test/steps", path=str(project))
    assert again == first  # unchanged project: same digest tag, not rebuilt
    assert "is up to date" in capsys.readouterr().err

    (project / "flows.py").write_text((project / "flows.py").read_text() + "\n# changed\n")
    changed = build_docker_image("stowflow-test/steps", path=str(project))
    assert changed["tag"] != first["tag"]
    err = capsys.readouterr().err
    # only the code layer was rebuilt: every step before the last COPY came from the cache
    steps = [line for line in err.splitlines() if line.startswith("Step ")]
    assert steps[-1].endswith(f"COPY code/ {CODE_DIR}/")
    assert err.count("Using cache") == len(steps) - 2  # FROM and the last COPY are not cached
    history = json.loads(docker_env.cli("image", "inspect", changed["image"]).stdout)
    assert history[0]["Config"]["WorkingDir"] == CODE_DIR


def test_requirements_get_their_own_layer_before_stowflow_and_code(
        docker_env: DockerDaemon, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "1"\ndependencies = ["six==1.16.0"]\n')
    built = build_docker_image("stowflow-test/reqs", path=str(project), network_mode="host")
    steps = [line.split(" : ", 1)[1] for line in capsys.readouterr().err.splitlines()
             if line.startswith("Step ")]
    order = [i for i, s in enumerate(steps) if "requirements.txt" in s
             or "stowflow/wheels" in s or s.startswith("COPY code/")]
    assert [steps[i].split()[0] for i in order] == ["COPY", "RUN", "COPY", "RUN", "COPY"]
    assert "requirements.txt" in steps[order[1]] and steps[order[-1]].startswith("COPY code/")
    out = run_in(docker_env, built["image"], "python", "-c", "import six; print(six.__version__)")
    assert out.strip() == "1.16.0"


def test_own_dockerfile_and_a_failing_one(docker_env: DockerDaemon, project: Path,
                                          python_base_image: str) -> None:
    (project / "Dockerfile").write_text(f"FROM {python_base_image}\nCOPY flows.py /app/\n"
                                        "RUN echo built-ok > /app/marker\n")
    built = build_docker_image("stowflow-test/own", tag="v1", dockerfile="Dockerfile",
                               path=str(project))
    assert built["tag"] == "v1"
    assert run_in(docker_env, built["image"], "cat", "/app/marker").strip() == "built-ok"

    (project / "Dockerfile").write_text(
        f"FROM {python_base_image}\nRUN echo first-line-of-output && echo oops-tail >&2 && exit 3\n")
    with pytest.raises(ImageBuildError) as caught:
        build_docker_image("stowflow-test/own", tag="v2", dockerfile="Dockerfile",
                           path=str(project))
    text = str(caught.value)
    assert "step 2/2" in text and "exit 3" in text.lower().replace("code: 3", "exit 3")
    assert "oops-tail" in text  # the output's tail is in the error

    with pytest.raises(ConfigError, match="no Dockerfile"):
        build_docker_image("stowflow-test/own", dockerfile="Missing.Dockerfile",
                           path=str(project))
    with pytest.raises(ConfigError, match="invalid image name"):
        build_docker_image("Not A Name", path=str(project))


def test_push_with_credentials_pins_the_digest(
        docker_env: DockerDaemon, docker_registry: DockerRegistry, project: Path,
        registry_credentials: DockerRegistryCredentials,
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    name = f"{docker_registry.address}/team/flows"
    built = build_docker_image(name, path=str(project))
    registry_credentials.save("reg")
    data = registry_credentials.model_dump(mode="json")
    data["password"] = docker_registry.password  # what a block placeholder resolves to
    pushed = push_docker_image(built["image_name"], built["tag"], credentials=data)
    assert pushed["digest"].startswith("sha256:")
    assert pushed["image"] == f"{name}@{pushed['digest']}"
    out, err = capsys.readouterr()

    # The registry holds exactly that manifest: remove the local copy and pull by digest.
    docker_env.cli("image", "rm", built["image"])
    docker_env.cli("login", "-u", docker_registry.username, "--password-stdin",
                   docker_registry.address, input=docker_registry.password.encode())
    try:
        docker_env.cli("pull", pushed["image"])
    finally:
        docker_env.cli("logout", docker_registry.address)
    assert_no_secret(docker_registry.password, out, err, repr(pushed),
                     docker_registry.log_text(), Path.home() / ".docker")


def test_push_refused_credentials_and_missing_image(
        docker_env: DockerDaemon, docker_registry: DockerRegistry, project: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    name = f"{docker_registry.address}/team/refused"
    built = build_docker_image(name, path=str(project))
    wrong = DockerRegistryCredentials(username=docker_registry.username,
                                      password="wrong-password-value",
                                      registry_url=docker_registry.address)
    with pytest.raises(RegistryAuthError) as caught:
        push_docker_image(built["image_name"], built["tag"], credentials=wrong)
    assert "DockerRegistryCredentials" in str(caught.value)
    with pytest.raises(RegistryAuthError):
        push_docker_image(built["image_name"], built["tag"])  # none at all
    with pytest.raises(ImageNotFoundError, match="no such image"):
        push_docker_image(name, "never-built")
    out, err = capsys.readouterr()
    assert_no_secret("wrong-password-value", out, err, str(caught.value))


def test_no_daemon_says_how_to_start_one(monkeypatch: pytest.MonkeyPatch, project: Path,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(DaemonUnreachableError) as caught:
        build_docker_image("stowflow-test/none", path=str(project))
    assert "DOCKER_HOST" in str(caught.value) and "nothing.sock" in str(caught.value)
