"""Parsing ``--param k=v`` with the schema's help."""

from __future__ import annotations

import pytest
from stowflow.errors import FlowError
from stowflow.runs import parse_param_pairs

SCHEMA = {"properties": {"code": {"type": "string"}, "n": {"type": "integer"},
                         "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}


def test_json_values_and_plain_text():
    assert parse_param_pairs(["n=3", "flag=true", "xs=[1, 2]", "who=World", "eq=a=b"]) == {
        "n": 3, "flag": True, "xs": [1, 2], "who": "World", "eq": "a=b"}


def test_string_parameters_stay_text():
    assert parse_param_pairs(["code=007", "n=007", "maybe=1"], SCHEMA) == {
        "code": "007", "n": "007", "maybe": 1}


def test_pair_without_equals_is_an_error():
    with pytest.raises(FlowError, match="name=value"):
        parse_param_pairs(["oops"])
