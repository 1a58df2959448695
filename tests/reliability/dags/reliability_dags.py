"""DAGs the reliability tests run with ``dag.test()``, each configured through its params.

This folder is made a DAG bundle by the tests that run them (``dag.test()`` finds DAGs through
the configured bundles only).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG

from airflow_provider_depot.operators.build import DepotBuildOperator
from airflow_provider_depot.operators.buildkit import DepotBuildKitOperator
from airflow_provider_depot.transfers.usage_to_sql import DepotUsageToSqlOperator

COMMON = {
    "schedule": None,
    "start_date": pendulum.datetime(2025, 1, 1, tz="UTC"),
    "catchup": False,
    "render_template_as_native_obj": True,
}

with DAG(
    "reliability_kill_buildkit", params={"project_id": "", "command": "true"}, **COMMON
) as kill_buildkit:
    DepotBuildKitOperator(
        task_id="hold_builder",
        project_id="{{ params.project_id }}",
        bash_command="{{ params.command }}",
        health_interval=0.3,
    )

with DAG(
    "reliability_kill_build", params={"project_id": "", "context": "", "depot_cli_path": "depot"}, **COMMON
) as kill_build:
    DepotBuildOperator(
        task_id="build",
        project_id="{{ params.project_id }}",
        context="{{ params.context }}",
        depot_cli_path="{{ params.depot_cli_path }}",
    )

with DAG(
    "reliability_usage_export",
    params={"sql_conn_id": "", "schema": None, "start": "", "end": ""},
    **COMMON,
) as usage_export:
    DepotUsageToSqlOperator(
        task_id="export",
        sql_conn_id="{{ params.sql_conn_id }}",
        schema="{{ params.schema }}",
        start="{{ params.start }}",
        end="{{ params.end }}",
        chunk_size=1,  # one round trip per row: the write lasts long enough to be killed inside
    )
