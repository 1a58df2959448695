"""The emulator's records: what Depot knows about organizations, projects, tokens and builds.

Plain data; the operations on it live in ``_state.py`` (and ``_builds.py`` for builds). Times are
timezone-aware UTC datetimes. Credentials are kept only as SHA-256 digests. Every record that a
listing pages over has a ``seq`` (increasing in creation order) for the page tokens.
"""

from __future__ import annotations

import datetime
import enum
from dataclasses import dataclass, field

DEFAULT_REGION = "us-east-1"
DEFAULT_KEEP_GB = 50
DEFAULT_KEEP_DAYS = 14


class BuildStatus(str, enum.Enum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    ERROR = "error"
    CANCELED = "canceled"


@dataclass
class Organization:
    org_id: str
    name: str
    created_at: datetime.datetime


@dataclass
class Project:
    project_id: str
    org_id: str
    name: str
    region_id: str
    created_at: datetime.datetime
    seq: int
    keep_gb: int = DEFAULT_KEEP_GB
    keep_days: int = DEFAULT_KEEP_DAYS
    hardware: int = 0
    cache_reset_at: datetime.datetime | None = None


@dataclass
class ProjectToken:
    token_id: str
    project_id: str
    description: str
    digest: str
    seq: int


@dataclass
class TrustPolicy:
    """``provider`` is ``github``, ``circleci`` or ``buildkite``; ``fields`` its proto fields."""

    trust_policy_id: str
    project_id: str
    provider: str
    fields: dict[str, str]
    seq: int


@dataclass
class BuildStep:
    """One BuildKit vertex of a build, keyed by its digest."""

    digest: str
    name: str
    seq: int
    started_at: datetime.datetime
    completed_at: datetime.datetime | None = None
    cached: bool = False
    error: str | None = None

    @property
    def duration_seconds(self) -> float:
        if self.completed_at is None:
            return 0.0
        return max(0.0, (self.completed_at - self.started_at).total_seconds())


@dataclass
class LogLine:
    seq: int
    digest: str
    timestamp: datetime.datetime
    message: str


@dataclass
class BuildOptions:
    """What ``depot build`` said it would do (cli.v1 BuildOptions), kept for GetPullInfo."""

    command: int = 0
    tags: list[str] = field(default_factory=list)
    push: bool = False
    load: bool = False
    save: bool = False
    save_tags: list[str] = field(default_factory=list)


@dataclass
class Build:
    build_id: str
    project_id: str
    org_id: str
    seq: int
    token_digest: str  # "" for a seeded build that has no build token
    created_at: datetime.datetime
    status: BuildStatus = BuildStatus.RUNNING
    started_at: datetime.datetime | None = None
    finished_at: datetime.datetime | None = None
    error: str | None = None
    last_health: datetime.datetime | None = None
    cancel_requested_at: datetime.datetime | None = None
    share_id: str | None = None
    saved_seconds: float = 0.0
    options: list[BuildOptions] = field(default_factory=list)
    steps: list[BuildStep] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    dockerfiles: list[dict[str, str]] = field(default_factory=list)
    step_source: str = ""  # "status" (BuildKit vertexes) or "timings" (ReportTimings), see _builds
    # digest -> index in ``steps``; a partial log line per (digest, stream) until its newline.
    step_index: dict[str, int] = field(default_factory=dict, repr=False)
    partial_logs: dict[tuple[str, int], tuple[datetime.datetime, str]] = field(
        default_factory=dict, repr=False
    )
    # Log chunks already applied: the same chunk may arrive from the client and from the tap.
    log_chunks: set[tuple[str, int, int, bytes]] = field(default_factory=set, repr=False)

    @property
    def finished(self) -> bool:
        return self.status is not BuildStatus.RUNNING

    @property
    def duration_seconds(self) -> int | None:
        if self.finished_at is None:
            return None
        start = self.started_at or self.created_at
        return max(0, round((self.finished_at - start).total_seconds()))

    @property
    def cached_steps(self) -> int:
        return sum(1 for s in self.steps if s.cached)

    def step(self, digest: str) -> BuildStep | None:
        index = self.step_index.get(digest)
        return None if index is None else self.steps[index]
