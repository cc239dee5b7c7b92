"""What ``stowflow migrate prefect`` makes of each shape the user's guide shows, and of the
shapes it cannot translate: every decision is an item with the line it is about."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from stowflow.blocks import Secret
from stowflow.deployments.project import parse_project
from stowflow.migrate import Migration, migrate_prefect_file

FILES = Path(__file__).parent / "prefect_files"
SEED_SHAPES = sorted(p.stem for p in FILES.glob("*.yaml"))


def migrate(tmp_path: Path, text: str) -> Migration:
    path = tmp_path / "prefect.yaml"
    path.write_text(text)
    return migrate_prefect_file(path)


def items(migration: Migration, status: str) -> list[tuple[int | None, str, str, str]]:
    return [(i.line, i.field, i.before, i.after) for i in migration.items if i.status == status]


@pytest.mark.parametrize("shape", SEED_SHAPES)
def test_every_shape_of_the_users_guide_translates_completely(shape: str) -> None:
    migration = migrate_prefect_file(FILES / f"{shape}.yaml")
    assert migration.complete, migration.untranslated
    text = migration.text()
    assert not re.search(r"prefect[._-]", repr(yaml.safe_load(text)))  # steps, blocks, dists
    config = parse_project(text)  # what 'stowflow deploy' reads
    assert config.deployments


def test_steps_blocks_and_distributions_are_ours(tmp_path: Path) -> None:
    migration = migrate_prefect_file(FILES / "s3.yaml")
    project = migration.project
    push = project["push"][0]["stowflow_aws.deployments.steps.push_to_s3"]
    assert push["credentials"] == "{{ stowflow.blocks.aws-credentials.my-credentials-block }}"
    assert push["requires"] == "stowflow-aws"
    pull = project["pull"][0]["stowflow_aws.deployments.steps.pull_from_s3"]
    assert pull["bucket"] == "{{ push_code.bucket }}"  # step outputs are kept
    env = project["deployments"][0]["work_pool"]["job_variables"]["env"]
    assert env == {"EXTRA_PIP_PACKAGES": "stowflow-aws"}
    changed = items(migration, "changed")
    assert (6, "push[0].requires", "prefect-aws>=0.5", "stowflow-aws") in changed


def test_the_azure_block_slug_of_the_guide_becomes_ours() -> None:
    migration = migrate_prefect_file(FILES / "azure.yaml")
    pull = migration.project["pull"][0][
        "stowflow_azure.deployments.steps.pull_from_azure_blob_storage"]
    assert pull["credentials"] == "{{ stowflow.blocks.azure-blob-credentials.my-credentials-block }}"
    assert [b.ref for b in migration.blocks] == ["azure-blob-credentials/my-credentials-block"]
    assert any(i.status == "changed" and "azure-blob-credentials" in i.note
               for i in migration.items)


def test_a_step_using_its_own_output_is_pointed_at_the_step_its_other_arguments_use() -> None:
    migration = migrate_prefect_file(FILES / "gcs.yaml")
    pull = migration.project["pull"][0]["stowflow_gcp.deployments.steps.pull_from_gcs"]
    assert pull["folder"] == "{{ push_code.folder }}"
    assert (15, "pull[0].folder", "{{ pull_code.folder }}", "{{ push_code.folder }}") in \
        items(migration, "changed")


def test_blocks_the_file_needs_say_whether_they_are_saved() -> None:
    Secret(value="s3cr3t-value").save("my-block-name")
    gitlab = migrate_prefect_file(FILES / "gitlab.yaml")
    github = migrate_prefect_file(FILES / "github.yaml")
    assert [(b.ref, b.exists) for b in gitlab.blocks] == [("secret/my-block-name", True)]
    assert [(b.ref, b.exists, b.distribution) for b in github.blocks] == [
        ("github-credentials/my-github-credentials-block", False, "stowflow-github")]


def test_variables_environment_and_schedules(tmp_path: Path) -> None:
    migration = migrate(tmp_path, """\
pull:
- prefect.deployments.steps.run_shell_script:
    script: echo "{{ prefect.variables.greeting }} {{ $HOME }}"
    stream_output: true
deployments:
- name: d
  entrypoint: f.py:f
  schedule: {cron: "0 9 * * MON-FRI", timezone: Europe/Berlin, day_or: true, slug: weekdays}
  concurrency_limit: {limit: 2, collision_strategy: ENQUEUE}
  work_pool: {name: p, job_variables: {image_pull_policy: IfNotPresent}}
""")
    assert migration.complete, migration.untranslated
    step = migration.project["pull"][0]["stowflow.deployments.steps.run_shell_script"]
    assert step == {"script": 'echo "{{ stowflow.variables.greeting }} {{ $HOME }}"',
                    "stream_output": True}
    deployment = migration.project["deployments"][0]
    assert deployment["schedules"] == [{"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"}]
    assert deployment["concurrency_limit"] == 2
    assert deployment["work_pool"]["job_variables"] == {"image_pull_policy": "if_not_present"}


def test_what_cannot_be_translated_is_listed_with_its_line(tmp_path: Path) -> None:
    migration = migrate(tmp_path, """\
definitions:
  pools: &pool {name: p}
pull:
- prefect.deployments.steps.git_clone:
    repository: https://example.com/r.git
    no_such_argument: 1
- prefect.deployments.steps.mystery_step: {}
- prefect.deployments.steps.run_shell_script:
    script: "echo {{ prefect.runtime.flow_run.id }} {{ nowhere.out }}"
deployments:
- name: d
  entrypoint: f.py:f
  work_pool: *pool
  triggers: [{enabled: true}]
  concurrency_limit: {limit: 1, collision_strategy: CANCEL_NEW}
  colour: blue
  schedules: [{interval: 60, catchup: true}]
sidecar: true
""")
    assert not migration.complete
    lines = {(item.line, item.field) for item in migration.untranslated}
    assert lines == {
        (6, "pull[0].no_such_argument"),
        (7, "pull[1]"),
        (9, "pull[2].script"),  # prefect.runtime has no equivalent, nowhere is no step
        (14, "deployments[0].triggers"),
        (15, "deployments[0].concurrency_limit"),
        (16, "deployments[0].colour"),
        (17, "deployments[0].schedules[0].catchup"),
        (18, "sidecar"),
    }
    assert len([i for i in migration.untranslated if i.line == 9]) == 2
    assert (1, "definitions", "definitions", "(dropped)") in items(migration, "changed")
    # the aliases were expanded where used; what could not be translated is left out
    assert migration.project["deployments"][0]["work_pool"] == {"name": "p"}
    assert len(migration.project["pull"]) == 2
    assert "line 7: pull[1]" in migration.text()


def test_a_step_of_ones_own_is_kept_as_written(tmp_path: Path) -> None:
    migration = migrate(tmp_path, """\
pull:
- my_company.steps.fetch_config: {id: cfg, env: prod}
- prefect.deployments.steps.set_working_directory: {directory: "{{ cfg.directory }}"}
deployments: [{name: d, entrypoint: f.py:f}]
""")
    assert migration.complete
    assert migration.project["pull"][0] == {"my_company.steps.fetch_config": {"id": "cfg",
                                                                              "env": "prod"}}
    assert items(migration, "kept")[0][:2] == (2, "pull[0]")


def test_an_unreadable_file_is_one_clear_error(tmp_path: Path) -> None:
    from stowflow.deployments.yamlfile import StowflowYamlError

    with pytest.raises(StowflowYamlError, match=r"prefect.yaml:3: invalid YAML"):
        migrate(tmp_path, "pull:\n  - [unclosed\n")
    with pytest.raises(StowflowYamlError, match="no such file"):
        migrate_prefect_file(tmp_path / "elsewhere")


def test_the_code_folder_of_an_auto_built_image_comes_from_the_build_step(tmp_path) -> None:
    migration = migrate_prefect_file(FILES / "docker.yaml")
    step = migration.project["pull"][0]["stowflow.deployments.steps.set_working_directory"]
    assert step == {"directory": "{{ build-image.code_directory }}"}
    assert (12, "pull[0].directory", "/opt/prefect/my_directory",
            "{{ build-image.code_directory }}") in items(migration, "changed")

    without_id = migrate(tmp_path, (FILES / "docker.yaml").read_text().replace(
        "    id: build-image\n", ""))
    assert [(i.line, i.field) for i in without_id.untranslated] == [
        (11, "pull[0].directory"),
        (24, "deployments[0].work_pool.job_variables.image"),  # no step has id build-image
    ]
