"""Templating: step outputs, blocks, variables, env; one pass; partial; errors; properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from stowflow.blocks import Block, Secret
from stowflow.errors import StowflowError, TemplateError
from stowflow.steps.templating import placeholders, resolve
from stowflow.variables import set_variable


class DemoCreds(Block):
    """A block type only these tests know."""

    user: str = "u"
    token: SecretStr


def test_whole_value_yields_the_object_inline_yields_text() -> None:
    ctx = {"s": {"list": [1, 2], "n": 3, "d": {"k": "v"}}}
    assert resolve("{{ s.list }}", ctx) == [1, 2]
    assert resolve("{{s.n}}", ctx) == 3
    assert resolve("n={{ s.n }} l={{ s.list }}", ctx) == "n=3 l=[1, 2]"
    assert resolve({"a": ["{{ s.d.k }}", 5, None]}, ctx) == {"a": ["v", 5, None]}
    assert resolve("{{ s.list.1 }}", ctx) == 2


def test_one_pass_a_resolved_value_is_not_templated_again(monkeypatch) -> None:
    monkeypatch.setenv("SF_TPL_OUTER", "{{ $SF_TPL_INNER }}")
    monkeypatch.setenv("SF_TPL_INNER", "leaked")
    assert resolve("{{ $SF_TPL_OUTER }}") == "{{ $SF_TPL_INNER }}"
    assert resolve("x {{ s.v }}", {"s": {"v": "{{ s.v }}"}}) == "x {{ s.v }}"


def test_env_placeholder(monkeypatch) -> None:
    monkeypatch.setenv("SF_TPL_X", "42")
    assert resolve("v{{ $SF_TPL_X }}") == "v42"
    monkeypatch.delenv("SF_TPL_X")
    with pytest.raises(TemplateError, match=r"environment variable 'SF_TPL_X' is not set"):
        resolve("{{ $SF_TPL_X }}", step="clone")


def test_variable_placeholder() -> None:
    set_variable("region", "eu-west-1")
    set_variable("cfg", {"a": [1, 2]})
    assert resolve("{{ stowflow.variables.region }}") == "eu-west-1"
    assert resolve("{{ stowflow.variables.cfg.a }}") == [1, 2]
    with pytest.raises(TemplateError) as info:
        resolve("{{ stowflow.variables.nope }}", step="s1")
    assert "{{ stowflow.variables.nope }}" in str(info.value) and "step 's1'" in str(info.value)
    assert "is not set" in str(info.value)


def test_block_placeholder_whole_and_field() -> None:
    from stowflow.blocks.types import block_types

    Secret(value=SecretStr("s3cr3t-value")).save("tok")
    assert resolve("{{ stowflow.blocks.secret.tok }}") == {"value": "s3cr3t-value"}
    assert resolve("Bearer {{ stowflow.blocks.secret.tok.value }}") == "Bearer s3cr3t-value"
    assert "demo-creds" not in block_types()
    DemoCreds(token=SecretStr("t0k3n-abc")).save("mine")
    assert resolve("{{ stowflow.blocks.demo-creds.mine.token }}") == "t0k3n-abc"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ stowflow.blocks.secret.missing }}", "missing"),
        ("{{ stowflow.blocks.secret }}", "a block reference is"),
        ("{{ stowflow.blocks.no-such-type.x }}", "unknown block type 'no-such-type'"),
        ("{{ stowflow.blocks.secret.tok.nofield }}", "block 'secret/tok' has no 'nofield'"),
        ("{{ stowflow.variables. }}", "a variable reference is"),
        ("{{ stowflow.variables.bad name }}", "invalid variable name"),
        ("{{ }}", "the placeholder is empty"),
        ("{{ step }}", "name an output of the step"),
        ("{{ step.missing }}", "step 'step' has no 'missing'"),
        ("{{ other.key }}", "no earlier step has id 'other'"),
    ],
)
def test_unresolvable_placeholders_are_errors_naming_them(template: str, message: str) -> None:
    Secret(value=SecretStr("s3cr3t-value")).save("tok")
    with pytest.raises(TemplateError) as info:
        resolve(f"x {template} y", {"step": {"k": 1}}, step="my-step")
    text = str(info.value)
    assert message in text and "step 'my-step'" in text
    assert "{{" in text  # the placeholder itself is quoted


def test_block_type_not_installed_names_the_distribution(monkeypatch) -> None:
    from stowflow.blocks import types
    from stowflow.plugins import reset_plugin_manager

    monkeypatch.setenv("STOWFLOW_PLUGINS", "only-core-plugins-please")  # no provider loads
    # a provider class another test imported is still defined in this process: forget it
    monkeypatch.delitem(types.DEFINED_BLOCK_TYPES, "azure-blob-credentials", raising=False)
    reset_plugin_manager()
    with pytest.raises(TemplateError) as info:
        resolve("{{ stowflow.blocks.azure-blob-credentials.c }}", step="pull")
    assert "needs the 'stowflow-azure' package" in str(info.value)
    assert "{{ stowflow.blocks.azure-blob-credentials.c }}" in str(info.value)
    assert info.value.hint == "pip install stowflow-azure"


def test_block_type_recorded_but_module_gone_names_the_distribution() -> None:
    from stowflow.blocks import documents

    documents.write_block_type("gone-creds", "Gone Creds", "stowflow_gone_xyz.blocks",
                           "stowflow-gone-xyz", {})
    with pytest.raises(TemplateError, match="needs the 'stowflow-gone-xyz' package") as info:
        resolve("{{ stowflow.blocks.gone-creds.c }}", step="pull")
    assert info.value.hint == "pip install stowflow-gone-xyz"


def test_partial_fills_known_outputs_and_keeps_the_rest(monkeypatch) -> None:
    monkeypatch.setenv("SF_TPL_PARTIAL", "nope")
    value = {
        "bucket": "{{ push_code.bucket }}",
        "creds": "{{ stowflow.blocks.aws-credentials.c }}",
        "var": "{{ stowflow.variables.v }}",
        "env": "a {{ $SF_TPL_PARTIAL }}",
        "later": "{{ clone.directory }}",
    }
    out = resolve(value, {"push_code": {"bucket": "b"}}, partial=True)
    assert out == {**value, "bucket": "b"}


def test_placeholders_lists_expressions() -> None:
    assert placeholders({"a": ["{{ x.y }} {{$E}}"], "b": 1}) == ["x.y", "$E"]


def test_errors_are_redacted() -> None:
    Secret(value=SecretStr("hunter2-secret")).save("pw")
    with pytest.raises(TemplateError) as info:
        resolve("{{ stowflow.blocks.secret.pw.value.x }}", step="s")
    assert "hunter2-secret" not in str(info.value)


_text = st.text(alphabet=st.sampled_from(list("{} $.abc-_0\n\t|[]\\\"'")), max_size=40)
_values = st.recursive(
    st.none() | st.integers() | st.booleans() | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=_values, partial=st.booleans())
def test_property_only_stowflow_errors_come_out(value, partial) -> None:
    context = {"a": {"b": [1, {"c": "d"}], "s": "{{ a.b }}"}, "abc": {"0": "x"}}
    try:
        out = resolve(value, context, step="prop", partial=partial)
    except StowflowError as exc:
        assert isinstance(exc, TemplateError)
        return
    if partial or not placeholders(value):
        # nothing resolved that could not be: text without resolvable placeholders stays
        assert out is not None or value is None


@settings(max_examples=200, deadline=None)
@given(text=_text)
def test_property_text_without_placeholders_is_unchanged(text) -> None:
    if not placeholders(text):
        assert resolve(text, {}) == text
