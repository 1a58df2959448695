"""Fixtures and session plumbing of the reliability suite.

- ``Evidence`` (see ``reliability_support``) is registered as a plugin for the whole session, so
  the secret scan, which runs last, sees the captured output of every test of the session, and
  every emulator's audit (``EmulatorHandle.stop`` is wrapped to keep it).
- Tests marked ``reliability_last`` run after everything else in the session.
- ``Outcomes`` collects the fault-matrix cells and bad-input rows. With ``RELIABILITY_RESULTS=FILE``
  in the environment they are written there at the end (``scripts/reliability_tables.py`` does
  that to regenerate the README tables); a normal run writes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from airflow.sdk.bases.operator import ExecutorSafeguard
from reliability_support import Emulators, Evidence, Outcomes, new_org_token

from airflow_provider_depot.emulator import EmulatorHandle, _inprocess

EVIDENCE = pytest.StashKey[Evidence]()
OUTCOMES = pytest.StashKey[Outcomes]()
_ORIGINAL_STOP = pytest.StashKey[Callable[[EmulatorHandle], None]]()
RESULTS_ENV = "RELIABILITY_RESULTS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability_last: run after every other test of the session")
    evidence = Evidence()
    config.stash[EVIDENCE] = evidence
    config.stash[OUTCOMES] = Outcomes()
    config.pluginmanager.register(evidence, "reliability-evidence")
    original = config.stash[_ORIGINAL_STOP] = _inprocess.EmulatorHandle.stop

    def stop(handle: EmulatorHandle) -> None:
        if not getattr(handle, "_reliability_seen", False):
            handle._reliability_seen = True  # type: ignore[attr-defined]
            evidence.emulator_stopping(handle)
        original(handle)

    _inprocess.EmulatorHandle.stop = stop  # type: ignore[method-assign]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ORIGINAL_STOP in config.stash:
        _inprocess.EmulatorHandle.stop = config.stash[_ORIGINAL_STOP]  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("reliability_last")]
    if last:
        items[:] = [item for item in items if item not in last] + last


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(RESULTS_ENV)
    if target and OUTCOMES in session.config.stash:
        outcomes = session.config.stash[OUTCOMES].to_json()
        Path(target).write_text(json.dumps(outcomes, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def evidence(pytestconfig: pytest.Config) -> Evidence:
    return pytestconfig.stash[EVIDENCE]


@pytest.fixture(scope="session")
def outcomes(pytestconfig: pytest.Config) -> Outcomes:
    return pytestconfig.stash[OUTCOMES]


@pytest.fixture(autouse=True)
def _operators_run_outside_task_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests call ``execute()`` directly; Airflow's own tests switch its guard off the same way."""
    monkeypatch.setattr(ExecutorSafeguard, "test_mode", True)


@pytest.fixture(scope="session")
def org_token(evidence: Evidence) -> str:
    """The session's organization token, distinctive enough for the secret scan to spot anywhere."""
    return evidence.secret(new_org_token(), "organization token")


@pytest.fixture
def emulators(org_token: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulators]:
    running = Emulators(org_token, monkeypatch)
    yield running
    running.close()
