"""DepotBuildKitOperator against the emulator, run by Airflow (dag.test): health reports keep
the builder, a failing command fails the build, a killed task gives everything back."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from support.build_support import dag_process, running, task_instance
from support.polling import wait_until

from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.emulator.depot._model import Build, BuildStatus

pytestmark = [pytest.mark.airflow_run, pytest.mark.usefixtures("airflow_db")]
HEALTH_TIMEOUT = 3.0


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _only_build(emulator: EmulatorHandle):
    builds = list(emulator.admin.state.builds.values())
    assert len(builds) == 1
    return builds[0]


@pytest.mark.depot_emulator(health_timeout=HEALTH_TIMEOUT, reap_interval=0.25, pending=0)
def test_health_reports_keep_the_builder_past_the_health_timeout(
    emulator: EmulatorHandle, project_id: str, test_dags: ModuleType
) -> None:
    run = test_dags.buildkit_often.test(run_conf={"project_id": project_id, "command": "sleep 10"})

    ti = task_instance(run, "hold_builders")
    assert ti.state == "success"
    build = _only_build(emulator)
    assert ti.xcom_pull(task_ids="hold_builders") == {
        "build_id": build.build_id,
        "platforms": ["linux/amd64"],
        "exit_code": 0,
    }
    assert (build.status, build.error) == (BuildStatus.SUCCESS, None)
    [lease] = emulator.admin.endpoints()["released"]
    held = _parse(lease["released_at"]) - _parse(lease["acquired_at"])
    assert held.total_seconds() > 3 * HEALTH_TIMEOUT  # the reaper had every chance to strike
    assert lease["released_by"] == "release"


@pytest.mark.leak_expected
@pytest.mark.depot_emulator(health_timeout=HEALTH_TIMEOUT, reap_interval=0.25, pending=0)
def test_without_timely_health_reports_the_reaper_takes_the_builder(
    emulator: EmulatorHandle, project_id: str, test_dags: ModuleType
) -> None:
    """The control for the test above: reports every 30 s do not beat a 3 s timeout."""
    run = test_dags.buildkit_rarely.test(run_conf={"project_id": project_id, "command": "sleep 6"})

    assert task_instance(run, "hold_builders").state == "failed"  # FinishBuild(success) was refused
    build = _only_build(emulator)
    assert (build.status, build.error) == (BuildStatus.FAILED, "expired")
    assert [lease["state"] for lease in emulator.admin.endpoints()["leaked"]] == ["expired"]


@pytest.mark.depot_emulator(pending=1, pending_interval=0.1)
def test_a_failing_command_finishes_the_build_with_its_error(
    emulator: EmulatorHandle, project_id: str, test_dags: ModuleType, capfd: pytest.CaptureFixture[str]
) -> None:
    command = (
        'echo "host=$BUILDKIT_HOST name=$DEPOT_BUILDKIT_SERVER_NAME"; test -s "$DEPOT_BUILDKIT_KEY"; exit 3'
    )
    run = test_dags.buildkit_often.test(
        run_conf={"project_id": project_id, "command": command, "platforms": ["linux/amd64", "linux/arm64"]}
    )

    assert task_instance(run, "hold_builders").state == "failed"
    build = _only_build(emulator)
    assert (build.status, build.error) == (BuildStatus.FAILED, "bash_command exited with status 3")
    released = emulator.admin.endpoints()["released"]
    assert sorted(lease["platform"] for lease in released) == ["linux/amd64", "linux/arm64"]
    amd64 = next(lease for lease in released if lease["platform"] == "linux/amd64")
    assert f"host={amd64['endpoint']} name={amd64['server_name']}" in capfd.readouterr().out


@pytest.mark.depot_emulator(pending=0)
def test_the_build_token_is_masked_and_the_connection_not_inherited(
    emulator: EmulatorHandle, project_id: str, test_dags: ModuleType, tmp_path: Path
) -> None:
    from airflow.sdk.log import redact

    seen = tmp_path / "env.txt"
    command = f'printf "%s\\n" "$DEPOT_TOKEN" "${{AIRFLOW_CONN_DEPOT_DEFAULT:-unset}}" > {seen}'
    run = test_dags.buildkit_often.test(run_conf={"project_id": project_id, "command": command})

    assert task_instance(run, "hold_builders").state == "success"
    token, connection = seen.read_text().splitlines()
    assert emulator.admin.state.principal_for(token) is not None  # the real build token
    assert redact(token) == "***"
    assert connection == "unset"


@dataclass
class _HeldBuild:
    """A DepotBuildKitOperator task in a process of its own, its command (``sleep``) running."""

    task: subprocess.Popen[str]
    build: Build
    sleeper_pid: int


@pytest.fixture
def held_build(emulator: EmulatorHandle, project_id: str, tmp_path: Path) -> Iterator[_HeldBuild]:
    sleeper = tmp_path / "sleep.pid"
    command = f"sleep 120 & echo $! > {sleeper}; wait"
    with dag_process("depot_test_buildkit", {"project_id": project_id, "command": command}) as task:
        wait_until(lambda: sleeper.exists() and sleeper.read_text().strip(), timeout=60)
        [lease] = emulator.admin.endpoints()["live"]
        assert lease["state"] == "active"
        yield _HeldBuild(task, emulator.admin.build(lease["build_id"]), int(sleeper.read_text()))


@pytest.mark.depot_emulator(pending=0)
def test_sigterm_releases_the_builder_and_finishes_the_build_within_5_s(
    emulator: EmulatorHandle, held_build: _HeldBuild
) -> None:
    build = held_build.build
    held_build.task.send_signal(signal.SIGTERM)
    wait_until(lambda: not emulator.admin.endpoints()["live"] and build.finished, timeout=5)

    assert (build.status, build.error) == (BuildStatus.FAILED, "the Airflow task was killed")
    assert [lease["released_by"] for lease in emulator.admin.endpoints()["released"]] == ["release"]
    assert not running(held_build.sleeper_pid)  # the command's own children are gone too
    output, _ = held_build.task.communicate(timeout=60)
    assert "DAG_RUN_STATE=failed" in output


@pytest.mark.leak_expected
@pytest.mark.depot_emulator(pending=0, health_timeout=2.0, reap_interval=0.2)
def test_sigkill_leaves_no_command_behind_and_the_builder_to_the_reaper(
    emulator: EmulatorHandle, held_build: _HeldBuild
) -> None:
    """A task killed outright cannot clean up; its command must not outlive it all the same."""
    build = held_build.build
    held_build.task.send_signal(signal.SIGKILL)
    held_build.task.wait(timeout=30)

    wait_until(lambda: not running(held_build.sleeper_pid), timeout=5)
    wait_until(lambda: build.finished, timeout=10)  # no more health reports: the reaper's turn
    assert (build.status, build.error) == (BuildStatus.FAILED, "expired")
    assert [leaked["build_id"] for leaked in emulator.admin.endpoints()["leaked"]] == [build.build_id]
