"""Start-up imports only what it uses (issue 20): ``stowflow --help``, ``stowflow <group>
--help`` and a provider's steps module, each checked in a fresh interpreter.

What matters is the import graph, not a timing (speed is measured in
``benchmarks/startup``): each case lists the modules it must never load.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys

import pytest
import typer
from stowflow.cli.app import COMMANDS, load_command

#: Heavy libraries no ``--help`` needs: the database, settings, SDKs, YAML, crypto.
NEVER_FOR_HELP = ("sqlalchemy", "alembic", "pydantic_settings", "cryptography", "yaml",
                  "boto3", "botocore", "google.cloud", "azure", "fsspec", "jsonschema",
                  "typer.rich_utils", "stowflow.db", "stowflow.settings", "stowflow.flows",
                  "stowflow.runs", "stowflow.steps", "stowflow.workers.worker")
#: ... and the root help does not even need pydantic or Rich.
NEVER_FOR_ROOT_HELP = (*NEVER_FOR_HELP, "pydantic", "rich", "stowflow.blocks",
                       "stowflow.cli.block_cmd", "stowflow.cli.storage_cmd")
#: A steps module defines block types (pydantic) and nothing more until a step runs.
NEVER_FOR_STEPS = ("sqlalchemy", "alembic", "pydantic_settings", "cryptography", "rich",
                   "typer", "boto3", "botocore", "google.cloud", "google.auth", "azure",
                   "fsspec", "filelock", "stowflow.db", "stowflow.settings",
                   "stowflow.transfer.pull", "stowflow.transfer.push")
PROVIDER_STEPS = ("stowflow_aws.deployments.steps", "stowflow_gcp.deployments.steps",
                  "stowflow_azure.deployments.steps")


def loaded_after(code: str) -> set[str]:
    """Run ``code`` in a fresh interpreter; return the modules it left in ``sys.modules``."""
    probe = (f"{code}\nimport json, sys\n"
             "print('\\n' + json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def offending(loaded: set[str], never: tuple[str, ...]) -> list[str]:
    """The modules of ``loaded`` that are, or lie below, a name in ``never``."""
    return sorted(m for m in loaded if any(m == n or m.startswith(n + ".") for n in never))


def cli_help(*args: str) -> str:
    return ("import contextlib, io\nfrom stowflow.cli.app import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main({[*args, '--help']!r}) == 0")


def test_root_help_imports_no_command_module():
    loaded = loaded_after(cli_help())
    assert offending(loaded, NEVER_FOR_ROOT_HELP) == []
    assert not [m for m in loaded if m.startswith("stowflow.cli.") and m.endswith("_cmd")]


@pytest.mark.parametrize("group", sorted(COMMANDS))
def test_group_help_imports_only_its_own_module(group: str):
    loaded = loaded_after(cli_help(group))
    assert offending(loaded, NEVER_FOR_HELP) == []
    others = {module for name, (module, _help) in COMMANDS.items() if name != group}
    assert sorted(loaded & others) == []


@pytest.mark.parametrize("module", PROVIDER_STEPS)
def test_provider_steps_module_imports_no_sdk_or_database(module: str):
    if importlib.util.find_spec(module.partition(".")[0]) is None:
        pytest.fail(f"{module} is not installed (the test environment installs every provider)")
    assert offending(loaded_after(f"import {module}"), NEVER_FOR_STEPS) == []


def test_import_stowflow_loads_neither_pydantic_nor_the_database():
    assert offending(loaded_after("import stowflow"),
                     ("pydantic", "sqlalchemy", "stowflow.settings", "stowflow.db")) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_command_table_says_what_each_module_registers(name: str):
    module_name, text = COMMANDS[name]
    holder = typer.Typer()
    importlib.import_module(module_name).register(holder)
    group = typer.main.get_group(holder)
    assert list(group.commands) == [name], f"{module_name} registers {list(group.commands)}"
    command = load_command(name)
    assert command.get_short_help_str(limit=1000) == text
