"""Forms generated from schemas (unit level): kinds, nesting, parsing, secrets, errors."""

from __future__ import annotations

import pytest
from stowflow.blocks import Secret
from stowflow.server import forms
from stowflow_aws import AwsCredentials, S3Bucket


def _by_name(fields: list[forms.FormField]) -> dict[str, forms.FormField]:
    out = {}
    for item in fields:
        out[item.name] = item
        out.update(_by_name(item.children))
    return out


def test_a_block_type_with_nested_models_becomes_groups_of_inputs() -> None:
    fields = _by_name(forms.model_form(AwsCredentials))
    assert fields["aws_secret_access_key"].kind == "password"
    assert fields["aws_client_parameters"].kind == "group"
    assert fields["aws_client_parameters.retries.mode"].kind == "select"
    assert ("adaptive", "adaptive") in fields["aws_client_parameters.retries.mode"].options
    assert fields["aws_client_parameters.retries.max_attempts"].kind == "integer"
    assert fields["aws_client_parameters.verify"].kind == "text"  # bool | str
    assert fields["region_name"].help  # the field's description


def test_submitted_text_becomes_a_valid_block() -> None:
    block = forms.build_block(AwsCredentials, {
        "aws_access_key_id": "AKIA1", "aws_secret_access_key": "s3cr3t-value-1",
        "aws_client_parameters.verify": "false",
        "aws_client_parameters.retries.max_attempts": "7",
        "aws_client_parameters.retries.mode": "adaptive", "region_name": ""})
    assert block.aws_secret_access_key.get_secret_value() == "s3cr3t-value-1"
    assert block.aws_client_parameters.verify is False
    assert block.aws_client_parameters.retries.max_attempts == 7
    assert block.region_name is None
    ca = forms.build_block(AwsCredentials, {"aws_client_parameters.verify": "/etc/ca.pem"})
    assert ca.aws_client_parameters.verify == "/etc/ca.pem"


def test_errors_are_mapped_to_their_inputs_without_the_input() -> None:
    with pytest.raises(forms.FormError) as caught:
        forms.build_block(AwsCredentials, {
            "aws_client_parameters.retries.max_attempts": "many-secret-attempts"})
    assert set(caught.value.errors) == {"aws_client_parameters.retries.max_attempts"}
    assert "many-secret-attempts" not in str(caught.value.errors)


def test_editing_keeps_a_saved_secret_unless_a_new_one_is_typed() -> None:
    Secret(value="old-secret-value").save("keep-me")
    current = Secret.load("keep-me")
    fields = forms.model_form(Secret, current)
    assert fields[0].kind == "password" and fields[0].secret_saved and fields[0].value == ""
    assert forms.build_block(Secret, {"value": ""}, current).get() == "old-secret-value"
    assert forms.build_block(Secret, {"value": "new-one"}, current).get() == "new-one"
    with pytest.raises(forms.FormError) as caught:
        forms.build_block(Secret, {"value": ""})  # nothing saved, nothing typed
    assert "value" in caught.value.errors


def test_nested_block_fields_are_selects_of_saved_blocks() -> None:
    AwsCredentials(aws_access_key_id="AKIA2").save("prod-aws")
    Secret(value="x").save("not-aws")
    fields = _by_name(forms.model_form(S3Bucket))
    assert fields["credentials"].kind == "block"
    # labelled as pydantic titles the other fields ("Bucket Name"), though its schema is a $ref
    assert (fields["credentials"].label, fields["bucket_name"].label) == ("Credentials",
                                                                          "Bucket Name")
    values = [value for value, _ in fields["credentials"].options]
    assert "aws-credentials/prod-aws" in values and "secret/not-aws" not in values
    bucket = forms.build_block(S3Bucket, {"bucket_name": "b1",
                                          "credentials": "aws-credentials/prod-aws"})
    assert bucket.credentials.aws_access_key_id == "AKIA2"
    with pytest.raises(forms.FormError) as caught:
        forms.build_block(S3Bucket, {"bucket_name": "b1", "credentials": "aws-credentials/gone"})
    assert "no 'aws-credentials' block named 'gone'" in caught.value.errors["credentials"]


def test_parameter_forms_follow_the_flow_schema() -> None:
    schema = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "description": "who to greet"},
        "count": {"type": "integer", "default": 3},
        "mode": {"enum": ["fast", "slow"], "default": "fast"},
        "loud": {"type": "boolean", "default": False},
        "tags": {"type": "array", "items": {"type": "string"}},
        "code": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}}}
    fields = _by_name(forms.parameter_form(schema))
    assert (fields["name"].kind, fields["name"].required, fields["name"].help) == \
        ("text", True, "who to greet")
    assert (fields["count"].kind, fields["count"].value) == ("integer", "3")
    assert fields["mode"].kind == "select" and fields["mode"].value == "fast"
    assert fields["loud"].kind == "select" and fields["loud"].value == "false"
    assert fields["tags"].kind == "json" and fields["code"].kind == "text"
    values = forms.parse_fields(list(fields.values()), {
        "name": "007", "count": "5", "loud": "true", "tags": '["a"]', "code": "", "mode": "slow"})
    assert values == {"name": "007", "count": 5, "loud": True, "tags": ["a"], "mode": "slow"}
    with pytest.raises(forms.FormError) as caught:
        forms.parse_fields(list(fields.values()), {"tags": "[not json"})
    assert set(caught.value.errors) == {"tags"}


def test_a_required_choice_without_a_default_is_not_chosen_for_the_user() -> None:
    # A browser submits a select's first option when none is marked selected: a required
    # enum (or boolean) with no default starts on an empty "(choose one)" option instead,
    # and submitting it unchosen is the 'required' error of deployment run's rules.
    from stowflow.runs import parameter_problems

    schema = {"type": "object", "required": ["mode", "loud"], "properties": {
        "mode": {"enum": ["fast", "slow"]}, "loud": {"type": "boolean"},
        "level": {"enum": ["a", "b"], "default": "b"}}}
    fields = _by_name(forms.parameter_form(schema, {"level": None}))
    for name in ("mode", "loud"):
        assert fields[name].options[0] == ("", "(choose one)") and fields[name].value == ""
    assert [v for v, _ in fields["level"].options] == ["", "a", "b"]  # optional: (none)
    assert fields["level"].value == "b"
    assert _by_name(forms.parameter_form(schema, {"mode": "slow"}))["mode"].value == "slow"
    values = forms.parse_fields(list(fields.values()), {"mode": "", "loud": "", "level": "b"})
    assert values == {"level": "b"}
    assert {field for field, _ in parameter_problems(values, schema)} == {"mode", "loud"}

