"""Work pool names: an empty or space-padded name is refused, by every way a pool is made."""

from __future__ import annotations

import pytest
from stowflow.errors import ConfigError
from stowflow.workers.pools import create_pool, list_pools


@pytest.mark.parametrize("name", ["", " ", " pool", "pool ", "tab\tpool", "x" * 201])
def test_bad_pool_names_are_refused(fails_cleanly, name: str) -> None:
    message = fails_cleanly("work-pool", "create", name, "--type", "process")
    assert "invalid work pool name" in message
    assert list_pools() == []


def test_worker_start_refuses_an_empty_pool_name(fails_cleanly) -> None:
    message = fails_cleanly("worker", "start", "--pool", "", "--run-once")
    assert "invalid work pool name" in message
    assert list_pools() == []


def test_unicode_and_path_like_names_still_work() -> None:
    for name in ("équipe-données", "team/etl", "a" * 200):
        create_pool(name)
    assert {p.name for p in list_pools()} == {"équipe-données", "team/etl", "a" * 200}
    with pytest.raises(ConfigError):
        create_pool("équipe-données")
