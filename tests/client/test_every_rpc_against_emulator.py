"""Every public client operation, through DepotClient and AsyncDepotClient, against the emulator.

Each test gets a fresh seeded emulator (``depot_emulator``) and walks the table ``STEPS`` in
order, once per codec x HTTP version x front; each step checks its result against the
emulator's admin state. ``test_every_client_operation_has_a_step`` fails when a client operation
has no step, so a new RPC cannot slip past this file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fake_depot import Front

from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_build_pb2
from airflow_provider_depot.client import AsyncDepotClient, DepotClient
from airflow_provider_depot.client._operations import Operation
from airflow_provider_depot.emulator._inprocess import EmulatorHandle
from airflow_provider_depot.emulator.depot._model import BuildStatus

GROUPS = ("projects", "builds", "registry", "buildkit", "usage", "organizations")
SEEDED_PROJECT = "demoapi001"


@dataclass
class Run:
    """One walk through the table: the client, the emulator and what earlier steps created."""

    front: Front
    emu: EmulatorHandle
    label: str
    made: dict[str, Any] = field(default_factory=dict)

    async def call(self, group: str, operation: str, /, **kwargs: Any) -> Any:
        return await self.front.call(getattr(getattr(self.front.client, group), operation)(**kwargs))

    async def collect(self, group: str, operation: str, /, **kwargs: Any) -> list[Any]:
        return await self.front.collect(getattr(getattr(self.front.client, group), operation)(**kwargs))


Step = Callable[[Run], Awaitable[None]]
STEPS: dict[tuple[str, str], Step] = {}


def step(group: str, name: str) -> Callable[[Step], Step]:
    def register(function: Step) -> Step:
        STEPS[(group, name)] = function
        return function

    return register


def client_operations() -> set[tuple[str, str]]:
    """(group, operation) for every public operation of the client's service groups."""
    client = DepotClient(token="enumerate", base_url="http://127.0.0.1:9")
    try:
        return {
            (group, name)
            for group in GROUPS
            for klass in type(getattr(client, group)).__mro__
            for name, value in vars(klass).items()
            if isinstance(value, Operation) and not name.startswith("_")
        }
    finally:
        client.close()


def org_project_ids(run: Run) -> list[str]:
    org_id = run.emu.admin.organization.org_id
    return [p.project_id for p in run.emu.admin.projects() if p.org_id == org_id]


# ---- organizations -------------------------------------------------------------------------


@step("organizations", "list_organizations")
async def _list_organizations(run: Run) -> None:
    response = await run.call("organizations", "list_organizations")
    org = run.emu.admin.organization
    assert [(o.org_id, o.name) for o in response.organizations] == [(org.org_id, org.name)]
    assert response.organizations[0].created_at.ToDatetime(dt.timezone.utc) == org.created_at


# ---- projects ------------------------------------------------------------------------------


@step("projects", "list_projects")
async def _list_projects(run: Run) -> None:
    response = await run.call("projects", "list_projects")
    assert [p.project_id for p in response.projects] == org_project_ids(run)
    assert len(response.projects) == 3 and not response.next_page_token


@step("projects", "iter_projects")
async def _iter_projects(run: Run) -> None:
    projects = await run.collect("projects", "iter_projects", page_size=1)
    assert [p.project_id for p in projects] == org_project_ids(run)


@step("projects", "get_project")
async def _get_project(run: Run) -> None:
    got = (await run.call("projects", "get_project", project_id=SEEDED_PROJECT)).project
    seeded = run.emu.admin.project(SEEDED_PROJECT)
    assert seeded is not None
    assert (got.name, got.region_id, got.organization_id) == (seeded.name, seeded.region_id, seeded.org_id)
    assert (got.cache_policy.keep_gb, got.cache_policy.keep_days) == (seeded.keep_gb, seeded.keep_days)
    assert got.hardware == seeded.hardware != 0


@step("projects", "create_project")
async def _create_project(run: Run) -> None:
    response = await run.call(
        "projects",
        "create_project",
        name=run.label,
        region_id="eu-central-1",
        cache_policy={"keep_gb": 7, "keep_days": 3},
    )
    project = run.emu.admin.project(response.project.project_id)
    assert project is not None and project.org_id == run.emu.admin.organization.org_id
    assert (project.name, project.region_id, project.keep_gb, project.keep_days) == (
        run.label,
        "eu-central-1",
        7,
        3,
    )
    run.made["project_id"] = project.project_id


@step("projects", "update_project")
async def _update_project(run: Run) -> None:
    project_id = run.made["project_id"]
    response = await run.call(
        "projects",
        "update_project",
        project_id=project_id,
        name=f"{run.label}-renamed",
        cache_policy={"keep_gb": 9, "keep_days": 4},
    )
    project = run.emu.admin.project(project_id)
    assert project is not None
    assert (project.name, project.region_id, project.keep_gb) == (f"{run.label}-renamed", "eu-central-1", 9)
    assert response.project.name == project.name and response.project.cache_policy.keep_days == 4


@step("projects", "reset_project")
async def _reset_project(run: Run) -> None:
    project_id = run.made["project_id"]
    before = run.emu.admin.project(project_id)
    assert before is not None and before.cache_reset_at is None
    await run.call("projects", "reset_project", project_id=project_id)
    after = run.emu.admin.project(project_id)
    assert after is not None and after.cache_reset_at is not None


@step("projects", "add_trust_policy")
async def _add_trust_policy(run: Run) -> None:
    project_id = run.made["project_id"]
    github = {"repository_owner": "demo-robotics", "repository": "api"}
    response = await run.call("projects", "add_trust_policy", project_id=project_id, github=github)
    stored = run.emu.admin.state.project_trust_policies(project_id)
    assert [(p.trust_policy_id, p.provider, p.fields) for p in stored] == [
        (response.trust_policy.trust_policy_id, "github", github)
    ]
    run.made["trust_policy_id"] = response.trust_policy.trust_policy_id


@step("projects", "list_trust_policies")
async def _list_trust_policies(run: Run) -> None:
    response = await run.call("projects", "list_trust_policies", project_id=run.made["project_id"])
    assert [p.trust_policy_id for p in response.trust_policies] == [run.made["trust_policy_id"]]
    assert response.trust_policies[0].github.repository == "api"


@step("projects", "remove_trust_policy")
async def _remove_trust_policy(run: Run) -> None:
    project_id = run.made["project_id"]
    await run.call(
        "projects", "remove_trust_policy", project_id=project_id, trust_policy_id=run.made["trust_policy_id"]
    )
    assert run.emu.admin.state.project_trust_policies(project_id) == []


@step("projects", "create_token")
async def _create_token(run: Run) -> None:
    project_id = run.made["project_id"]
    response = await run.call("projects", "create_token", project_id=project_id, description="ci")
    token = run.emu.admin.state.token(response.token_id)
    assert token is not None and (token.project_id, token.description) == (project_id, "ci")
    principal = run.emu.admin.state.principal_for(response.secret)
    assert principal is not None and principal.project_id == project_id
    run.made["token_id"] = response.token_id


@step("projects", "list_tokens")
async def _list_tokens(run: Run) -> None:
    project_id = run.made["project_id"]
    response = await run.call("projects", "list_tokens", project_id=project_id)
    assert [(t.token_id, t.description) for t in response.tokens] == [
        (t.token_id, t.description) for t in run.emu.admin.state.project_tokens(project_id)
    ]
    assert [t.token_id for t in response.tokens] == [run.made["token_id"]]


@step("projects", "update_token")
async def _update_token(run: Run) -> None:
    await run.call("projects", "update_token", token_id=run.made["token_id"], description="ci-renamed")
    token = run.emu.admin.state.token(run.made["token_id"])
    assert token is not None and token.description == "ci-renamed"


@step("projects", "delete_token")
async def _delete_token(run: Run) -> None:
    await run.call("projects", "delete_token", token_id=run.made["token_id"])
    assert run.emu.admin.state.token(run.made["token_id"]) is None
    assert run.emu.admin.state.project_tokens(run.made["project_id"]) == []


# ---- registry ------------------------------------------------------------------------------


@step("registry", "list_images")
async def _list_images(run: Run) -> None:
    response = await run.call("registry", "list_images", project_id=SEEDED_PROJECT, page_size=5)
    expected = run.emu.admin.images(SEEDED_PROJECT)[:5]
    assert [(i.tag, i.digest, i.size_bytes) for i in response.images] == [
        (r.tag, r.digest, r.size_bytes) for r in expected
    ]
    assert response.next_page_token


@step("registry", "iter_images")
async def _iter_images(run: Run) -> None:
    images = await run.collect("registry", "iter_images", project_id=SEEDED_PROJECT, page_size=100)
    expected = [r.tag for r in run.emu.admin.images(SEEDED_PROJECT)]
    assert [i.tag for i in images] == expected and len(expected) > 100


@step("registry", "delete_image")
async def _delete_image(run: Run) -> None:
    project_id = run.made["project_id"]
    run.emu.admin.add_images(project_id, ["a", "b", "c"])
    await run.call("registry", "delete_image", project_id=project_id, image_tags=["a", "c"])
    assert [r.tag for r in run.emu.admin.images(project_id)] == ["b"]


# ---- builds and the BuildKit session -------------------------------------------------------


@step("builds", "create_build")
async def _create_build(run: Run) -> None:
    project_id = run.made["project_id"]
    response = await run.call("builds", "create_build", project_id=project_id)
    build = run.emu.admin.build(response.build_id)
    assert (build.project_id, build.status) == (project_id, BuildStatus.RUNNING)
    principal = run.emu.admin.state.principal_for(response.build_token)
    assert principal is not None and principal.build_id == response.build_id
    run.made["build"] = response


@step("buildkit", "session")
async def _session(run: Run) -> None:
    build = run.made["build"]
    kwargs = {"build_id": build.build_id, "build_token": build.build_token, "health_interval": 0.05}
    async with run.front.session(**kwargs) as session:
        assert session.endpoint.startswith("tcp://") and session.build_id == build.build_id
        live = [
            lease for lease in run.emu.admin.endpoints()["live"] if lease.get("build_id") == build.build_id
        ]
        assert len(live) == 1, run.emu.admin.endpoints()
    released = [
        lease for lease in run.emu.admin.endpoints()["released"] if lease.get("build_id") == build.build_id
    ]
    assert len(released) == 1 and session.released


@step("builds", "finish_build")
async def _finish_build(run: Run) -> None:
    await run.call("builds", "finish_build", build_id=run.made["build"].build_id)
    assert run.emu.admin.build(run.made["build"].build_id).status is BuildStatus.SUCCESS
    failed_id, _ = run.emu.admin.create_build(run.made["project_id"])
    await run.call("builds", "finish_build", build_id=failed_id, error="compile failed")
    failed = run.emu.admin.build(failed_id)
    assert (failed.status, failed.error) == (BuildStatus.FAILED, "compile failed")
    run.made["failed_build_id"] = failed_id


@step("builds", "get_build")
async def _get_build(run: Run) -> None:
    build_id = run.made["build"].build_id
    got = (await run.call("builds", "get_build", build_id=build_id)).build
    assert (got.build_id, got.status) == (build_id, core_build_pb2.Build.STATUS_SUCCESS)
    stored = run.emu.admin.build(build_id)
    assert stored.finished_at is not None
    assert got.finished_at.ToDatetime(dt.timezone.utc) == stored.finished_at


@step("builds", "list_builds")
async def _list_builds(run: Run) -> None:
    response = await run.call("builds", "list_builds", project_id=run.made["project_id"])
    assert {b.build_id for b in response.builds} == {run.made["build"].build_id, run.made["failed_build_id"]}
    statuses = {b.build_id: b.status for b in response.builds}
    assert statuses[run.made["failed_build_id"]] == core_build_pb2.Build.STATUS_FAILED


@step("builds", "iter_builds")
async def _iter_builds(run: Run) -> None:
    builds = await run.collect("builds", "iter_builds", project_id=SEEDED_PROJECT, page_size=1)
    expected = {b.build_id for b in run.emu.admin.state.project_builds[SEEDED_PROJECT]}
    assert len(builds) == len(expected) > 1 and {b.build_id for b in builds} == expected
    run.made["seeded_build_id"] = builds[0].build_id


@step("builds", "get_build_steps")
async def _get_build_steps(run: Run) -> None:
    build_id = run.made["seeded_build_id"]
    response = await run.call("builds", "get_build_steps", project_id=SEEDED_PROJECT, build_id=build_id)
    steps = run.emu.admin.build(build_id).steps
    assert [(s.name, s.digest) for s in response.build_steps] == [(s.name, s.digest) for s in steps]
    assert steps and not response.next_page_token


@step("builds", "iter_build_steps")
async def _iter_build_steps(run: Run) -> None:
    build_id = run.made["seeded_build_id"]
    steps = await run.collect(
        "builds", "iter_build_steps", project_id=SEEDED_PROJECT, build_id=build_id, page_size=2
    )
    assert [s.digest for s in steps] == [s.digest for s in run.emu.admin.build(build_id).steps]


def _logged_step(run: Run) -> tuple[str, list[str]]:
    """The digest of the seeded build's step with the most log lines, and those lines."""
    build = run.emu.admin.build(run.made["seeded_build_id"])
    by_step = {
        s.digest: [line.message for line in build.logs if line.digest == s.digest] for s in build.steps
    }
    digest = max(by_step, key=lambda d: len(by_step[d]))
    assert len(by_step[digest]) > 1
    return digest, by_step[digest]


@step("builds", "get_build_step_logs")
async def _get_build_step_logs(run: Run) -> None:
    digest, lines = _logged_step(run)
    response = await run.call(
        "builds",
        "get_build_step_logs",
        project_id=SEEDED_PROJECT,
        build_id=run.made["seeded_build_id"],
        build_step_digest=digest,
    )
    assert [log.message for log in response.logs] == lines


@step("builds", "iter_build_step_logs")
async def _iter_build_step_logs(run: Run) -> None:
    digest, lines = _logged_step(run)
    logs = await run.collect(
        "builds",
        "iter_build_step_logs",
        project_id=SEEDED_PROJECT,
        build_id=run.made["seeded_build_id"],
        build_step_digest=digest,
        page_size=1,
    )
    assert [log.message for log in logs] == lines


@step("builds", "share_build")
async def _share_build(run: Run) -> None:
    build_id = run.made["build"].build_id
    response = await run.call("builds", "share_build", build_id=build_id)
    share_id = run.emu.admin.build(build_id).share_id
    assert share_id and share_id in response.share_url


@step("builds", "stop_sharing_build")
async def _stop_sharing_build(run: Run) -> None:
    await run.call("builds", "stop_sharing_build", build_id=run.made["build"].build_id)
    assert run.emu.admin.build(run.made["build"].build_id).share_id is None


# ---- usage ---------------------------------------------------------------------------------


def usage_window(run: Run) -> tuple[dt.datetime, dt.datetime]:
    """Two days, ten days back: before any build this run made, with explicit usage records."""
    if "usage_window" not in run.made:
        today = dt.datetime.fromtimestamp(run.emu.clock.time(), dt.timezone.utc).date()
        first, second = today - dt.timedelta(days=10), today - dt.timedelta(days=9)
        for day, count, seconds in ((first, 3, 240), (second, 4, 360)):
            run.emu.admin.set_usage(
                run.made["project_id"],
                day,
                build_count=count,
                build_duration_seconds=seconds,
                minutes_saved=1.5,
                layer_cache_size_gb=6,
            )
        start = dt.datetime.combine(first, dt.time(), dt.timezone.utc)
        run.made["usage_window"] = (start, start + dt.timedelta(days=2))
    window: tuple[dt.datetime, dt.datetime] = run.made["usage_window"]
    return window


@step("usage", "get_project_usage")
async def _get_project_usage(run: Run) -> None:
    start, end = usage_window(run)
    response = await run.call(
        "usage", "get_project_usage", project_id=run.made["project_id"], start_at=start, end_at=end
    )
    usage = response.usage
    assert (usage.project_id, usage.build_count, usage.build_duration_seconds) == (
        run.made["project_id"],
        7,
        600,
    )


@step("usage", "get_usage")
async def _get_usage(run: Run) -> None:
    start, end = usage_window(run)
    response = await run.call("usage", "get_usage", start_at=start, end_at=end)
    assert response.period_start.ToDatetime(dt.timezone.utc) == start
    mine = [u for u in response.container_build if u.project_name == f"{run.label}-renamed"]
    assert [(u.build_count, u.minutes_billed, u.minutes_saved) for u in mine] == [(7, 10.0, 3.0)]


@step("usage", "list_project_usage")
async def _list_project_usage(run: Run) -> None:
    start, end = usage_window(run)
    response = await run.call("usage", "list_project_usage", start_at=start, end_at=end)
    mine = [u for u in response.usage if u.project_id == run.made["project_id"]]
    assert [(u.build_count, u.build_duration_seconds) for u in mine] == [(7, 600)]


@step("usage", "iter_project_usage")
async def _iter_project_usage(run: Run) -> None:
    start, end = usage_window(run)
    usage = await run.collect("usage", "iter_project_usage", start_at=start, end_at=end, page_size=1)
    assert sorted(u.project_id for u in usage) == sorted(org_project_ids(run))
    assert [u.build_count for u in usage if u.project_id == run.made["project_id"]] == [7]


# ---- last: the project goes -----------------------------------------------------------------


@step("projects", "delete_project")
async def _delete_project(run: Run) -> None:
    await run.call("projects", "delete_project", project_id=run.made["project_id"])
    assert run.emu.admin.project(run.made["project_id"]) is None
    assert run.made["project_id"] not in org_project_ids(run)


# ---- tests ---------------------------------------------------------------------------------


def test_every_client_operation_has_a_step() -> None:
    operations = client_operations()
    assert len(operations) > 30  # the enumeration itself found the groups' operations
    assert set(STEPS) == operations, {
        "without a step": sorted(operations - set(STEPS)),
        "not a client operation": sorted(set(STEPS) - operations),
    }


@dataclass
class Wire:
    """What the client's pooled httpx client saw come back: HTTP versions and content types."""

    http_versions: set[str] = field(default_factory=set)
    content_types: set[str] = field(default_factory=set)

    def record(self, response: httpx.Response) -> None:
        self.http_versions.add(response.http_version)
        self.content_types.add(response.headers.get("content-type", "").split(";")[0])

    async def arecord(self, response: httpx.Response) -> None:
        self.record(response)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture(params=["sync", "async"])
async def front(
    request: pytest.FixtureRequest,
    depot_emulator: EmulatorHandle,
    wire: Wire,
    codec: str,
    http_version: str,
) -> AsyncIterator[Front]:
    """A client on the emulator; its httpx client (private, observed only) reports to ``wire``."""
    options: dict[str, Any] = {
        "token": depot_emulator.token,
        "base_url": depot_emulator.url,
        "codec": codec,
        "http_version": http_version,
    }
    if request.param == "sync":
        with DepotClient(**options) as client:
            client._transport._client.event_hooks["response"].append(wire.record)
            yield Front(client, is_async=False)
    else:
        async with AsyncDepotClient(**options) as aclient:
            aclient._transport._client.event_hooks["response"].append(wire.arecord)
            yield Front(aclient, is_async=True)


@pytest.mark.depot_emulator(seed="demo", pending=0)
@pytest.mark.parametrize("http_version", ["1.1", "h2c"])
@pytest.mark.parametrize("codec", ["proto", "json"])
async def test_every_rpc(
    front: Front, depot_emulator: EmulatorHandle, wire: Wire, codec: str, http_version: str
) -> None:
    kind = "async" if front.is_async else "sync"
    run = Run(front, depot_emulator, label=f"every-rpc-{codec}-{http_version}-{kind}")
    depot_emulator.admin.clear_audit()
    for (group, name), check in STEPS.items():
        try:
            await check(run)
        except Exception as exc:
            raise AssertionError(f"{group}.{name} ({codec}, HTTP {http_version}, {kind})") from exc
    audit = depot_emulator.admin.audit()
    assert {entry["code"] for entry in audit} == {"ok"}, [e for e in audit if e["code"] != "ok"]
    procedures = {entry["procedure"].rsplit(".", 1)[-1] for entry in audit}
    for rpc in (
        "BuildKitService/GetEndpoint",
        "BuildKitService/ReportHealth",
        "BuildKitService/ReleaseEndpoint",
    ):
        assert rpc in procedures, sorted(procedures)
    assert wire.http_versions == {"HTTP/2" if http_version == "h2c" else "HTTP/1.1"}
    assert wire.content_types == {f"application/{codec}", f"application/connect+{codec}"}
