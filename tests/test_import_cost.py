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


def test_dag_facing_modules_do_not_import_heavy_dependencies():
    modules = dag_facing_modules()
    assert len(modules) > 2
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(modules)], capture_output=True, text=True, check=True
    ).stdout
    added = json.loads(out.strip().splitlines()[-1])
    leaked = {
        module: [m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY)]
        for module, mods in added.items()
    }
    assert {k: v for k, v in leaked.items() if v} == {}
