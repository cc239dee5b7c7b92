"""The sync benchmark still runs (a tiny local smoke run; speed is never asserted here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "sync" / "run.py"


def test_benchmark_quick_local_run(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("stowflow_sync_bench", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    results = module.main(["--quick", "--target", "local", "--datasets", "small,large",
                           "--small-files", "30", "--large-mb", "1"])
    out = capsys.readouterr().out
    phases = {(m.dataset, m.phase) for m in results}
    assert ("small", "engine: warm pull") in phases and ("large", "engine: cold pull") in phases
    warm = next(m for m in results if m.phase == "engine: warm pull")
    assert warm.requests == 1  # HEAD; the manifest comes from the local cache
    assert "baseline: sequential pull" in out and "peak RSS" in out
