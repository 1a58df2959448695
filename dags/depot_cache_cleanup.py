"""Depot housekeeping: a nightly registry cleanup and a weekly build-cache reset.

Two DAGs live in this file.

``depot_registry_cleanup`` (nightly, 03:00 UTC) runs DepotRegistryCleanupOperator once per
project, as mapped task instances (at most four at a time). Each run's params say what to do:

- ``project_ids``: the projects; when empty, the JSON list in the Variable
  ``depot_cleanup_project_ids`` (none configured: the mapped task is skipped);
- ``keep_last`` (default 50) and ``older_than_days`` (default 14, null for no age rule): a tag
  is deleted only if it is beyond the 50 newest *and* older than 14 days;
- ``keep_tags`` (default ``["latest"]``): globs that are never deleted;
- ``dry_run`` (default false): log the plan, delete nothing.

``depot_cache_reset`` (weekly, Sunday 05:00 UTC) resets the build cache of the projects in its
``project_ids`` param, else of the JSON list in the Variable ``depot_cache_reset_project_ids``:
Depot stops their builders and drops the cached layers, so the next build starts cold.

Both use the ``depot_default`` connection.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, Variable, task

from airflow_provider_depot.operators.projects import DepotResetProjectOperator
from airflow_provider_depot.operators.registry_cleanup import DepotRegistryCleanupOperator


def project_ids_param() -> Param:
    return Param(
        [],
        type="array",
        items={"type": "string", "minLength": 1},
        description="Depot project ids; empty to use the Variable named in the DAG's docs.",
    )


# What both DAGs share; each is configured per run through its params.
COMMON_DAG_ARGS: dict[str, Any] = {
    "doc_md": __doc__,
    "start_date": pendulum.datetime(2025, 1, 1, tz="UTC"),
    "catchup": False,
    "max_active_runs": 1,
    "tags": ["depot"],
}


@task
def configured_project_ids(variable: str, **context: Any) -> list[str]:
    """The run's ``project_ids`` param, else the JSON list in ``variable``; duplicates dropped."""
    ids = context["params"]["project_ids"] or Variable.get(variable, default=[], deserialize_json=True)
    if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
        raise ValueError(f"Variable {variable!r} must hold a JSON list of project ids, got {ids!r}")
    return list(dict.fromkeys(ids))


with DAG(
    dag_id="depot_registry_cleanup",
    description="Nightly cleanup of old images in Depot project registries",
    schedule="0 3 * * *",
    render_template_as_native_obj=True,
    params={
        "project_ids": project_ids_param(),
        "keep_last": Param(50, type="integer", minimum=0, description="Keep this many newest tags."),
        "older_than_days": Param(
            14, type=["null", "integer"], minimum=0, description="Delete only tags older than this."
        ),
        "keep_tags": Param(["latest"], type="array", items={"type": "string"}, description="Never deleted."),
        "dry_run": Param(False, type="boolean", description="Log the plan, delete nothing."),
    },
    **COMMON_DAG_ARGS,
):
    DepotRegistryCleanupOperator.partial(
        task_id="cleanup_registry",
        keep_last="{{ params.keep_last }}",
        older_than="{{ params.older_than_days }}",
        keep_tags="{{ params.keep_tags }}",
        dry_run="{{ params.dry_run }}",
        max_active_tis_per_dagrun=4,
    ).expand(
        project_id=configured_project_ids.override(task_id="projects_to_clean")("depot_cleanup_project_ids")
    )


with DAG(
    dag_id="depot_cache_reset",
    description="Weekly reset of the Depot build cache of chosen projects",
    schedule="0 5 * * 0",
    params={"project_ids": project_ids_param()},
    **COMMON_DAG_ARGS,
):
    DepotResetProjectOperator.partial(task_id="reset_cache").expand(
        project_id=configured_project_ids.override(task_id="projects_to_reset")(
            "depot_cache_reset_project_ids"
        )
    )
