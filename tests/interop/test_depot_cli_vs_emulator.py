"""The official ``depot`` CLI (npm ``@depot/cli-linux-x64``, pinned) against the emulator over real
HTTP (h2c on the emulator's http:// URL).

Projects and cache commands run against the demo seed. ``depot build`` runs on a real BuildKit
(the session's private dockerd, ``local_buildkit``) that the emulator hands out behind a per-build
proxy, with mutual TLS (the default) and as plain TCP: once with a build created beforehand
through the API (``DEPOT_BUILD_ID`` and its build token, Depot's documented recipe, the one the
build operator uses) and once letting the CLI create the build itself. What the CLI did is read
back from the emulator: its state, its audit log, its endpoint leases, and the build's steps
through the provider's own client.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from depot_cli import CliResult, DepotCli, find_depot_cli

from airflow_provider_depot._proto.depot.build.v1 import build_pb2 as build_v1
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_v1
from airflow_provider_depot.client import DepotClient
from airflow_provider_depot.emulator import EmulatorHandle, run_emulator
from airflow_provider_depot.emulator.local_buildkit import LocalBuildKit

GIB = 1 << 30
CLI_BUILD = "depot.cli.v1.BuildService/"
# What `depot build` calls after GetBuild / CreateBuild (WIRE.md section 5).
BUILD_CALLS = ("GetBuildKitConnection", "ReportBuildHealth", "ReportStatusStream", "FinishBuild")
CONTEXT_FILES = {
    "files/hello.txt": b"hello from depot build\n",
    "files/nested/blob.bin": bytes(range(256)) * 16,
    "VERSION": b"4.5.6\n",
}
DOCKERFILE = "FROM scratch\nCOPY files/ /app/\nCOPY VERSION /app/VERSION\n"
COPY_STEPS = ("[1/2] COPY files/ /app/", "[2/2] COPY VERSION /app/VERSION")
IMAGE_FILES = {
    "app/hello.txt": CONTEXT_FILES["files/hello.txt"],
    "app/nested/blob.bin": CONTEXT_FILES["files/nested/blob.bin"],
    "app/VERSION": CONTEXT_FILES["VERSION"],
}
MISSING_COPY = "COPY missing.txt /missing.txt"
BuildStep = build_v1.GetBuildStepsResponse.BuildStep


@pytest.fixture(scope="session")
def installed_cli(tmp_path_factory: pytest.TempPathFactory) -> DepotCli:
    return find_depot_cli(tmp_path_factory.mktemp("depot-cli-version"))


@pytest.fixture
def depot_cli(installed_cli: DepotCli, tmp_path: Path) -> DepotCli:
    """The CLI with a HOME/XDG/Docker config of this test's own."""
    return dataclasses.replace(installed_cli, sandbox=tmp_path / "cli-sandbox")


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator(seed="demo") as handle:
        yield handle


@pytest.fixture(params=[True, False], ids=["mtls", "plain"])
def buildkit_emulator(
    request: pytest.FixtureRequest, local_buildkit: LocalBuildKit
) -> Iterator[EmulatorHandle]:
    """An emulator whose builds get the session's real BuildKit, behind mutual TLS or plain TCP;
    one ``pending`` reply first, as while a builder boots."""
    with run_emulator(
        buildkit_endpoint=local_buildkit.endpoint,
        buildkit_mtls=request.param,
        pending=1,
        pending_interval=0.1,
    ) as handle:
        yield handle


@pytest.fixture
def client(buildkit_emulator: EmulatorHandle) -> Iterator[DepotClient]:
    with DepotClient(token=buildkit_emulator.token, base_url=buildkit_emulator.url) as depot:
        yield depot


@pytest.fixture
def project_id(buildkit_emulator: EmulatorHandle) -> str:
    return buildkit_emulator.admin.create_project("cli-builds").project_id


@dataclasses.dataclass(frozen=True)
class ApiBuild:
    """A build created through the API, ``env`` handing it to the CLI (Depot's recipe for
    API-created builds), and the audit position after its creation."""

    build_id: str
    project_id: str
    env: dict[str, str]
    since: int


@pytest.fixture
def api_build(client: DepotClient, buildkit_emulator: EmulatorHandle, project_id: str) -> ApiBuild:
    created = client.builds.create_build(project_id=project_id)  # build.v1, org token
    env = {
        "DEPOT_API_URL": buildkit_emulator.url,
        "DEPOT_TOKEN": created.build_token,
        "DEPOT_BUILD_ID": created.build_id,
        "DEPOT_PROJECT_ID": project_id,
    }
    return ApiBuild(created.build_id, project_id, env, _last_seq(buildkit_emulator))


def _context(root: Path, dockerfile: str) -> Path:
    context = root / "context"
    for name, content in CONTEXT_FILES.items():
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_bytes(content)
    (context / "Dockerfile").write_text(dockerfile)
    return context


def _files_below(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _last_seq(emulator: EmulatorHandle) -> int:
    entries = emulator.admin.audit()
    return entries[-1]["seq"] if entries else 0


def _build(cli: DepotCli, env: dict[str, str], context: Path, dest: Path, *extra: str) -> CliResult:
    """``depot build`` of ``context`` into ``dest``; ``--no-cache``, since the session's BuildKit
    already holds the layers of earlier tests' builds."""
    output = f"type=local,dest={dest}"
    argv = ("build", "--progress", "plain", "--no-cache", *extra, "--output", output, str(context))
    return cli.run(*argv, env=env, timeout=180)


# -- the runner ----------------------------------------------------------------------------------


def test_the_runner_kills_and_reports_what_outlives_the_cli(tmp_path: Path) -> None:
    """A process the command leaves behind is killed, and the run fails (here /bin/sh stands
    in for the CLI)."""
    shell = DepotCli(Path("/bin/sh"), tmp_path)
    marker = tmp_path / "survivor.pid"
    with pytest.raises(AssertionError, match=r"left processes behind \(killed\): \[.*sleep"):
        shell.run("-c", f"sleep 300 >/dev/null 2>&1 & echo $! > {marker}", env={})
    stat = Path(f"/proc/{int(marker.read_text())}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # gone or a zombie


def test_the_runner_stops_a_command_at_its_timeout(tmp_path: Path) -> None:
    shell = DepotCli(Path("/bin/sh"), tmp_path)
    with pytest.raises(AssertionError, match=r"did not finish within 0\.2 s"):
        shell.run("-c", "sleep 300", env={}, timeout=0.2)


def test_the_cli_sees_only_its_sandbox(tmp_path: Path) -> None:
    """HOME, XDG and Docker config point into the sandbox; nothing of this process's
    environment but PATH and TMPDIR reaches the command."""
    sandbox = tmp_path / "sandbox"
    result = DepotCli(Path("/bin/sh"), sandbox).run("-c", "env", env={"DEPOT_TOKEN": "t"}).ok()
    env = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    private = (
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "DOCKER_CONFIG",
    )
    assert {k: Path(env[k]).parent for k in private} == dict.fromkeys(private, sandbox)
    assert env["DEPOT_TOKEN"] == "t" and env["DEPOT_DISABLE_OTEL"] == "1"
    assert not {k for k in env if k.startswith(("AIRFLOW", "DEPOT_API", "CI"))}


# -- projects and cache ---------------------------------------------------------------------------


def test_projects_list_json_is_the_emulators_projects(depot_cli: DepotCli, emulator: EmulatorHandle) -> None:
    emulator.admin.create_project("added-live")  # not in the seed: the list is the running state
    result = depot_cli.run("projects", "list", "--output", "json", env=emulator.env()).ok()

    listed = json.loads(result.stdout)
    expected = [{"id": p.project_id, "name": p.name} for p in emulator.admin.projects()]
    assert listed == expected
    assert {"api", "web", "worker", "added-live"} <= {p["name"] for p in listed}
    assert [(c["procedure"], c["token_kind"], c["code"]) for c in emulator.admin.audit()] == [
        ("depot.cli.v1beta1.ProjectsService/ListProjects", "org", "ok")
    ]


@pytest.mark.parametrize(
    ("flags", "region", "keep_gb", "keep_days"),
    [
        pytest.param((), "us-east-1", 50, 14, id="defaults"),
        pytest.param(
            ("--region", "eu-central-1", "--cache-storage-policy", "20", "--cache-policy-keep-days", "3"),
            "eu-central-1", 20, 3, id="flags",
        ),
    ],
)  # fmt: skip
def test_projects_create_sends_the_cache_policy(
    depot_cli: DepotCli,
    emulator: EmulatorHandle,
    flags: tuple[str, ...],
    region: str,
    keep_gb: int,
    keep_days: int,
) -> None:
    """The CLI sends the policy as the deprecated keep_bytes (GB x 2^30), 50 GB / 14 days by
    default, and prints the created project as JSON."""
    before = {p.project_id for p in emulator.admin.projects()}
    result = depot_cli.run("projects", "create", *flags, "cli-made", env=emulator.env()).ok()

    (created,) = [p for p in emulator.admin.projects() if p.project_id not in before]
    assert (created.name, created.region_id, created.keep_gb, created.keep_days) == (
        "cli-made", region, keep_gb, keep_days
    )  # fmt: skip
    assert json.loads(result.stdout) == {
        "project_id": created.project_id,
        "name": "cli-made",
        "cache_policy": {"keep_bytes": keep_gb * GIB, "keep_days": keep_days},
    }
    assert [(c["procedure"], c["code"]) for c in emulator.admin.audit()] == [
        ("depot.core.v1.ProjectService/CreateProject", "ok")
    ]


def test_cache_reset_resets_the_project(depot_cli: DepotCli, emulator: EmulatorHandle) -> None:
    project = emulator.admin.projects()[1]
    assert project.cache_reset_at is None
    emulator.clock.freeze()  # the reset's time is then known exactly
    result = depot_cli.run("cache", "reset", "--project", project.project_id, env=emulator.env()).ok()

    assert result.stdout.strip() == f"Cache reset for {project.name} ({emulator.admin.organization.name})"
    assert project.cache_reset_at == emulator.clock.now()
    assert [(c["procedure"], c["token_kind"], c["code"]) for c in emulator.admin.audit()] == [
        ("depot.cli.v1beta1.ProjectsService/ResetProjectCache", "org", "ok")
    ]
    others = [p for p in emulator.admin.projects() if p.project_id != project.project_id]
    assert all(p.cache_reset_at is None for p in others)


def test_cache_reset_of_an_unknown_project_fails(depot_cli: DepotCli, emulator: EmulatorHandle) -> None:
    result = depot_cli.run("cache", "reset", "--project", "nosuchproj", env=emulator.env())
    assert result.returncode != 0, result.describe()
    assert "not_found" in result.stderr and "nosuchproj" in result.stderr, result.describe()


# -- credentials ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(("projects", "list", "--output", "json"), id="projects-list"),
        pytest.param(("projects", "create", "never-made"), id="projects-create"),
        pytest.param(("cache", "reset", "--project", "demoapi001"), id="cache-reset"),
        pytest.param(("build", "--progress", "plain", "."), id="build"),
    ],
)
def test_an_unknown_token_is_unauthenticated(
    depot_cli: DepotCli, emulator: EmulatorHandle, argv: tuple[str, ...]
) -> None:
    project = emulator.admin.projects()[0].project_id
    build_id, _ = emulator.admin.create_build(project)  # for `depot build` with DEPOT_BUILD_ID
    projects_before = emulator.admin.projects()
    env = {
        "DEPOT_API_URL": emulator.url,
        "DEPOT_TOKEN": "not-a-depot-token",
        "DEPOT_BUILD_ID": build_id,
        "DEPOT_PROJECT_ID": project,
    }
    result = depot_cli.run(*argv, env=env)

    assert result.returncode != 0, result.describe()
    assert "unauthenticated" in result.stderr, result.describe()
    calls = emulator.admin.audit()
    assert calls, "the CLI never reached the emulator"
    assert all((c["token_kind"], c["code"]) == ("invalid", "unauthenticated") for c in calls), calls
    assert emulator.admin.projects() == projects_before
    assert emulator.admin.build(build_id).status.value == "running"  # untouched


def test_a_build_token_works_for_its_own_build_only(depot_cli: DepotCli, emulator: EmulatorHandle) -> None:
    project = emulator.admin.projects()[0].project_id
    build_id, _ = emulator.admin.create_build(project)
    _, other_token = emulator.admin.create_build(project)
    env = {
        **emulator.env(),
        "DEPOT_TOKEN": other_token,
        "DEPOT_BUILD_ID": build_id,
        "DEPOT_PROJECT_ID": project,
    }
    result = depot_cli.run("build", "--progress", "plain", ".", env=env)

    assert result.returncode != 0, result.describe()
    assert "permission_denied" in result.stderr, result.describe()
    assert [(c["procedure"], c["token_kind"]) for c in emulator.admin.audit()] == [
        (CLI_BUILD + "GetBuild", "build")
    ]
    assert emulator.admin.build(build_id).status.value == "running"


# -- depot build on a real BuildKit ---------------------------------------------------------------


def _assert_no_live_endpoint(emulator: EmulatorHandle, build_id: str) -> None:
    endpoints = emulator.admin.endpoints()
    assert endpoints["live"] == [] and endpoints["leaked"] == [], endpoints
    leases = [e for e in endpoints["released"] if e["build_id"] == build_id]
    assert [(e["platform"], e["released_by"]) for e in leases] == [("linux/amd64", "finish")], leases


def _steps(client: DepotClient, project_id: str, build_id: str) -> dict[str, BuildStep]:
    steps = list(client.builds.iter_build_steps(project_id=project_id, build_id=build_id))
    by_name = {s.name: s for s in steps}
    assert len(by_name) == len(steps), [s.name for s in steps]
    return by_name


def _assert_built(
    emulator: EmulatorHandle, client: DepotClient, project_id: str, build_id: str, dest: Path
) -> None:
    """The image's files are in ``dest``; the emulator saw the build's steps and its success."""
    assert _files_below(dest) == IMAGE_FILES

    build = client.builds.get_build(build_id=build_id).build
    assert build.status == core_v1.Build.STATUS_SUCCESS and build.HasField("finished_at"), build
    finished = build.finished_at.ToDatetime()

    steps = _steps(client, project_id, build_id)
    assert build.total_steps == len(steps)
    for name in COPY_STEPS:
        step = steps.get(name)
        assert step is not None, f"no step {name!r} in {sorted(steps)}"
        assert step.HasField("completed_at") and not step.HasField("error"), step
        # Before the finish: BuildKit's own completion time, not one the emulator filled in then.
        assert step.started_at.ToDatetime() <= step.completed_at.ToDatetime() < finished, step
        assert step.cache_state == BuildStep.CACHE_STATE_UNCACHED
    # A step only the CLI knows of: its ReportStatusStream reached the build, not just BuildKit's.
    assert "[depot] connecting to amd64 machine" in steps
    assert emulator.admin.build(build_id).error is None
    _assert_no_live_endpoint(emulator, build_id)


def _assert_cli_calls(calls: list[dict[str, Any]], *, first: str, first_token: str) -> None:
    """The CLI's calls: ``first`` (with ``first_token``), then the BuildKit connection, polled
    through its pending reply, health, status and one finish, all with the build token; every one
    answered ok, and nothing but cli.v1 BuildService."""
    seen = [(c["procedure"].removeprefix(CLI_BUILD), c["token_kind"], c["code"]) for c in calls]
    assert all(c["procedure"].startswith(CLI_BUILD) for c in calls), seen
    assert seen[:1] == [(first, first_token, "ok")] and seen[-1] == ("FinishBuild", "build", "ok"), seen
    assert all((kind, code) == ("build", "ok") for _, kind, code in seen[1:]), seen
    counts = Counter(name for name, _, _ in seen)
    assert all(counts[name] >= 1 for name in BUILD_CALLS), seen
    assert counts["GetBuildKitConnection"] >= 2 and counts["FinishBuild"] == 1 and counts[first] == 1, seen


@pytest.mark.buildkit
def test_build_with_an_api_created_build(
    depot_cli: DepotCli,
    buildkit_emulator: EmulatorHandle,
    client: DepotClient,
    api_build: ApiBuild,
    tmp_path: Path,
) -> None:
    build_id, project_id = api_build.build_id, api_build.project_id
    dest = tmp_path / "out"
    result = _build(depot_cli, api_build.env, _context(tmp_path, DOCKERFILE), dest).ok()

    assert all(f"{name}\n" in result.stderr for name in COPY_STEPS), result.describe()
    calls = buildkit_emulator.admin.audit(api_build.since)
    _assert_cli_calls(calls, first="GetBuild", first_token="build")
    assert not [c for c in calls if c["procedure"].endswith("/CreateBuild")], calls
    _assert_built(buildkit_emulator, client, project_id, build_id, dest)


@pytest.mark.buildkit
@pytest.mark.parametrize("project_from", ["env", "flag"])
def test_build_without_build_id_creates_its_build(
    depot_cli: DepotCli,
    buildkit_emulator: EmulatorHandle,
    client: DepotClient,
    project_id: str,
    tmp_path: Path,
    project_from: str,
) -> None:
    """Without DEPOT_BUILD_ID the CLI creates the build (cli.v1 CreateBuild, org token) for the
    project of DEPOT_PROJECT_ID or --project, then goes on with the build token it got."""
    since = _last_seq(buildkit_emulator)
    env = buildkit_emulator.env()
    extra: tuple[str, ...] = ()
    if project_from == "env":
        env["DEPOT_PROJECT_ID"] = project_id
    else:
        extra = ("--project", project_id)
    dest = tmp_path / "out"
    _build(depot_cli, env, _context(tmp_path, DOCKERFILE), dest, *extra).ok()

    calls = buildkit_emulator.admin.audit(since)
    _assert_cli_calls(calls, first="CreateBuild", first_token="org")
    (listed,) = client.builds.list_builds(project_id=project_id).builds
    _assert_built(buildkit_emulator, client, project_id, listed.build_id, dest)


@pytest.mark.buildkit
def test_a_failing_build_is_reported_failed(
    depot_cli: DepotCli,
    buildkit_emulator: EmulatorHandle,
    client: DepotClient,
    api_build: ApiBuild,
    tmp_path: Path,
) -> None:
    build_id, project_id = api_build.build_id, api_build.project_id
    dest = tmp_path / "out"
    result = _build(depot_cli, api_build.env, _context(tmp_path, f"{DOCKERFILE}{MISSING_COPY}\n"), dest)
    calls = buildkit_emulator.admin.audit(api_build.since)  # the CLI's calls only, before the test's own

    assert result.returncode != 0, result.describe()
    assert '"/missing.txt" not found' in result.stderr, result.describe()
    assert not dest.exists() or _files_below(dest) == {}

    stored = buildkit_emulator.admin.build(build_id)
    assert stored.status.value == "failed"
    assert stored.error is not None and '"/missing.txt" not found' in stored.error, stored.error
    assert client.builds.get_build(build_id=build_id).build.status == core_v1.Build.STATUS_FAILED

    steps = _steps(client, project_id, build_id)
    failed = steps.get(f"[3/3] {MISSING_COPY}")
    assert failed is not None and '"/missing.txt" not found' in failed.error, sorted(steps)
    # BuildKit cancels the steps still running beside the failed one; nothing else failed.
    others = {s.name: s.error for s in steps.values() if s.HasField("error") and s is not failed}
    assert all("context canceled" in error for error in others.values()), others

    _assert_cli_calls(calls, first="GetBuild", first_token="build")
    _assert_no_live_endpoint(buildkit_emulator, build_id)
