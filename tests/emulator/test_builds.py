"""Builds: lifecycle, BuildKit endpoints and their mTLS material, health and the reaper, and
what ``depot build`` reports (cli.v1) becoming steps and logs."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from emulator_support import Rpc
from google.protobuf.timestamp_pb2 import Timestamp

from airflow_provider_depot._proto.depot.build.v1 import build_pb2
from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_pb2
from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.emulator import run_emulator

CREATE = "depot.build.v1.BuildService/CreateBuild"
FINISH = "depot.build.v1.BuildService/FinishBuild"
GET_ENDPOINT = "depot.buildkit.v1.BuildKitService/GetEndpoint"
CORE_GET = "depot.core.v1.BuildService/GetBuild"
CLI = "depot.cli.v1.BuildService/"
UTC = datetime.timezone.utc


def _ts(when: datetime.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def _core(rpc, build_id):
    return rpc(CORE_GET, core_pb2.GetBuildRequest(build_id=build_id)).build


def test_build_v1_lifecycle(emulator, rpc, project):
    created = rpc(CREATE, build_pb2.CreateBuildRequest(project_id=project.project_id))
    assert created.build_id.startswith("b") and len(created.build_id) == 12
    assert created.build_token.startswith("depot_build_")
    running = _core(rpc, created.build_id)
    assert running.status == core_pb2.Build.STATUS_RUNNING
    assert not running.HasField("finished_at")
    emulator.clock.advance(42)
    rpc(
        FINISH,
        build_pb2.FinishBuildRequest(
            build_id=created.build_id, success=build_pb2.FinishBuildRequest.BuildSuccess()
        ),
    )
    done = _core(rpc, created.build_id)
    assert done.status == core_pb2.Build.STATUS_SUCCESS
    assert done.build_duration_seconds == 42
    # Finishing again the same way is accepted; differently, it is refused.
    rpc(
        FINISH,
        build_pb2.FinishBuildRequest(
            build_id=created.build_id, success=build_pb2.FinishBuildRequest.BuildSuccess()
        ),
    )
    with pytest.raises(ConnectError) as info:
        rpc(
            FINISH,
            build_pb2.FinishBuildRequest(
                build_id=created.build_id, error=build_pb2.FinishBuildRequest.BuildError(error="x")
            ),
        )
    assert info.value.code is Code.FAILED_PRECONDITION


def test_finish_with_error_and_unknown_build(rpc, project):
    created = rpc(CREATE, build_pb2.CreateBuildRequest(project_id=project.project_id))
    rpc(
        FINISH,
        build_pb2.FinishBuildRequest(
            build_id=created.build_id, error=build_pb2.FinishBuildRequest.BuildError(error="boom")
        ),
    )
    assert _core(rpc, created.build_id).status == core_pb2.Build.STATUS_FAILED
    with pytest.raises(ConnectError) as info:
        rpc(CORE_GET, core_pb2.GetBuildRequest(build_id="bnosuchbuild"))
    assert info.value.code is Code.NOT_FOUND
    with pytest.raises(ConnectError) as info:
        rpc(FINISH, build_pb2.FinishBuildRequest(build_id=created.build_id))
    assert info.value.code is Code.INVALID_ARGUMENT


def test_create_build_for_unknown_project_is_not_found(rpc):
    with pytest.raises(ConnectError) as info:
        rpc(CREATE, build_pb2.CreateBuildRequest(project_id="nosuchproj"))
    assert info.value.code is Code.NOT_FOUND


def _load_cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def test_get_endpoint_pending_then_active_with_fresh_mtls_material():
    with run_emulator(pending=3, pending_interval=0.01) as emu:
        project = emu.admin.create_project("p")
        build_id, token = emu.admin.create_build(project.project_id)
        rpc = Rpc(emu.url, token)
        try:
            replies = rpc.server_stream(GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=build_id))
            again = rpc.server_stream(GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=build_id))
            other_id, other_token = emu.admin.create_build(project.project_id)
            other = rpc.server_stream(
                GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=other_id), token=other_token
            )
        finally:
            rpc.close()
        endpoints = emu.admin.endpoints()
    assert [r.WhichOneof("connection") for r in replies] == ["pending"] * 3 + ["active"]
    assert [r.WhichOneof("connection") for r in again] == ["active"]  # the builder is already up
    active = replies[-1].active
    assert active.endpoint.startswith("tcp://")
    ca = _load_cert(active.ca_cert.cert)
    client = _load_cert(active.cert.cert.cert)
    assert client.issuer == ca.subject
    ca.public_key().verify(
        client.signature, client.tbs_certificate_bytes, ec.ECDSA(client.signature_hash_algorithm)
    )
    assert active.cert.key.key.startswith("-----BEGIN PRIVATE KEY-----")
    assert active.server_name.startswith(build_id)
    # Each build gets its own CA.
    assert other[-1].active.ca_cert.cert != active.ca_cert.cert
    live = {(e["build_id"], e["state"]) for e in endpoints["live"]}
    assert live == {(build_id, "active"), (other_id, "active")}
    assert endpoints["leaked"] == []


def test_release_endpoint_and_finish_end_leases(emulator, rpc, project):
    created = rpc(CREATE, build_pb2.CreateBuildRequest(project_id=project.project_id))
    token = created.build_token
    for platform in (buildkit_pb2.PLATFORM_AMD64, buildkit_pb2.PLATFORM_ARM64):
        rpc.server_stream(
            GET_ENDPOINT,
            buildkit_pb2.GetEndpointRequest(build_id=created.build_id, platform=platform),
            token=token,
        )
    rpc(
        "depot.buildkit.v1.BuildKitService/ReleaseEndpoint",
        buildkit_pb2.ReleaseEndpointRequest(build_id=created.build_id, platform=buildkit_pb2.PLATFORM_ARM64),
        token=token,
    )
    endpoints = emulator.admin.endpoints()
    assert [e["platform"] for e in endpoints["live"]] == ["linux/amd64"]
    assert [(e["platform"], e["released_by"]) for e in endpoints["released"]] == [("linux/arm64", "release")]
    rpc(
        FINISH,
        build_pb2.FinishBuildRequest(
            build_id=created.build_id, success=build_pb2.FinishBuildRequest.BuildSuccess()
        ),
    )
    endpoints = emulator.admin.endpoints()
    assert endpoints["live"] == [] and endpoints["leaked"] == []
    assert sorted(e["released_by"] for e in endpoints["released"]) == ["finish", "release"]
    # An ended build gets no endpoint.
    with pytest.raises(ConnectError) as info:
        rpc.server_stream(
            GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=created.build_id), token=token
        )
    assert info.value.code is Code.FAILED_PRECONDITION


def test_reaper_expires_builds_without_health():
    with run_emulator(pending=0, health_timeout=30) as emu:
        project = emu.admin.create_project("p")
        quiet_id, quiet_token = emu.admin.create_build(project.project_id)
        healthy_id, healthy_token = emu.admin.create_build(project.project_id)
        rpc = Rpc(emu.url, quiet_token)
        try:
            for build_id, token in ((quiet_id, quiet_token), (healthy_id, healthy_token)):
                rpc.server_stream(
                    GET_ENDPOINT, buildkit_pb2.GetEndpointRequest(build_id=build_id), token=token
                )
            emu.clock.advance(20)
            rpc.client_stream(
                "depot.buildkit.v1.BuildKitService/ReportHealth",
                [buildkit_pb2.ReportHealthRequest(build_id=healthy_id)],
                token=healthy_token,
            )
            emu.clock.advance(15)  # quiet: 35 s without health, healthy: 15 s
            quiet, healthy = emu.admin.build(quiet_id), emu.admin.build(healthy_id)
            assert (quiet.status.value, quiet.error) == ("failed", "expired")
            assert healthy.status.value == "running"
            endpoints = emu.admin.endpoints()
            assert [e["build_id"] for e in endpoints["leaked"]] == [quiet_id]
            assert [e["build_id"] for e in endpoints["live"]] == [healthy_id]
            org = Rpc(emu.url, emu.token)
            try:
                assert _core(org, quiet_id).status == core_pb2.Build.STATUS_FAILED
            finally:
                org.close()
            # The expired build's health reports are refused from now on.
            with pytest.raises(ConnectError) as info:
                rpc.client_stream(
                    "depot.buildkit.v1.BuildKitService/ReportHealth",
                    [buildkit_pb2.ReportHealthRequest(build_id=quiet_id)],
                    token=quiet_token,
                )
            assert info.value.code is Code.FAILED_PRECONDITION
        finally:
            rpc.close()


def test_admin_reap_and_clock_endpoint(emulator, project):
    import httpx

    build_id, _ = emulator.admin.create_build(project.project_id)
    with httpx.Client(base_url=emulator.url) as admin:
        assert admin.post("/_emulator/reap").json() == {"expired": []}
        emulator.clock.freeze()
        reply = admin.post("/_emulator/clock", json={"advance_seconds": 301})
        assert reply.status_code == 200 and reply.json()["frozen"] is True
    assert emulator.admin.build(build_id).error == "expired"


def _vertex(digest, name, started, completed=None, cached=False, error=""):
    vertex = status_pb2.Vertex(digest=digest, name=name, cached=cached, error=error)
    vertex.started.CopyFrom(_ts(started))
    if completed is not None:
        vertex.completed.CopyFrom(_ts(completed))
    return vertex


def _log(digest, when, text):
    entry = status_pb2.VertexLog(vertex=digest, stream=1, msg=text.encode())
    entry.timestamp.CopyFrom(_ts(when))
    return entry


def test_cli_build_flow_records_steps_and_logs():
    """What ``depot build`` does with DEPOT_BUILD_ID (WIRE.md section 5), then the public reads."""
    with run_emulator(pending=2, pending_interval=0.02) as emu:
        project = emu.admin.create_project("p")
        org = Rpc(emu.url, emu.token)
        created = org(CREATE, build_pb2.CreateBuildRequest(project_id=project.project_id))
        build_id = created.build_id
        cli = Rpc(emu.url, created.build_token)
        try:
            got = cli(CLI + "GetBuild", cli_pb2.GetBuildRequest(build_id=build_id))
            assert (got.build_id, got.project_id) == (build_id, project.project_id)
            assert got.build_url.endswith(f"/builds/{build_id}")
            polls = []
            while True:
                reply = cli(
                    CLI + "GetBuildKitConnection",
                    cli_pb2.GetBuildKitConnectionRequest(
                        build_id=build_id, platform=cli_pb2.BUILDER_PLATFORM_AMD64
                    ),
                )
                polls.append(reply.WhichOneof("connection"))
                if polls[-1] == "active":
                    break
                assert reply.pending.wait_ms == 20
            assert polls == ["pending", "pending", "active"]
            assert reply.active.ca_cert.cert.startswith("-----BEGIN CERTIFICATE-----")
            assert reply.active.WhichOneof("compressor") == "identity"
            health = cli(CLI + "ReportBuildHealth", cli_pb2.ReportBuildHealthRequest(build_id=build_id))
            assert not health.HasField("cancels_at")
            t0 = datetime.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
            first = status_pb2.StatusResponse(
                vertexes=[
                    _vertex("sha256:a", "[1/2] FROM scratch", t0, t0 + datetime.timedelta(seconds=1)),
                    _vertex("sha256:b", "[2/2] COPY hello.txt /", t0 + datetime.timedelta(seconds=1)),
                ],
                logs=[_log("sha256:b", t0, "copying hel"), _log("sha256:b", t0, "lo.txt\nsecond line\n")],
            )
            second = status_pb2.StatusResponse(
                vertexes=[
                    _vertex(
                        "sha256:b",
                        "[2/2] COPY hello.txt /",
                        t0 + datetime.timedelta(seconds=1),
                        t0 + datetime.timedelta(seconds=3),
                    )
                ],
                logs=[_log("sha256:b", t0 + datetime.timedelta(seconds=2), "no newline at the end")],
            )
            cli.client_stream(
                CLI + "ReportStatusStream",
                [
                    cli_pb2.ReportStatusStreamRequest(build_id=build_id, statuses=[first]),
                    cli_pb2.ReportStatusStreamRequest(build_id=build_id, statuses=[second]),
                ],
            )
            cli(
                CLI + "ReportBuildContext",
                cli_pb2.ReportBuildContextRequest(
                    build_id=build_id,
                    dockerfiles=[cli_pb2.Dockerfile(filename="Dockerfile", contents="FROM scratch")],
                ),
            )
            cli(
                CLI + "FinishBuild",
                cli_pb2.FinishBuildRequest(
                    build_id=build_id, success=cli_pb2.FinishBuildRequest.BuildSuccess()
                ),
            )
            steps = org(
                "depot.build.v1.BuildService/GetBuildSteps",
                build_pb2.GetBuildStepsRequest(project_id=project.project_id, build_id=build_id),
            ).build_steps
            assert [(s.name, s.digest, s.has_logs) for s in steps] == [
                ("[1/2] FROM scratch", "sha256:a", False),
                ("[2/2] COPY hello.txt /", "sha256:b", True),
            ]
            assert steps[1].completed_at.ToDatetime(tzinfo=UTC) == t0 + datetime.timedelta(seconds=3)
            assert steps[0].cache_state == build_pb2.GetBuildStepsResponse.BuildStep.CACHE_STATE_UNCACHED
            logs = org(
                "depot.build.v1.BuildService/GetBuildStepLogs",
                build_pb2.GetBuildStepLogsRequest(
                    project_id=project.project_id, build_id=build_id, build_step_digest="sha256:b"
                ),
            ).logs
            assert [log.message for log in logs] == [
                "copying hello.txt",
                "second line",
                "no newline at the end",
            ]
            core = _core(org, build_id)
            assert (
                core.status == core_pb2.Build.STATUS_SUCCESS
                and core.total_steps == 2
                and core.cached_steps == 0
            )
            assert emu.admin.build(build_id).dockerfiles[0]["contents"] == "FROM scratch"
            assert emu.admin.endpoints()["live"] == []
            with pytest.raises(ConnectError) as info:
                org(
                    "depot.build.v1.BuildService/GetBuildStepLogs",
                    build_pb2.GetBuildStepLogsRequest(
                        project_id=project.project_id, build_id=build_id, build_step_digest="sha256:zzz"
                    ),
                )
            assert info.value.code is Code.NOT_FOUND
        finally:
            cli.close()
            org.close()


def test_cache_hits_count_as_saved_time(emulator, rpc, project):
    t0 = datetime.datetime(2026, 3, 1, tzinfo=UTC)
    durations = []
    for cached in (False, True):
        created = rpc(CLI + "CreateBuild", cli_pb2.CreateBuildRequest(project_id=project.project_id))
        status = status_pb2.StatusResponse(
            vertexes=[
                _vertex(
                    "sha256:slow",
                    "RUN make",
                    t0,
                    t0 + datetime.timedelta(seconds=0 if cached else 90),
                    cached=cached,
                )
            ]
        )
        rpc(
            CLI + "ReportStatus",
            cli_pb2.ReportStatusRequest(build_id=created.build_id, statuses=[status]),
            token=created.build_token,
        )
        rpc(
            CLI + "FinishBuild",
            cli_pb2.FinishBuildRequest(build_id=created.build_id, success={}),
            token=created.build_token,
        )
        durations.append(_core(rpc, created.build_id))
    assert durations[0].saved_duration_seconds == 0
    assert (durations[1].saved_duration_seconds, durations[1].cached_steps, durations[1].total_steps) == (
        90,
        1,
        1,
    )


def test_cli_create_build_cancel_and_list(emulator, rpc, project):
    created = rpc(
        CLI + "CreateBuild",
        cli_pb2.CreateBuildRequest(
            project_id=project.project_id,
            options=[cli_pb2.BuildOptions(command=cli_pb2.COMMAND_BUILD, tags=["app:1"], save=True)],
        ),
    )
    assert created.project_id == project.project_id and created.build_token
    token = created.build_token
    emulator.admin.cancel_build(created.build_id)
    health = rpc(
        CLI + "ReportBuildHealth", cli_pb2.ReportBuildHealthRequest(build_id=created.build_id), token=token
    )
    assert health.HasField("cancels_at")
    pull = rpc(CLI + "GetPullInfo", cli_pb2.GetPullInfoRequest(build_id=created.build_id), token=token)
    assert pull.reference.endswith(f"{project.project_id}:{created.build_id}") and pull.options[0].tags == [
        "app:1"
    ]
    assert rpc(
        CLI + "GetPullToken", cli_pb2.GetPullTokenRequest(build_id=created.build_id), token=token
    ).token
    rpc(CLI + "FinishBuild", cli_pb2.FinishBuildRequest(build_id=created.build_id, canceled={}), token=token)
    listed = rpc(CLI + "ListBuilds", cli_pb2.ListBuildsRequest(project_id=project.project_id)).builds
    assert [(b.id, b.status) for b in listed] == [(created.build_id, cli_pb2.BUILD_STATUS_CANCELED)]
    assert _core(rpc, created.build_id).status == core_pb2.Build.STATUS_CANCELED


def test_successful_saved_build_lands_in_the_registry(emulator, rpc, project):
    created = rpc(
        CLI + "CreateBuild",
        cli_pb2.CreateBuildRequest(
            project_id=project.project_id, options=[cli_pb2.BuildOptions(save=True, save_tags=["latest"])]
        ),
    )
    rpc(
        CLI + "FinishBuild",
        cli_pb2.FinishBuildRequest(build_id=created.build_id, success={}),
        token=created.build_token,
    )
    assert sorted(i.tag for i in emulator.admin.images(project.project_id)) == sorted(
        [created.build_id, "latest"]
    )


def test_report_timings_make_steps_when_no_status_came(emulator, rpc, project):
    created = rpc(CLI + "CreateBuild", cli_pb2.CreateBuildRequest(project_id=project.project_id))
    step = cli_pb2.BuildStep(
        name="[1/1] FROM scratch", duration_ms=1500, stable_digest="sha256:stable", cached=True
    )
    step.start_time.FromDatetime(datetime.datetime(2026, 3, 1))
    rpc(
        CLI + "ReportTimings",
        cli_pb2.ReportTimingsRequest(build_id=created.build_id, build_steps=[step]),
        token=created.build_token,
    )
    steps = emulator.admin.build(created.build_id).steps
    assert [(s.digest, s.cached, s.duration_seconds) for s in steps] == [("sha256:stable", True, 1.5)]


def test_share_build(rpc, project):
    created = rpc(CREATE, build_pb2.CreateBuildRequest(project_id=project.project_id))
    url = rpc(
        "depot.core.v1.BuildService/ShareBuild", core_pb2.ShareBuildRequest(build_id=created.build_id)
    ).share_url
    assert url.startswith("https://depot.dev/shared/")
    assert (
        rpc(
            "depot.core.v1.BuildService/ShareBuild", core_pb2.ShareBuildRequest(build_id=created.build_id)
        ).share_url
        == url
    )
    rpc(
        "depot.core.v1.BuildService/StopSharingBuild",
        core_pb2.StopSharingBuildRequest(build_id=created.build_id),
    )
    with pytest.raises(ConnectError) as info:
        rpc(
            "depot.core.v1.BuildService/StopSharingBuild",
            core_pb2.StopSharingBuildRequest(build_id=created.build_id),
        )
    assert info.value.code is Code.FAILED_PRECONDITION


@pytest.mark.parametrize(("result", "completed"), [("success", True), ("error", False)])
def test_steps_left_open_complete_only_with_a_successful_build(emulator, rpc, project, result, completed):
    created = rpc(CLI + "CreateBuild", cli_pb2.CreateBuildRequest(project_id=project.project_id))
    t0 = datetime.datetime(2026, 3, 1, tzinfo=UTC)
    status = status_pb2.StatusResponse(vertexes=[_vertex("sha256:open", "[1/1] COPY a /", t0)])
    rpc(
        CLI + "ReportStatus",
        cli_pb2.ReportStatusRequest(build_id=created.build_id, statuses=[status]),
        token=created.build_token,
    )
    finish = cli_pb2.FinishBuildRequest(build_id=created.build_id)
    if result == "success":
        finish.success.SetInParent()
    else:
        finish.error.error = "boom"
    rpc(CLI + "FinishBuild", finish, token=created.build_token)
    (step,) = emulator.admin.build(created.build_id).steps
    assert (step.completed_at is not None) is completed
