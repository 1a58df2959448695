"""Depot usage replies (protobuf) as warehouse rows, lazily.

A row is a tuple in the table's column order: the four period columns (already converted to
the driver's parameter types, once per sub-period) followed by the values read from the
message through ``Column.source``. Rows are produced lazily for the writer to stream in chunks;
what is held meanwhile is one dict per table (per repo for job details) of the reply's items.

Items of one reply that share a table's natural key become one row with their measures summed:
Depot allows two projects with the same name (container builds are reported by name), and
GitHub two workflows with the same name in one repo. Floats are the proto's float32 values
widened to Python floats and stored as DOUBLE: exact, though 0.1 shows as 0.10000000149011612.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ._usage_tables import (
    AGENT_SANDBOXES,
    COMPUTE_SANDBOXES,
    CONTAINER_BUILDS,
    GITHUB_ACTIONS_JOB_DETAILS,
    GITHUB_ACTIONS_JOBS,
    PERIOD_COLUMNS,
    PROJECT_USAGE,
    STORAGE,
    Column,
    TableSpec,
)

if TYPE_CHECKING:
    from airflow_provider_depot._proto.depot.core.v1 import usage_pb2

Row = tuple[Any, ...]
#: (period_start, period_end, org_id, exported_at) as driver parameters.
RowPrefix = tuple[Any, Any, str, Any]
TableRows = tuple[str, Iterator[Row]]


def _values_getter(columns: tuple[Column, ...]) -> Callable[[Any], Row]:
    getter = attrgetter(*(c.source for c in columns))
    if len(columns) == 1:
        return lambda message: (getter(message),)
    return getter  # attrgetter of two or more names returns a tuple


def _merged_rows(table: TableSpec, messages: Iterable[Any], prefix: Row, *, fixed: Row = ()) -> Iterator[Row]:
    """One row per natural key of ``table``; messages that share a key have their measures summed.

    ``fixed`` holds the leading key values that come from an enclosing message (a job detail's
    repo), so they are not read from ``messages``.
    """
    data = table.columns[len(PERIOD_COLUMNS) :]
    keys = len(table.primary_key) - 2  # after org_id, period_start
    key_of = _values_getter(data[len(fixed) : keys])
    measures_of = _values_getter(data[keys:])
    merged: dict[Row, Row] = {}
    for message in messages:
        key, measures = key_of(message), measures_of(message)
        seen = merged.get(key)
        merged[key] = measures if seen is None else tuple(a + b for a, b in zip(seen, measures, strict=True))
    head = prefix + fixed
    for key, measures in merged.items():
        yield head + key + measures


def job_detail_rows(repos: Iterable[usage_pb2.GithubActionsJobsUsage], prefix: Row) -> Iterator[Row]:
    """One row per (repo, workflow, runner), entries for the same repo merged."""
    for repo, entries in _by_repo(repos).items():
        jobs = (job for entry in entries for job in entry.jobs)
        yield from _merged_rows(GITHUB_ACTIONS_JOB_DETAILS, jobs, prefix, fixed=(repo,))


def _by_repo(
    repos: Iterable[usage_pb2.GithubActionsJobsUsage],
) -> dict[str, list[usage_pb2.GithubActionsJobsUsage]]:
    grouped: dict[str, list[usage_pb2.GithubActionsJobsUsage]] = {}
    for entry in repos:
        grouped.setdefault(entry.repo, []).append(entry)
    return grouped


def usage_rows(response: usage_pb2.GetUsageResponse, prefix: RowPrefix) -> Iterator[TableRows]:
    """The rows of one GetUsage reply, as (table name, rows) per usage table."""
    yield CONTAINER_BUILDS.name, _merged_rows(CONTAINER_BUILDS, response.container_build, prefix)
    yield GITHUB_ACTIONS_JOBS.name, _merged_rows(GITHUB_ACTIONS_JOBS, response.github_actions_jobs, prefix)
    yield GITHUB_ACTIONS_JOB_DETAILS.name, job_detail_rows(response.github_actions_jobs, prefix)
    yield STORAGE.name, _merged_rows(STORAGE, response.storage, prefix)
    yield AGENT_SANDBOXES.name, _merged_rows(AGENT_SANDBOXES, response.agent_sandbox, prefix)
    yield COMPUTE_SANDBOXES.name, _merged_rows(COMPUTE_SANDBOXES, response.compute_sandbox, prefix)


def project_usage_rows(usages: Iterable[usage_pb2.ProjectUsage], prefix: RowPrefix) -> TableRows:
    """The rows of ListProjectUsage (all pages), as (table name, rows)."""
    return PROJECT_USAGE.name, _merged_rows(PROJECT_USAGE, usages, prefix)
