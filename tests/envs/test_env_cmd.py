"""``stowflow env ls`` / ``env prune``: what is cached, for whom; a running run's layer stays."""

from __future__ import annotations

import os
import textwrap
import threading
import time
from pathlib import Path

import pytest
from stowflow.cli.app import main
from stowflow.cli.units import parse_age
from stowflow.deployments.records import upsert_deployment
from stowflow.envs import LayerSpec, ensure_layer, layers_root
from stowflow.envs.inventory import list_layers, prune
from stowflow.errors import ConfigError
from stowflow.runs import create_flow_run, get_flow_run, read_events, read_logs
from stowflow.testing.packages import build_wheel
from stowflow.workers.pools import create_pool
from stowflow.workers.worker import Worker

FLOW = '''
import time
from pathlib import Path

from stowflow import flow


@flow
def napper(flag: str, release: str):
    import sfprune_demo  # from the layer
    Path(flag).touch()
    deadline = time.monotonic() + 60
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
'''


@pytest.fixture(autouse=True)
def setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Local wheels only; wide output so table cells are not cut."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("COLUMNS", "300")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def wait_for(path: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_running_runs_layer_is_listed_and_never_pruned(
        stowflow_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text(textwrap.dedent(FLOW))
    wheel = build_wheel(project, "sfprune_demo", "1.0")
    (project / "requirements.txt").write_text(f"./{wheel.name}\n")
    create_pool("pool", exist_ok=True)
    dep = upsert_deployment(
        name="nap", flow_name="prune-demo", entrypoint="flow.py:napper", work_pool_name="pool",
        pull_steps=[
            {"stowflow.deployments.steps.set_working_directory": {"directory": str(project)}},
            {"stowflow.deployments.steps.pip_install_requirements": {}}])
    other = ensure_layer([str(build_wheel(tmp_path, "sfunused_demo", "1.0"))], used_by="x/y")
    other.release()  # an idle layer nobody uses any more
    flag, release = tmp_path / "flag", tmp_path / "release"
    run = create_flow_run(dep, {"flag": str(flag), "release": str(release)})
    worker = threading.Thread(target=lambda: Worker("pool", poll_interval=0.1).start(
        run_once=True, install_signal_handlers=False))
    worker.start()
    try:
        wait_for(flag)
        key = next(e for e in read_events(run.id) if e.phase == "install"
                   and e.details.get("source") == "pip_install_requirements").details["key"]

        code, out = cli(capsys, "env", "ls")
        assert code == 0
        row = next(line for line in out.splitlines() if key in line)
        assert "-r requirements.txt" in row and "prune-demo/nap" in row and "yes" in row
        assert "sfprune_demo==1.0" in row  # what is installed in it
        assert other.key in out and "x/y" in out

        code, out = cli(capsys, "env", "prune", "--max-size", "0")
        assert code == 0, out
        assert "Removed 1 layers" in out and f"Kept {key}: in use by a running run" in out
        assert (layers_root() / key / "sfprune_demo").is_dir()
        assert not (layers_root() / other.key).exists()
    finally:
        release.touch()
        worker.join(timeout=120)
    assert get_flow_run(run.id).state == "COMPLETED", [r.message for r in read_logs(run.id)]
    # the run ended, its lease with it: now the layer goes
    code, out = cli(capsys, "env", "prune", "--older-than", "0s")
    assert code == 0 and "Removed 1 layers" in out
    assert list_layers() == []


def test_prune_by_age_and_size_oldest_first(stowflow_home: Path, tmp_path: Path) -> None:
    layers = []
    for index, age_days in enumerate((40, 10, 1)):
        layer = ensure_layer(LayerSpec((str(build_wheel(tmp_path, f"sfage_demo{index}")),)),
                             used_by=f"flow/dep{index}")
        layer.release()
        stamp = time.time() - age_days * 86400
        for marker in (layer.path / ".stowflow-used").iterdir():
            os.utime(marker, (stamp, stamp))
        layers.append(layer)
    sizes = {info.key: info.size for info in list_layers()}
    assert all(size > 0 for size in sizes.values())
    assert [info.key for info in list_layers()] == [layer.key for layer in reversed(layers)]

    result = prune(older_than=parse_age("30d"))
    assert [info.key for info in result.removed] == [layers[0].key]
    result = prune(max_size=sizes[layers[2].key])  # room for one: the newest stays
    assert [info.key for info in result.removed] == [layers[1].key]
    assert [info.key for info in list_layers()] == [layers[2].key]


def test_prune_removes_what_a_killed_install_left(stowflow_home: Path) -> None:
    root = layers_root()
    root.mkdir(parents=True)
    (root / "0123abcd.x7y8z9").mkdir()  # a staging folder whose builder was killed
    (root / "0123abcd.x7y8z9" / "half").write_text("")
    assert prune(older_than=10**9).leftovers == 1
    assert [p for p in root.iterdir() if p.is_dir()] == []


def test_bad_prune_options_are_one_clear_error(stowflow_home: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, out = cli(capsys, "env", "prune")
    assert code == 1 and "--max-size and/or --older-than" in out and "Traceback" not in out
    code, out = cli(capsys, "env", "prune", "--older-than", "soon")
    assert code == 1 and "expected an age such as 30d" in out
    code, out = cli(capsys, "env", "prune", "--max-size", "-5GB")
    assert code == 1 and "expected a size such as 500MB" in out
    with pytest.raises(ConfigError):
        parse_age("-3d")
