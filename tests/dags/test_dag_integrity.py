"""Every example DAG imports cleanly (no errors, no deprecation warnings) and fast."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS.glob("*.py") if not p.name.startswith("_"))

_PROBE = """
import json, sys, time, warnings, runpy
warnings.simplefilter("always")
import airflow.sdk
with warnings.catch_warnings(record=True) as caught:
    runpy.run_path(sys.argv[1], run_name="dag_file")
print(json.dumps([f"{w.category.__name__}: {w.message}" for w in caught]))
"""


def test_there_are_example_dags():
    assert {p.name for p in DAG_FILES} >= {
        "depot_cache_cleanup.py",
        "depot_nightly_build.py",
        "depot_usage_export.py",
    }


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_warnings(dag_file):
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(dag_file)], capture_output=True, text=True, check=True
    ).stdout
    caught = json.loads(out.strip().splitlines()[-1])
    assert caught == []


def test_dagbag_loads_every_dag_without_import_errors(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    assert bag.import_errors == {}
    assert {
        "depot_nightly_build",
        "depot_registry_cleanup",
        "depot_cache_reset",
        "depot_usage_export",
    } <= set(bag.dag_ids)
    for dag in bag.dags.values():
        assert "depot" in dag.tags, dag.dag_id
