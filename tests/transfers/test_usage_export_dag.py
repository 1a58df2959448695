"""dags/depot_usage_export.py run for real: a 30-day backfill through ``dag.test()`` (temporary
AIRFLOW_HOME with a SQLite metadata DB, see tests/conftest.py) against the Depot emulator, into
each real warehouse.

Halfway through, a project is deleted and a new project with the same name takes over, and one
of the seed's projects is deleted for good.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pendulum
import pytest
from support.usage_export_support import Warehouse, adds_up

from airflow_provider_depot.client import DepotClient

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "depot_usage_export.py"
pytestmark = pytest.mark.airflow_run


def load_dag(monkeypatch: pytest.MonkeyPatch, warehouse: Warehouse, start: dt.datetime) -> Any:
    monkeypatch.setenv("DEPOT_USAGE_SQL_CONN_ID", warehouse.conn_id)
    monkeypatch.setenv("DEPOT_USAGE_TABLE_PREFIX", warehouse.prefix)
    monkeypatch.setenv("DEPOT_USAGE_SCHEMA", warehouse.schema or "")
    monkeypatch.setenv("DEPOT_USAGE_START_DATE", start.date().isoformat())
    spec = importlib.util.spec_from_file_location("depot_usage_export", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def without_exported_at(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [r[:3] + r[4:] for r in rows] for name, rows in warehouse.all_rows().items()}


def test_thirty_day_backfill(
    airflow_db: Path,
    warehouse: Warehouse,
    emulator: Any,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    first = pendulum.now("UTC").start_of("day").subtract(days=40)

    def day(n: int) -> dt.datetime:
        return first.add(days=n)

    admin = emulator.admin
    org = admin.organization.org_id

    def gamma_project(days: range, builds: int) -> Any:
        """A new project named "gamma" with ``builds`` builds of a minute each on ``days``."""
        project = admin.create_project("gamma")
        for n in days:
            admin.set_usage(
                project.project_id,
                day(n).date(),
                build_count=builds,
                build_duration_seconds=60 * builds,
                minutes_saved=0.5 / builds,
                layer_cache_size_gb=n,
            )
        return project

    old_gamma = gamma_project(range(15), builds=1)
    dag = load_dag(monkeypatch, warehouse, first)

    def backfill(days: range) -> None:
        for n in days:  # a manual dag.test run for logical date D covers the day before D
            run = dag.test(logical_date=day(n + 1))
            assert run.state == "success"
            assert (run.data_interval_start, run.data_interval_end) == (day(n), day(n + 1))

    with DepotClient(token=emulator.token, base_url=emulator.url) as client:
        backfill(range(15))
        adds_up(warehouse, client, day(0), day(15))
        client.projects.delete_project(project_id=old_gamma.project_id)
        client.projects.delete_project(project_id="demowrk003")  # the seed's "worker"
        new_gamma = gamma_project(range(15, 30), builds=2)
        backfill(range(15, 30))
        adds_up(warehouse, client, day(15), day(30))

    projects = warehouse.rows("depot_project_usage")
    assert {r[0] for r in projects} == {day(n) for n in range(30)}  # every project, every day
    assert {r[2] for r in projects} == {org}
    assert sorted(r[0] for r in projects if r[4] == old_gamma.project_id) == [day(n) for n in range(15)]
    assert sorted(r[0] for r in projects if r[4] == new_gamma.project_id) == [day(n) for n in range(15, 30)]
    assert sorted(r[0] for r in projects if r[4] == "demowrk003") == [day(n) for n in range(15)]
    # The same project name on different days: one row a day, from whichever project held it.
    gamma = {r[0]: r[5:] for r in warehouse.rows("depot_usage_container_builds") if r[4] == "gamma"}
    assert gamma == {day(n): (1, 0.5, 1.0) if n < 15 else (2, 0.25, 2.0) for n in range(30)}
    assert max(r[0] for r in warehouse.rows("depot_usage_container_builds") if r[4] == "worker") < day(15)

    # Rerunning one day leaves the tables as they were (only that day's exported_at moves on).
    before = warehouse.all_rows()
    backfill(range(20, 21))
    after = warehouse.all_rows()
    assert without_exported_at(warehouse) == {
        name: [r[:3] + r[4:] for r in rows] for name, rows in before.items()
    }
    stamps = {r[3] for r in after["depot_project_usage"] if r[0] == day(20)}
    assert len(stamps) == 1 and stamps != {r[3] for r in before["depot_project_usage"] if r[0] == day(20)}
    assert emulator.token not in capfd.readouterr().out
