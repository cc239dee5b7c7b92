"""A reusable test suite for every provider plugin's packaging: discovery, hooks, blocks.

Every provider package (stowflow-aws, -gcp, -azure, -github, -gitlab, -bitbucket, -docker)
must be found through its entry point, load without importing its SDK, register what it
declares through the hooks, and register its block types through the CLI. Subclass
:class:`ProviderPluginSuite` in the provider's ``tests/test_plugin.py``::

    class TestAwsPlugin(ProviderPluginSuite):
        plugin_name = "aws"
        distribution = "stowflow-aws"
        hooks = ["stowflow_object_store_for_url", "stowflow_register_block_types", ...]
        sdk_modules = ("boto3", "botocore")
        block_classes = {"aws-credentials": AwsCredentials, "s3-bucket": S3Bucket}
        steps = {"stowflow_aws.deployments.steps.push_to_s3": steps.push_to_s3, ...}
        recipe_names = ("s3",)
        hint_keys = ("s3", "s3a")

Provider-specific behaviour (URL schemes, options, recipes' rendered shape) stays as extra
tests in the provider's own file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from stowflow.blocks import Block


class ProviderPluginSuite:
    """Tests every provider plugin must pass; subclass and set the class attributes."""

    #: The plugin's entry-point name (``stowflow plugins`` lists it under this name).
    plugin_name: ClassVar[str]
    #: The distribution that provides it (what ``pip install`` takes).
    distribution: ClassVar[str]
    #: The hooks the plugin implements, sorted.
    hooks: ClassVar[list[str]]
    #: Top-level modules of the provider's SDK, which loading the plugin must not import.
    sdk_modules: ClassVar[tuple[str, ...]] = ()
    #: What no plugin's loading may import: the database layer is core's, used on demand.
    never_at_load: ClassVar[tuple[str, ...]] = ("sqlalchemy", "alembic")
    #: Every block type the plugin registers: slug -> class.
    block_classes: ClassVar[dict[str, type[Block]]]
    #: Every step the plugin registers: address -> function.
    steps: ClassVar[dict[str, Callable[..., Any]]] = {}
    #: The names of the ``stowflow init`` recipes the plugin registers.
    recipe_names: ClassVar[tuple[str, ...]] = ()
    #: Install-hint keys besides the block slugs and the module name (URL schemes, pool types).
    hint_keys: ClassVar[tuple[str, ...]] = ()

    @property
    def module(self) -> str:
        """The plugin's importable package, e.g. ``stowflow_aws``."""
        return self.distribution.replace("-", "_")

    def test_entry_point_loads_with_its_hooks(self) -> None:
        from stowflow.plugins import plugin_infos

        info = next(i for i in plugin_infos() if i.name == self.plugin_name)
        assert info.error is None
        assert info.distribution == self.distribution
        assert info.module == f"{self.module}.plugin"
        assert info.hooks == sorted(self.hooks)

    def test_loading_the_plugin_does_not_import_the_sdk(self) -> None:
        heavy = (*self.sdk_modules, *self.never_at_load)
        code = (f"import sys, {self.module}.plugin, {self.module}; "
                f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, timeout=60).stdout
        assert out.strip() == "[]"

    def test_hooks_register_blocks_steps_and_recipes(self) -> None:
        from stowflow.blocks.types import block_types
        from stowflow.deployments.recipes import recipes
        from stowflow.steps.engine import registered_steps

        types = block_types()
        for slug, cls in self.block_classes.items():
            assert types[slug] is cls, slug
        found = registered_steps()
        for address, function in self.steps.items():
            assert found[address] is function, address
        assert set(self.recipe_names) <= set(recipes())

    def test_install_hints_name_the_distribution(self) -> None:
        from stowflow.plugins import install_hints

        hints = install_hints()
        for key in (*self.hint_keys, *self.block_classes, self.module):
            assert hints[key] == self.distribution, key

    def test_every_block_field_has_a_description(self) -> None:
        for cls in self.block_classes.values():
            for name, info in cls.model_fields.items():
                assert info.description, f"{cls.__name__}.{name} has no description"

    def test_block_register_through_the_cli(self, capsys: pytest.CaptureFixture[str]) -> None:
        from stowflow.blocks import documents
        from stowflow.cli.app import main

        assert main(["block", "register", "-m", self.module]) == 0
        out = capsys.readouterr().out
        recorded = {record.slug: record for record in documents.list_block_types()}
        for slug, cls in self.block_classes.items():
            assert slug in out
            assert recorded[slug].module == cls.__module__
