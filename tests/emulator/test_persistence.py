"""--state: the state survives a restart (projects, tokens, images, builds, page tokens)."""

from __future__ import annotations

import datetime
import json
import time

from emulator_support import Rpc

from airflow_provider_depot._proto.depot.build.v1 import build_pb2, registry_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.emulator import run_emulator


def test_state_survives_a_restart(tmp_path):
    state_file = tmp_path / "state.json"
    with run_emulator(state_file=str(state_file)) as first:
        rpc = Rpc(first.url, first.token)
        try:
            project = rpc(
                "depot.core.v1.ProjectService/CreateProject",
                project_pb2.CreateProjectRequest(name="kept", region_id="eu-central-1"),
            ).project
            token = rpc(
                "depot.core.v1.ProjectService/CreateToken",
                project_pb2.CreateTokenRequest(project_id=project.project_id, description="ci"),
            )
            first.admin.add_synthetic_images(project.project_id, 25)
            page = rpc(
                "depot.build.v1.RegistryService/ListImages",
                registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=10),
            )
            build = rpc(
                "depot.build.v1.BuildService/CreateBuild",
                build_pb2.CreateBuildRequest(project_id=project.project_id),
            )
            first.admin.set_usage(project.project_id, datetime.date(2026, 1, 5), build_count=3)
        finally:
            rpc.close()
    saved = state_file.read_text()
    assert token.secret not in saved and build.build_token not in saved and first.token not in saved
    with run_emulator(state_file=str(state_file)) as second:
        rpc = Rpc(second.url, second.token)
        try:
            got = rpc(
                "depot.core.v1.ProjectService/GetProject",
                project_pb2.GetProjectRequest(project_id=project.project_id),
            )
            assert got.project == project
            # The project token still works, and the page token continues where it left off.
            rest = rpc(
                "depot.build.v1.RegistryService/ListImages",
                registry_pb2.ListImagesRequest(
                    project_id=project.project_id, page_size=100, page_token=page.next_page_token
                ),
                token=token.secret,
            )
            assert [i.tag for i in rest.images] == [f"img-{i:06d}" for i in range(14, -1, -1)]
            status = rpc(
                "depot.core.v1.BuildService/GetBuild", core_pb2.GetBuildRequest(build_id=build.build_id)
            ).build
            assert status.status == core_pb2.Build.STATUS_RUNNING
            rpc(
                "depot.build.v1.BuildService/FinishBuild",
                build_pb2.FinishBuildRequest(build_id=build.build_id, success={}),
                token=build.build_token,
            )
        finally:
            rpc.close()
        assert second.admin.state.usage.projects[project.project_id]


def test_state_is_saved_while_running(tmp_path):
    state_file = tmp_path / "state.json"
    with run_emulator(state_file=str(state_file), save_interval=0.05) as emu:
        emu.admin.create_project("early")
        for _ in range(200):
            if state_file.exists() and "early" in state_file.read_text():
                break
            time.sleep(0.05)
        assert [p["name"] for p in json.loads(state_file.read_text())["projects"]] == ["early"]


def test_a_state_file_wins_over_the_seed(tmp_path):
    state_file = tmp_path / "state.json"
    with run_emulator(state_file=str(state_file), seed="demo") as emu:
        emu.admin.create_project("added")
        names = sorted(p.name for p in emu.admin.projects())
    with run_emulator(state_file=str(state_file), seed="demo") as emu:
        assert sorted(p.name for p in emu.admin.projects()) == names
