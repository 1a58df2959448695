"""Seeds: the demo seed, and hand-written seed documents."""

from __future__ import annotations

import datetime

import pytest
from emulator_support import Rpc

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.emulator import Clock, Emulator, EmulatorConfig, run_emulator
from airflow_provider_depot.emulator._snapshot import SnapshotError

UTC = datetime.timezone.utc
DAY = datetime.datetime(2026, 6, 1, 9, 30, tzinfo=UTC)


def _demo(day=DAY):
    return Emulator(EmulatorConfig(seed="demo", id_seed=1), clock=Clock(day, frozen=True))


def test_demo_seed_is_deterministic():
    a, b = _demo().admin.snapshot(), _demo().admin.snapshot()
    a.pop("page_key"), b.pop("page_key")
    assert a == b


def test_demo_seed_contents():
    emu = _demo()
    projects = emu.admin.projects()
    assert [p.name for p in projects] == ["api", "web", "worker"]
    for project in projects:
        images = emu.admin.images(project.project_id)
        ages = {(DAY - datetime.datetime.fromtimestamp(i.pushed_at_us / 1e6, UTC)).days for i in images}
        assert min(ages) <= 1 and max(ages) >= 88  # spread over the last 90 days
        builds = emu.state.project_builds[project.project_id]
        assert {b.status.value for b in builds} == {"success", "failed"}
        assert all(b.finished and b.steps and b.logs for b in builds)
        assert any(s.cached for b in builds for s in b.steps)
    usage = emu.state.usage
    assert len(usage.projects[projects[0].project_id]) == 90
    assert usage.github_jobs and usage.agent_sandboxes and usage.storage_gb


def test_demo_builds_read_back_through_the_api():
    with run_emulator(seed="demo") as emu:
        rpc = Rpc(emu.url, emu.token)
        try:
            project = emu.admin.projects()[0]
            builds = rpc(
                "depot.core.v1.BuildService/ListBuilds",
                core_pb2.ListBuildsRequest(project_id=project.project_id),
            ).builds
            assert len(builds) == 3 and all(b.HasField("finished_at") and b.total_steps for b in builds)
            steps = rpc(
                "depot.build.v1.BuildService/GetBuildSteps",
                build_pb2.GetBuildStepsRequest(project_id=project.project_id, build_id=builds[1].build_id),
            ).build_steps
            failed = [s for s in steps if s.HasField("error")]
            assert builds[1].status == core_pb2.Build.STATUS_FAILED and len(failed) == 1
            logs = rpc(
                "depot.build.v1.BuildService/GetBuildStepLogs",
                build_pb2.GetBuildStepLogsRequest(
                    project_id=project.project_id,
                    build_id=builds[1].build_id,
                    build_step_digest=failed[0].digest,
                ),
            ).logs
            assert "No matching distribution" in logs[0].message
        finally:
            rpc.close()


def test_hand_written_seed():
    seed = {
        "organizations": [{"org_id": "acmeorg001", "name": "Acme", "tokens": ["acme-token"]}],
        "projects": [
            {
                "project_id": "acmeproj01",
                "name": "api",
                "region_id": "eu-central-1",
                "tokens": [{"description": "ci", "secret": "acme-project-secret"}],
                "trust_policies": [{"github": {"repository_owner": "acme", "repository": "api"}}],
                "images": [
                    {
                        "tag": "v1",
                        "digest": "sha256:1",
                        "pushed_at": "2026-01-01T00:00:00Z",
                        "size_bytes": 10,
                    },
                    {"tag": "v2", "digest": "sha256:2", "pushed_at": 1767312000, "size_bytes": 20},
                ],
                "builds": [
                    {
                        "status": "success",
                        "created_at": "2026-01-02T00:00:00Z",
                        "finished_at": "2026-01-02T00:01:40Z",
                        "steps": [
                            {"digest": "sha256:s", "name": "FROM scratch", "logs": [{"message": "hi"}]}
                        ],
                    }
                ],
                "usage": [{"date": "2026-01-02", "build_count": 4, "build_duration_seconds": 400}],
            }
        ],
    }
    with run_emulator(seed=seed, tokens=("acme-token",)) as emu:
        rpc = Rpc(emu.url, "acme-token")
        try:
            got = rpc(
                "depot.core.v1.ProjectService/GetProject",
                project_pb2.GetProjectRequest(project_id="acmeproj01"),
            ).project
            assert (got.organization_id, got.region_id) == ("acmeorg001", "eu-central-1")
            images = rpc(
                "depot.build.v1.RegistryService/ListImages",
                registry_pb2.ListImagesRequest(project_id="acmeproj01"),
                token="acme-project-secret",
            ).images
            assert [i.tag for i in images] == ["v2", "v1"]
            (build,) = rpc(
                "depot.core.v1.BuildService/ListBuilds", core_pb2.ListBuildsRequest(project_id="acmeproj01")
            ).builds
            assert build.build_duration_seconds == 100
        finally:
            rpc.close()


@pytest.mark.parametrize(
    ("doc", "where"),
    [
        ({"projects": [{"name": "x", "region_id": "mars-1"}]}, "projects[0]: unknown region_id"),
        ({"projects": [{"region_id": "us-east-1"}]}, "projects[0].name"),
        (
            {"projects": [{"name": "x", "images": [{"tag": "t", "digest": "d", "pushed_at": "yesterday"}]}]},
            "projects[0].images.pushed_at",
        ),
        ({"projects": [{"name": "x", "builds": [{"status": "exploded"}]}]}, "projects[0].builds[0].status"),
        ({"projects": [{"name": "x", "usage": [{"date": "01/02/2026"}]}]}, "projects[0].usage[0].date"),
        ({"format": "other/9"}, "format"),
    ],
)
def test_bad_seed_names_the_place(doc, where):
    with pytest.raises(SnapshotError) as info:
        Emulator(EmulatorConfig(seed=doc))
    assert where in str(info.value)
