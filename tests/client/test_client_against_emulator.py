"""Both clients against the project's Depot emulator (in-process, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fake_depot import Front

from airflow_provider_depot.client import AsyncDepotClient, DepotClient, to_datetime
from airflow_provider_depot.emulator._inprocess import EmulatorHandle, run_emulator


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator(pending=2, pending_interval=0.01) as handle:
        yield handle


@pytest.fixture(params=["sync", "async"])
async def efront(request: pytest.FixtureRequest, emu: EmulatorHandle) -> AsyncIterator[Front]:
    if request.param == "sync":
        with DepotClient(token=emu.token, base_url=emu.url) as client:
            yield Front(client, is_async=False)
    else:
        async with AsyncDepotClient(token=emu.token, base_url=emu.url) as aclient:
            yield Front(aclient, is_async=True)


async def test_project_lifecycle(efront: Front) -> None:
    created = await efront.call(
        efront.client.projects.create_project(
            name="client-e2e", region_id="us-east-1", cache_policy={"keep_gb": 20}
        )
    )
    project_id = created.project.project_id
    got = await efront.call(efront.client.projects.get_project(project_id=project_id))
    assert got.project.name == "client-e2e" and got.project.cache_policy.keep_gb == 20
    listed = await efront.collect(efront.client.projects.iter_projects(page_size=1))
    assert project_id in [p.project_id for p in listed]
    await efront.call(efront.client.projects.delete_project(project_id=project_id))


async def test_iter_images_walks_the_emulators_pages(efront: Front, emu: EmulatorHandle) -> None:
    project = emu.admin.create_project("images")
    emu.admin.add_synthetic_images(project.project_id, 230)
    images = await efront.collect(
        efront.client.registry.iter_images(project_id=project.project_id, page_size=100)
    )
    assert [image.tag for image in images] == [record.tag for record in emu.admin.images(project.project_id)]
    assert len(images) == 230


async def test_build_session_against_the_emulator(efront: Front, emu: EmulatorHandle) -> None:
    project = emu.admin.create_project("builds")
    build = await efront.call(efront.client.builds.create_build(project_id=project.project_id))
    kwargs: dict[str, Any] = {
        "build_id": build.build_id,
        "build_token": build.build_token,
        "health_interval": 0.05,
    }
    async with efront.session(**kwargs) as session:
        assert session.endpoint.startswith("tcp://")
        assert session.host_port == session.endpoint.removeprefix("tcp://")
        credentials = session.write_credentials()
        assert "BEGIN" in credentials.key.read_text()
        live = [lease for lease in emu.admin.endpoints()["live"] if lease.get("build_id") == build.build_id]
        assert live, emu.admin.endpoints()
    released = [
        lease for lease in emu.admin.endpoints()["released"] if lease.get("build_id") == build.build_id
    ]
    assert released and session.released
    await efront.call(efront.client.builds.finish_build(build_id=build.build_id))
    got = await efront.call(efront.client.builds.get_build(build_id=build.build_id))
    assert got.build.build_id == build.build_id


async def test_usage_window_round_trips(efront: Front) -> None:
    import pendulum

    start, end = (
        pendulum.datetime(2025, 1, 30, 1, tz="Europe/Paris"),
        dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc),
    )
    usage = await efront.call(efront.client.usage.get_usage(start_at=start, end_at=end))
    assert (to_datetime(usage.period_start), to_datetime(usage.period_end)) == (start, end)
