"""The README's demo command, end to end: every example DAG succeeds against the emulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_depot.emulator.local_buildkit import buildkit_unavailable_reason

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.buildkit
def test_demo_runs_every_example_dag():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "DEPOT_"))}
    proc = subprocess.run(
        [sys.executable, "scripts/demo.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "demo finished: every DAG succeeded" in out
    expected = ["depot_registry_cleanup", "depot_cache_reset", "depot_usage_export"]
    if buildkit_unavailable_reason() is None:
        expected.append("depot_nightly_build")
        assert "output files: none" not in out
        assert re.search(r"output files: .*VERSION", out), out[-2000:]
    else:
        assert "skipped the build step" in out
    for dag_id in expected:
        assert re.search(rf"^  {dag_id}\s+success\s", out, re.M), dag_id
    rows = re.search(r"depot_usage_container_builds: (\d+) rows", out)
    assert rows and int(rows.group(1)) > 0
