"""Option values a user can get wrong: cache sizes and run states."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("size", ["inf", "nan", "-5GB", "1e400", "abc", "12XB"])
def test_prune_cache_refuses_what_is_not_a_size(fails_cleanly, size: str) -> None:
    # "inf" escaped as an unexpected OverflowError; "-5GB" emptied the whole cache
    message = fails_cleanly("storage", "prune-cache", "--max-size", size)
    assert f"--max-size '{size}': expected a size such as 500MB or 2GB" in message


def test_prune_cache_accepts_sizes(capsys) -> None:
    from stowflow.cli.app import main

    for size in ("0", "500MB", "2GB", "1.5gib", "10kb"):
        assert main(["storage", "prune-cache", "--max-size", size]) == 0, capsys.readouterr().err


def test_flow_run_ls_with_an_unknown_state(fails_cleanly) -> None:
    message = fails_cleanly("flow-run", "ls", "--state", "DONE")
    assert "unknown flow run state 'DONE'" in message and "COMPLETED" in message


def test_flow_run_ls_state_is_case_insensitive(capsys) -> None:
    from stowflow.cli.app import main

    assert main(["flow-run", "ls", "--state", "completed"]) == 0
