"""What each ``prefect.yaml`` name becomes in stowflow: steps, distributions, block slugs.

These tables are the whole vocabulary of ``stowflow migrate prefect``; the translator in
:mod:`stowflow.migrate.prefect` only walks the file and applies them. A step's arguments
are checked against the stowflow step's own signature, so the tables list only what
differs: renamed arguments, and arguments that are dropped (with the reason the report
shows) or that have no equivalent at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepRule:
    """How one prefect step becomes a stowflow step."""

    target: str
    distribution: str
    renamed: dict[str, str] = field(default_factory=dict)
    #: arguments dropped because they change nothing in stowflow: argument → why
    dropped: dict[str, str] = field(default_factory=dict)
    #: arguments with no stowflow equivalent: argument → what to do instead
    unsupported: dict[str, str] = field(default_factory=dict)


_CORE = "stowflow"
_STREAM_NOTE = "stowflow keeps the installer's output in the step's result and the run's events"

_DOCKER_ONLY = {
    "additional_tags": "tag the image again with a run_shell_script step after the build",
    "ignore_cache": "stowflow's auto Dockerfile is layered so the cache is safe to use",
    "persist_dockerfile": "pass dockerfile: with a file you keep in the project instead",
    "dockerfile_output_path": "pass dockerfile: with a file you keep in the project instead",
}

STEP_RULES: dict[str, StepRule] = {
    "prefect.deployments.steps.git_clone": StepRule(
        "stowflow.deployments.steps.git_clone", _CORE),
    "prefect.deployments.steps.set_working_directory": StepRule(
        "stowflow.deployments.steps.set_working_directory", _CORE),
    "prefect.deployments.steps.pip_install_requirements": StepRule(
        "stowflow.deployments.steps.pip_install_requirements", _CORE,
        dropped={"stream_output": _STREAM_NOTE}),
    "prefect.deployments.steps.run_shell_script": StepRule(
        "stowflow.deployments.steps.run_shell_script", _CORE),
    "prefect.deployments.steps.pull_from_remote_storage": StepRule(
        "stowflow.deployments.steps.pull_from_remote_storage", _CORE),
    "prefect.deployments.steps.pull_with_block": StepRule(
        "stowflow.deployments.steps.pull_with_block", _CORE),
    "prefect_aws.deployments.steps.push_to_s3": StepRule(
        "stowflow_aws.deployments.steps.push_to_s3", "stowflow-aws"),
    "prefect_aws.deployments.steps.pull_from_s3": StepRule(
        "stowflow_aws.deployments.steps.pull_from_s3", "stowflow-aws"),
    "prefect_gcp.deployments.steps.push_to_gcs": StepRule(
        "stowflow_gcp.deployments.steps.push_to_gcs", "stowflow-gcp"),
    "prefect_gcp.deployments.steps.pull_from_gcs": StepRule(
        "stowflow_gcp.deployments.steps.pull_from_gcs", "stowflow-gcp"),
    "prefect_azure.deployments.steps.push_to_azure_blob_storage": StepRule(
        "stowflow_azure.deployments.steps.push_to_azure_blob_storage", "stowflow-azure"),
    "prefect_azure.deployments.steps.pull_from_azure_blob_storage": StepRule(
        "stowflow_azure.deployments.steps.pull_from_azure_blob_storage", "stowflow-azure"),
    "prefect_docker.deployments.steps.build_docker_image": StepRule(
        "stowflow_docker.deployments.steps.build_docker_image", "stowflow-docker",
        renamed={"buildargs": "build_args"}, unsupported=_DOCKER_ONLY),
    "prefect_docker.deployments.steps.push_docker_image": StepRule(
        "stowflow_docker.deployments.steps.push_docker_image", "stowflow-docker",
        unsupported={"additional_tags": _DOCKER_ONLY["additional_tags"],
                     "ignore_cache": "a push has no cache to ignore in stowflow"}),
}
# The user's guide spells the GCP module 'prefect_gcp.deployment.steps' (singular); both work.
for _name in ("push_to_gcs", "pull_from_gcs"):
    STEP_RULES[f"prefect_gcp.deployment.steps.{_name}"] = STEP_RULES[
        f"prefect_gcp.deployments.steps.{_name}"]

#: prefect distributions (and ``prefect[extra]``) → the stowflow distribution that replaces them
DISTRIBUTIONS: dict[str, str] = {
    "prefect": "stowflow",
    "prefect-aws": "stowflow-aws",
    "prefect-gcp": "stowflow-gcp",
    "prefect-azure": "stowflow-azure",
    "prefect-github": "stowflow-github",
    "prefect-gitlab": "stowflow-gitlab",
    "prefect-bitbucket": "stowflow-bitbucket",
    "prefect-docker": "stowflow-docker",
}
EXTRAS: dict[str, str] = {
    "aws": "stowflow-aws", "gcp": "stowflow-gcp", "azure": "stowflow-azure",
    "github": "stowflow-github", "gitlab": "stowflow-gitlab",
    "bitbucket": "stowflow-bitbucket", "docker": "stowflow-docker",
}

#: prefect block type slugs whose stowflow block type has another slug
BLOCK_SLUGS: dict[str, str] = {
    "azure-blob-storage-credentials": "azure-blob-credentials",
}

#: which distribution brings each block type the user's guide uses (for the blocks table)
BLOCK_DISTRIBUTIONS: dict[str, str] = {
    "secret": "stowflow",
    "github-credentials": "stowflow-github",
    "gitlab-credentials": "stowflow-gitlab",
    "bitbucket-credentials": "stowflow-bitbucket",
    "aws-credentials": "stowflow-aws",
    "s3-bucket": "stowflow-aws",
    "gcp-credentials": "stowflow-gcp",
    "gcs-bucket": "stowflow-gcp",
    "azure-blob-credentials": "stowflow-azure",
    "azure-blob-storage": "stowflow-azure",
    "docker-registry-credentials": "stowflow-docker",
}

#: the Docker work pool's image pull policies, as prefect spells them → as stowflow does
IMAGE_PULL_POLICIES: dict[str, str] = {
    "Always": "always", "IfNotPresent": "if_not_present", "Never": "never",
}

#: deployment fields that mean the same in both files
SAME_DEPLOYMENT_FIELDS = frozenset({
    "name", "version", "tags", "description", "entrypoint", "parameters",
    "enforce_parameter_schema", "schedules",
})
#: deployment fields with no stowflow equivalent → what to do instead
UNSUPPORTED_DEPLOYMENT_FIELDS: dict[str, str] = {
    "triggers": "stowflow has no event triggers; start runs from a schedule or the CLI",
    "flow_name": "stowflow reads the flow's name from the entrypoint",
    "version_type": "stowflow records a version for every deploy on its own",
}

#: prefect-only schedule keys: key → (the values that mean stowflow's behaviour, or ``None``
#: for any value; why they can be dropped; what to do when the value asks for more)
SCHEDULE_DROPPED: dict[str, tuple[tuple[object, ...] | None, str, str]] = {
    "day_or": ((True, None), "stowflow's cron (croniter) matches day-of-month OR day-of-week",
               "stowflow's cron always ORs day-of-month and day-of-week; write an rrule"),
    "slug": (None, "stowflow schedules have no slug; they are listed by position", ""),
    "catchup": ((), "", "stowflow catches up the most recent missed run by default; set "
                "'stowflow scheduler start --catchup N' or use 'stowflow deployment backfill'"),
}
