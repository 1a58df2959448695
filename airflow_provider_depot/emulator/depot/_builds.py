"""Builds: creation, health, what BuildKit reported (steps and logs), finishing and expiry.

Steps and logs come from BuildKit status: what a client reports (ReportStatusStream /
ReportStatus) and what the endpoint proxy reads off the wire (``_status_tap``). Each vertex
becomes a step keyed by its digest (reported twice, it is updated, not repeated); each vertex log
chunk is split into lines (a chunk seen twice counts once). ReportTimings only describes steps
when no BuildKit status arrived for the build (its digests are Depot's "stable" digests, not
BuildKit's, so mixing both would list steps twice).

A tapped status stream can end before BuildKit's last vertex update (the client closes it once
its solve returns), so when a build succeeds, a step still without ``completed_at`` gets the
finish time: in a successful build every step completed.

A cache hit saves the time the same step (same digest, same project) took when it last ran
uncached; that sum is the build's ``saved_duration_seconds``.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ._ids import build_token_secret, secret_digest
from ._model import Build, BuildOptions, BuildStatus, BuildStep, LogLine, Project
from ._state import DepotState
from ._usage import ProjectDay

UTC = datetime.timezone.utc
EXPIRED = "expired"


def create_build(
    state: DepotState,
    project: Project,
    *,
    options: Sequence[BuildOptions] = (),
    build_id: str | None = None,
    created_at: datetime.datetime | None = None,
    secret: str | None = None,
) -> tuple[Build, str]:
    """A running build and its build token (returned once; only its digest is kept)."""
    secret = secret or build_token_secret()
    with state.lock:
        bid = build_id or state.ids.build_id()
        if bid in state.builds:
            raise ConnectError(Code.ALREADY_EXISTS, f"build {bid} already exists")
        created = created_at or state.now()
        build = Build(
            build_id=bid,
            project_id=project.project_id,
            org_id=project.org_id,
            seq=state.next_seq(),
            token_digest=secret_digest(secret),
            created_at=created,
            last_health=created,
            options=list(options),
        )
        store_build(state, build)
        return build, secret


def store_build(state: DepotState, build: Build) -> None:
    with state.lock:
        state.builds[build.build_id] = build
        state.project_builds.setdefault(build.project_id, []).append(build)
        if build.token_digest:
            state.build_digests[build.token_digest] = build.build_id
        state.changed()


def get_build(state: DepotState, build_id: str) -> Build | None:
    with state.lock:
        return state.builds.get(build_id)


def record_health(state: DepotState, build: Build) -> None:
    with state.lock:
        if not build.finished:
            build.last_health = state.now()


def mark_started(state: DepotState, build: Build) -> None:
    """The build got its builder: its run time counts from here."""
    with state.lock:
        now = state.now()
        if build.started_at is None:
            build.started_at = now
        build.last_health = now
        state.changed()


def request_cancel(state: DepotState, build: Build) -> None:
    """Ask the build's client to cancel (ReportBuildHealth answers with ``cancels_at``)."""
    with state.lock:
        if not build.finished:
            build.cancel_requested_at = state.now()
            state.changed()


def finish_build(state: DepotState, build: Build, status: BuildStatus, error: str | None = None) -> bool:
    """End a build; False when it had already ended the same way (a repeated FinishBuild).

    Ending an already ended build differently is ``failed_precondition``.
    """
    if status is BuildStatus.RUNNING:
        raise ValueError("status: a build cannot finish as running")
    with state.lock:
        if build.finished:
            if build.status is status:
                return False
            raise ConnectError(
                Code.FAILED_PRECONDITION, f"build {build.build_id} already ended ({build.status.value})"
            )
        now = state.now()
        build.status = status
        build.error = error
        build.finished_at = now
        _flush_partial_logs(state, build)
        if status is BuildStatus.SUCCESS:
            _complete_steps(build, now)
        _account_cache(state, build)
        if status is BuildStatus.SUCCESS:
            _save_images(state, build, now)
        state.changed()
        return True


def expire_stale(state: DepotState, timeout: float) -> list[Build]:
    """Fail every running build without health for more than ``timeout`` seconds ("expired")."""
    with state.lock:
        now = state.now()
        horizon = now - datetime.timedelta(seconds=timeout)
        stale = [
            b for b in state.builds.values() if not b.finished and (b.last_health or b.created_at) < horizon
        ]
        for build in stale:
            finish_build(state, build, BuildStatus.FAILED, EXPIRED)
        return stale


def ingest_status(state: DepotState, build: Build, statuses: Iterable[status_pb2.StatusResponse]) -> None:
    """Fold BuildKit status updates into the build's steps and log lines."""
    with state.lock:
        now = state.now()
        if build.step_source != "status":
            build.step_source = "status"
            build.steps.clear()
            build.step_index.clear()
        for status in statuses:
            for vertex in status.vertexes:
                _apply_vertex(state, build, vertex, now)
            for entry in status.logs:
                _apply_log(state, build, entry, now)
        state.changed()


def record_timings(state: DepotState, build: Build, steps: Iterable[cli_pb2.BuildStep]) -> None:
    with state.lock:
        if build.step_source == "status":
            return
        build.step_source = "timings"
        now = state.now()
        for timing in steps:
            digest = (
                timing.stable_digest if timing.HasField("stable_digest") else _synthetic_digest(timing.name)
            )
            if build.step(digest) is not None:
                continue
            started = _time(timing, "start_time") or now
            _add_step(
                build,
                BuildStep(
                    digest=digest,
                    name=timing.name,
                    seq=state.next_seq(),
                    started_at=started,
                    completed_at=started + datetime.timedelta(milliseconds=timing.duration_ms),
                    cached=timing.cached,
                    error=timing.error if timing.HasField("error") else None,
                ),
            )
        state.changed()


def derived_usage(state: DepotState, project_id: str, days: range) -> ProjectDay:
    """What the project's builds add to the usage of ``days`` (see ``_usage`` for the rule)."""
    total = ProjectDay()
    with state.lock:
        for build in state.project_builds.get(project_id, []):
            if int(build.created_at.timestamp() // 86400) not in days:
                continue
            total.build_count += 1
            seconds = build.duration_seconds
            if seconds is not None:
                total.build_seconds += seconds
                total.billed_seconds += seconds
                total.saved_seconds += round(build.saved_seconds)
    return total


def _add_step(build: Build, step: BuildStep) -> None:
    build.step_index[step.digest] = len(build.steps)
    build.steps.append(step)


def _apply_vertex(state: DepotState, build: Build, vertex: status_pb2.Vertex, now: datetime.datetime) -> None:
    started = _time(vertex, "started")
    step = build.step(vertex.digest)
    if step is None:
        step = BuildStep(
            digest=vertex.digest, name=vertex.name, seq=state.next_seq(), started_at=started or now
        )
        _add_step(build, step)
    if vertex.name:
        step.name = vertex.name
    if started is not None:
        step.started_at = started
    completed = _time(vertex, "completed")
    if completed is not None:
        step.completed_at = completed
    if vertex.cached:
        step.cached = True
    if vertex.error:
        step.error = vertex.error


def _apply_log(state: DepotState, build: Build, entry: status_pb2.VertexLog, now: datetime.datetime) -> None:
    chunk = (entry.vertex, entry.stream, entry.timestamp.ToNanoseconds(), entry.msg)
    if chunk in build.log_chunks:
        return
    build.log_chunks.add(chunk)
    key = (entry.vertex, entry.stream)
    stamp = _time(entry, "timestamp") or now
    first_stamp, pending = build.partial_logs.pop(key, (stamp, ""))
    text = pending + entry.msg.decode("utf-8", "replace")
    *lines, rest = text.split("\n")
    for number, line in enumerate(lines):
        build.logs.append(
            LogLine(state.next_seq(), entry.vertex, first_stamp if number == 0 else stamp, line.rstrip("\r"))
        )
    if rest:
        build.partial_logs[key] = (first_stamp if not lines else stamp, rest)


def _flush_partial_logs(state: DepotState, build: Build) -> None:
    for (digest, _), (stamp, text) in sorted(build.partial_logs.items(), key=lambda item: item[1][0]):
        build.logs.append(LogLine(state.next_seq(), digest, stamp, text.rstrip("\r")))
    build.partial_logs.clear()


def _complete_steps(build: Build, now: datetime.datetime) -> None:
    """Every step of a successful build completed, even where that last update never arrived."""
    for step in build.steps:
        if step.completed_at is None:
            step.completed_at = max(now, step.started_at)


def _account_cache(state: DepotState, build: Build) -> None:
    saved = 0.0
    for step in build.steps:
        key = (build.project_id, step.digest)
        if step.cached:
            saved += state.step_seconds.get(key, 0.0)
        elif step.completed_at is not None and step.error is None:
            state.step_seconds[key] = step.duration_seconds
    build.saved_seconds = saved


def _save_images(state: DepotState, build: Build, now: datetime.datetime) -> None:
    """``depot build --save`` stores the image in the project's registry under the build id."""
    tags: list[str] = []
    for option in build.options:
        if option.save:
            tags.extend(t for t in [build.build_id, *option.save_tags] if t not in tags)
    if not tags or build.project_id not in state.images:
        return
    digest = "sha256:" + hashlib.sha256(build.build_id.encode()).hexdigest()
    size = 1_000_000 + int(digest[7:15], 16) % 400_000_000
    pushed = int(now.timestamp() * 1_000_000)
    state.add_images(build.project_id, tags, [digest] * len(tags), [pushed] * len(tags), [size] * len(tags))


def _synthetic_digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def _time(message: object, field: str) -> datetime.datetime | None:
    if not message.HasField(field):  # type: ignore[attr-defined]
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)
