"""@flow: names, parameter validation with pydantic, schema, log_prints, retries."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

import pytest
from pydantic import BaseModel
from stowflow import Flow, flow
from stowflow.errors import FlowError


class Config(BaseModel):
    size: int
    label: str = "x"


@flow
def typed(count: int, when: datetime | None = None, mode: Literal["a", "b"] = "a",
          config: Config | None = None, tags: list[str] | None = None) -> dict:
    """Typed flow."""
    return {"count": count, "when": when, "mode": mode, "config": config, "tags": tags}


def test_bare_and_called_decorator() -> None:
    assert isinstance(typed, Flow) and typed.name == "typed" and typed.description == "Typed flow."

    @flow(name="custom", description="d", version="3")
    def my_flow_fn() -> int:
        return 1

    assert (my_flow_fn.name, my_flow_fn.description, my_flow_fn.version) == ("custom", "d", "3")

    @flow
    def snake_case_name() -> None:
        pass

    assert snake_case_name.name == "snake-case-name"
    assert snake_case_name.__name__ == "snake_case_name"  # wraps the function


def test_calling_validates_and_coerces() -> None:
    result = typed("3", when="2024-01-02T03:04:05", config={"size": "2"}, tags=("a",))
    assert result["count"] == 3 and result["when"] == datetime(2024, 1, 2, 3, 4, 5)
    assert result["config"] == Config(size=2) and result["tags"] == ["a"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "parameter 'count' is required"),
    ({"count": "many"}, "parameter 'count': Input should be a valid integer"),
    ({"count": 1, "mode": "c"}, "parameter 'mode'"),
    ({"count": 1, "config": {"size": "big"}}, "parameter 'config.size'"),
])
def test_validate_parameters_names_the_bad_parameter(kwargs, message) -> None:
    with pytest.raises(FlowError, match=message):
        typed.validate_parameters(kwargs)


def test_unknown_parameter_lists_the_known_ones() -> None:
    with pytest.raises(FlowError) as info:
        typed.validate_parameters({"count": 1, "colour": "red"})
    assert "has no parameter 'colour'" in str(info.value)
    assert "count, when, mode, config, tags" in str(info.value)


def test_wrong_call_arguments_are_flow_errors() -> None:
    with pytest.raises(FlowError, match="flow 'typed'"):
        typed(1, 2, 3, 4, 5, 6)
    with pytest.raises(FlowError, match="must be a mapping"):
        typed.validate_parameters(["count"])  # type: ignore[arg-type]


def test_validate_fills_defaults_and_partial_does_not() -> None:
    assert typed.validate_parameters({"count": 1})["mode"] == "a"
    assert typed.validate_parameters({"mode": "b"}, partial=True) == {"mode": "b"}


def test_parameter_schema() -> None:
    schema = typed.parameter_schema
    assert schema["required"] == ["count"]
    assert schema["properties"]["count"]["type"] == "integer"
    assert schema["properties"]["mode"]["enum"] == ["a", "b"]
    assert "Config" in str(schema)


def test_parameters_named_like_model_attributes_work() -> None:
    @flow
    def odd(json: str, model_config: int = 1, schema: str = "s") -> tuple:
        return json, model_config, schema

    assert odd(json="j", model_config="2") == ("j", 2, "s")
    assert set(odd.parameter_schema["properties"]) == {"json", "model_config", "schema"}


def test_kwargs_flow_accepts_extra_parameters() -> None:
    @flow
    def extra(a: int, **rest) -> dict:
        return {"a": a, **rest}

    assert extra(a="1", b=2) == {"a": 1, "b": 2}
    assert extra.validate_parameters({"a": 1, "zzz": 3}) == {"a": 1, "zzz": 3}


def test_arbitrary_types_still_give_a_schema() -> None:
    class Opaque:
        pass

    @flow
    def opaque(thing: Opaque | None = None, n: int = 1) -> None:
        pass

    schema = opaque.parameter_schema
    assert schema["properties"]["n"]["type"] == "integer" and "thing" in schema["properties"]


def test_log_prints(caplog) -> None:
    @flow(log_prints=True)
    def chatty(name: str = "w") -> None:
        print("hello", name)

    with caplog.at_level(logging.INFO, logger="stowflow.flows.chatty"):
        chatty()
    assert "hello w" in caplog.text
    assert print.__module__ == "builtins"  # restored


def test_retries() -> None:
    attempts = []

    @flow(retries=2)
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("transient")
        return len(attempts)

    assert flaky() == 3

    @flow(retries=1)
    def broken() -> None:
        attempts.append(2)
        raise ValueError("always")

    with pytest.raises(ValueError, match="always"):
        broken()
    assert attempts.count(2) == 2


@pytest.mark.parametrize(("make", "message"), [
    (lambda: flow(retries=-1)(lambda: None), "retries must be a non-negative integer"),
    (lambda: Flow(42), "decorates functions"),  # type: ignore[arg-type]
    (lambda: Flow(), "needs a function"),
])
def test_construction_errors(make, message) -> None:
    with pytest.raises(FlowError, match=message):
        make()


def test_async_flow_runs_to_completion_and_retries() -> None:
    import asyncio

    calls = []

    @flow(retries=1)
    async def fetch(n: int) -> int:
        calls.append(n)
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        return n * 2

    assert fetch(n="4") == 8 and calls == [4, 4]

    async def inside_a_loop() -> int:
        return await fetch(n=5)

    assert asyncio.run(inside_a_loop()) == 10
