"""DepotBuildOperator: arguments checked before any call, the CLI's command line and
environment, secrets from Airflow, and a killed task against the emulator with the real CLI."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.build_support import dag_process, running
from support.polling import wait_until

from airflow_provider_depot.emulator import EmulatorHandle
from airflow_provider_depot.emulator.depot._model import BuildStatus
from airflow_provider_depot.exceptions import DepotParameterError
from airflow_provider_depot.operators._build_secrets import resolve_secrets
from airflow_provider_depot.operators._build_spec import BuildSpec, SecretSource, build_spec
from airflow_provider_depot.operators._depot_cli import build_command, build_environment, find_depot_cli
from airflow_provider_depot.operators.build import DepotBuildOperator


def _operator(tmp_path: Path, **overrides: Any) -> DepotBuildOperator:
    arguments: dict[str, Any] = {"task_id": "build", "project_id": "proj1", "context": str(tmp_path)}
    arguments.update(overrides)
    return DepotBuildOperator(**arguments)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"project_id": " "}, "project_id must not be empty"),
        ({"context": "no/such/dir"}, "context 'no/such/dir' is neither a directory"),
        ({"platforms": ["linux/386"]}, "platforms[0] must be one of ['linux/amd64', 'linux/arm64']"),
        ({"platforms": "linux/amd64"}, "platforms must be a list of strings"),
        ({"platforms": ["linux/arm64", "linux/arm64"]}, "platforms lists a platform twice"),
        ({"tags": ["ok:1", "bad tag"]}, "tags[1] must not contain whitespace"),
        ({"build_args": {"A=B": "x"}}, "build_args: key 'A=B' must be a non-empty string"),
        ({"labels": {"team": 7}}, "labels['team'] must be a string"),
        ({"outputs": ["type=local,dest=out"]}, "outputs[0]: dest must be an absolute path"),
        ({"push": "False"}, "push must be True or False"),
        (
            {"secrets": {"npm": {"variable": "V", "conn_id": "c"}}},
            "needs exactly one of 'variable' and 'conn_id'",
        ),
        ({"secrets": {"npm": {"conn_id": "c", "field": "extra"}}}, "secrets['npm']['field'] must be one of"),
        ({"secrets": {"bad id": {"variable": "V"}}}, "secrets: id 'bad id' must be"),
        (
            {"depot_cli_path": "/nonexistent/depot"},
            "depot_cli_path '/nonexistent/depot' is not an executable",
        ),
    ],
)
def test_bad_arguments_fail_naming_the_parameter_before_any_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overrides: dict[str, Any], message: str
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_DEPOT_DEFAULT", raising=False)  # a call would fail differently
    with pytest.raises(DepotParameterError) as raised:
        _operator(tmp_path, **overrides).execute(context={})
    assert message in str(raised.value)


def test_a_missing_cli_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ValueError) as raised:
        find_depot_cli(None)
    assert "npm install @depot/cli-linux-x64@0.0.1-cli.2.102.12" in str(raised.value)
    assert "depot_cli_path" in str(raised.value)


def _spec(tmp_path: Path, **overrides: Any) -> BuildSpec:
    arguments: dict[str, Any] = {
        "project_id": "proj1",
        "context": str(tmp_path),
        "dockerfile": None,
        "tags": None,
        "platforms": None,
        "build_args": None,
        "target": None,
        "push": False,
        "outputs": None,
        "labels": None,
        "secrets": None,
        "no_cache": False,
        "base_dir": None,
    }
    arguments.update(overrides)
    return build_spec(**arguments)


def test_the_command_line_carries_every_option_and_no_secret_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_NPM_TOKEN", "npm-secret-value")
    spec = _spec(
        tmp_path,
        dockerfile="docker/Dockerfile.prod",
        tags=["registry.depot.dev/proj1:nightly"],
        platforms=["linux/amd64", "linux/arm64"],
        build_args={"VERSION": "1.2"},
        target="runtime",
        push=True,
        labels={"team": "platform"},
        secrets={"npm": {"variable": "NPM_TOKEN"}},
        no_cache=True,
    )
    secrets = resolve_secrets(spec.secrets)
    argv = build_command("/opt/depot", spec, metadata_file=tmp_path / "m.json", secret_args=secrets.args)

    assert argv == [
        "/opt/depot", "build", "--progress", "plain", "--metadata-file", str(tmp_path / "m.json"),
        "--platform", "linux/amd64,linux/arm64", "--file", str(tmp_path / "docker/Dockerfile.prod"),
        "--tag", "registry.depot.dev/proj1:nightly", "--build-arg", "VERSION=1.2", "--label", "team=platform",
        "--target", "runtime", "--push", "--secret", "id=npm,env=DEPOT_BUILD_SECRET_0", "--no-cache",
        str(tmp_path),
    ]  # fmt: skip
    assert "npm-secret-value" not in " ".join(argv)
    assert secrets.env == {"DEPOT_BUILD_SECRET_0": "npm-secret-value"}


def test_a_git_context_and_its_dockerfile_are_passed_as_given(tmp_path: Path) -> None:
    spec = _spec(tmp_path, context="https://github.com/acme/app.git#main", dockerfile="build/Dockerfile")
    argv = build_command("depot", spec, metadata_file=tmp_path / "m.json", secret_args=())
    assert argv[-3:] == ["--file", "build/Dockerfile", "https://github.com/acme/app.git#main"]


def test_a_relative_context_is_relative_to_the_dag_folder(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    assert _spec(tmp_path, context="ctx", base_dir=tmp_path).context == str(tmp_path / "ctx")


def test_the_cli_environment_has_the_build_and_not_the_workers_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_provider_depot.operators._process import inherited_environment

    monkeypatch.setenv("DEPOT_TOKEN", "worker-org-token")
    monkeypatch.setenv("AIRFLOW_CONN_DEPOT_DEFAULT", '{"password": "org-token"}')
    monkeypatch.setenv("HOME_FOR_TEST", "kept")
    env = build_environment(
        inherited=inherited_environment(),
        api_url="http://127.0.0.1:1234",
        project_id="proj1",
        build_id="b1",
        build_token="build-token",
        ca_bundle="/etc/ca.pem",
        extra={"DEPOT_BUILD_SECRET_0": "s"},
    )
    assert env["DEPOT_TOKEN"] == "build-token"
    assert (env["DEPOT_BUILD_ID"], env["DEPOT_PROJECT_ID"]) == ("b1", "proj1")
    assert env["DEPOT_API_URL"] == "http://127.0.0.1:1234"
    assert env["SSL_CERT_FILE"] == "/etc/ca.pem"
    assert {env[k] for k in ("DEPOT_DISABLE_OTEL", "DEPOT_NO_UPDATE_NOTIFIER", "DEPOT_NO_SUMMARY_LINK")} == {
        "1"
    }
    assert env["DEPOT_ERROR_TELEMETRY"] == "0"
    assert "AIRFLOW_CONN_DEPOT_DEFAULT" not in env
    assert env["HOME_FOR_TEST"] == "kept"


def test_secrets_come_from_variables_and_connections_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.log import redact

    monkeypatch.setenv("AIRFLOW_VAR_NPM_TOKEN", "npm-token-from-variable")
    connection = {"conn_type": "http", "login": "robot", "password": "pypi-password-1", "host": "pypi.test"}
    monkeypatch.setenv("AIRFLOW_CONN_PYPI", json.dumps(connection))
    resolved = resolve_secrets(
        [("npm", SecretSource(variable="NPM_TOKEN")), ("pypi", SecretSource(conn_id="pypi"))]
    )
    assert list(resolved.env.values()) == ["npm-token-from-variable", "pypi-password-1"]
    assert redact("npm-token-from-variable") == "***"
    assert redact("pypi-password-1") == "***"
    assert "pypi-password-1" not in repr(resolved)


def test_a_missing_secret_source_is_named() -> None:
    with pytest.raises(
        ValueError, match=r"secrets\['npm'\] \(Variable 'NO_SUCH_VARIABLE'\) could not be read"
    ):
        resolve_secrets([("npm", SecretSource(variable="NO_SUCH_VARIABLE"))])


def _reported_health(emulator: EmulatorHandle) -> bool:
    return any(e["procedure"].endswith("ReportBuildHealth") for e in emulator.admin.audit())


@pytest.mark.airflow_run
@pytest.mark.usefixtures("airflow_db")
@pytest.mark.depot_emulator(pending=10_000, pending_interval=0.2)
def test_sigterm_stops_the_cli_which_cancels_the_build_within_5_s(
    emulator: EmulatorHandle, project_id: str, depot_cli: str, tmp_path: Path
) -> None:
    """The builder never becomes active here: the CLI keeps asking for it until it is stopped."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    run_conf = {"project_id": project_id, "context": str(tmp_path), "depot_cli_path": depot_cli}
    with dag_process("depot_test_build_cli", run_conf) as task:
        [lease] = wait_until(lambda: emulator.admin.endpoints()["live"], timeout=60)
        build = emulator.admin.build(lease["build_id"])
        wait_until(lambda: _reported_health(emulator), timeout=30)  # the CLI's cancel handler is set up

        task.send_signal(signal.SIGTERM)
        started = time.monotonic()
        wait_until(lambda: not emulator.admin.endpoints()["live"] and build.finished, timeout=5)

        assert build.status is BuildStatus.CANCELED  # the CLI's own FinishBuild {canceled}
        assert time.monotonic() - started < 5
        output, _ = task.communicate(timeout=60)
        assert "DAG_RUN_STATE=failed" in output


def test_without_a_recorded_step_the_clis_own_verdict_explains_the_failure() -> None:
    from airflow_provider_depot.operators.build import _cli_error

    output = [
        "#7 [1/1] COPY missing.txt /missing.txt",
        '#7 ERROR: "/missing.txt" not found: not found',
        '> [1/1] COPY missing.txt /missing.txt:',
        'failed to solve: failed to compute cache key: "/missing.txt" not found: not found',
    ]
    assert _cli_error(output) == output[-1]
    assert _cli_error(output[:3]) == output[1]  # no verdict: the failing step's line
    assert _cli_error(["#1 DONE 0.0s"]) is None


def _processes_of(build_id: str) -> list[int]:
    """Live processes whose environment names the build (the CLI and anything it started)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"DEPOT_BUILD_ID={build_id}".encode() in environ and running(int(entry.name)):
            found.append(int(entry.name))
    return found


@pytest.mark.leak_expected
@pytest.mark.airflow_run
@pytest.mark.usefixtures("airflow_db")
@pytest.mark.depot_emulator(pending=10_000, pending_interval=0.2, health_timeout=2.0, reap_interval=0.2)
def test_sigkill_of_the_task_leaves_no_cli_behind(
    emulator: EmulatorHandle, project_id: str, depot_cli: str, tmp_path: Path
) -> None:
    """The kernel's parent-death signal (setpriv --pdeathsig TERM) reaches the CLI: it cancels the
    build, or, if its next write to the dead task's pipe comes first, dies of SIGPIPE and leaves
    the builder to Depot's health reaper. Either way nothing of the build keeps running."""
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    run_conf = {"project_id": project_id, "context": str(tmp_path), "depot_cli_path": depot_cli}
    with dag_process("depot_test_build_cli", run_conf) as task:
        [lease] = wait_until(lambda: emulator.admin.endpoints()["live"], timeout=60)
        build = emulator.admin.build(lease["build_id"])
        wait_until(lambda: _reported_health(emulator), timeout=30)
        assert _processes_of(build.build_id)

        task.send_signal(signal.SIGKILL)
        task.wait(timeout=30)

        wait_until(lambda: not _processes_of(build.build_id), timeout=5)
        wait_until(lambda: not emulator.admin.endpoints()["live"] and build.finished, timeout=10)
        ended = (build.status, build.error)
        assert ended in [(BuildStatus.CANCELED, "canceled"), (BuildStatus.FAILED, "expired")]
