"""The project settings an operator takes (name, region, cache policy, hardware), checked.

Imported when a task runs, not when its DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, cast

from airflow_provider_depot._proto.depot.core.v1 import project_pb2

HardwareArg = str | int


@dataclass(frozen=True)
class ProjectSettings:
    """Validated project settings; None means "not given" (server default, or unchanged)."""

    name: str | None
    region_id: str | None
    cache_policy: project_pb2.CachePolicy | None
    hardware: project_pb2.Hardware | None

    def as_kwargs(self) -> dict[str, Any]:
        given = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in given.items() if value is not None}


def project_settings(
    *,
    name: str | None,
    region_id: str | None,
    cache_policy: Mapping[str, int] | None,
    hardware: HardwareArg | None,
) -> ProjectSettings:
    from airflow_provider_depot.client._project_settings import to_cache_policy, to_hardware, to_region
    from airflow_provider_depot.client._validation import require_text

    return ProjectSettings(
        name=None if name is None else require_text("name", name),
        region_id=None if region_id is None else to_region(region_id),
        cache_policy=None if cache_policy is None else to_cache_policy(cache_policy),
        # The enum's stub type is not int; to_hardware takes its numbers as well as names.
        hardware=None if hardware is None else to_hardware(cast("project_pb2.Hardware", hardware)),
    )
