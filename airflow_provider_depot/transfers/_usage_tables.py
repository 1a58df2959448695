"""The warehouse tables of the usage export: columns, keys and the schema version.

Schema version history (``SCHEMA_VERSION`` is the newest; the version table records each one
applied, see ``_usage_schema``):

1. The seven tables below.

Migrations are additive only: a later version may add tables or nullable columns (give them
``since=N``), never drop, rename or retype, so rows written by any version stay readable and an
older provider can still write into a newer schema (it leaves the new columns NULL).

Every usage table starts with the same four columns: ``period_start``/``period_end`` (the UTC
unit the row covers), ``org_id`` (the Depot organization, ``''`` when the connection does not
name one: it is part of the key, and key columns cannot be NULL everywhere) and ``exported_at``
(when the run that wrote the row started). The primary key is ``(org_id, period_start, <the
reply's natural key>)``; the key columns come first among a table's data columns, the rest are
numeric measures (``_usage_rows`` sums the measures of items that share a key).

``Column.source`` is the attribute path on the protobuf message a row is built from (for job
details the first column, ``repo``, comes from the enclosing per-repo message instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ._usage_arguments import SCHEMA_VERSION_TABLE_NAME

ColumnKind = Literal["text", "integer", "bigint", "double", "timestamp"]

SCHEMA_VERSION = 1
MIGRATIONS: dict[int, str] = {
    1: "usage tables: container builds, GitHub Actions jobs and job details, "
    "storage, agent sandboxes, compute sandboxes, project usage"
}



@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    #: Length of VARCHAR where a dialect needs one (MySQL key columns); ignored for TEXT.
    max_length: int = 255
    nullable: bool = False
    since: int = 1
    source: str = ""

    def __post_init__(self) -> None:
        if self.since > 1 and not self.nullable:
            raise ValueError(f"column {self.name} added in version {self.since} must be nullable")
        if not self.source:
            object.__setattr__(self, "source", self.name)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    since: int = 1
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))
        unknown = set(self.primary_key) - set(self.column_names)
        if unknown:
            raise ValueError(f"table {self.name}: primary key names unknown columns {sorted(unknown)}")

    def prefixed(self, prefix: str) -> TableSpec:
        return TableSpec(prefix + self.name, self.columns, self.primary_key, self.since)


PERIOD_COLUMNS: tuple[Column, ...] = (
    Column("period_start", "timestamp"),
    Column("period_end", "timestamp"),
    Column("org_id", "text", max_length=64),
    Column("exported_at", "timestamp"),
)


def _usage_table(name: str, key: tuple[str, ...], *data: Column) -> TableSpec:
    if tuple(c.name for c in data[: len(key)]) != key or any(c.kind == "text" for c in data[len(key) :]):
        raise ValueError(f"table {name}: the key columns {key} must come first, then numeric measures")
    return TableSpec(name, PERIOD_COLUMNS + data, ("org_id", "period_start", *key))


CONTAINER_BUILDS = _usage_table(
    "depot_usage_container_builds",
    ("project_name",),
    Column("project_name", "text"),
    Column("build_count", "integer"),
    Column("minutes_saved", "double"),
    Column("minutes_billed", "double"),
)
GITHUB_ACTIONS_JOBS = _usage_table(
    "depot_usage_github_actions_jobs",
    ("repo",),
    Column("repo", "text"),
    Column("job_count", "integer", source="total.job_count"),
    Column("minutes_elapsed", "double", source="total.minutes_elapsed"),
    Column("minutes_billed", "double", source="total.minutes_billed"),
)
# MySQL caps an InnoDB key at 3072 bytes (utf8mb4: 4 per character), hence the lengths here.
GITHUB_ACTIONS_JOB_DETAILS = _usage_table(
    "depot_usage_github_actions_job_details",
    ("repo", "workflow", "runner"),
    Column("repo", "text"),
    Column("workflow", "text"),
    Column("runner", "text", max_length=160),
    Column("job_count", "integer"),
    Column("minutes_elapsed", "double"),
    Column("minutes_billed", "double"),
)
STORAGE = _usage_table(
    "depot_usage_storage",
    ("storage_type",),
    Column("storage_type", "text"),
    Column("total_gb", "double"),
)
AGENT_SANDBOXES = _usage_table(
    "depot_usage_agent_sandboxes",
    ("agent_type",),
    Column("agent_type", "text"),
    Column("sandboxes_count", "integer"),
    Column("minutes_elapsed", "double"),
    Column("minutes_billed", "double"),
)
COMPUTE_SANDBOXES = _usage_table(
    "depot_usage_compute_sandboxes",
    ("rate_code",),
    Column("rate_code", "text"),
    Column("sandboxes_count", "integer"),
    Column("vcpu_seconds", "bigint"),
)
PROJECT_USAGE = _usage_table(
    "depot_project_usage",
    ("project_id",),
    Column("project_id", "text", max_length=64),
    Column("build_count", "integer"),
    Column("build_duration_seconds", "integer"),
    Column("layer_cache_size_gb", "integer"),
)

USAGE_TABLES: tuple[TableSpec, ...] = (
    CONTAINER_BUILDS,
    GITHUB_ACTIONS_JOBS,
    GITHUB_ACTIONS_JOB_DETAILS,
    STORAGE,
    AGENT_SANDBOXES,
    COMPUTE_SANDBOXES,
    PROJECT_USAGE,
)

SCHEMA_VERSION_TABLE = TableSpec(
    SCHEMA_VERSION_TABLE_NAME,
    (
        Column("version", "integer"),
        Column("description", "text", max_length=1000),
        Column("applied_at", "timestamp"),
    ),
    ("version",),
)
