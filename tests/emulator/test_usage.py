"""UsageService: daily records, derived from builds or given, summed over any interval."""

from __future__ import annotations

import datetime
import itertools

import pytest
from emulator_support import Rpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_depot._proto.depot.core.v1 import usage_pb2
from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.emulator import Clock, run_emulator

UTC = datetime.timezone.utc
START = datetime.datetime(2026, 1, 1, tzinfo=UTC)
SVC = "depot.core.v1.UsageService/"


def _request(cls, start, end, **fields):
    request = cls(**fields)
    request.start_at.FromDatetime(start)
    request.end_at.FromDatetime(end)
    return request


@pytest.fixture(scope="module")
def seeded():
    """The demo seed: 90 days of daily records for three projects, a few builds."""
    clock = Clock(START + datetime.timedelta(days=90, hours=6), frozen=True)
    with run_emulator(seed="demo", clock=clock) as emu:
        rpc = Rpc(emu.url, emu.token)
        yield emu, rpc
        rpc.close()


def _totals(rpc, start, end):
    usage = rpc(SVC + "ListProjectUsage", _request(usage_pb2.ListProjectUsageRequest, start, end)).usage
    whole = rpc(SVC + "GetUsage", _request(usage_pb2.GetUsageRequest, start, end))
    jobs = sum(r.total.job_count for r in whole.github_actions_jobs)
    sandboxes = sum(s.sandboxes_count for s in whole.agent_sandbox)
    billed = sum(c.minutes_billed for c in whole.container_build)
    return {u.project_id: (u.build_count, u.build_duration_seconds) for u in usage}, jobs, sandboxes, billed


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cuts=st.lists(st.integers(min_value=1, max_value=95 * 86400 - 1), min_size=1, max_size=4, unique=True))
def test_sub_intervals_add_up_to_the_whole(seeded, cuts):
    """Cut [start, end) anywhere (not only at midnight): the parts' sums equal the whole's."""
    _, rpc = seeded
    start, end = START - datetime.timedelta(days=2), START + datetime.timedelta(days=93)
    bounds = [start, *sorted(start + datetime.timedelta(seconds=c) for c in cuts), end]
    parts = [_totals(rpc, a, b) for a, b in itertools.pairwise(bounds)]
    whole = _totals(rpc, start, end)
    for project_id, (count, seconds) in whole[0].items():
        assert sum(p[0][project_id][0] for p in parts) == count
        assert sum(p[0][project_id][1] for p in parts) == seconds
    assert sum(p[1] for p in parts) == whole[1]
    assert sum(p[2] for p in parts) == whole[2]
    assert sum(p[3] for p in parts) == pytest.approx(whole[3], rel=1e-5)
    assert sum(whole[0][pid][0] for pid in whole[0]) > 1000  # the demo seed has data in the span


def test_answers_are_stable(seeded):
    _, rpc = seeded
    a = rpc(SVC + "GetUsage", _request(usage_pb2.GetUsageRequest, START, START + datetime.timedelta(days=30)))
    b = rpc(SVC + "GetUsage", _request(usage_pb2.GetUsageRequest, START, START + datetime.timedelta(days=30)))
    assert a == b and a.container_build and a.github_actions_jobs and a.storage and a.agent_sandbox
    assert a.period_start.ToDatetime(tzinfo=UTC) == START


def test_a_day_belongs_to_the_interval_holding_its_midnight(emulator, rpc, project):
    emulator.admin.set_usage(
        project.project_id, datetime.date(2026, 1, 2), build_count=5, build_duration_seconds=600
    )
    midnight = datetime.datetime(2026, 1, 2, tzinfo=UTC)

    def count(start, end):
        return rpc(
            SVC + "GetProjectUsage",
            _request(usage_pb2.GetProjectUsageRequest, start, end, project_id=project.project_id),
        ).usage.build_count

    assert count(midnight, midnight + datetime.timedelta(seconds=1)) == 5
    assert count(midnight - datetime.timedelta(hours=1), midnight) == 0
    assert count(midnight + datetime.timedelta(hours=1), midnight + datetime.timedelta(days=1)) == 0


def test_builds_add_to_their_creation_day(emulator, rpc, project):
    emulator.clock.freeze()
    emulator.admin.create_build(project.project_id)
    day = emulator.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    request = _request(
        usage_pb2.GetProjectUsageRequest, day, day + datetime.timedelta(days=1), project_id=project.project_id
    )
    assert rpc(SVC + "GetProjectUsage", request).usage.build_count == 1


@pytest.mark.parametrize("missing", ["start_at", "end_at"])
def test_start_and_end_are_required(rpc, project, missing):
    request = _request(
        usage_pb2.GetProjectUsageRequest,
        START,
        START + datetime.timedelta(days=1),
        project_id=project.project_id,
    )
    request.ClearField(missing)
    with pytest.raises(ConnectError) as info:
        rpc(SVC + "GetProjectUsage", request)
    assert info.value.code is Code.INVALID_ARGUMENT and missing in info.value.message
    for cls in (usage_pb2.GetUsageRequest, usage_pb2.ListProjectUsageRequest):
        other = _request(cls, START, START + datetime.timedelta(days=1))
        other.ClearField(missing)
        with pytest.raises(ConnectError) as info:
            rpc(SVC + cls.__name__.removesuffix("Request"), other)
        assert info.value.code is Code.INVALID_ARGUMENT


def test_end_before_start_is_invalid_argument(rpc):
    with pytest.raises(ConnectError) as info:
        rpc(SVC + "GetUsage", _request(usage_pb2.GetUsageRequest, START, START - datetime.timedelta(days=1)))
    assert info.value.code is Code.INVALID_ARGUMENT


def test_usage_needs_an_org_token(emulator, rpc, project):
    _, secret = emulator.admin.create_project_token(project.project_id)
    with pytest.raises(ConnectError) as info:
        rpc(
            SVC + "GetUsage",
            _request(usage_pb2.GetUsageRequest, START, START + datetime.timedelta(days=1)),
            token=secret,
        )
    assert info.value.code is Code.PERMISSION_DENIED
