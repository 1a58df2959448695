"""Fixtures for the build tests: the emulator (checked for leaked builders after every test), a
``depot_default`` connection to it, the test DAGs, the real depot CLI and a real BuildKit."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from required_tools import require_tool
from support.build_support import REPO, TEST_DAGS, load_dag_module

from airflow_provider_depot.emulator import EmulatorHandle

NPM_CLI = REPO / ".cache" / "depot-cli" / "node_modules" / "@depot" / "cli-linux-x64" / "bin" / "depot"
INSTALL_HINT = "run scripts/install_build_tools.sh"


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
def depot_cli() -> str:
    """The official depot CLI from npm (scripts/install_build_tools.sh), else one on PATH."""
    found = str(NPM_CLI) if os.access(NPM_CLI, os.X_OK) else shutil.which("depot")
    require_tool(found is not None, f"the depot CLI is not installed ({INSTALL_HINT})")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def local_buildkit() -> Iterator[Any]:
    """dockerd's embedded BuildKit as a plain tcp:// endpoint, for the whole session."""
    from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit, buildkit_unavailable_reason

    reason = buildkit_unavailable_reason()
    require_tool(reason is None, f"a local BuildKit cannot run here: {reason} ({INSTALL_HINT})")
    with LocalBuildKit() as buildkit:
        yield buildkit


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "leak_expected: the test makes the emulator expire a build's builder")


@pytest.fixture
def expect_no_leaks(request: pytest.FixtureRequest) -> bool:
    return request.node.get_closest_marker("leak_expected") is None
