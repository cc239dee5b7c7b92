"""The step engine: ordering, ids, merged outputs, templating between steps, errors."""

from __future__ import annotations

import sys
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stowflow.errors import StepError, StowflowError, TemplateError
from stowflow.steps import run_steps


@pytest.fixture
def fake_steps(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A module of step functions importable as ``fake_steps_mod``."""
    module = types.ModuleType("fake_steps_mod")
    calls: list[tuple[str, dict]] = []

    def produce(**kwargs):
        calls.append(("produce", kwargs))
        return {"value": kwargs.get("value"), "directory": "/first"}

    def consume(**kwargs):
        calls.append(("consume", kwargs))
        return {"got": kwargs, "directory": "/second"}

    def nothing():
        return None

    def bad_return():
        return [1, 2]

    def boom():
        raise RuntimeError("exploded")

    module.produce, module.consume, module.nothing = produce, consume, nothing
    module.bad_return, module.boom, module.calls = bad_return, boom, calls
    module.not_callable = 42
    monkeypatch.setitem(sys.modules, "fake_steps_mod", module)
    return module


def test_outputs_kept_by_id_merged_and_later_steps_win(fake_steps: types.ModuleType) -> None:
    out = run_steps([
        {"fake_steps_mod.produce": {"id": "p", "value": {"a": [1, 2]}}},
        {"fake_steps_mod.consume": {"id": "c", "whole": "{{ p.value }}", "text": "n={{ p.value.a.1 }}"}},
    ])
    assert out["p"] == {"value": {"a": [1, 2]}, "directory": "/first"}
    assert out["c"]["got"] == {"whole": {"a": [1, 2]}, "text": "n=2"}
    assert out["directory"] == "/second"
    assert [name for name, _ in fake_steps.calls] == ["produce", "consume"]


def test_upstream_seeds_the_context(fake_steps: types.ModuleType) -> None:
    out = run_steps([{"fake_steps_mod.consume": {"x": "{{ push.bucket }}"}}],
                    upstream={"push": {"bucket": "b1"}})
    assert out["got"] == {"x": "b1"}


def test_a_step_returning_none_gives_no_outputs(fake_steps: types.ModuleType) -> None:
    assert run_steps([{"fake_steps_mod.nothing": {"id": "n"}}]) == {"n": {}}


def test_none_and_empty_steps() -> None:
    assert run_steps(None) == {}
    assert run_steps([]) == {}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ("not-a-list", "steps must be a list"),
        ([{"a.b": {}, "c.d": {}}], "exactly one key"),
        (["just-a-string"], "exactly one key"),
        ([{"nodots": {}}], "is not an import path"),
        ([{"fake_steps_mod.produce": "x"}], "settings must be a mapping"),
        ([{"fake_steps_mod.produce": {"id": 3}}], "'id' must be a non-empty string"),
        ([{"fake_steps_mod.missing": {}}], "has no step 'missing'"),
        ([{"fake_steps_mod.not_callable": {}}], "is not a function"),
        ([{"no_such_module_xyz.step": {}}], "module 'no_such_module_xyz' is not installed"),
        ([{"fake_steps_mod.nothing": {"extra": 1}}], "wrong arguments"),
        ([{"fake_steps_mod.bad_return": {}}], "a step must return a dict"),
        ([{"fake_steps_mod.boom": {"id": "b"}}], "step 'b' failed: RuntimeError: exploded"),
    ],
)
def test_step_errors_name_the_problem(fake_steps, steps, message) -> None:
    with pytest.raises(StepError, match=message):
        run_steps(steps)


def test_missing_provider_module_names_the_distribution() -> None:
    with pytest.raises(StepError) as info:
        run_steps([{"stowflow_nonexistent_provider.deployments.steps.push": {}}])
    assert "stowflow-nonexistent-provider" in str(info.value)


def test_a_known_provider_module_gets_its_install_hint(monkeypatch) -> None:
    from stowflow import plugins

    monkeypatch.setattr(plugins, "install_hints", lambda: {"stowflow_zzz": "stowflow-zzz-dist"})
    with pytest.raises(StepError, match="pip install stowflow-zzz-dist"):
        run_steps([{"stowflow_zzz.deployments.steps.push_to_zzz": {"id": "push"}}])


def test_unresolvable_placeholder_names_it_and_its_step(fake_steps) -> None:
    with pytest.raises(TemplateError) as info:
        run_steps([{"fake_steps_mod.consume": {"id": "c", "x": "{{ nope.key }}"}}])
    assert "{{ nope.key }}" in str(info.value) and "step 'c'" in str(info.value)


def test_outputs_of_a_later_step_are_not_visible_earlier(fake_steps) -> None:
    with pytest.raises(TemplateError, match="no earlier step has id 'later'"):
        run_steps([
            {"fake_steps_mod.consume": {"x": "{{ later.value }}"}},
            {"fake_steps_mod.produce": {"id": "later"}},
        ])


_keys = st.sampled_from(["fake_steps_mod.produce", "fake_steps_mod.consume", "fake_steps_mod.boom",
                         "fake_steps_mod.missing", "nodots", "no_such_module_q.f", "", ".", "a..b"])
_leaf = st.none() | st.integers() | st.text(alphabet="{}$ .abp-_", max_size=15)
_settings = st.none() | _leaf | st.dictionaries(
    st.sampled_from(["id", "value", "x", "y"]), _leaf, max_size=4)  # no "requires": no installs
_step = st.one_of(st.dictionaries(_keys, _settings, min_size=0, max_size=2), _leaf,
                  st.lists(_leaf, max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(_step, max_size=4) | _leaf)
def test_property_any_step_list_gives_outputs_or_a_stowflow_error(fake_steps, steps) -> None:
    try:
        out = run_steps(steps)
    except StowflowError:
        return
    assert isinstance(out, dict)
