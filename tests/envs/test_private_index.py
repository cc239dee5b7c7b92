"""EXTRA_PIP_PACKAGES from a private index whose URL carries credentials: installed, never leaked."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from stowflow.envs import layers as envlayer
from stowflow.testing import assert_no_secret
from stowflow.testing.packages import build_wheel, serve_package_index

USER, TOKEN = "deploy", "idx-T0ken/with+chars"


@pytest.fixture
def private_index(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A PEP 503 simple index on 127.0.0.1 that answers only HTTP Basic deploy:TOKEN."""
    wheel = build_wheel(tmp_path, "privpkg", "1.2", body="ANSWER = 42\n")
    with serve_package_index([wheel], auth=(USER, TOKEN)) as index:
        yield index.url, index.requested


def test_index_credentials_reach_the_installer_but_not_argv_or_disk(
    private_index: tuple[str, list[str]], stowflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = private_index
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):  # the real installer still runs
        argvs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(envlayer.subprocess, "run", recording_run)
    packages = envlayer.parse_packages(f"--index-url {url} privpkg==1.2")
    layer = envlayer.ensure_layer(packages)

    assert layer.built and (layer.path / "privpkg" / "__init__.py").read_text() == "ANSWER = 42\n"
    assert any(path.startswith("/files/") for path in seen)  # it really came from the index
    quoted = url.split(":", 2)[2].split("@")[0]
    for secret in (TOKEN, quoted):
        assert_no_secret(secret, [" ".join(a) for a in argvs], stowflow_home,
                         " ".join(envlayer.masked(packages)))
    assert "***@127.0.0.1" in " ".join(envlayer.masked(packages))


def test_a_failed_private_install_names_the_packages_without_the_token(
    private_index: tuple[str, list[str]],
) -> None:
    url, _ = private_index
    packages = envlayer.parse_packages(f"--index-url {url} privpkg==9.9")
    from stowflow.errors import RunError

    with pytest.raises(RunError) as info:
        envlayer.ensure_layer(packages)
    assert "privpkg==9.9" in str(info.value)
    assert_no_secret(TOKEN, str(info.value))
    assert_no_secret(url.split(":", 2)[2].split("@")[0], str(info.value))


def test_requirements_lines_keep_option_values_together() -> None:
    assert envlayer.requirements_lines(["-i", "https://x/simple", "a==1", "--extra-index-url",
                                        "https://y", "b"]) == [
        "-i https://x/simple", "a==1", "--extra-index-url https://y", "b"]
