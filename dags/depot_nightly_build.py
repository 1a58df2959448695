"""Nightly multi-platform image build on Depot, then a step gated on the build's outcome.

``depot_nightly_build`` runs at 02:00 UTC (no catch-up runs):

1. ``build_image`` (DepotBuildOperator) builds the Dockerfile in ``params.context`` for
   ``params.platforms`` with the official ``depot`` CLI. The task's "Depot build" link opens
   the build's page as soon as it starts.
2. ``wait_for_build`` (DepotBuildSensor, deferrable) confirms through the API that Depot
   recorded the build as successful; a failed or canceled build fails it with the failing step.
3. ``report`` runs only after that, with what was built (digest, platforms, steps).

Params (trigger with a config to override them):

- ``project_id``: the Depot project; when empty, the Variable ``depot_nightly_build_project_id``;
- ``context`` (default ``build_context``, the sample next to this file; a relative path is
  relative to this file's folder, a git URL also works) and ``dockerfile``;
- ``platforms`` (default both ``linux/amd64`` and ``linux/arm64``);
- ``tags`` and ``push``: image names and whether to push them;
- ``outputs``: exporter specs such as ``type=local,dest=/abs/dir`` (default none: the result
  stays in Depot's cache);
- ``no_cache``; ``depot_cli_path`` (default ``depot``, looked up on PATH).

The ``depot_default`` connection holds the Depot token.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_provider_depot.operators.build import DepotBuildOperator
from airflow_provider_depot.sensors.build import DepotBuildSensor

PLATFORMS = ["linux/amd64", "linux/arm64"]
PROJECT_ID = "{{ params.project_id or var.value.get('depot_nightly_build_project_id', '') }}"

with DAG(
    dag_id="depot_nightly_build",
    description="Nightly multi-platform image build on Depot",
    doc_md=__doc__,
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    tags=["depot"],
    params={
        "project_id": Param("", type="string", description="Depot project id (empty: the Variable)."),
        "context": Param("build_context", type="string", minLength=1, description="Directory or git URL."),
        "dockerfile": Param("Dockerfile", type="string", minLength=1, description="Relative to the context."),
        "platforms": Param(PLATFORMS, type="array", minItems=1, uniqueItems=True, items={"enum": PLATFORMS}),
        "tags": Param([], type="array", items={"type": "string", "minLength": 1}),
        "push": Param(False, type="boolean", description="Push the tags."),
        "outputs": Param([], type="array", items={"type": "string", "minLength": 1}),
        "no_cache": Param(False, type="boolean"),
        "depot_cli_path": Param("depot", type="string", minLength=1),
    },
) as dag:
    build = DepotBuildOperator(
        task_id="build_image",
        project_id=PROJECT_ID,
        context="{{ params.context }}",
        dockerfile="{{ params.dockerfile }}",
        platforms="{{ params.platforms }}",
        tags="{{ params.tags }}",
        push="{{ params.push }}",
        outputs="{{ params.outputs }}",
        no_cache="{{ params.no_cache }}",
        labels={"org.opencontainers.image.created": "{{ dag_run.run_after.isoformat() }}"},
        depot_cli_path="{{ params.depot_cli_path }}",
    )

    confirmed = DepotBuildSensor(
        task_id="wait_for_build",
        build_id="{{ ti.xcom_pull(task_ids='build_image', key='build_id') }}",
        project_id=PROJECT_ID,
        deferrable=True,
        poke_interval=30,
        timeout=3600,
    )

    @task
    def report(built: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
        """What the nightly build produced, for whatever comes next (a deploy, a notification)."""
        summary = {
            "build_url": built["build_url"],
            "digest": built["digest"],
            "platforms": built["platforms"],
            "steps": built["steps"],
            "build_duration_seconds": recorded["build_duration_seconds"],
        }
        print(f"Nightly build {built['build_id']} done: {summary}")
        return summary

    build >> confirmed
    report(build.output, confirmed.output)
