"""The ``depot_emulator`` fixture that users list in ``pytest_plugins``."""

from __future__ import annotations

import os

import pytest
from emulator_support import Rpc

from airflow_provider_depot._proto.depot.core.v1 import project_pb2


def test_fixture_gives_a_running_emulator(depot_emulator):
    project = depot_emulator.admin.create_project("mine")
    rpc = Rpc(depot_emulator.url, depot_emulator.token)
    try:
        got = rpc(
            "depot.core.v1.ProjectService/GetProject",
            project_pb2.GetProjectRequest(project_id=project.project_id),
        )
    finally:
        rpc.close()
    assert got.project.name == "mine"


@pytest.mark.depot_emulator(seed="demo", health_timeout=7)
def test_marker_passes_options(depot_emulator):
    assert depot_emulator.emulator.config.health_timeout == 7
    assert [p.name for p in depot_emulator.admin.projects()] == ["api", "web", "worker"]


def test_env_fixture_points_official_clients_at_it(depot_emulator_env):
    assert os.environ["DEPOT_API_URL"] == depot_emulator_env.url
    assert os.environ["DEPOT_TOKEN"] == depot_emulator_env.token


def test_each_test_gets_a_fresh_emulator(depot_emulator):
    assert depot_emulator.admin.projects() == []
