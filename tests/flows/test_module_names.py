"""A flow file is imported under its dotted path, so its loggers read as the user wrote them."""

from __future__ import annotations

import sys
from pathlib import Path

from stowflow.flows import load_flow_from_entrypoint

FLOW = """\
import logging
from stowflow import flow

LOGGER_NAME = logging.getLogger(__name__).name

@flow
def named():
    return LOGGER_NAME
"""


def test_flow_module_is_named_after_its_path(tmp_path: Path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "nightly_etl.py").write_text(FLOW)
    flow = load_flow_from_entrypoint("pipelines/nightly_etl.py:named", tmp_path)
    try:
        assert flow() == "pipelines.nightly_etl"
    finally:
        sys.modules.pop("pipelines.nightly_etl", None)


def test_a_taken_name_falls_back_to_a_private_one(tmp_path: Path):
    (tmp_path / "json.py").write_text(FLOW)  # 'json' is already imported
    flow = load_flow_from_entrypoint("json.py:named", tmp_path)
    assert flow().startswith("__stowflow_entrypoint_")
    import json

    assert hasattr(json, "dumps")  # the standard module is untouched
