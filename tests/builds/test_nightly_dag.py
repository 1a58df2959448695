"""The nightly-build example DAG parses cleanly and is wired as documented."""

from __future__ import annotations

from pathlib import Path

from airflow.dag_processing.dagbag import DagBag

NIGHTLY = Path(__file__).resolve().parents[2] / "dags" / "depot_nightly_build.py"


def test_the_nightly_dag_parses_with_its_schedule_params_and_gating() -> None:
    bag = DagBag(dag_folder=str(NIGHTLY))
    assert bag.import_errors == {}
    dag = bag.dags["depot_nightly_build"]  # no DB needed, unlike get_dag()
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    assert dag.schedule == "0 2 * * *"
    assert dag.params["platforms"] == ["linux/amd64", "linux/arm64"]
    assert dag.params["context"] == "build_context"
    build, wait, report = (dag.get_task(t) for t in ("build_image", "wait_for_build", "report"))
    assert type(build).__name__ == "DepotBuildOperator"
    assert type(wait).__name__ == "DepotBuildSensor"
    assert wait.deferrable is True
    assert wait.upstream_task_ids == {"build_image"}
    assert report.upstream_task_ids == {"build_image", "wait_for_build"}  # gated on the sensor
    assert [link.name for link in build.operator_extra_links] == ["Depot build"]
