"""The schema, the period replace and value round trips, against each real warehouse."""

from __future__ import annotations

import datetime as dt
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from support.usage_export_support import (
    FailingHook,
    InjectedFault,
    Warehouse,
    day,
    day_period,
    many_details,
    project_usage,
    usage_reply,
)

from airflow_provider_depot.transfers._sql_dialects import STANDARD, dialect_for
from airflow_provider_depot.transfers._sql_writer import PeriodScope, replace_period
from airflow_provider_depot.transfers._usage_schema import ensure_schema
from airflow_provider_depot.transfers._usage_tables import (
    SCHEMA_VERSION,
    SCHEMA_VERSION_TABLE,
    USAGE_TABLES,
    Column,
    TableSpec,
)
from airflow_provider_depot.transfers.usage_to_sql import _batches as usage_batches

UTC = dt.timezone.utc
EXPORTED_AT = dt.datetime(2025, 4, 1, 12, 30, 0, tzinfo=UTC)


def f32(value: float) -> float:
    """``value`` as the proto's float32 would carry it."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])


def migrate(warehouse: Warehouse, hook: Any = None) -> list[str]:
    hook = hook or warehouse.hook()
    return ensure_schema(
        hook,
        dialect_for(hook),
        warehouse.schema,
        warehouse.tables().values(),
        SCHEMA_VERSION_TABLE.prefixed(warehouse.prefix),
        now=EXPORTED_AT,
    )


def write(
    warehouse: Warehouse,
    days: dict[int, tuple[Any, list[Any]]],
    *,
    org_id: str = "org-1",
    hook: Any = None,
    chunk_size: int = 1000,
) -> dict[str, int]:
    """Replace days [min, max+1) with the given (GetUsage reply, project usage) per day."""
    hook = hook or warehouse.hook()
    dialect = dialect_for(hook)
    replies = [(day_period(n), reply, projects) for n, (reply, projects) in sorted(days.items())]
    scope = PeriodScope(org_id, day(min(days)), day(max(days) + 1))
    batches = usage_batches(replies, dialect, org_id, EXPORTED_AT)
    result = replace_period(
        hook, dialect, warehouse.schema, warehouse.tables(), scope, batches, chunk_size=chunk_size
    )
    return result.inserted


SAMPLE = usage_reply(
    projects=[
        ("web", 3, 12.5, 4.25),
        ("プロジェクト", 0, 0.0, 0.0),
        ("App", 1, 0.1, 1e-7),
        ("app", 2, 3.4e38, 0.0),
    ],
    repos=[
        (
            "acme/web",
            (5, 61.5, 70.0),
            [("ci 🚀", "depot-ubuntu-24.04", 4, 60.0, 66.0), ("lint", "depot-ubuntu-24.04-arm", 1, 1.5, 4.0)],
        ),
        ("acme/empty", (0, 0.0, 0.0), []),
    ],
    storage=[("cache", 1.75), ("registry", 0.0)],
    agents=[("claude-code", 2, 10.0, 10.0)],
    compute=[("std-2x", 3, 2**63 - 1), ("zero", 0, 0)],
)
SAMPLE_PROJECTS = project_usage(("p1", 3, 600, 12), ("p2", 0, 0, 0))


def expected_rows(org_id: str, n: int) -> dict[str, list[tuple[Any, ...]]]:
    head = (day(n), day(n + 1), org_id, EXPORTED_AT)
    rows = {
        "depot_usage_container_builds": [
            (*head, "web", 3, 12.5, 4.25),
            (*head, "プロジェクト", 0, 0.0, 0.0),
            (*head, "App", 1, f32(0.1), f32(1e-7)),
            (*head, "app", 2, f32(3.4e38), 0.0),
        ],
        "depot_usage_github_actions_jobs": [
            (*head, "acme/web", 5, 61.5, 70.0),
            (*head, "acme/empty", 0, 0.0, 0.0),
        ],
        "depot_usage_github_actions_job_details": [
            (*head, "acme/web", "ci 🚀", "depot-ubuntu-24.04", 4, 60.0, 66.0),
            (*head, "acme/web", "lint", "depot-ubuntu-24.04-arm", 1, 1.5, 4.0),
        ],
        "depot_usage_storage": [(*head, "cache", 1.75), (*head, "registry", 0.0)],
        "depot_usage_agent_sandboxes": [(*head, "claude-code", 2, 10.0, 10.0)],
        "depot_usage_compute_sandboxes": [(*head, "std-2x", 3, 2**63 - 1), (*head, "zero", 0, 0)],
        "depot_project_usage": [(*head, "p1", 3, 600, 12), (*head, "p2", 0, 0, 0)],
    }
    return {name: sorted(r) for name, r in rows.items()}


def merged(*parts: dict[str, list[tuple[Any, ...]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {t.name: sorted(row for part in parts for row in part.get(t.name, [])) for t in USAGE_TABLES}


def test_schema_is_created_once_and_versioned(warehouse: Warehouse) -> None:
    first = migrate(warehouse)
    assert sorted(first) == sorted(
        [f"created table {warehouse.prefix}{t.name}" for t in (SCHEMA_VERSION_TABLE, *USAGE_TABLES)]
        + [f"recorded schema version {SCHEMA_VERSION}"]
    )
    assert migrate(warehouse) == []
    versions = warehouse.query(f"SELECT version FROM {warehouse.name(SCHEMA_VERSION_TABLE.name)}")
    assert versions == [(SCHEMA_VERSION,)]
    assert warehouse.all_rows() == merged()


def test_values_round_trip(warehouse: Warehouse) -> None:
    migrate(warehouse)
    counts = write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)})
    expected = expected_rows("org-1", 0)
    assert counts == {warehouse.prefix + name: len(rows) for name, rows in expected.items()}
    assert warehouse.all_rows() == expected


def test_empty_reply_writes_nothing_and_clears_the_period(warehouse: Warehouse) -> None:
    migrate(warehouse)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)})
    counts = write(warehouse, {0: (usage_reply(), [])})
    assert set(counts.values()) == {0}
    assert warehouse.all_rows() == merged()


def test_rerun_replaces_only_its_period_and_org(warehouse: Warehouse) -> None:
    migrate(warehouse)
    write(
        warehouse, {0: (SAMPLE, SAMPLE_PROJECTS), 1: (SAMPLE, SAMPLE_PROJECTS), 2: (SAMPLE, SAMPLE_PROJECTS)}
    )
    write(warehouse, {1: (SAMPLE, SAMPLE_PROJECTS)}, org_id="org-2")
    # Day 1 again, with one project gone and another's numbers changed.
    smaller = usage_reply(projects=[("web", 9, 1.0, 2.0)])
    write(warehouse, {1: (smaller, project_usage(("p1", 9, 1, 1)))})
    head = (day(1), day(2), "org-1", EXPORTED_AT)
    day1 = {
        "depot_usage_container_builds": [(*head, "web", 9, 1.0, 2.0)],
        "depot_project_usage": [(*head, "p1", 9, 1, 1)],
    }
    assert warehouse.all_rows() == merged(
        expected_rows("org-1", 0), day1, expected_rows("org-1", 2), expected_rows("org-2", 1)
    )
    write(warehouse, {1: (smaller, project_usage(("p1", 9, 1, 1)))})
    assert warehouse.all_rows() == merged(
        expected_rows("org-1", 0), day1, expected_rows("org-1", 2), expected_rows("org-2", 1)
    )


def test_fault_mid_write_leaves_the_old_period_intact(warehouse: Warehouse) -> None:
    migrate(warehouse)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS), 1: (SAMPLE, SAMPLE_PROJECTS)})
    before = warehouse.all_rows()
    bigger = many_details("acme/big", 50)
    failing = FailingHook(warehouse.hook(), executemany_calls=3)
    with pytest.raises(InjectedFault):
        write(warehouse, {0: (bigger, []), 1: (bigger, [])}, hook=failing, chunk_size=7)
    assert warehouse.all_rows() == before
    counts = write(warehouse, {0: (bigger, []), 1: (bigger, [])}, chunk_size=7)
    assert counts[warehouse.prefix + "depot_usage_github_actions_job_details"] == 100
    details = warehouse.rows("depot_usage_github_actions_job_details")
    assert len(details) == 100 and {r[4] for r in details} == {"acme/big"}
    assert warehouse.rows("depot_usage_container_builds") == []


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, time, datetime as dt
    from pathlib import Path
    sys.path.insert(0, {support!r})
    from support.usage_export_support import Warehouse, day, day_period, many_details
    from airflow_provider_depot.transfers._sql_dialects import STANDARD, dialect_for
    from airflow_provider_depot.transfers._sql_writer import PeriodScope, replace_period
    from airflow_provider_depot.transfers.usage_to_sql import _batches

    warehouse = Warehouse({kind!r}, {conn_id!r}, {schema!r}, {prefix!r})
    hook = warehouse.hook()
    dialect = dialect_for(hook)
    replies = [(day_period(0), many_details("acme/killed", 500), [])]
    exported_at = dt.datetime(2025, 4, 1, 12, 30, tzinfo=dt.timezone.utc)

    def batches():
        for name, rows in _batches(replies, dialect, "org-1", exported_at):
            def stalling(rows=rows):
                for i, row in enumerate(rows):
                    if i == 300:
                        Path({marker!r}).write_text("3 chunks written")
                        time.sleep(600)
                    yield row
            yield name, stalling()

    replace_period(hook, dialect, warehouse.schema, warehouse.tables(),
                   PeriodScope("org-1", day(0), day(1)), batches(), chunk_size=100)
    """
)


def test_process_killed_mid_write_then_rerun_is_exact(warehouse: Warehouse, tmp_path: Path) -> None:
    migrate(warehouse)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)})
    before = warehouse.all_rows()
    marker = tmp_path / "marker"
    script = tmp_path / "writer.py"
    script.write_text(
        KILL_SCRIPT.format(
            support=str(Path(__file__).parent.parent),  # tests, which holds support/
            kind=warehouse.kind,
            conn_id=warehouse.conn_id,
            schema=warehouse.schema,
            prefix=warehouse.prefix,
            marker=str(marker),
        )
    )
    writer = subprocess.Popen([sys.executable, str(script)], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert writer.poll() is None, "the writer exited before reaching the kill point"
            assert time.monotonic() < deadline, "the writer never reached the kill point"
            time.sleep(0.05)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    assert warehouse.all_rows() == before
    # The rerun of the killed export: exactly its rows, nothing of the old period left.
    write(warehouse, {0: (many_details("acme/killed", 500), [])})
    head = (day(0), day(1), "org-1", EXPORTED_AT)
    assert warehouse.all_rows() == merged(
        {
            "depot_usage_github_actions_jobs": [(*head, "acme/killed", 500, 1.0, 1.0)],
            "depot_usage_github_actions_job_details": [
                (*head, "acme/killed", f"wf{i}", "r", 1, 1.0, 1.0) for i in range(500)
            ],
        }
    )


def test_additive_migration_keeps_rows_and_old_writers_still_write(warehouse: Warehouse) -> None:
    migrate(warehouse)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)})
    storage = next(t for t in USAGE_TABLES if t.name == "depot_usage_storage").prefixed(warehouse.prefix)
    storage_v2 = TableSpec(
        storage.name,
        (*storage.columns, Column("region", "text", nullable=True, since=2)),
        storage.primary_key,
    )
    extra_v2 = TableSpec(
        warehouse.prefix + "depot_usage_extra", (Column("k", "text", max_length=64),), ("k",), since=2
    )
    hook = warehouse.hook()
    done = ensure_schema(
        hook,
        dialect_for(hook),
        warehouse.schema,
        [storage_v2, extra_v2],
        SCHEMA_VERSION_TABLE.prefixed(warehouse.prefix),
        now=EXPORTED_AT,
        version=2,
        migrations={1: "initial", 2: "storage region, extra table"},
    )
    assert sorted(done) == sorted(
        [f"added column {storage.name}.region", f"created table {extra_v2.name}", "recorded schema version 2"]
    )
    region = warehouse.query(f"SELECT storage_type, region FROM {warehouse.name('depot_usage_storage')}")
    assert sorted(region) == [("cache", None), ("registry", None)]
    versions = warehouse.query(f"SELECT version FROM {warehouse.name(SCHEMA_VERSION_TABLE.name)}")
    assert sorted(versions) == [(1,), (2,)]
    # This provider (schema version 1) keeps writing into the newer tables; it reports the newer version.
    assert migrate(warehouse) == [
        f"warehouse is at schema version 2, newer than this provider's {SCHEMA_VERSION}"
    ]
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)})
    assert warehouse.all_rows() == expected_rows("org-1", 0)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_hook_of_unknown_dialect_gets_standard_sql(kind: str, request: pytest.FixtureRequest) -> None:
    warehouse: Warehouse = request.getfixturevalue(f"{kind}_warehouse")
    known = type(warehouse.hook())
    exotic = type("ExoticHook", (known,), {"dialect_name": "exotic"})
    hook = exotic(**{known.conn_name_attr: warehouse.conn_id})
    assert dialect_for(hook) is STANDARD
    migrate(warehouse, hook)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)}, hook=hook)
    write(warehouse, {0: (SAMPLE, SAMPLE_PROJECTS)}, hook=hook)
    assert warehouse.all_rows() == expected_rows("org-1", 0)
