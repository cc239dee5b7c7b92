"""Parsing ``--param k=v`` with the schema's help."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from stowflow.errors import FlowError
from stowflow.runs import masked_parameters, parse_param_pairs, secret_parameter_names

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


def test_secret_parameters_are_named_by_the_flow_schema_and_masked():
    from stowflow import flow

    @flow
    def secretive(api_key: SecretStr, maybe: SecretStr | None = None, n: int = 1) -> None:
        """A flow with a required and an optional secret."""

    schema = secretive.parameter_schema
    assert secret_parameter_names(schema) == {"api_key", "maybe"}
    assert masked_parameters({"api_key": "k", "maybe": None, "n": 2}, schema) == {
        "api_key": "********", "maybe": None, "n": 2}
    assert masked_parameters({"api_key": "k"}, None) == {"api_key": "k"}  # no schema known


def test_a_problem_with_a_secret_parameter_never_quotes_its_value():
    from stowflow.runs import ParameterError, validate_parameters

    schema = {"type": "object", "properties": {
        "api_key": {"type": "string", "format": "password", "writeOnly": True,
                    "minLength": 32},
        "n": {"type": "integer"}}}
    with pytest.raises(ParameterError) as caught:
        validate_parameters({"api_key": "short-planted-key", "n": "x"}, schema, where="d")
    assert "short-planted-key" not in str(caught.value)
    assert dict(caught.value.problems)["api_key"] == (
        "not a valid value (minLength; a secret parameter's value is not quoted)")
    assert dict(caught.value.problems)["n"] == "'x' is not of type 'integer'"
