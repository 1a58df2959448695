"""DAG-parse cost: importing the provider's Airflow-facing modules must stay light.

One fresh interpreter imports ``airflow.sdk`` and then each module in turn; the first module
that pulls in a heavy dependency is named. (bench/bench_dag_parse.py measures the time.)
"""

from __future__ import annotations

import json
import subprocess
import sys

from airflow_provider_depot.get_provider_info import get_provider_info

HEAVY = ("httpx", "h2", "google.protobuf", "airflow_provider_depot._proto", "psycopg2", "MySQLdb")
# Needed only when a task runs: a DAG file that imports the operators and sensors must not load
# them (bench/bench_dag_parse.py shows what each one costs). ``airflow.triggers.base`` (Airflow's
# pydantic event models) is for the trigger module alone.
RUN_TIME_ONLY = (
    "airflow.triggers.base",
    "airflow_provider_depot.hooks._connection_config",
    "airflow_provider_depot.operators._project_args",
    "airflow_provider_depot.transfers._sql_dialects",
    "airflow_provider_depot.transfers._sql_writer",
    "airflow_provider_depot.transfers._usage_period",
    "airflow_provider_depot.transfers._usage_rows",
    "airflow_provider_depot.transfers._usage_tables",
    "airflow_provider_depot.triggers._build_events",
)

_PROBE = """
import importlib, json, sys
import airflow.sdk
added = {}
for module in json.loads(sys.argv[1]):
    before = set(sys.modules)
    importlib.import_module(module)
    added[module] = sorted(set(sys.modules) - before)
print(json.dumps(added))
"""


def dag_facing_modules() -> list[str]:
    info = get_provider_info()
    modules = ["airflow_provider_depot"]
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            modules += entry["python-modules"]
    modules += [t["python-module"] for t in info.get("transfers", [])]
    modules += [link.rsplit(".", 1)[0] for link in info.get("extra-links", [])]
    return sorted(set(modules))


def _added_by_each(modules: list[str]) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)], capture_output=True, text=True, check=True
    ).stdout
    added: dict[str, list[str]] = json.loads(out.strip().splitlines()[-1])
    return added


def _matching(added: dict[str, list[str]], names: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        module: [m for m in mods if any(m == n or m.startswith(n + ".") for n in names)]
        for module, mods in added.items()
    }
    return {module: mods for module, mods in found.items() if mods}


def test_dag_facing_modules_do_not_import_heavy_dependencies():
    modules = dag_facing_modules()
    assert len(modules) > 2
    assert _matching(_added_by_each(modules), HEAVY) == {}


def test_operators_and_sensors_leave_run_time_modules_unloaded():
    modules = [m for m in dag_facing_modules() if ".triggers." not in m]
    assert any(".sensors." in m for m in modules) and any(".transfers." in m for m in modules)
    assert _matching(_added_by_each(modules), RUN_TIME_ONLY) == {}
