"""End to end, with a real BuildKit (dockerd's, behind the emulator's mTLS endpoints), the real
``depot`` CLI from npm and docker buildx: real builds of FROM scratch images to local outputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.build_support import REPO, load_dag_module, task_instance

from airflow_provider_depot.client import DepotClient
from airflow_provider_depot.emulator import EmulatorHandle, run_emulator
from airflow_provider_depot.emulator.depot._model import BuildStatus

pytestmark = [pytest.mark.buildkit, pytest.mark.airflow_run, pytest.mark.usefixtures("airflow_db")]
SAMPLE_CONTEXT = REPO / "dags" / "build_context"


def _buildx_tools() -> ModuleType:
    """tests/buildkit/buildx_tools.py (docker buildx with a private DOCKER_CONFIG), reused; the
    same module object as the BuildKit tests' when they ran first."""
    if "buildx_tools" not in sys.modules:
        path = REPO / "tests" / "buildkit" / "buildx_tools.py"
        spec = importlib.util.spec_from_file_location("buildx_tools", path)
        assert spec is not None and spec.loader is not None
        sys.modules["buildx_tools"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["buildx_tools"]


BUILDX = _buildx_tools()


@pytest.fixture
def depot_emulator(local_buildkit: Any) -> Any:
    """Overrides the plugin's fixture: an emulator whose builders are the real local BuildKit,
    each lease behind a mutual-TLS proxy of its own."""
    with run_emulator(buildkit_endpoint=local_buildkit.endpoint, buildkit_mtls=True, pending=1) as handle:
        yield handle


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _sample_image_files() -> dict[str, bytes]:
    """What the sample Dockerfile puts into the image: site/ under srv/site/, and srv/VERSION."""
    files = {f"srv/site/{name}": data for name, data in _files(SAMPLE_CONTEXT / "site").items()}
    files["srv/VERSION"] = (SAMPLE_CONTEXT / "VERSION").read_bytes()
    return files


def test_the_nightly_dag_builds_both_platforms_with_the_depot_cli(
    emulator: EmulatorHandle, project_id: str, depot_cli: str, tmp_path: Path
) -> None:
    nightly = load_dag_module(REPO / "dags" / "depot_nightly_build.py").dag
    out = tmp_path / "image"
    run = nightly.test(
        run_conf={
            "project_id": project_id,
            "depot_cli_path": depot_cli,
            "outputs": [f"type=local,dest={out}"],
        }
    )

    built = task_instance(run, "build_image")
    states = [task_instance(run, t).state for t in ("build_image", "wait_for_build", "report")]
    assert states == ["success"] * 3
    result = built.xcom_pull(task_ids="build_image")
    build_id = result["build_id"]
    org = emulator.admin.organization.org_id
    assert result == {
        "build_id": build_id,
        "build_url": f"https://depot.dev/orgs/{org}/projects/{project_id}/builds/{build_id}",
        "project_id": project_id,
        "tags": [],
        "digest": None,  # a local export has no image digest
        "platforms": ["linux/amd64", "linux/arm64"],
        "steps": result["steps"],
    }
    assert built.xcom_pull(task_ids="build_image", key="_link_DepotBuildLink") == result["build_url"]

    # The image's files, one tree per platform.
    expected = _sample_image_files()
    assert _files(out / "linux_amd64") == expected
    assert _files(out / "linux_arm64") == expected

    # What Depot recorded, back through GetBuildSteps and GetBuild.
    with DepotClient(token=emulator.token, base_url=emulator.url, http_version="h2c") as client:
        steps = list(client.builds.iter_build_steps(project_id=project_id, build_id=build_id))
    names = {step.name for step in steps}
    for platform in ("amd64", "arm64"):
        assert {f"[depot] launching {platform} machine", f"[depot] connecting to {platform} machine"} <= names
        copies = {
            f"[linux/{platform} 1/2] COPY site/ /srv/site/",
            f"[linux/{platform} 2/2] COPY VERSION /srv/VERSION",
        }
        assert copies <= names  # BuildKit's own steps
    assert all(step.HasField("completed_at") and not step.HasField("error") for step in steps)
    assert result["steps"]["total"] == len(steps)
    assert result["steps"]["failed"] == 0
    assert emulator.admin.build(build_id).status is BuildStatus.SUCCESS
    released = emulator.admin.endpoints()["released"]
    assert sorted(lease["platform"] for lease in released) == ["linux/amd64", "linux/arm64"]

    report = task_instance(run, "report").xcom_pull(task_ids="report")
    assert report["platforms"] == ["linux/amd64", "linux/arm64"]
    assert report["build_url"] == result["build_url"]


def test_a_failing_build_fails_the_task_with_the_builds_error(
    emulator: EmulatorHandle,
    project_id: str,
    depot_cli: str,
    test_dags: ModuleType,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\nCOPY missing.txt /missing.txt\n")
    run = test_dags.build_cli.test(
        run_conf={
            "project_id": project_id,
            "context": str(context),
            "depot_cli_path": depot_cli,
            "outputs": [f"type=local,dest={tmp_path / 'out'}"],
        }
    )

    assert task_instance(run, "build").state == "failed"
    [build] = emulator.admin.state.builds.values()
    assert build.status is BuildStatus.FAILED  # finished by the CLI itself
    assert "missing.txt" in (build.error or "")
    logged = capfd.readouterr().out
    step = '[1/1] COPY missing.txt /missing.txt: "/missing.txt" not found'  # from GetBuildSteps
    assert f"Depot build {build.build_id} failed at step {step}" in logged  # the task's error


def test_secrets_reach_the_build_through_the_environment(
    emulator: EmulatorHandle,
    project_id: str,
    depot_cli: str,
    test_dags: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_NIGHTLY_NPM_TOKEN", "npm-token-for-the-build")
    out = tmp_path / "out"
    run = test_dags.build_cli.test(
        run_conf={
            "project_id": project_id,
            "context": str(SAMPLE_CONTEXT),
            "depot_cli_path": depot_cli,
            "outputs": [f"type=local,dest={out}"],
            "secrets": {"npm": {"variable": "NIGHTLY_NPM_TOKEN"}},
        }
    )

    assert task_instance(run, "build").state == "success"
    assert _files(out) == _sample_image_files()


def test_the_buildkit_operator_drives_a_real_build_with_docker_buildx(
    emulator: EmulatorHandle, project_id: str, test_dags: ModuleType, tmp_path: Path, local_buildkit: Any
) -> None:
    buildx = BUILDX.make_buildx(tmp_path / "docker-config")
    out = tmp_path / "out"
    command = f"""set -euo pipefail
export DOCKER_CONFIG={buildx.config_dir}
opts="cacert=$DEPOT_BUILDKIT_CA_CERT,cert=$DEPOT_BUILDKIT_CERT,key=$DEPOT_BUILDKIT_KEY"
docker buildx create --name "depot-$DEPOT_BUILD_ID" --driver remote \\
    --driver-opt "$opts,servername=$DEPOT_BUILDKIT_SERVER_NAME" "$BUILDKIT_HOST"
trap 'docker buildx rm "depot-$DEPOT_BUILD_ID"' EXIT
docker buildx build --builder "depot-$DEPOT_BUILD_ID" --progress plain --network none \\
    --output type=local,dest={out} {SAMPLE_CONTEXT}
"""
    run = test_dags.buildkit_often.test(run_conf={"project_id": project_id, "command": command})

    ti = task_instance(run, "hold_builders")
    assert ti.state == "success"
    assert _files(out) == _sample_image_files()
    build_id = ti.xcom_pull(task_ids="hold_builders")["build_id"]
    assert emulator.admin.build(build_id).status is BuildStatus.SUCCESS
    [lease] = emulator.admin.endpoints()["released"]
    assert lease["endpoint"] != local_buildkit.endpoint  # the build's own mTLS proxy, not BuildKit itself
    assert lease["released_by"] == "release"
