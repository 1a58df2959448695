"""The ``depot-emulator`` command: flags, the URL line, persistence on SIGTERM, faults from a file."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest
from emulator_support import Rpc

from airflow_provider_depot._proto.depot.cli.v1beta1 import projects_pb2 as cli_projects_pb2
from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect import Code, ConnectError


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_depot.emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("depot-emulator listening on http://127.0.0.1:"):
        proc.kill()
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"no URL line: {line!r}; stderr: {err[-2000:]}")
    return proc, line.split()[-1]


def _stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    return proc.returncode


def test_serves_the_demo_seed_and_saves_state_on_sigterm(tmp_path):
    state = tmp_path / "state.json"
    proc, url = _start(
        "--port",
        "0",
        "--token",
        "t-one",
        "--token",
        "t-two",
        "--seed",
        "demo",
        "--state",
        str(state),
        "--health-timeout",
        "60",
        "--pending",
        "0",
        "--log-level",
        "WARNING",
    )
    try:
        rpc = Rpc(url, "t-two")
        try:
            listed = rpc(
                "depot.cli.v1beta1.ProjectsService/ListProjects", cli_projects_pb2.ListProjectsRequest()
            )
            assert sorted(p.name for p in listed.projects) == ["api", "web", "worker"]
            rpc(
                "depot.core.v1.ProjectService/CreateProject",
                project_pb2.CreateProjectRequest(name="new", region_id="us-east-1"),
            )
            with pytest.raises(ConnectError) as info:
                rpc(
                    "depot.core.v1.ProjectService/ListProjects",
                    project_pb2.ListProjectsRequest(),
                    token="t-three",
                )
            assert info.value.code is Code.UNAUTHENTICATED
        finally:
            rpc.close()
    finally:
        assert _stop(proc) == 0
    names = sorted(p["name"] for p in json.loads(state.read_text())["projects"])
    assert names == ["api", "new", "web", "worker"]


def test_faults_from_a_file_and_from_a_flag(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text(
        json.dumps({"rules": [{"method": "*ListProjects", "action": "error", "code": "unavailable"}]})
    )
    inline = json.dumps({"method": "*ListOrganizations", "action": "http", "status": 502})
    proc, url = _start("--faults", str(faults), "--fault", inline, "--token", "tok")
    try:
        headers = {"authorization": "Bearer tok", "content-type": "application/proto"}
        with httpx.Client(base_url=url, headers=headers) as client:
            assert client.post("/depot.core.v1.ProjectService/ListProjects", content=b"").status_code == 503
            assert (
                client.post("/depot.core.v1.OrganizationService/ListOrganizations", content=b"").status_code
                == 502
            )
            assert client.post("/depot.core.v1.ProjectService/GetProject", content=b"").status_code == 400
            rules = client.get("/_emulator/faults").json()["rules"]
            assert [r["fired"] for r in rules] == [1, 1]
    finally:
        assert _stop(proc) == 0


def test_bad_flags_fail_clearly(tmp_path):
    bad = tmp_path / "seed.json"
    bad.write_text(json.dumps({"projects": [{"name": "x", "region_id": "mars-1"}]}))
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_depot.emulator", "--seed", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "region_id" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_depot.emulator", "--fault", '{"action": "x"}'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "action" in result.stderr
