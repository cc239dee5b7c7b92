"""Requirements and lock files: keyed by content, installed for real from local wheels."""

from __future__ import annotations

import hashlib
import subprocess
import textwrap
from pathlib import Path

import pytest
from stowflow.envs import LayerSpec, ensure_layer, read_requirements
from stowflow.errors import RunError, StepError
from stowflow.testing.packages import build_wheel


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No package index: the tests install local wheel files only."""
    monkeypatch.setenv("UV_OFFLINE", "1")
    monkeypatch.setenv("PIP_NO_INDEX", "1")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_digest_is_the_resolved_content(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "requirements.txt").write_text("-r sub/base.txt\n--constraint=c.txt\nb==2\n")
    (tmp_path / "sub" / "base.txt").write_text("a>=1\n")
    (tmp_path / "c.txt").write_text("a<3\n")
    first = read_requirements(tmp_path / "requirements.txt")

    # comments, blank lines, spacing and continuations do not count; the mtime neither
    (tmp_path / "requirements.txt").write_text(
        "# pinned\n\n-r   sub/base.txt\n--constraint=c.txt  # limits\nb\\\n==2\n")
    assert read_requirements(tmp_path / "requirements.txt").digest == first.digest

    # an include's or a constraint's content does
    (tmp_path / "sub" / "base.txt").write_text("a>=2\n")
    second = read_requirements(tmp_path / "requirements.txt")
    assert second.digest != first.digest
    (tmp_path / "c.txt").write_text("a<4\n")
    assert read_requirements(tmp_path / "requirements.txt").digest != second.digest
    assert not first.require_hashes and first.kind == "requirements"


def test_a_local_wheel_is_keyed_by_its_bytes(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "sfkey_demo", "1.0")
    (tmp_path / "requirements.txt").write_text(f"./{wheel.name}\n")
    before = read_requirements(tmp_path / "requirements.txt").digest
    build_wheel(tmp_path, "sfkey_demo", "1.0", body="VERSION = 'rebuilt'\n")
    assert read_requirements(tmp_path / "requirements.txt").digest != before


def test_missing_includes_and_cycles_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r other.txt\n")
    with pytest.raises(StepError, match=r"includes 'other.txt', which does not exist"):
        read_requirements(tmp_path / "requirements.txt")
    (tmp_path / "other.txt").write_text("-r requirements.txt\n")
    with pytest.raises(StepError, match=r"include each other \(requirements.txt -> other.txt"):
        read_requirements(tmp_path / "requirements.txt")
    with pytest.raises(StepError, match="no requirements file at"):
        read_requirements(tmp_path / "nope.txt")


def test_hash_pinned_requirements_are_installed_with_require_hashes(
        tmp_path: Path, stowflow_home: Path) -> None:
    wheel = build_wheel(tmp_path, "sfhash_demo", "1.0")
    good = tmp_path / "good" / "requirements.txt"
    good.parent.mkdir()
    good.write_text(f"sfhash-demo @ {wheel.as_uri()} \\\n    --hash=sha256:{sha256(wheel)}\n")
    req = read_requirements(good)
    assert req.require_hashes
    layer = ensure_layer(LayerSpec(requirements=(req,)))
    assert (layer.path / "sfhash_demo" / "__init__.py").is_file()

    bad = tmp_path / "bad" / "requirements.txt"
    bad.parent.mkdir()
    bad.write_text(f"sfhash-demo @ {wheel.as_uri()} --hash=sha256:{'0' * 64}\n")
    with pytest.raises(RunError, match=r"(?i)hash"):
        ensure_layer(LayerSpec(requirements=(read_requirements(bad),)))

    # with --require-hashes an unpinned line is refused, not silently installed
    unpinned = tmp_path / "unpinned" / "requirements.txt"
    unpinned.parent.mkdir()
    unpinned.write_text(good.read_text() + f"{build_wheel(tmp_path, 'sfother_demo')}\n")
    with pytest.raises(RunError, match=r"(?i)hash"):
        ensure_layer(LayerSpec(requirements=(read_requirements(unpinned),)))


def test_pylock_toml_is_installed_and_its_hashes_are_checked(
        tmp_path: Path, stowflow_home: Path) -> None:
    wheel = build_wheel(tmp_path, "sfpylock_demo", "1.0")

    def pylock(digest: str) -> str:
        return textwrap.dedent(f'''\
            lock-version = "1.0"
            created-by = "test"
            [[packages]]
            name = "sfpylock-demo"
            version = "1.0"
            [[packages.wheels]]
            path = "./{wheel.name}"
            hashes = {{sha256 = "{digest}"}}
            ''')

    (tmp_path / "pylock.toml").write_text(pylock(sha256(wheel)))
    req = read_requirements(tmp_path / "pylock.toml")
    assert req.kind == "pylock"
    layer = ensure_layer(LayerSpec(packages=(str(build_wheel(tmp_path, "sfextra_demo")),),
                                   requirements=(req,)))
    assert (layer.path / "sfpylock_demo" / "__init__.py").is_file()
    assert (layer.path / "sfextra_demo" / "__init__.py").is_file()  # beside the lock

    (tmp_path / "pylock.toml").write_text(pylock("0" * 64))
    changed = read_requirements(tmp_path / "pylock.toml")
    assert changed.digest != req.digest
    with pytest.raises(RunError, match=r"(?i)hash mismatch"):
        ensure_layer(LayerSpec(requirements=(changed,)))


def test_uv_lock_is_exported_with_hashes_and_installed(tmp_path: Path, stowflow_home: Path) -> None:
    project = tmp_path / "project"
    (project / "wheels").mkdir(parents=True)
    wheel = build_wheel(project / "wheels", "sfuvlock_demo", "1.0")
    (project / "pyproject.toml").write_text(textwrap.dedent(f'''\
        [project]
        name = "demo-flows"
        version = "0.1"
        requires-python = ">=3.11"
        dependencies = ["sfuvlock-demo"]

        [tool.uv]
        package = false

        [tool.uv.sources]
        sfuvlock-demo = {{ path = "wheels/{wheel.name}" }}
        '''))
    subprocess.run(["uv", "lock", "--offline", "--quiet"], cwd=project, check=True, timeout=120)
    req = read_requirements(project / "uv.lock", shown="uv.lock")
    assert req.kind == "uv.lock" and req.require_hashes
    assert req.text is not None and f"--hash=sha256:{sha256(wheel)}" in req.text
    layer = ensure_layer(LayerSpec(requirements=(req,)))
    assert (layer.path / "sfuvlock_demo" / "__init__.py").is_file()
    assert read_requirements(project / "uv.lock").digest == req.digest  # reproducible key

    (project / "pyproject.toml").unlink()
    with pytest.raises(StepError, match=r"no pyproject\.toml beside it"):
        read_requirements(project / "uv.lock")
