"""BuildKit platforms: ``"linux/amd64"`` / ``"linux/arm64"`` or the generated enum."""

from __future__ import annotations

from typing import TypeAlias

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2

PlatformLike: TypeAlias = "str | buildkit_pb2.Platform"

_OCI_NAMES = {
    buildkit_pb2.PLATFORM_AMD64: "linux/amd64",
    buildkit_pb2.PLATFORM_ARM64: "linux/arm64",
}
_ACCEPTED: dict[str | int, buildkit_pb2.Platform] = {}
for _enum, _oci in _OCI_NAMES.items():
    _ACCEPTED.update({_oci: _enum, buildkit_pb2.Platform.Name(_enum): _enum, int(_enum): _enum})


def to_platform(value: PlatformLike) -> buildkit_pb2.Platform:
    """The enum for ``"linux/amd64"``, ``"linux/arm64"``, an enum value or an enum name."""
    platform = _ACCEPTED.get(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if platform is None:
        raise ValueError(f"platform must be one of {sorted(_OCI_NAMES.values())}, got {value!r}")
    return platform


def platform_name(platform: buildkit_pb2.Platform) -> str:
    """``"linux/amd64"`` for PLATFORM_AMD64 and so on."""
    return _OCI_NAMES[platform]
