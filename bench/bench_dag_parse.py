"""Benchmark of the provider's DAG-parse cost: what importing it adds to a DAG file's import.

    .venv/bin/python bench/bench_dag_parse.py            # 15 runs of each DAG file
    .venv/bin/python bench/bench_dag_parse.py --runs 31

Four DAG files, each defining a one-task DAG: a baseline that imports only airflow.sdk, one that
also imports every operator, sensor, trigger, transfer, link and hook module of this provider,
the same without the trigger modules (DAG files do not import triggers; the triggerer does),
and one that imports the dbt Cloud provider's operator module (``apache-airflow-providers-
dbt-cloud``, for comparison). Each import runs in a fresh interpreter, timed from the moment the
file is executed; the figure is the median of ``--runs`` imports, minus the baseline's median.

Two settings of what the interpreter has loaded before the DAG file:

- ``sdk``: only ``airflow.sdk`` (the brief's baseline);
- ``dag-processor``: ``airflow.dag_processing.processor``, the module a real DAG-parsing
  process runs, which already holds Airflow's serialization and ``airflow.triggers.base``.

Goal: the provider adds at most 15 ms in the ``sdk`` setting. Exits 1 if not.
"""

from __future__ import annotations

import argparse
import json
import os
import pkgutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

GOAL_MS = 15.0
AREAS = ("hooks", "operators", "sensors", "triggers", "transfers", "links")
DBT_CLOUD = "airflow.providers.dbt.cloud.operators.dbt"

_DAG_BODY = """
import pendulum
from airflow.sdk import DAG
from airflow.sdk.bases.operator import BaseOperator

with DAG("parse_bench", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
    BaseOperator(task_id="noop")
"""
PRELOADS = {"sdk": "airflow.sdk", "dag-processor": "airflow.dag_processing.processor"}
# Runs in the child: the preload first, then the timed import of the DAG file.
_CHILD = """
import importlib, importlib.util, json, sys, time
importlib.import_module(sys.argv[2])
spec = importlib.util.spec_from_file_location("dag_under_bench", sys.argv[1])
module = importlib.util.module_from_spec(spec)
started = time.perf_counter()
spec.loader.exec_module(module)
print(json.dumps(time.perf_counter() - started))
"""


def provider_modules() -> list[str]:
    """Every public module of the Airflow-facing packages (those a DAG file may import)."""
    import airflow_provider_depot

    root = Path(airflow_provider_depot.__file__).parent
    found = []
    for area in AREAS:
        for info in pkgutil.iter_modules([str(root / area)]):
            if not info.name.startswith("_"):
                found.append(f"airflow_provider_depot.{area}.{info.name}")
    return sorted(found)


def _dag_file(directory: Path, name: str, imports: list[str]) -> Path:
    path = directory / f"{name}.py"
    path.write_text("".join(f"import {module}\n" for module in imports) + _DAG_BODY)
    return path


def _child_env(pycache: Path) -> dict[str, str]:
    """Bytecode caching on, as in any installed deployment (a private cache dir keeps the
    checkout clean); without it every provider module would be compiled at each import."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _import_seconds(path: Path, preload: str, env: dict[str, str]) -> float:
    argv = [sys.executable, "-c", _CHILD, str(path), preload]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    modules = provider_modules()
    dag_facing = [m for m in modules if ".triggers." not in m]  # what DAG files import in practice
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "baseline": _dag_file(Path(tmp), "baseline", []),
            "provider": _dag_file(Path(tmp), "provider", modules),
            "provider_no_triggers": _dag_file(Path(tmp), "provider_no_triggers", dag_facing),
            "dbt_cloud": _dag_file(Path(tmp), "dbt_cloud", [DBT_CLOUD]),
        }
        env = _child_env(Path(tmp) / "pycache")
        added = {setting: _added_ms(files, preload, args.runs, env) for setting, preload in PRELOADS.items()}

    for setting, figures in added.items():
        print(f"[{setting}] baseline DAG: {figures['baseline']:.1f} ms; "
              f"all {len(modules)} provider modules: +{figures['provider']:.1f} ms; "
              f"without the trigger modules: +{figures['provider_no_triggers']:.1f} ms; "
              f"the dbt Cloud operator module: +{figures['dbt_cloud']:.1f} ms")  # fmt: skip
    headline = _headline(added, len(modules))
    goals_met = all(line["met"] is not False for line in headline)
    kept = {"runs": args.runs, "modules": modules, "median_ms": added}
    result = {"bench": "dag_parse", "goals_met": goals_met, "headline": headline, "figures": kept}
    print(json.dumps(result))
    return 0 if goals_met else 1


def _headline(added: dict[str, dict[str, float]], count: int) -> list[dict[str, Any]]:
    """The goal row (every module, airflow.sdk preloaded), then rows for information."""
    sdk, processor = added["sdk"], added["dag-processor"]
    rows: list[dict[str, Any]] = [
        {
            "metric": f"DAG import time added by all {count} provider modules, ms",
            "value": round(sdk["provider"], 1),
            "goal": f"<= {GOAL_MS:g}",
            "met": sdk["provider"] <= GOAL_MS,
            "detail": f"vs a DAG importing only airflow.sdk ({sdk['baseline']:.1f} ms)",
        }
    ]
    info = [
        ("the same without the trigger modules", sdk["provider_no_triggers"], "airflow.sdk preloaded"),
        ("all provider modules, DAG processor's modules preloaded", processor["provider"], "as when parsed"),
        ("the dbt Cloud provider's operator module", sdk["dbt_cloud"], "airflow.sdk preloaded"),
    ]
    rows += [
        {"metric": f"DAG import time added by {what}, ms", "value": round(value, 1),
         "goal": None, "met": None, "detail": detail}
        for what, value, detail in info
    ]  # fmt: skip
    return rows


def _added_ms(files: dict[str, Path], preload: str, runs: int, env: dict[str, str]) -> dict[str, float]:
    """The baseline's median import time, and what the others add to it (ms)."""
    for path in files.values():
        _import_seconds(path, preload, env)  # warm the file cache and the bytecode caches
    samples: dict[str, list[float]] = {name: [] for name in files}
    for _ in range(runs):  # interleaved, so drift hits every file alike
        for name, path in files.items():
            samples[name].append(_import_seconds(path, preload, env))
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {name: medians[name] - (0 if name == "baseline" else medians["baseline"]) for name in medians}


if __name__ == "__main__":
    sys.exit(main())
