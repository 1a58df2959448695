"""CreateProject/UpdateProject inputs: region, cache policy and hardware in friendly forms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias, cast

from airflow_provider_depot._proto.depot.core.v1 import project_pb2

from ._validation import non_negative_int32, require_id

CachePolicyLike: TypeAlias = "project_pb2.CachePolicy | Mapping[str, int]"
HardwareLike: TypeAlias = "project_pb2.Hardware | str"

_CACHE_KEYS = ("keep_gb", "keep_days")
# The regions Depot documents (WIRE.md). A typo would otherwise be refused only by the API, after
# the calls before it; a region Depot adds later needs this list to learn it.
REGIONS = ("us-east-1", "eu-central-1")


def to_region(value: object) -> str:
    """``region_id`` checked against :data:`REGIONS`."""
    region = require_id("region_id", value)
    if region not in REGIONS:
        raise ValueError(f"region_id must be one of {list(REGIONS)}, got {region!r}")
    return region


def to_cache_policy(value: CachePolicyLike) -> project_pb2.CachePolicy:
    """``{"keep_gb": 50, "keep_days": 14}`` or a CachePolicy message.

    ``keep_bytes`` is deprecated upstream (WIRE.md section 8) and not accepted in the mapping form.
    """
    if isinstance(value, project_pb2.CachePolicy):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"cache_policy must be a mapping or a CachePolicy, got {type(value).__name__}")
    unknown = sorted(set(value) - set(_CACHE_KEYS))
    if unknown:
        raise ValueError(f"cache_policy has unknown keys {unknown}; allowed: {list(_CACHE_KEYS)}")
    fields = {key: non_negative_int32(f"cache_policy[{key!r}]", value[key]) for key in value}
    return project_pb2.CachePolicy(**fields)


# The stubs type EnumTypeWrapper.items() values as plain int; they are Hardware values.
_HARDWARE_BY_NAME = {
    name: cast(project_pb2.Hardware, value) for name, value in project_pb2.Hardware.items() if value
}
_HARDWARE_BY_NUMBER = {int(value): value for value in _HARDWARE_BY_NAME.values()}


def to_hardware(value: HardwareLike) -> project_pb2.Hardware:
    """A Hardware enum value, or its name with or without the prefix (``"HARDWARE_4X4"``, ``"4x4"``)."""
    if isinstance(value, str):
        key = value.upper()
        key = key if key.startswith("HARDWARE_") else f"HARDWARE_{key}"
        if key in _HARDWARE_BY_NAME:
            return _HARDWARE_BY_NAME[key]
    elif isinstance(value, int) and not isinstance(value, bool) and value in _HARDWARE_BY_NUMBER:
        return _HARDWARE_BY_NUMBER[value]
    raise ValueError(f"hardware must be one of {sorted(_HARDWARE_BY_NAME)}, got {value!r}")
