"""DAG-parse cost: importing the provider's Airflow-facing modules must stay light."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "h2", "google.protobuf", "airflow_provider_depot._proto", "psycopg2", "MySQLdb", "sqlite3")

# Every module a DAG file may import. Extended as operators, sensors and triggers land.
DAG_FACING = ["airflow_provider_depot", "airflow_provider_depot.hooks.depot"]


@pytest.mark.parametrize("module", DAG_FACING)
def test_import_does_not_pull_heavy_modules(module):
    code = (
        "import sys, json, airflow.sdk\n"
        f"before = set(sys.modules)\nimport {module}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    added = json.loads(out.strip().splitlines()[-1])
    leaked = [m for m in added if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert leaked == [], f"importing {module} pulled in {leaked}"
