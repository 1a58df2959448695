"""The demo: every example DAG, end to end, against the local Depot emulator.

    make demo                      # bootstraps the venv, then runs this
    python scripts/demo.py --keep  # keep the temporary AIRFLOW_HOME to look around

It starts the emulator with the ``demo`` seed (and a real BuildKit from dockerd when this
machine can run one), prepares a temporary AIRFLOW_HOME whose connections point at the emulator
and at a SQLite warehouse, runs each DAG with ``airflow dags test``, prints a short report, and
stops everything it started, also when interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CLI_DIR = ROOT / ".cache" / "depot-cli" / "node_modules" / "@depot" / "cli-linux-x64" / "bin"


def say(text: str = "") -> None:
    print(text, flush=True)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def local_buildkit() -> Iterator[tuple[str | None, str]]:
    """(endpoint, note): a running local BuildKit, or None and the reason there is none."""
    from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit, buildkit_unavailable_reason

    reason = buildkit_unavailable_reason()
    if reason is None and not (CLI_DIR / "depot").is_file():
        reason = "the depot CLI is not installed (scripts/install_build_tools.sh installs it)"
    if reason is not None:
        yield None, reason
        return
    with LocalBuildKit() as buildkit:
        yield buildkit.endpoint, f"dockerd {buildkit.dockerd_version} at {buildkit.endpoint}"


@contextlib.contextmanager
def emulator(token: str, buildkit_endpoint: str | None, state_dir: Path) -> Iterator[str]:
    args = [
        str(BIN / "depot-emulator"),
        "--seed",
        "demo",
        "--port",
        "0",
        "--token",
        token,
        "--log-level",
        "WARNING",
    ]
    if buildkit_endpoint:
        args += ["--buildkit-endpoint", buildkit_endpoint]
    log = (state_dir / "emulator.log").open("w")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}; see {state_dir / 'emulator.log'}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Demo:
    def __init__(self, home: Path, url: str, token: str, build_note: str, can_build: bool) -> None:
        self.home = home
        self.url = url
        self.token = token
        self.build_note = build_note
        self.can_build = can_build
        self.warehouse = home / "warehouse.db"
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "AIRFLOW_CONN_DEPOT_DEFAULT": json.dumps({"conn_type": "depot", "password": token, "host": url}),
            "AIRFLOW_CONN_DEPOT_USAGE_SQLITE": json.dumps(
                {"conn_type": "sqlite", "host": str(self.warehouse)}
            ),
            "DEPOT_DISABLE_OTEL": "1",
            "PATH": f"{CLI_DIR}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.env.pop("DEPOT_API_URL", None)
        self.results: list[tuple[str, str, float]] = []

    def airflow(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, cwd=ROOT, capture_output=True, text=True
        )

    def run_dag(self, dag_id: str, conf: dict[str, Any]) -> bool:
        say(f"  running {dag_id} ...")
        started = time.monotonic()
        proc = self.airflow("dags", "test", dag_id, "-c", json.dumps(conf))
        seconds = time.monotonic() - started
        log = self.home / f"{dag_id}.log"
        log.write_text(proc.stdout + proc.stderr)
        state = self._run_state(dag_id)
        ok = proc.returncode == 0 and state == "success"
        self.results.append((dag_id, state or f"exit {proc.returncode}", seconds))
        if not ok:
            say(f"  {dag_id} did not succeed ({state}); the last lines of {log.name}:")
            for line in (proc.stdout + proc.stderr).splitlines()[-25:]:
                say(f"    {line}")
        return ok

    def _run_state(self, dag_id: str) -> str | None:
        with contextlib.closing(sqlite3.connect(self.home / "airflow.db")) as db:
            row = db.execute(
                "SELECT state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
            ).fetchone()
        return row[0] if row else None

    def xcoms(self, dag_id: str) -> list[tuple[str, Any]]:
        with contextlib.closing(sqlite3.connect(self.home / "airflow.db")) as db:
            rows = db.execute(
                "SELECT x.task_id, x.value FROM xcom x JOIN dag_run r ON x.dag_run_id = r.id "
                "WHERE x.dag_id = ? AND x.key = 'return_value' AND r.id = "
                "(SELECT MAX(id) FROM dag_run WHERE dag_id = ?) ORDER BY x.task_id, x.map_index",
                (dag_id, dag_id),
            ).fetchall()
        return [(task, json.loads(value)) for task, value in rows]

    def client(self) -> Any:
        from airflow_provider_depot.client import DepotClient

        return DepotClient(token=self.token, base_url=self.url)


def report_build(demo: Demo, project_id: str) -> None:
    say("Nightly build")
    if not demo.can_build:
        say(f"  skipped the build step: {demo.build_note}")
        return
    builds = [v for _, v in demo.xcoms("depot_nightly_build") if isinstance(v, dict) and v.get("build_url")]
    for value in builds[:1]:
        say(f"  build {value['build_id']} ({', '.join(value['platforms'])}): {value['build_url']}")
        say(f"  summary: {json.dumps(value.get('steps'), sort_keys=True)}")
        with demo.client() as client:
            for step in client.builds.iter_build_steps(project_id=project_id, build_id=value["build_id"]):
                cached = " (cached)" if step.cache_state == 2 else ""
                say(f"    - {step.name}{cached}")
    out = demo.home / "build-output"
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) if out.exists() else []
    say(f"  output files: {', '.join(files) or 'none'}")


def report_cleanup(demo: Demo) -> None:
    say("Registry cleanup (dry run: the plan)")
    for task, value in demo.xcoms("depot_registry_cleanup"):
        if isinstance(value, dict) and "scanned" in value:
            say(
                f"  {value.get('project_id', task)}: scanned {value['scanned']}, keep {value['kept']}, "
                f"delete {value['deleted']} ({value['bytes_freed'] / 2**20:.1f} MiB), "
                f"first: {', '.join(value['deleted_tags'][:3])}"
            )


def report_usage(demo: Demo) -> None:
    say(f"Usage export into {demo.warehouse.name}")
    with contextlib.closing(sqlite3.connect(demo.warehouse)) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'depot_%' "
                "AND name NOT LIKE '%schema%' ORDER BY name"
            )
        ]
        for table in tables:
            (count,) = db.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()
            say(f"  {table}: {count} rows")
        for table in ("depot_usage_container_builds", "depot_project_usage"):
            if table not in tables:
                continue
            cursor = db.execute(f'SELECT * FROM "{table}" ORDER BY period_start DESC LIMIT 3')
            names = [d[0] for d in cursor.description]
            say(f"  sample of {table}:")
            for row in cursor:
                say(
                    "    "
                    + ", ".join(f"{n}={v}" for n, v in zip(names, row, strict=True) if n != "exported_at")
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary AIRFLOW_HOME")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    home = Path(tempfile.mkdtemp(prefix="depot-demo-"))
    token = "demo-" + secrets.token_urlsafe(18)
    ok = True
    try:
        with local_buildkit() as (endpoint, note), emulator(token, endpoint, home) as url:
            say(f"Depot emulator (demo seed) at {url}")
            say(f"BuildKit: {note if endpoint else 'none, ' + note}")
            demo = Demo(home, url, token, note, endpoint is not None)
            migrated = demo.airflow("db", "migrate")
            if migrated.returncode != 0:
                say(migrated.stdout + migrated.stderr)
                return 1
            with demo.client() as client:
                projects = [p.project_id for p in client.projects.list_projects().projects]
            today = dt.datetime.now(dt.timezone.utc).date()
            say("Running the example DAGs with `airflow dags test`:")
            if demo.can_build:
                out = home / "build-output"
                ok &= demo.run_dag(
                    "depot_nightly_build",
                    {
                        "project_id": projects[0],
                        "outputs": [f"type=local,dest={out}"],
                        "platforms": ["linux/amd64"],
                    },
                )
            ok &= demo.run_dag(
                "depot_registry_cleanup",
                {"project_ids": projects, "keep_last": 20, "older_than_days": 30, "dry_run": True},
            )
            ok &= demo.run_dag("depot_cache_reset", {"project_ids": projects[-1:]})
            ok &= demo.run_dag(
                "depot_usage_export",
                {"start": (today - dt.timedelta(days=7)).isoformat(), "end": today.isoformat()},
            )
            say()
            report_build(demo, projects[0])
            report_cleanup(demo)
            report_usage(demo)
            say()
            for dag_id, state, seconds in demo.results:
                say(f"  {dag_id:<24} {state:<8} {seconds:5.1f} s")
    except KeyboardInterrupt:
        say("interrupted: stopping everything the demo started")
        ok = False
    finally:
        if args.keep:
            say(f"kept {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)
    say("demo finished: every DAG succeeded" if ok else "demo finished with failures")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
