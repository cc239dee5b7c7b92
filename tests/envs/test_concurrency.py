"""Two processes on one machine needing the same new layer: one builds, the other waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock
from stowflow.envs import LayerSpec, layers_root, read_requirements
from stowflow.testing.packages import build_wheel

BUILDER = '''
import json, os, sys, time
from pathlib import Path
from stowflow.envs import LayerSpec, ensure_layer, read_requirements

go = Path(sys.argv[1])
Path(sys.argv[3]).touch()  # ready
while not go.exists():
    time.sleep(0.001)
Path(sys.argv[3] + "-trying").touch()  # about to look for the layer
layer = ensure_layer(LayerSpec(requirements=(read_requirements(Path(sys.argv[2])),)))
print(json.dumps({"built": layer.built, "waited_s": layer.waited_s, "path": str(layer.path)}))
'''


def test_the_same_new_layer_is_built_once(tmp_path: Path, stowflow_home: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails without the build lock: both processes see no layer and both install."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    wheels = [build_wheel(tmp_path, f"sfconc_demo{i}", "1.0") for i in range(8)]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("".join(f"./{w.name}\n" for w in wheels))
    go = tmp_path / "go"
    script = tmp_path / "builder.py"
    script.write_text(BUILDER)
    ready = [tmp_path / f"ready{i}" for i in range(2)]
    procs = [subprocess.Popen([sys.executable, str(script), str(go), str(requirements),
                               str(flag)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=os.environ.copy()) for flag in ready]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
        time.sleep(0.01)  # both have imported stowflow and are polling for the go file
    # Hold the layer's build lock until both are queued on it: without this, one process
    # could finish the whole build before the other even looked (it then finds the layer
    # built and waits for nothing), which made the wait below a race on a quiet machine.
    spec = LayerSpec(requirements=(read_requirements(requirements),))
    layers_root().mkdir(parents=True, exist_ok=True)
    with FileLock(str(layers_root() / f"{spec.key()}.lock")):
        go.touch()
        trying = [Path(f"{flag}-trying") for flag in ready]
        while not all(flag.exists() for flag in trying) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)  # from the flag to the lock is one file check
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["built"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]
    waiter = next(r for r in results if not r["built"])
    assert waiter["waited_s"] > 0
    layer = Path(results[0]["path"])
    assert layer.name == spec.key()  # the lock held above was this layer's
    assert all((layer / f"sfconc_demo{i}" / "__init__.py").is_file() for i in range(8))
    assert sorted(p.name for p in layers_root().iterdir() if p.is_dir()) == [layer.name]
