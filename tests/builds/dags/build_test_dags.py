"""DAGs for the build tests, each configured through its params (``dag.test(run_conf=...)``).

This folder is a DAG bundle of its own in the build tests (see conftest.py), so that
``dag.test()`` finds these DAGs; the tests import this file and run the DAG objects in it.
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import DAG

from airflow_provider_depot.operators.build import DepotBuildOperator
from airflow_provider_depot.operators.buildkit import DepotBuildKitOperator
from airflow_provider_depot.sensors.build import DepotBuildSensor

START = pendulum.datetime(2025, 1, 1, tz="UTC")
COMMON = {"schedule": None, "start_date": START, "catchup": False, "render_template_as_native_obj": True}


def buildkit_dag(dag_id: str, health_interval: float) -> DAG:
    with DAG(
        dag_id, params={"project_id": "", "command": "true", "platforms": ["linux/amd64"]}, **COMMON
    ) as dag:
        DepotBuildKitOperator(
            task_id="hold_builders",
            project_id="{{ params.project_id }}",
            bash_command="{{ params.command }}",
            platforms="{{ params.platforms }}",
            health_interval=health_interval,
            expose_build_token=True,
        )
    return dag


buildkit_often = buildkit_dag("depot_test_buildkit", health_interval=0.5)
buildkit_rarely = buildkit_dag("depot_test_buildkit_rare_health", health_interval=30.0)

with DAG(
    "depot_test_build_cli",
    params={
        "project_id": "",
        "context": "",
        "outputs": [],
        "platforms": ["linux/amd64"],
        "secrets": {},
        "depot_cli_path": "depot",
    },
    **COMMON,
) as build_cli:
    DepotBuildOperator(
        task_id="build",
        project_id="{{ params.project_id }}",
        context="{{ params.context }}",
        platforms="{{ params.platforms }}",
        outputs="{{ params.outputs }}",
        secrets="{{ params.secrets }}",
        depot_cli_path="{{ params.depot_cli_path }}",
    )


def sensor_dag(dag_id: str, **sensor_kwargs: object) -> DAG:
    with DAG(dag_id, params={"project_id": "", "build_id": ""}, **COMMON) as dag:
        DepotBuildSensor(
            task_id="wait_for_build",
            build_id="{{ params.build_id }}",
            project_id="{{ params.project_id }}",
            poke_interval=0.2,
            **sensor_kwargs,
        )
    return dag


sensor_deferrable = sensor_dag("depot_test_sensor_deferrable", deferrable=True, timeout=60)
sensor_deferrable_short = sensor_dag("depot_test_sensor_deferrable_timeout", deferrable=True, timeout=1.5)
sensor_deferrable_deadline = sensor_dag(
    "depot_test_sensor_deferrable_deadline",
    deferrable=True,
    timeout=60,
    execution_timeout=dt.timedelta(seconds=4),
)
sensor_poke = sensor_dag("depot_test_sensor_poke", deferrable=False, mode="poke", timeout=60)
