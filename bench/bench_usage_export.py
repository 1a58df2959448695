"""Benchmark: the usage export's period writer against a bare ``executemany``, same rows, same driver.

Run (one command; PostgreSQL at 127.0.0.1:5432, trust auth, database ``test``)::

    .venv/bin/python bench/bench_usage_export.py            # 1,000,000 rows, SQLite and PostgreSQL
    .venv/bin/python bench/bench_usage_export.py --rows 200000 --targets sqlite

Method
------
* Rows: 1,000,000 GitHub Actions job-detail rows for one period (one UTC day, one org). They come
  from the export's own row builder (``_usage_rows.job_detail_rows``) run over protobuf
  ``GithubActionsJobsUsage`` messages (1,000 repos x 1,000 jobs), so both sides consume exactly
  what the operator would write, and the builder's cost is paid by both alike. The builder groups
  the reply's entries by repo before yielding rows, so the whole reply is held in memory, as it is
  in the operator (GetUsage is one unary reply); the rows themselves stream in chunks.
  The emulator is not involved: serving a 1M-row reply over HTTP would measure the API, not the
  writer. ``drain`` is the time to build the rows without writing them, for reference.
* ``bare``: ``hook.get_conn()``, one ``cursor.executemany(INSERT ..., rows)`` over the whole
  generator, one ``commit()``: the least code that writes these rows through the same driver.
* ``export``: ``_sql_writer.replace_period`` on a connection from the same hook: its transaction
  start, the period DELETE (on an empty period), chunked ``executemany`` (default chunk size), one
  commit. Both write into identical fresh tables (same DDL and primary key, from
  ``_usage_schema``).
* ``replace``: ``export`` again over the period it just wrote (deletes 1M rows, inserts 1M), for
  information; not part of the ratio.
* Each measurement runs in its own child process, so its peak RSS (``ru_maxrss``) is its own; the
  reported peak includes the interpreter with Airflow, the providers and the driver imported.
  ``bare`` and ``export`` alternate, ``--repeat`` times each; the best time of each counts.
* ratio = bare seconds / export seconds (the export's throughput relative to bare). Goals:
  ratio >= 0.70, export peak RSS <= 500 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROWS_PER_REPO = 1000
RATIO_GOAL = 0.70
MEMORY_GOAL_MB = 500.0
PG = {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": "test"}


def _connection(target: str, workdir: Path) -> dict[str, Any]:
    if target == "sqlite":
        return {"conn_type": "sqlite", "host": str(workdir / "bench.db")}
    return PG


def _rows(count: int, prefix: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    from airflow_provider_depot._proto.depot.core.v1 import usage_pb2
    from airflow_provider_depot.transfers._usage_rows import job_detail_rows

    template = usage_pb2.GithubActionsJobsUsage()
    for i in range(ROWS_PER_REPO):
        template.jobs.add(
            workflow=f"workflow {i} ✓",
            runner=f"depot-ubuntu-24.04-{i % 8}",
            job_count=i % 17,
            minutes_elapsed=i * 0.25,
            minutes_billed=i * 0.5,
        )

    def repos() -> Iterator[usage_pb2.GithubActionsJobsUsage]:
        full, rest = divmod(count, ROWS_PER_REPO)
        for n in range(full + (1 if rest else 0)):
            repo = usage_pb2.GithubActionsJobsUsage()
            repo.CopyFrom(template)
            if n == full:
                del repo.jobs[rest:]
            repo.repo = f"acme/repo-{n}"
            yield repo

    return job_detail_rows(repos(), prefix)


def _child(
    target: str, mode: str, count: int, workdir: Path, schema: str | None, table: str
) -> dict[str, Any]:
    """One measurement, in this (child) process."""
    import datetime as dt

    from airflow.sdk import BaseHook

    from airflow_provider_depot.transfers._sql_dialects import dialect_for
    from airflow_provider_depot.transfers._sql_writer import PeriodScope, insert_sql, replace_period
    from airflow_provider_depot.transfers._usage_tables import GITHUB_ACTIONS_JOB_DETAILS

    hook = BaseHook.get_connection("bench_warehouse").get_hook()
    dialect = dialect_for(hook)
    spec = GITHUB_ACTIONS_JOB_DETAILS.prefixed(table)
    start = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    end = start + dt.timedelta(days=1)
    ts = dialect.timestamp_param
    rows = _rows(count, (ts(start), ts(end), "org-bench", ts(end)))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    written = count
    if mode == "drain":
        written = sum(1 for _ in rows)
    elif mode == "bare":
        conn = hook.get_conn()
        cursor = conn.cursor()
        cursor.executemany(insert_sql(dialect, schema, spec, hook.placeholder), rows)
        conn.commit()
        conn.close()
    else:
        result = replace_period(
            hook,
            dialect,
            schema,
            {GITHUB_ACTIONS_JOB_DETAILS.name: spec},
            PeriodScope("org-bench", start, end),
            [(GITHUB_ACTIONS_JOB_DETAILS.name, rows)],
        )
        written = result.inserted[spec.name]
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "rows": written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mb": rss_before / 1024,
    }


def _prepare(target: str, schema: str | None, tables: list[str]) -> None:
    from airflow.sdk import BaseHook

    from airflow_provider_depot.transfers._sql_dialects import dialect_for
    from airflow_provider_depot.transfers._usage_schema import create_table_sql
    from airflow_provider_depot.transfers._usage_tables import GITHUB_ACTIONS_JOB_DETAILS

    hook = BaseHook.get_connection("bench_warehouse").get_hook()
    dialect = dialect_for(hook)
    conn = hook.get_conn()
    cursor = conn.cursor()
    if schema:
        cursor.execute(f'CREATE SCHEMA "{schema}"')
    for prefix in tables:
        cursor.execute(create_table_sql(dialect, schema, GITHUB_ACTIONS_JOB_DETAILS.prefixed(prefix)))
    conn.commit()
    conn.close()


def _drop_schema(schema: str) -> None:
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection("bench_warehouse").get_hook().get_conn()
    conn.cursor().execute(f'DROP SCHEMA "{schema}" CASCADE')
    conn.commit()
    conn.close()


def _run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args], env=env, check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _bench_target(target: str, count: int, repeat: int, env: dict[str, str], workdir: Path) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:8]}" if target == "postgres" else None
    names = [f"bare{i}_" for i in range(repeat)] + [f"export{i}_" for i in range(repeat)]
    _prepare(target, schema, names)
    try:
        common = [target, str(count), str(workdir), schema or ""]
        drain = _run_child(env, *common, "drain", "unused_")
        runs: dict[str, list[dict[str, Any]]] = {"bare": [], "export": []}
        for i in range(repeat):
            runs["bare"].append(_run_child(env, *common, "bare", f"bare{i}_"))
            runs["export"].append(_run_child(env, *common, "export", f"export{i}_"))
        replace = _run_child(env, *common, "export", "export0_")
    finally:
        if schema:
            _drop_schema(schema)
    bare = min(runs["bare"], key=lambda r: r["seconds"])
    export = min(runs["export"], key=lambda r: r["seconds"])
    return {
        "target": target,
        "rows": count,
        "drain_s": drain["seconds"],
        "bare_s": bare["seconds"],
        "export_s": export["seconds"],
        "ratio": bare["seconds"] / export["seconds"],
        "replace_s": replace["seconds"],
        "bare_peak_rss_mb": max(r["peak_rss_mb"] for r in runs["bare"]),
        "export_peak_rss_mb": max(r["peak_rss_mb"] for r in (*runs["export"], replace)),
        "idle_rss_mb": export["rss_before_mb"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--targets", default="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=6, metavar=("TARGET", "ROWS", "WORKDIR", "SCHEMA", "MODE", "TABLE"))
    args = parser.parse_args()
    if args.child:
        target, rows, workdir, schema, mode, table = args.child
        print(json.dumps(_child(target, mode, int(rows), Path(workdir), schema or None, table)))
        return 0
    results = []
    with tempfile.TemporaryDirectory(prefix="depot-bench-") as tmp:
        workdir = Path(tmp)
        for target in args.targets.split(","):
            env = dict(os.environ)
            env.setdefault("AIRFLOW_HOME", str(workdir / "airflow-home"))
            env["AIRFLOW_CONN_BENCH_WAREHOUSE"] = json.dumps(_connection(target, workdir))
            os.environ.update(env)
            results.append(_bench_target(target, args.rows, args.repeat, env, workdir))
    print(
        f"{'target':<10} {'rows':>9} {'drain s':>8} {'bare s':>8} {'export s':>9} {'ratio':>6} "
        f"{'replace s':>10} {'bare MB':>8} {'export MB':>10} {'idle MB':>8}"
    )
    headline = []
    for r in results:
        print(
            f"{r['target']:<10} {r['rows']:>9} {r['drain_s']:>8.2f} {r['bare_s']:>8.2f} "
            f"{r['export_s']:>9.2f} {r['ratio']:>6.2f} {r['replace_s']:>10.2f} {r['bare_peak_rss_mb']:>8.0f} "
            f"{r['export_peak_rss_mb']:>10.0f} {r['idle_rss_mb']:>8.0f}"
        )
        headline.extend(_headline(r, args.repeat))
    goals_met = all(line["met"] for line in headline)
    verdict = "met" if goals_met else "NOT met"
    print(f"goals (ratio >= {RATIO_GOAL:.2f}, export peak <= {MEMORY_GOAL_MB:g} MB):", verdict)
    figures = {"targets": results, "settings": {"rows": args.rows, "repeat": args.repeat}}
    print(
        json.dumps(
            {"bench": "usage_export", "goals_met": goals_met, "headline": headline, "figures": figures}
        )
    )
    return 0 if goals_met else 1


def _headline(r: dict[str, Any], repeat: int) -> list[dict[str, Any]]:
    """One target's goals: export throughput relative to bare executemany, and its peak RSS."""
    name = {"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(r["target"], r["target"])
    return [
        {
            "metric": f"{name}: export / bare executemany throughput, {r['rows']:,} rows",
            "value": round(r["ratio"], 3),
            "goal": f">= {RATIO_GOAL:.2f}",
            "met": r["ratio"] >= RATIO_GOAL,
            "detail": f"{r['export_s']:.2f} s vs {r['bare_s']:.2f} s, best of {repeat}",
        },
        {
            "metric": f"{name}: export peak RSS MB",
            "value": round(r["export_peak_rss_mb"], 1),
            "goal": f"<= {MEMORY_GOAL_MB:g}",
            "met": r["export_peak_rss_mb"] <= MEMORY_GOAL_MB,
            "detail": f"bare {r['bare_peak_rss_mb']:.0f} MB, idle {r['idle_rss_mb']:.0f} MB",
        },
    ]


if __name__ == "__main__":
    sys.exit(main())
