"""DepotUsageToSqlOperator end to end: the Depot emulator (demo seed) into each real warehouse."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from support.usage_export_support import Warehouse, adds_up

from airflow_provider_depot.client import DepotClient
from airflow_provider_depot.transfers.usage_to_sql import DepotUsageToSqlOperator

UTC = dt.timezone.utc


def today() -> dt.datetime:
    return pendulum.now("UTC").start_of("day")


def run(
    op: DepotUsageToSqlOperator, interval: tuple[dt.datetime, dt.datetime] | None = None
) -> dict[str, int]:
    start, end = interval or (today(), today())
    result = op.execute(
        {
            "data_interval_start": start,
            "data_interval_end": end,  # type: ignore[arg-type]
            "dag_run": SimpleNamespace(run_after=end),
        }
    )
    assert json.loads(json.dumps(result)) == result  # plain JSON for XCom
    return result


def operator(warehouse: Warehouse, **kwargs: Any) -> DepotUsageToSqlOperator:
    return DepotUsageToSqlOperator(
        task_id="export",
        sql_conn_id=warehouse.conn_id,
        schema=warehouse.schema,
        table_prefix=warehouse.prefix,
        **kwargs,
    )


def test_a_week_of_days_lands_in_every_warehouse_and_adds_up(warehouse: Warehouse, emulator: Any) -> None:
    start, end = today() - dt.timedelta(days=9), today() - dt.timedelta(days=2)
    result = run(operator(warehouse, start=start.isoformat(), end=end.isoformat()))
    org = emulator.admin.organization.org_id
    days = {start + dt.timedelta(days=n) for n in range(7)}
    projects = warehouse.rows("depot_project_usage")
    assert {r[0] for r in projects} == days and {r[2] for r in projects} == {org}
    assert all(r[1] - r[0] == dt.timedelta(days=1) for r in projects)
    assert result == {warehouse.prefix + name: len(rows) for name, rows in warehouse.all_rows().items()}
    with DepotClient(token=emulator.token, base_url=emulator.url) as client:
        for n in range(7):  # each day's rows are that day's GetUsage reply
            day = start + dt.timedelta(days=n)
            reply = client.usage.get_usage(start_at=day, end_at=day + dt.timedelta(days=1))
            stored = {r[4]: r[5:] for r in warehouse.rows("depot_usage_container_builds") if r[0] == day}
            assert stored == {
                c.project_name: (c.build_count, c.minutes_saved, c.minutes_billed)
                for c in reply.container_build
            }
        adds_up(warehouse, client, start, end)
    # A second run of the same period changes nothing but exported_at.
    before = {name: [r[:3] + r[4:] for r in rows] for name, rows in warehouse.all_rows().items()}
    assert run(operator(warehouse, start=start.isoformat(), end=end.isoformat())) == result
    assert {name: [r[:3] + r[4:] for r in rows] for name, rows in warehouse.all_rows().items()} == before


def test_weekly_granularity_writes_one_row_per_iso_week(sqlite_warehouse: Warehouse, emulator: Any) -> None:
    monday = pendulum.now("UTC").start_of("week").subtract(weeks=3)
    op = operator(
        sqlite_warehouse, start=monday.isoformat(), end=monday.add(weeks=2).isoformat(), granularity="week"
    )
    run(op)
    rows = sqlite_warehouse.rows("depot_usage_github_actions_jobs")
    assert {(r[0], r[1]) for r in rows} == {
        (monday, monday.add(weeks=1)),
        (monday.add(weeks=1), monday.add(weeks=2)),
    }
    for week in (monday, monday.add(weeks=1)):
        with DepotClient(token=emulator.token, base_url=emulator.url) as client:
            reply = client.usage.get_usage(start_at=week, end_at=week.add(weeks=1))
        assert {r[4]: r[5] for r in rows if r[0] == week} == {
            g.repo: g.total.job_count for g in reply.github_actions_jobs
        }


def test_empty_interval_exports_yesterday_and_says_why(
    sqlite_warehouse: Warehouse, emulator: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    noon = today() + dt.timedelta(hours=12)
    run(operator(sqlite_warehouse), (noon, noon))
    yesterday = today() - dt.timedelta(days=1)
    assert {r[0] for r in sqlite_warehouse.rows("depot_project_usage")} == {yesterday}
    log = capfd.readouterr().out  # Airflow's task logger writes to the console here
    period = f"[{yesterday:%Y-%m-%dT%H:%M:%SZ}, {today():%Y-%m-%dT%H:%M:%SZ})"
    assert (
        f"Exporting Depot usage for {period}: the data interval is empty or missing, "
        "so the last complete UTC day before data_interval_end" in log
    )
    assert "depot_usage_github_actions_job_details" in log  # the counts table
    assert emulator.token not in log


def test_all_pages_of_project_usage(sqlite_warehouse: Warehouse, emulator: Any) -> None:
    for n in range(150):
        emulator.admin.create_project(f"extra-{n:03d}")
    result = run(operator(sqlite_warehouse))
    assert result["depot_project_usage"] == 153
    assert len({r[4] for r in sqlite_warehouse.rows("depot_project_usage")}) == 153
    pages = [e for e in emulator.admin.audit() if e["procedure"].endswith("/ListProjectUsage")]
    assert len(pages) == 2


def test_projects_with_the_same_name_on_one_day_are_summed(
    sqlite_warehouse: Warehouse, emulator: Any
) -> None:
    twin = emulator.admin.create_project("web")  # the demo seed already has a "web"
    yesterday = today() - dt.timedelta(days=1)
    emulator.admin.set_usage(
        twin.project_id, yesterday.date(), build_count=7, build_duration_seconds=70, minutes_saved=1.5
    )
    with DepotClient(token=emulator.token, base_url=emulator.url) as client:
        reply = client.usage.get_usage(start_at=yesterday, end_at=today())
    webs = [c for c in reply.container_build if c.project_name == "web"]
    assert len(webs) == 2  # the API reports both under one name
    run(operator(sqlite_warehouse))
    stored = [r for r in sqlite_warehouse.rows("depot_usage_container_builds") if r[4] == "web"]
    assert [r[5] for r in stored] == [sum(c.build_count for c in webs)]
    assert stored[0][6] == pytest.approx(sum(c.minutes_saved for c in webs))
