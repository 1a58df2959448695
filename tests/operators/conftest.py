"""Fixtures for the operator tests: a fresh emulator per test, reached over real HTTP through the
``depot_default`` Airflow connection (AIRFLOW_CONN_DEPOT_DEFAULT)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.bases.operator import ExecutorSafeguard
from support.operator_support import Depot

from airflow_provider_depot.emulator import EmulatorHandle


@pytest.fixture(autouse=True)
def _operators_run_outside_task_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests call ``execute()`` directly; Airflow's own tests switch its guard off the same way."""
    monkeypatch.setattr(ExecutorSafeguard, "test_mode", True)


@pytest.fixture
def depot(depot_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> Depot:
    connection = {"conn_type": "depot", "password": depot_emulator.token, "host": depot_emulator.url}
    monkeypatch.setenv("AIRFLOW_CONN_DEPOT_DEFAULT", json.dumps(connection))
    return Depot(depot_emulator)
