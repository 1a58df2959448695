"""The usage export's arguments as a DAG file gives them: table names, granularities, defaults,
and their checks.

The operator module imports this at DAG-parse time, so it stays light: no dataclasses, no
protobuf, no patterns compiled at import. ``_usage_tables`` defines the tables themselves, in
this order and under these names (tests/transfers checks both).
"""

from __future__ import annotations

import re
from typing import Literal, cast, get_args

USAGE_TABLE_NAMES = (
    "depot_usage_container_builds",
    "depot_usage_github_actions_jobs",
    "depot_usage_github_actions_job_details",
    "depot_usage_storage",
    "depot_usage_agent_sandboxes",
    "depot_usage_compute_sandboxes",
    "depot_project_usage",
)
SCHEMA_VERSION_TABLE_NAME = "depot_usage_schema_version"
#: Longest name a table gets (prefix included): PostgreSQL truncates identifiers past 63 bytes.
MAX_TABLE_NAME = 63

Granularity = Literal["hour", "day", "week", "month"]
GRANULARITIES: tuple[str, ...] = get_args(Granularity)
DEFAULT_GRANULARITY: Granularity = "day"
DEFAULT_CHUNK_SIZE = 10_000


def check_granularity(value: object) -> Granularity:
    if value not in GRANULARITIES:
        raise ValueError(f"granularity must be one of {', '.join(GRANULARITIES)}; got {value!r}")
    return cast("Granularity", value)


def check_table_prefix(prefix: object) -> str:
    """``prefix`` if it is '' or lowercase letters, digits and underscores starting with a letter."""
    if not isinstance(prefix, str):
        raise ValueError(f"table_prefix must be a string, got {type(prefix).__name__}")
    if prefix and not re.fullmatch(r"[a-z][a-z0-9_]*", prefix):
        raise ValueError(
            f"table_prefix {prefix!r} may hold only lowercase letters, digits and '_', starting with a letter"
        )
    longest = max(len(name) for name in (*USAGE_TABLE_NAMES, SCHEMA_VERSION_TABLE_NAME))
    if len(prefix) + longest > MAX_TABLE_NAME:
        raise ValueError(
            f"table_prefix {prefix!r} is too long: at most {MAX_TABLE_NAME - longest} characters"
        )
    return prefix


def check_schema(schema: object) -> str | None:
    """``schema`` if it is None/'' (the connection's default) or a plain SQL identifier."""
    if schema is None or schema == "":
        return None
    if (
        not isinstance(schema, str)
        or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", schema)
        or len(schema) > MAX_TABLE_NAME
    ):
        raise ValueError(f"schema must be a plain SQL identifier (letters, digits, '_'), got {schema!r}")
    return schema


def check_chunk_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {value!r}")
    return value
