"""DepotBuildSensor run by Airflow (dag.test) against the emulator: deferred through the
trigger and in poke mode, to success, to a failed build with its failing step, to a timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest
from depot_reports import Step, end_build, report_steps
from support.build_support import task_instance

from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.emulator.depot._model import BuildStatus

pytestmark = [
    pytest.mark.airflow_run,
    pytest.mark.usefixtures("airflow_db"),
    pytest.mark.depot_emulator(pending=0),
]
DEFERRED = "[DAG TEST] running trigger in line"
GET_BUILD = "depot.core.v1.BuildService/GetBuild"


@pytest.fixture
def running_build(emulator: EmulatorHandle, project_id: str) -> tuple[str, str]:
    return emulator.admin.create_build(project_id)


@pytest.fixture
def later(emulator: EmulatorHandle) -> Iterator[Callable[..., None]]:
    """``later(action, *args)``: run ``action`` once the sensor has seen the build running (its
    first GetBuild), from a thread joined after the test."""
    threads: list[threading.Thread] = []
    stop = threading.Event()

    def after_first_poll(action: Callable[..., None], *args: object) -> None:
        def run() -> None:
            while not stop.is_set() and not any(e["procedure"] == GET_BUILD for e in emulator.admin.audit()):
                time.sleep(0.05)
            if not stop.wait(0.5):
                action(*args)

        thread = threading.Thread(target=run, daemon=True)
        threads.append(thread)
        thread.start()

    yield after_first_poll
    stop.set()
    for thread in threads:
        thread.join()


def test_deferred_sensor_succeeds_when_the_build_does(
    emulator: EmulatorHandle,
    project_id: str,
    running_build: tuple[str, str],
    test_dags: ModuleType,
    later: Callable[..., None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_id, _ = running_build
    later(end_build, emulator, build_id, BuildStatus.SUCCESS)
    run = test_dags.sensor_deferrable.test(run_conf={"project_id": project_id, "build_id": build_id})

    ti = task_instance(run, "wait_for_build")
    assert ti.state == "success"
    result = ti.xcom_pull(task_ids="wait_for_build")
    assert result["build_id"] == build_id
    assert (result["status"], result["project_id"]) == ("STATUS_SUCCESS", project_id)
    org = emulator.admin.organization.org_id
    url = f"https://depot.dev/orgs/{org}/projects/{project_id}/builds/{build_id}"
    assert ti.xcom_pull(task_ids="wait_for_build", key="build_url") == url
    assert ti.xcom_pull(task_ids="wait_for_build", key="_link_DepotBuildLink") == url
    assert f"Depot build {build_id} is still running" in capfd.readouterr().out  # the first poke
    assert DEFERRED in caplog.text  # dag.test's own log (stdlib logging)


def test_deferred_sensor_fails_with_the_failing_step_and_its_logs(
    emulator: EmulatorHandle,
    project_id: str,
    running_build: tuple[str, str],
    test_dags: ModuleType,
    later: Callable[..., None],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_id, token = running_build
    steps = [
        Step("[internal] load build context", "sha256:aaa", cached=True),
        Step("[2/3] RUN make test", "sha256:bbb", error="process did not complete successfully: exit code: 2",
             logs=("running 12 tests", "FAIL test_parser")),
        Step("[3/3] RUN make docs", "sha256:ccc", error="context canceled"),
    ]  # fmt: skip

    def fail() -> None:
        report_steps(emulator, build_id, token, steps)
        end_build(emulator, build_id, BuildStatus.FAILED, "make test failed")

    later(fail)
    run = test_dags.sensor_deferrable.test(run_conf={"project_id": project_id, "build_id": build_id})

    assert task_instance(run, "wait_for_build").state == "failed"
    logged = capfd.readouterr().out
    assert DEFERRED in caplog.text
    assert (
        f"Depot build {build_id} failed at step [2/3] RUN make test: "
        "process did not complete successfully: exit code: 2"
    ) in logged
    assert "FAIL test_parser" in logged  # the culprit's own logs
    assert "Failed step '[3/3] RUN make docs': context canceled" in logged


def test_deferred_sensor_times_out_while_the_build_runs(
    project_id: str, running_build: tuple[str, str], test_dags: ModuleType, capfd: pytest.CaptureFixture[str]
) -> None:
    build_id, _ = running_build
    run = test_dags.sensor_deferrable_short.test(run_conf={"project_id": project_id, "build_id": build_id})

    assert task_instance(run, "wait_for_build").state == "failed"
    logged = capfd.readouterr().out
    assert f"Depot build {build_id} was still running when its timeout passed" in logged
    assert "AirflowSensorTimeout" in logged


def test_deferred_sensor_stops_at_the_execution_timeout(
    project_id: str, running_build: tuple[str, str], test_dags: ModuleType, capfd: pytest.CaptureFixture[str]
) -> None:
    build_id, _ = running_build
    run = test_dags.sensor_deferrable_deadline.test(run_conf={"project_id": project_id, "build_id": build_id})

    assert task_instance(run, "wait_for_build").state == "failed"
    logged = capfd.readouterr().out
    assert f"Depot build {build_id} was still running when its execution_timeout passed" in logged
    assert "AirflowTaskTimeout" in logged


@pytest.mark.parametrize(
    ("status", "expected"), [(BuildStatus.SUCCESS, "success"), (BuildStatus.CANCELED, "failed")]
)
def test_poke_mode_waits_for_the_build_to_end(
    emulator: EmulatorHandle,
    project_id: str,
    running_build: tuple[str, str],
    test_dags: ModuleType,
    later: Callable[..., None],
    status: BuildStatus,
    expected: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    build_id, _ = running_build
    later(end_build, emulator, build_id, status)
    run = test_dags.sensor_poke.test(run_conf={"project_id": project_id, "build_id": build_id})

    assert task_instance(run, "wait_for_build").state == expected
    logged = capfd.readouterr().out
    assert f"Depot build {build_id} is still running" in logged
    assert DEFERRED not in caplog.text
    if status is BuildStatus.CANCELED:
        assert f"Depot build {build_id} was canceled" in logged
