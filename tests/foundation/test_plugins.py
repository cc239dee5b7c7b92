"""Plugin discovery: fake distributions in-process, and the real installed providers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from stowflow.blocks.types import block_types
from stowflow.plugins import get_plugin_manager, plugin_infos, reset_plugin_manager

PROVIDERS = ("aws", "gcp", "azure", "github", "gitlab", "bitbucket")


def make_distribution(root: Path, dist: str, ep_name: str, module: str, source: str) -> None:
    """Write an installed-looking distribution (a dist-info folder) with one entry point."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text(f"[stowflow]\n{ep_name} = {module}\n")


GOOD_PLUGIN = """
    from pydantic import Field
    from stowflow import hookimpl
    from stowflow.blocks import Block

    class FakeThing(Block):
        name_of_thing: str = Field(description="A thing.")

    @hookimpl
    def stowflow_register_block_types(register):
        register(FakeThing)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def test_fake_distribution_is_discovered_with_version_and_hooks(site: Path):
    make_distribution(site, "fake-good", "fakegood", "fake_good_plugin", GOOD_PLUGIN)
    reset_plugin_manager()
    info = {i.name: i for i in plugin_infos()}["fakegood"]
    assert info.error is None
    assert info.version == "9.9" and info.distribution == "fake-good"
    assert info.hooks == ["stowflow_register_block_types"]
    assert "fake-thing" in block_types()


def test_plugin_that_fails_to_import_is_reported_not_fatal(site: Path):
    make_distribution(site, "fake-broken", "fakebroken", "fake_broken_plugin",
                      "raise RuntimeError('boom at import')\n")
    make_distribution(site, "fake-good", "fakegood", "fake_good_plugin", GOOD_PLUGIN)
    reset_plugin_manager()
    infos = {i.name: i for i in plugin_infos()}
    assert "boom at import" in (infos["fakebroken"].error or "")
    assert infos["fakegood"].error is None
    assert "fake-thing" in block_types()


def test_misspelled_hook_fails_loudly_for_that_plugin(site: Path):
    make_distribution(site, "fake-typo", "faketypo", "fake_typo_plugin", """
        from stowflow import hookimpl

        @hookimpl
        def stowflow_register_blok_types(register):
            pass
    """)
    reset_plugin_manager()
    infos = {i.name: i for i in plugin_infos()}
    assert "stowflow_register_blok_types" in (infos["faketypo"].error or "")


def test_allow_list_and_deny_list(site: Path, monkeypatch: pytest.MonkeyPatch):
    make_distribution(site, "fake-good", "fakegood", "fake_good_plugin", GOOD_PLUGIN)
    monkeypatch.setenv("STOWFLOW_PLUGINS", "fakegood,aws")
    reset_plugin_manager()
    assert {i.name for i in plugin_infos() if not i.builtin} == {"fakegood", "aws"}
    monkeypatch.delenv("STOWFLOW_PLUGINS")
    monkeypatch.setenv("STOWFLOW_DISABLE_PLUGINS", "fakegood")
    reset_plugin_manager()
    names = {i.name for i in plugin_infos()}
    assert "fakegood" not in names and "aws" in names


def test_plugins_load_lazily():
    import stowflow.plugins as plugins

    reset_plugin_manager()
    assert plugins._manager is None
    get_plugin_manager()
    assert plugins._manager is not None


def test_the_six_real_providers_load_without_errors():
    infos = {i.name: i for i in plugin_infos()}
    for provider in PROVIDERS:
        assert provider in infos, f"{provider} plugin not discovered"
        assert infos[provider].error is None, infos[provider].error
        assert infos[provider].distribution == f"stowflow-{provider}"


def test_core_builtins_register_through_the_same_hooks():
    assert block_types()["secret"].__name__ == "Secret"
    builtin = [i for i in plugin_infos() if i.builtin]
    assert builtin and all(i.error is None for i in builtin)
