"""Fixtures for the build tests: the emulator (checked for leaked builders after every test), a
``depot_default`` connection to it, the test DAGs, the real depot CLI and a real BuildKit."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_provider_depot.emulator import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
ROOT_CONFTEST = REPO / "tests" / "conftest.py"
TEST_DAGS = Path(__file__).resolve().parent / "dags"
NPM_CLI = REPO / ".cache" / "depot-cli" / "node_modules" / "@depot" / "cli-linux-x64" / "bin" / "depot"
INSTALL_HINT = "run scripts/install_build_tools.sh"


def require_tool(config: pytest.Config, available: bool, reason: str) -> None:
    """The suite's require_tool (tests/conftest.py): skip locally, fail when CI=true."""
    config.pluginmanager.get_plugin(str(ROOT_CONFTEST)).require_tool(available, reason)


@pytest.fixture(scope="session", autouse=True)
def _test_dag_bundle() -> Iterator[None]:
    """The repo's dags/ plus this folder's dags/ as DAG bundles, so dag.test() finds both."""
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": "depot-build-tests", "classpath": local, "kwargs": {"path": str(TEST_DAGS)}},
    ]
    key = "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"
    previous = os.environ.get(key)
    os.environ[key] = json.dumps(bundles)
    yield
    if previous is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = previous


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


@pytest.fixture
def test_dags() -> ModuleType:
    return load_dag_module(TEST_DAGS / "build_test_dags.py")


@pytest.fixture
def emulator(
    depot_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, expect_no_leaks: bool
) -> Iterator[EmulatorHandle]:
    """The emulator with ``depot_default`` pointing at it; after the test no BuildKit endpoint
    may be live, nor leaked (expired by the health reaper) unless marked ``leak_expected``."""
    connection = {"conn_type": "depot", "password": depot_emulator.token, "host": depot_emulator.url}
    monkeypatch.setenv("AIRFLOW_CONN_DEPOT_DEFAULT", json.dumps(connection))
    yield depot_emulator
    endpoints = depot_emulator.admin.endpoints()
    assert endpoints["live"] == [], f"BuildKit endpoints left live: {endpoints['live']}"
    if expect_no_leaks:
        assert endpoints["leaked"] == [], f"BuildKit endpoints leaked: {endpoints['leaked']}"


@pytest.fixture
def project_id(emulator: EmulatorHandle) -> str:
    return emulator.admin.create_project("nightly").project_id


@pytest.fixture(scope="session")
def depot_cli(pytestconfig: pytest.Config) -> str:
    """The official depot CLI from npm (scripts/install_build_tools.sh), else one on PATH."""
    found = str(NPM_CLI) if os.access(NPM_CLI, os.X_OK) else shutil.which("depot")
    require_tool(pytestconfig, found is not None, f"the depot CLI is not installed ({INSTALL_HINT})")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def local_buildkit(pytestconfig: pytest.Config) -> Iterator[Any]:
    """dockerd's embedded BuildKit as a plain tcp:// endpoint, for the whole session."""
    from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit, buildkit_unavailable_reason

    reason = buildkit_unavailable_reason()
    require_tool(pytestconfig, reason is None, f"a local BuildKit cannot run here: {reason} ({INSTALL_HINT})")
    with LocalBuildKit() as buildkit:
        yield buildkit


def task_instance(dag_run: Any, task_id: str) -> Any:
    ti = dag_run.get_task_instance(task_id)
    assert ti is not None, f"no task instance {task_id}"
    return ti


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "leak_expected: the test makes the emulator expire a build's builder")


@pytest.fixture
def expect_no_leaks(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("leak_expected") is None


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
    runner = str(Path(__file__).parent.parent / "support" / "run_dag.py")
    argv = [sys.executable, runner, str(TEST_DAGS / "build_test_dags.py"), dag_id, json.dumps(run_conf)]
    task = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield task
    finally:
        if task.poll() is None:
            task.kill()
            print(task.communicate()[0][-6000:])
        if task.stdout is not None:
            task.stdout.close()  # a test that waited for the exit left the pipe open
