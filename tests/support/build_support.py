"""Helpers of the build tests (tests/builds): their test DAGs, task instances, and a test DAG run
in a child process. Kept out of tests/builds/conftest.py so that test modules import them by a
name of their own, whatever other conftest.py pytest loaded last."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEST_DAGS = REPO / "tests" / "builds" / "dags"
RUN_DAG = Path(__file__).resolve().parent / "run_dag.py"


def load_dag_module(path: Path) -> ModuleType:
    """Import a DAG file by path (once per session), as the DAG processor would."""
    name = f"depot_build_tests_{path.stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def task_instance(dag_run: Any, task_id: str) -> Any:
    ti = dag_run.get_task_instance(task_id)
    assert ti is not None, f"no task instance {task_id}"
    return ti


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for its (re-assigned) parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@contextlib.contextmanager
def dag_process(dag_id: str, run_conf: dict[str, Any]) -> Iterator[subprocess.Popen[str]]:
    """A test DAG run by ``run_dag.py`` in a child process (which inherits the test's AIRFLOW_*
    and connection environment). If the test fails while it runs, it is killed and its output
    printed."""
    argv = [sys.executable, str(RUN_DAG), str(TEST_DAGS / "build_test_dags.py"), dag_id, json.dumps(run_conf)]
    task = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield task
    finally:
        if task.poll() is None:
            task.kill()
            print(task.communicate()[0][-6000:])
        if task.stdout is not None:
            task.stdout.close()  # a test that waited for the exit left the pipe open
