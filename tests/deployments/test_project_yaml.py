"""stowflow.yaml: the model, errors with file, field and line, and a property test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from stowflow.deployments.project import load_project, parse_project
from stowflow.deployments.yamlfile import StowflowYamlError
from stowflow.errors import StowflowError

DESIGN_EXAMPLE = """\
build: null
push:
- stowflow_aws.deployments.steps.push_to_s3:
    id: push_code
    requires: stowflow-aws>=0.1
    bucket: my-bucket
    folder: my-folder
    credentials: "{{ stowflow.blocks.aws-credentials.my-creds }}"
pull:
- stowflow_aws.deployments.steps.pull_from_s3:
    id: pull_code
    requires: stowflow-aws>=0.1
    bucket: "{{ push_code.bucket }}"
    folder: "{{ push_code.folder }}"
    credentials: "{{ stowflow.blocks.aws-credentials.my-creds }}"
deployments:
- name: my-deployment
  entrypoint: flows/etl.py:etl
  parameters: {}
  work_pool: {name: my-pool, work_queue_name: null, job_variables: {}}
  tags: []
  version: null
  description: null
  concurrency_limit: null
  enforce_parameter_schema: true
  schedules: []
  pull:
  - stowflow.deployments.steps.set_working_directory: {directory: /srv}
"""


def test_the_design_example_parses() -> None:
    config = parse_project(DESIGN_EXAMPLE)
    assert config.build is None and len(config.push) == 1
    spec = config.deployments[0]
    assert spec.name == "my-deployment" and spec.work_pool.name == "my-pool"
    assert spec.pull == [{"stowflow.deployments.steps.set_working_directory": {"directory": "/srv"}}]


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("deployments:\n- name: a\n  entrypoint: f.py:x\n  work_pool:\n    name: [1]\n",
         5, "deployments[0].work_pool.name", "valid string"),
        ("deployments:\n- name: a\n  entrypoint: f.py:x\n  colour: red\n",
         4, "deployments[0].colour", "Extra inputs"),
        ("deployments:\n- name: a\n  entrypoint: f.py:x\n- name: b\n  entrypoint: nocolon\n",
         5, "deployments[1].entrypoint", "expected 'path/to/file.py:function'"),
        ("deployments:\n- entrypoint: f.py:x\n", 2, "deployments[0].name", "Field required"),
        ("pull:\n- stowflow.a.b: {}\n- notapath: {}\n", 3, "pull[1]", "is not an import path"),
        ("push:\n- a.b: {}\n  c.d: {}\n", 2, "push[0]", "exactly one key"),
        ("deployments:\n- name: a\n  entrypoint: f.py:x\n  concurrency_limit: 0\n",
         4, "deployments[0].concurrency_limit", "greater than or equal to 1"),
        ("deployments:\n- {name: a, entrypoint: f.py:x}\n- {name: a, entrypoint: g.py:y}\n",
         1, "deployments", "used twice"),
        ("surprise: 1\n", 1, "surprise", "Extra inputs"),
    ],
)
def test_errors_point_at_file_field_and_line(text, line, field, message) -> None:
    with pytest.raises(StowflowYamlError) as info:
        parse_project(text, "proj/stowflow.yaml")
    error = info.value
    assert (error.line, error.field) == (line, field)
    assert str(error).startswith(f"proj/stowflow.yaml:{line}: {field}: ")
    assert message in str(error)


def test_several_problems_are_all_listed_with_lines() -> None:
    text = "deployments:\n- name: a\n  entrypoint: f.py:x\n  x: 1\n  y: 2\n"
    with pytest.raises(StowflowYamlError) as info:
        parse_project(text)
    assert "line 5: deployments[0].y" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a: [1,\n b", 2, "invalid YAML"),
        ("a: 1\n a: 2\n", 2, "invalid YAML"),
        ("--- 1\n--- 2\n", 2, "invalid YAML"),
        ("- 1\n- 2\n", 1, "expected a mapping"),
        ("{[1]: 2}", 1, "invalid YAML"),
    ],
)
def test_invalid_yaml_points_at_the_line(text, line, message) -> None:
    with pytest.raises(StowflowYamlError) as info:
        parse_project(text, "s.yaml")
    assert message in str(info.value) and info.value.line == line


def test_empty_file_is_an_empty_project() -> None:
    assert parse_project("").deployments == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StowflowYamlError, match="no such file") as info:
        load_project(tmp_path / "stowflow.yaml")
    assert "stowflow init" in str(info.value)


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_docs = st.recursive(
    _scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["build", "push", "pull", "deployments", "name", "entrypoint",
                         "work_pool", "parameters", "a.b", "stowflow.x.y", "id", "x"]) | st.text(max_size=5),
        c, max_size=4),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(doc=_docs)
def test_property_any_document_gives_a_config_or_a_stowflow_error(doc) -> None:
    try:
        parse_project(yaml.safe_dump(doc))
    except StowflowError as exc:
        assert isinstance(exc, StowflowYamlError) and str(exc).startswith("stowflow.yaml")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("ab:- \n[]{}&*!|>'\"#%@`,?")), max_size=60))
def test_property_any_text_gives_a_config_or_a_stowflow_error(text) -> None:
    try:
        parse_project(text)
    except StowflowError as exc:
        assert isinstance(exc, StowflowYamlError)
