"""Conventions every package keeps: described block fields, documented hooks."""

from __future__ import annotations

import importlib
import inspect

from stowflow import hookspecs
from stowflow.blocks import Block
from stowflow.blocks.types import block_types, blocks_in_module

PROVIDER_MODULES = ("stowflow_aws", "stowflow_gcp", "stowflow_azure", "stowflow_github",
                    "stowflow_gitlab", "stowflow_bitbucket")


def all_block_classes() -> set[type[Block]]:
    classes = set(block_types().values())
    for module_name in ("stowflow.blocks", *PROVIDER_MODULES):
        classes.update(blocks_in_module(importlib.import_module(module_name)))
    return classes


def test_every_block_field_has_a_description():
    missing = [
        f"{cls.__module__}.{cls.__name__}.{name}"
        for cls in all_block_classes()
        for name, field in cls.model_fields.items()
        if not (field.description and field.description.strip())
    ]
    assert not missing, f"fields without a description: {missing}"


def test_every_hook_has_a_docstring_with_its_parameters():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction)
             if name.startswith("stowflow_")]
    assert hooks
    for hook in hooks:
        doc = inspect.getdoc(hook) or ""
        assert len(doc.splitlines()) >= 3, f"{hook.__name__} is not documented"
        for parameter in inspect.signature(hook).parameters:
            assert f":param {parameter}:" in doc, f"{hook.__name__} does not describe {parameter}"


def test_every_registered_block_type_has_a_unique_slug():
    slugs = [cls.get_block_type_slug() for cls in block_types().values()]
    assert len(slugs) == len(set(slugs))
