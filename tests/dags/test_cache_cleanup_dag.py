"""dags/depot_cache_cleanup.py: it parses cleanly, and both DAGs work in real Airflow runs
(``dag.test()`` with a SQLite metadata DB) against the emulator over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

from airflow_provider_depot.emulator import EmulatorHandle

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "depot_cache_cleanup.py"


def _dag(dag_id: str) -> DAG:
    return DagBag(dag_folder=str(DAG_FILE)).dags[dag_id]


@pytest.fixture
def emulator(depot_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    connection = {"conn_type": "depot", "password": depot_emulator.token, "host": depot_emulator.url}
    monkeypatch.setenv("AIRFLOW_CONN_DEPOT_DEFAULT", json.dumps(connection))
    return depot_emulator


def _project_with_images(emulator: EmulatorHandle, name: str, count: int) -> str:
    project_id: str = emulator.admin.create_project(name).project_id
    emulator.admin.add_synthetic_images(project_id, count, newest=dt.datetime.now(dt.timezone.utc))
    return project_id


def _tags(emulator: EmulatorHandle, project_id: str) -> set[str]:
    return {record.tag for record in emulator.admin.images(project_id)}


def _methods(emulator: EmulatorHandle) -> list[str]:
    return [entry["procedure"].rsplit("/", 1)[-1] for entry in emulator.admin.audit()]


def test_the_file_parses_without_warnings_or_import_errors() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(DAG_FILE))

    assert [str(w.message) for w in caught] == []
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["depot_cache_reset", "depot_registry_cleanup"]
    schedules = {dag_id: str(dag.schedule) for dag_id, dag in bag.dags.items()}
    assert schedules == {"depot_registry_cleanup": "0 3 * * *", "depot_cache_reset": "0 5 * * 0"}


@pytest.mark.airflow_run
def test_nightly_cleanup_maps_over_the_projects_of_the_run(
    emulator: EmulatorHandle, airflow_db: Path
) -> None:
    first = _project_with_images(emulator, "api", 30)
    second = _project_with_images(emulator, "web", 12)
    untouched = _project_with_images(emulator, "docs", 30)
    emulator.admin.add_images(first, ["latest"], pushed_at=[dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)])

    run = _dag("depot_registry_cleanup").test(
        run_conf={"project_ids": [first, second], "keep_last": 5, "older_than_days": None}
    )

    assert run.state == "success"
    mapped = [ti for ti in run.get_task_instances() if ti.task_id == "cleanup_registry"]
    assert sorted(ti.map_index for ti in mapped) == [0, 1]
    assert all(ti.state == "success" for ti in mapped)
    assert _tags(emulator, first) == {f"img-{i:06d}" for i in range(25, 30)} | {"latest"}
    assert _tags(emulator, second) == {f"img-{i:06d}" for i in range(7, 12)}
    assert len(_tags(emulator, untouched)) == 30


@pytest.mark.airflow_run
def test_nightly_cleanup_falls_back_to_the_variable_and_honours_dry_run(
    emulator: EmulatorHandle, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = _project_with_images(emulator, "api", 20)
    monkeypatch.setenv("AIRFLOW_VAR_DEPOT_CLEANUP_PROJECT_IDS", json.dumps([project_id]))

    run = _dag("depot_registry_cleanup").test(
        run_conf={"keep_last": 1, "older_than_days": 0, "dry_run": True}
    )

    assert run.state == "success"
    assert _methods(emulator).count("ListImages") == 1
    assert "DeleteImage" not in _methods(emulator)
    assert len(_tags(emulator, project_id)) == 20


@pytest.mark.airflow_run
def test_weekly_reset_resets_the_chosen_projects_only(emulator: EmulatorHandle, airflow_db: Path) -> None:
    chosen = [emulator.admin.create_project(name).project_id for name in ("api", "web")]
    other = emulator.admin.create_project("docs").project_id

    run = _dag("depot_cache_reset").test(run_conf={"project_ids": chosen})

    assert run.state == "success"
    assert _methods(emulator).count("ResetProject") == 2
    assert all(emulator.admin.project(p).cache_reset_at is not None for p in chosen)  # type: ignore[union-attr]
    assert emulator.admin.project(other).cache_reset_at is None  # type: ignore[union-attr]
