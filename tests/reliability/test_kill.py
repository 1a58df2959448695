"""Killed tasks: a build task of each build operator gets SIGTERM (Airflow's polite stop) or
SIGKILL (a worker lost), and a usage export gets SIGKILL in the middle of its write.

Each task runs with ``dag.test()`` in a process of its own (``tests/support/run_dag.py``), as a
worker would run it. The contract:

- after SIGTERM the task fails, its builder is released and its build finished;
- after SIGKILL the emulator's health reaper takes the builder once health reports stop
  (a short ``health_timeout`` here, 5 minutes at Depot) and fails the build; the depot CLI,
  which learns of its task's death, may cancel its build before that, which is as good;
- either way nothing leaks: no builder left live, no process of the build left running;
- a usage export killed inside its write transaction leaves the previous export of that period
  as it was, and the rerun writes exactly what an uninterrupted export writes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest
from reliability_support import (
    Emulators,
    Evidence,
    build_processes,
    kill_processes,
    run_task,
)
from required_tools import require_tool
from support.operator_support import Depot
from support.polling import wait_until
from support.usage_export_support import PG_DSN, Warehouse, connection_env

from airflow_provider_depot.emulator.depot._model import Build, BuildStatus
from airflow_provider_depot.transfers._usage_tables import USAGE_TABLES
from airflow_provider_depot.transfers.usage_to_sql import DepotUsageToSqlOperator

pytestmark = [pytest.mark.airflow_run, pytest.mark.usefixtures("airflow_db")]

REPO = Path(__file__).resolve().parents[2]
DAGS = Path(__file__).resolve().parent / "dags"
RUN_DAG = REPO / "tests" / "support" / "run_dag.py"
NPM_CLI = REPO / ".cache" / "depot-cli" / "node_modules" / "@depot" / "cli-linux-x64" / "bin" / "depot"
HEALTH_TIMEOUT = 2.0
SIGTERM_GRACE = 10.0  # Airflow's supervisor waits 5 s before SIGKILL; allow for a loaded CI machine


@dataclass
class TaskProcess:
    process: subprocess.Popen[str]
    label: str
    evidence: Evidence

    def finish(self, timeout: float = 60) -> str:
        """Its whole output once it has exited (kept for the secret scan)."""
        output, _ = self.process.communicate(timeout=timeout)
        self.evidence.add(f"{self.label} output", output)
        return output


@pytest.fixture
def start_task(evidence: Evidence) -> Iterator[Callable[[str, dict[str, Any]], TaskProcess]]:
    started: list[TaskProcess] = []
    bundle = [
        {
            "name": "reliability-dags",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(DAGS), "refresh_interval": 0},
        }
    ]

    def start(dag_id: str, run_conf: dict[str, Any]) -> TaskProcess:
        env = {**os.environ, "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundle)}
        process = subprocess.Popen(
            [sys.executable, str(RUN_DAG), str(DAGS / "reliability_dags.py"), dag_id, json.dumps(run_conf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        started.append(task := TaskProcess(process, f"{dag_id} task process", evidence))
        return task

    yield start
    for task in started:
        if task.process.poll() is None:  # the test failed midway: stop it and show what it logged
            task.process.kill()
            print(task.finish()[-6000:])


@pytest.fixture(scope="module")
def depot_cli(pytestconfig: pytest.Config) -> str:
    found = str(NPM_CLI) if os.access(NPM_CLI, os.X_OK) else shutil.which("depot")
    require_tool(found is not None, "the depot CLI is not installed (run scripts/install_build_tools.sh)")
    assert found is not None
    return found


def _running_build(depot: Depot) -> Build:
    [lease] = depot.admin.endpoints()["live"]
    return depot.admin.build(lease["build_id"])  # type: ignore[no-any-return]


def _leaks(depot: Depot, build: Build) -> list[str]:
    """What the killed task left behind."""
    leaks = []
    if depot.admin.endpoints()["live"]:
        leaks.append(f"builders left live: {depot.admin.endpoints()['live']}")
    if not build.finished:
        leaks.append(f"build {build.build_id} still {build.status.value}")
    processes = build_processes(build.build_id)
    if processes:
        leaks.append(f"processes of the build still running: {_commands(processes)}")
    return leaks


def _settled_leaks(depot: Depot, build: Build, settle: float = 5.0) -> list[str]:
    """``_leaks`` once a process that is on its way out had ``settle`` seconds to go."""
    if _within(lambda: not _leaks(depot, build), timeout=settle):
        return []
    return _leaks(depot, build)


def _commands(pids: list[int]) -> list[str]:
    commands = []
    for pid in pids:
        try:
            commands.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip())
        except OSError:
            continue
    return commands


def _start_build_task(
    operator: str, depot: Depot, start_task: Callable[..., TaskProcess], tmp_path: Path, depot_cli: str | None
) -> tuple[TaskProcess, Build]:
    """Start a task of ``operator`` and wait until its build holds (or waits for) a builder."""
    project_id = depot.project("killed")
    if operator == "buildkit":
        ready = tmp_path / "command-started"
        task = start_task(
            "reliability_kill_buildkit",
            {"project_id": project_id, "command": f"sleep 120 & touch {ready}; wait"},
        )
        wait_until(lambda: ready.exists() and depot.admin.endpoints()["live"], timeout=90)
    else:
        (tmp_path / "Dockerfile").write_text("FROM scratch\n")
        task = start_task(
            "reliability_kill_build",
            {"project_id": project_id, "context": str(tmp_path), "depot_cli_path": depot_cli},
        )
        wait_until(lambda: depot.admin.endpoints()["live"], timeout=90)
        wait_until(lambda: depot.calls().get("ReportBuildHealth"), timeout=30)  # the CLI is at work
    build = _running_build(depot)
    assert build_processes(build.build_id), "no process of the build was found to kill"
    return task, build


@pytest.mark.parametrize("operator", ["buildkit", "build"])
def test_sigterm_releases_the_builder_finishes_the_build_and_leaves_nothing(
    operator: str,
    emulators: Emulators,
    start_task: Callable[..., TaskProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cli = request.getfixturevalue("depot_cli") if operator == "build" else None
    # The CLI waits for a builder that never comes, so it is inside the build when stopped.
    depot = emulators.start(**({"pending": 0} if operator == "buildkit" else {"pending": 10_000}))
    emulators.connect(depot.emulator.url)
    task, build = _start_build_task(operator, depot, start_task, tmp_path, cli)

    task.process.send_signal(signal.SIGTERM)
    wait_until(lambda: build.finished and not depot.admin.endpoints()["live"], timeout=SIGTERM_GRACE)
    output = task.finish()

    if operator == "buildkit":
        assert (build.status, build.error) == (BuildStatus.FAILED, "the Airflow task was killed")
        assert [lease["released_by"] for lease in depot.admin.endpoints()["released"]] == ["release"]
    else:
        assert build.status is BuildStatus.CANCELED  # the CLI's own FinishBuild, as it was stopped
    assert depot.admin.endpoints()["leaked"] == []
    assert "DAG_RUN_STATE=failed" in output
    assert _settled_leaks(depot, build) == []


@pytest.mark.parametrize("operator", ["buildkit", "build"])
def test_sigkill_leaves_the_builder_to_the_health_reaper_and_nothing_else(
    operator: str,
    emulators: Emulators,
    start_task: Callable[..., TaskProcess],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    cli = request.getfixturevalue("depot_cli") if operator == "build" else None
    pending = {"pending": 0} if operator == "buildkit" else {"pending": 10_000, "pending_interval": 0.2}
    depot = emulators.start(health_timeout=HEALTH_TIMEOUT, reap_interval=0.25, **pending)
    emulators.connect(depot.emulator.url)
    task, build = _start_build_task(operator, depot, start_task, tmp_path, cli)

    task.process.send_signal(signal.SIGKILL)
    task.finish()
    ended = _within(lambda: build.finished, timeout=5 * HEALTH_TIMEOUT)
    reaped = [lease["released_by"] for lease in depot.admin.endpoints()["leaked"]] == ["reaper"]
    problems = []
    if not ended:
        problems.append(f"build {build.build_id} did not end within {5 * HEALTH_TIMEOUT:g} s")
    elif operator == "build" and build.status is BuildStatus.CANCELED:
        pass  # the CLI, signalled when its task died, canceled the build before the reaper came
    elif (build.status, build.error) != (BuildStatus.FAILED, "expired") or not reaped:
        leases = depot.admin.endpoints()
        problems.append(f"build ended as {build.status.value} ({build.error}); leases {leases}")
    problems += _settled_leaks(depot, build)
    kill_processes(build_processes(build.build_id))  # what this test's task left behind, if anything
    assert not problems, "\n".join(problems)


def _within(predicate: Callable[[], Any], *, timeout: float) -> bool:
    try:
        wait_until(predicate, timeout=timeout)
    except AssertionError:
        return False
    return True


# -- the usage export ----------------------------------------------------------------------------


@dataclass
class UsageTarget:
    """A warehouse for the export, with a probe that tells whether a write transaction is open."""

    warehouse: Warehouse
    writing: Callable[[], bool]
    cleanup: Callable[[], None]


def _postgres_target(monkeypatch: pytest.MonkeyPatch, name: str) -> UsageTarget:
    conn_id = schema = f"rel{uuid.uuid4().hex[:10]}_{name}"
    monkeypatch.setenv(*connection_env(conn_id, {"conn_type": "postgres", **PG_DSN}))
    warehouse = Warehouse("postgres", conn_id, schema, "")
    _execute(warehouse, f'CREATE SCHEMA "{schema}"')
    tables = [table.name for table in USAGE_TABLES]

    def writing() -> bool:
        # An INSERT or DELETE holds RowExclusiveLock on its table until the transaction ends.
        rows = warehouse.query(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = ANY(%s) AND l.mode = 'RowExclusiveLock'",
            (schema, tables),
        )
        return bool(rows[0][0])

    return UsageTarget(warehouse, writing, lambda: _execute(warehouse, f'DROP SCHEMA "{schema}" CASCADE'))


def _sqlite_target(monkeypatch: pytest.MonkeyPatch, name: str, folder: Path) -> UsageTarget:
    conn_id = f"rel{uuid.uuid4().hex[:10]}_{name}"
    path = folder / f"{name}.db"
    monkeypatch.setenv(*connection_env(conn_id, {"conn_type": "sqlite", "host": str(path)}))

    def writing() -> bool:
        # The export holds SQLite's write lock (BEGIN IMMEDIATE) for its whole transaction.
        probe = sqlite3.connect(path, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()

    return UsageTarget(Warehouse("sqlite", conn_id, None, ""), writing, lambda: None)


def _execute(warehouse: Warehouse, sql: str) -> None:
    conn = warehouse.hook().get_conn()
    try:
        conn.cursor().execute(sql)
        conn.commit()
    finally:
        conn.close()


def _comparable(warehouse: Warehouse) -> dict[str, list[tuple[Any, ...]]]:
    """Every usage row without ``exported_at`` (which says when, not what)."""
    rows = {}
    for table in USAGE_TABLES:
        keep = [i for i, name in enumerate(table.column_names) if name != "exported_at"]
        rows[table.name] = sorted(tuple(row[i] for i in keep) for row in warehouse.rows(table.name))
    return rows


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_usage_export_killed_mid_write_keeps_the_last_export_and_the_rerun_is_exact(
    kind: str,
    emulators: Emulators,
    start_task: Callable[..., TaskProcess],
    evidence: Evidence,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    if kind == "postgres":
        require_tool(_reachable("127.0.0.1", 5432), "PostgreSQL is not reachable at 127.0.0.1:5432")
    depot = emulators.start(seed="demo", pending=0)
    emulators.connect(depot.emulator.url, org_id=depot.admin.organization.org_id)
    today = pendulum.now("UTC").start_of("day")
    start, end = today - dt.timedelta(days=31), today - dt.timedelta(days=1)
    for day in range(31):  # thousands of rows, so the write, one row per round trip, takes a while
        for workflow in range(150):
            depot.admin.set_github_usage(
                (start + dt.timedelta(days=day)).date(),
                "acme/app",
                f"workflow-{workflow}",
                "ubuntu-22.04",
                job_count=1,
                minutes_elapsed=2.0,
                minutes_billed=2.0,
            )
    targets = [
        _postgres_target(monkeypatch, name)
        if kind == "postgres"
        else _sqlite_target(monkeypatch, name, tmp_path)
        for name in ("killed", "reference")
    ]
    killed, reference = targets
    try:
        export = {"start": start.isoformat(), "end": end.isoformat()}

        def run_export(target: UsageTarget) -> None:
            operator = DepotUsageToSqlOperator(
                task_id="export",
                sql_conn_id=target.warehouse.conn_id,
                schema=target.warehouse.schema,
                **export,
            )
            run = run_task(operator, evidence)
            assert run.error is None, run.message

        run_export(killed)
        before = _comparable(killed.warehouse)
        project_id = depot.admin.projects()[0].project_id
        depot.admin.set_usage(
            project_id, (start + dt.timedelta(days=3)).date(), build_count=987, build_duration_seconds=60
        )

        task = start_task(
            "reliability_usage_export",
            {"sql_conn_id": killed.warehouse.conn_id, "schema": killed.warehouse.schema, **export},
        )
        wait_until(lambda: killed.writing() or task.process.poll() is not None, timeout=90, interval=0.005)
        task.process.send_signal(signal.SIGKILL)
        task.finish()
        assert task.process.returncode == -signal.SIGKILL, (
            "the export ended before it could be killed mid-write"
        )

        assert _comparable(killed.warehouse) == before  # the previous export, whole, nothing of the new one
        run_export(killed)
        run_export(reference)
        after = _comparable(killed.warehouse)
        assert after == _comparable(reference.warehouse)
        assert after != before  # the rerun did write the changed day
    finally:
        for target in targets:
            target.cleanup()


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False
