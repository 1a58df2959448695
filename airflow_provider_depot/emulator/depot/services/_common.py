"""What the service modules share: the caller, timestamps, required fields, paging."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ...connect_server import ServerCall
from .._auth import Principal, authenticated, check_build, check_project
from .._builds import get_build
from .._model import Build, Project
from .._paging import page, resolve_page_size
from .._state import DepotState

T = TypeVar("T")
UTC = datetime.timezone.utc


def caller(call: ServerCall) -> Principal:
    return authenticated(call.context)


def callers_build(
    state: DepotState, call: ServerCall, build_id: str, *, build_token_ok: bool = True
) -> Build:
    """Build ``build_id`` (required) if the caller may use it (see ``check_build``)."""
    required(build_id, "build_id")
    return check_build(caller(call), get_build(state, build_id), build_id, build_token_ok=build_token_ok)


def timestamp(when: datetime.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def required(value: str, name: str) -> str:
    if not value:
        raise ConnectError(Code.INVALID_ARGUMENT, f"{name} is required")
    return value


def required_time(request: Message, name: str) -> datetime.datetime:
    if not request.HasField(name):
        raise ConnectError(Code.INVALID_ARGUMENT, f"{name} is required")
    stamp: Timestamp = getattr(request, name)
    return stamp.ToDatetime(tzinfo=UTC)


def interval(request: Message) -> tuple[datetime.datetime, datetime.datetime]:
    """``start_at`` and ``end_at``, both required, start before end."""
    start = required_time(request, "start_at")
    end = required_time(request, "end_at")
    if end <= start:
        raise ConnectError(Code.INVALID_ARGUMENT, "end_at must be after start_at")
    return start, end


def optional_int(request: Message, name: str) -> int | None:
    return getattr(request, name) if request.HasField(name) else None


def optional_str(request: Message, name: str) -> str | None:
    return getattr(request, name) if request.HasField(name) else None


def paging_fields(request: Message) -> tuple[int | None, str | None]:
    """``page_size`` and ``page_token`` of a request that declares them ``optional``."""
    return optional_int(request, "page_size"), optional_str(request, "page_token")


def paged(
    state: DepotState,
    listing: str,
    items: Sequence[T],
    seq_of: Callable[[T], int],
    size: int | None,
    token: str | None,
    *,
    newest_first: bool = False,
) -> tuple[list[T], str]:
    """A page of ``items`` (ascending seq) after ``token``; the next token, or "" at the end."""
    after = state.pages.decode(token, listing)
    chunk, next_seq = page(items, seq_of, after, resolve_page_size(size), newest_first=newest_first)
    return chunk, ("" if next_seq is None else state.pages.encode(listing, next_seq))


def project_builds_page(
    state: DepotState, call: ServerCall, project_id: str, listing: str, size: int | None, token: str | None
) -> tuple[list[Build], str]:
    """A page of a project's builds, newest first, for a caller allowed to see them."""
    required(project_id, "project_id")
    project = check_project(caller(call), state.project(project_id), project_id)
    with state.lock:
        builds = list(state.project_builds.get(project.project_id, []))
    return paged(state, f"{listing}:{project.project_id}", builds, build_seq, size, token, newest_first=True)


def project_seq(project: Project) -> int:
    return project.seq


def build_seq(build: Build) -> int:
    return build.seq


def build_url(build: Build) -> str:
    return f"https://depot.dev/orgs/{build.org_id}/projects/{build.project_id}/builds/{build.build_id}"
