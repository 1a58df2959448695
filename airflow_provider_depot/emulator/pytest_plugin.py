"""pytest plugin with the ``depot_emulator`` fixture, for this project's tests and for users' own
DAG tests. Enable it with ``pytest_plugins = ["airflow_provider_depot.emulator.pytest_plugin"]``.

    def test_my_dag(depot_emulator):
        depot_emulator.admin.create_project("api")
        ...  # point the Depot connection at depot_emulator.url with depot_emulator.token

    @pytest.mark.depot_emulator(seed="demo", pending=0, health_timeout=5)
    def test_with_options(depot_emulator): ...

The marker's keywords are ``EmulatorConfig`` fields. Each test gets a fresh emulator.
``depot_emulator_env`` also sets ``DEPOT_API_URL`` and ``DEPOT_TOKEN`` for the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._inprocess import EmulatorHandle, run_emulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "depot_emulator(**options): EmulatorConfig fields for the depot_emulator fixture"
    )


@pytest.fixture
def depot_emulator(request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    """A running emulator (``.url``, ``.token``, ``.admin``, ``.clock``), stopped after the test."""
    marker = request.node.get_closest_marker("depot_emulator")
    options = dict(marker.kwargs) if marker is not None else {}
    with run_emulator(**options) as handle:
        yield handle


@pytest.fixture
def depot_emulator_env(depot_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> EmulatorHandle:
    """``depot_emulator`` with ``DEPOT_API_URL`` / ``DEPOT_TOKEN`` set to it for the test."""
    for name, value in depot_emulator.env().items():
        monkeypatch.setenv(name, value)
    return depot_emulator
