"""Benchmark of the provider's DAG-parse cost: what importing it adds to a DAG file's import.

    .venv/bin/python bench/bench_dag_parse.py            # 9 imports of each DAG file
    .venv/bin/python bench/bench_dag_parse.py --runs 31

DAG files, each defining a one-task DAG: a baseline that imports only airflow.sdk; one that also
imports every operator, sensor, trigger, transfer, link and hook module of this provider; the
same without the trigger modules (what a DAG file imports: triggers are for the triggerer); one
that imports only the Airflow modules holding the base classes the provider subclasses
(BaseHook, BaseSensorOperator, BaseOperatorLink, BaseTrigger; BaseOperator is in the baseline);
one that imports ``airflow.triggers.base`` alone (its pydantic event models); and one that
imports the dbt Cloud provider's operator module (``apache-airflow-providers-dbt-cloud``, for
comparison). Each import runs in a fresh interpreter, timed from the moment the file is
executed; the figure is the median of ``--runs`` imports, minus the baseline's median. The
files take turns, so drift hits them alike.

Three settings of what the interpreter has loaded before the DAG file:

- ``sdk``: only ``airflow.sdk`` (the issue's baseline); every DAG file above;
- ``airflow-bases``: ``airflow.sdk`` and those Airflow base-class modules, so that the provider
  DAG file measures the provider's own code alone;
- ``dag-processor``: ``airflow.dag_processing.processor``, the module a real DAG-parsing
  process runs, which already holds Airflow's serialization and ``airflow.triggers.base``.

Goals (exit 1 if one is missed), each at most 15 ms: every module in the ``sdk`` setting (the
issue's goal); the modules a DAG file imports, in the ``sdk`` setting; every module where DAG
files are really parsed (``dag-processor``). The Airflow base classes alone, the provider's own
code on top of them and ``airflow.triggers.base`` are reported for information: they show how
much of the first figure no provider module can avoid; so is the ratio of every provider module
to the dbt Cloud operator module, both timed in the same run.
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
TRIGGER_BASE = "airflow.triggers.base"  # Airflow's BaseTrigger: what any trigger module imports
# The modules of the Airflow base classes the provider subclasses that a DAG importing only
# airflow.sdk's DAG and BaseOperator has not loaded: BaseHook, BaseSensorOperator,
# BaseOperatorLink, BaseTrigger.
AIRFLOW_BASES = ("airflow.sdk.bases.hook", "airflow.sdk.bases.sensor", "airflow.sdk.bases.operatorlink",
                 TRIGGER_BASE)  # fmt: skip

_DAG_BODY = """
import pendulum
from airflow.sdk import DAG
from airflow.sdk.bases.operator import BaseOperator

with DAG("parse_bench", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")):
    BaseOperator(task_id="noop")
"""
# Each setting: the modules preloaded before the DAG file, and the DAG files timed in it.
SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sdk": (("airflow.sdk",),
            ("baseline", "provider", "provider_no_triggers", "airflow_bases", "trigger_base", "dbt_cloud")),
    "airflow-bases": (("airflow.sdk", *AIRFLOW_BASES), ("baseline", "provider")),
    "dag-processor": (("airflow.dag_processing.processor",), ("baseline", "provider")),
}  # fmt: skip
# Runs in the child: the preloads first, then the timed import of the DAG file.
_CHILD = """
import importlib, importlib.util, json, sys, time
for name in sys.argv[2:]:
    importlib.import_module(name)
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    modules = provider_modules()
    dag_facing = [m for m in modules if ".triggers." not in m]  # what DAG files import in practice
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "baseline": _dag_file(Path(tmp), "baseline", []),
            "provider": _dag_file(Path(tmp), "provider", modules),
            "provider_no_triggers": _dag_file(Path(tmp), "provider_no_triggers", dag_facing),
            "airflow_bases": _dag_file(Path(tmp), "airflow_bases", list(AIRFLOW_BASES)),
            "trigger_base": _dag_file(Path(tmp), "trigger_base", [TRIGGER_BASE]),
            "dbt_cloud": _dag_file(Path(tmp), "dbt_cloud", [DBT_CLOUD]),
        }
        env = _child_env(Path(tmp) / "pycache")
        added = {
            setting: _added_ms({name: files[name] for name in names}, preloads, args.runs, env)
            for setting, (preloads, names) in SETTINGS.items()
        }

    for setting, figures in added.items():
        others = "; ".join(f"{name}: +{ms:.1f} ms" for name, ms in figures.items() if name != "baseline")
        print(f"[{setting}] baseline DAG: {figures['baseline']:.1f} ms; {others}")
    headline = _headline(added, len(modules))
    goals_met = all(line["met"] is not False for line in headline)
    kept = {"runs": args.runs, "modules": modules, "median_ms": added}
    result = {"bench": "dag_parse", "goals_met": goals_met, "headline": headline, "figures": kept}
    print(json.dumps(result))
    return 0 if goals_met else 1


def _headline(added: dict[str, dict[str, float]], count: int) -> list[dict[str, Any]]:
    """The three goal rows, then rows for information."""
    sdk, bases, processor = added["sdk"], added["airflow-bases"], added["dag-processor"]
    baseline = f"airflow.sdk preloaded; baseline DAG {sdk['baseline']:.1f} ms"
    goals = [
        (f"all {count} provider modules, triggers included", sdk["provider"], baseline),
        (
            "the operator, sensor, hook, link and transfer modules (what DAG files import)",
            sdk["provider_no_triggers"],
            baseline,
        ),
        (
            f"all {count} provider modules, triggers included, as the DAG processor parses",
            processor["provider"],
            f"its modules preloaded; baseline DAG {processor['baseline']:.1f} ms",
        ),
    ]
    info = [
        (
            "Airflow's base classes alone (BaseHook, BaseSensorOperator, BaseOperatorLink, BaseTrigger)",
            sdk["airflow_bases"],
            "airflow.sdk preloaded",
        ),
        (
            f"all {count} provider modules on top of those base classes (the provider's own code)",
            bases["provider"],
            "airflow.sdk and the base classes preloaded",
        ),
        (
            f"Airflow's {TRIGGER_BASE} alone (what any trigger module imports)",
            sdk["trigger_base"],
            "airflow.sdk preloaded",
        ),
    ]
    versus_dbt = {
        "metric": f"DAG import time added: all {count} provider modules / dbt Cloud's operator module",
        "value": round(sdk["provider"] / sdk["dbt_cloud"], 3),
        "goal": None,
        "met": None,
        "detail": f"{sdk['provider']:.1f} ms vs {sdk['dbt_cloud']:.0f} ms, airflow.sdk preloaded",
    }
    return [
        {"metric": f"DAG import time added by {what}, ms", "value": round(value, 1),
         "goal": f"<= {GOAL_MS:g}", "met": value <= GOAL_MS, "detail": detail}
        for what, value, detail in goals
    ] + [
        {"metric": f"DAG import time added by {what}, ms", "value": round(value, 1),
         "goal": None, "met": None, "detail": detail}
        for what, value, detail in info
    ] + [versus_dbt]  # fmt: skip


def _import_seconds(path: Path, preloads: tuple[str, ...], env: dict[str, str]) -> float:
    argv = [sys.executable, "-c", _CHILD, str(path), *preloads]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout
    return float(json.loads(out.strip().splitlines()[-1]))


def _added_ms(
    files: dict[str, Path], preloads: tuple[str, ...], runs: int, env: dict[str, str]
) -> dict[str, float]:
    """The baseline's median import time, and what the others add to it (ms)."""
    for path in files.values():
        _import_seconds(path, preloads, env)  # warm the file cache and the bytecode caches
    samples: dict[str, list[float]] = {name: [] for name in files}
    for _ in range(runs):  # interleaved, so drift hits every file alike
        for name, path in files.items():
            samples[name].append(_import_seconds(path, preloads, env))
    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    return {name: medians[name] - (0 if name == "baseline" else medians["baseline"]) for name in medians}


if __name__ == "__main__":
    sys.exit(main())
