"""``client.buildkit``: depot.buildkit.v1.BuildKitService, used through a session."""

from __future__ import annotations

from airflow_provider_depot.connect._options import check_token

from ._buildkit_session import AsyncBuildKitSession, BuildKitSession
from ._operations import Mode, Operation, ServiceGroup
from ._platforms import PlatformLike, to_platform
from ._session_core import SessionParams
from ._validation import positive_seconds, require_id, require_text

DEFAULT_HEALTH_INTERVAL = 5.0  # seconds, as the official clients report
DEFAULT_HEALTH_WARN_AFTER = 60.0
DEFAULT_ENDPOINT_TIMEOUT = 600.0


def _session_params(
    group: object,
    *,
    build_id: str,
    build_token: str,
    platform: PlatformLike = "linux/amd64",
    health_interval: float = DEFAULT_HEALTH_INTERVAL,
    health_warn_after: float = DEFAULT_HEALTH_WARN_AFTER,
    timeout: float = DEFAULT_ENDPOINT_TIMEOUT,
) -> SessionParams:
    """Hold a BuildKit builder for ``build_id`` on ``platform`` for the length of a with block.

    ``build_token`` is the ``CreateBuild`` response's token. ``timeout``: seconds to wait for the
    builder to become active. ``health_interval``: seconds between health reports.
    ``health_warn_after`` (at least 4 x ``health_interval``): seconds without a confirmed report
    before ERRORs are logged and ``health_ok`` turns False. One session serves one platform:
    open one per platform for a multi-platform build.
    """
    interval = positive_seconds("health_interval", health_interval)
    warn_after = positive_seconds("health_warn_after", health_warn_after)
    if warn_after < 4 * interval:
        raise ValueError(
            f"health_warn_after ({warn_after:g} s) must be at least 4 x health_interval ({interval:g} s)"
        )
    check_token(require_text("build_token", build_token), "build_token")  # it must fit in a header
    return SessionParams(
        build_id=require_id("build_id", build_id),
        build_token=build_token,
        platform=to_platform(platform),
        health_interval=interval,
        health_warn_after=warn_after,
        timeout=positive_seconds("timeout", timeout),
    )


class BuildKitAPI(ServiceGroup[Mode]):
    """BuildKit builders (GetEndpoint / ReportHealth / ReleaseEndpoint, with the build token)."""

    session = Operation(_session_params, BuildKitSession, AsyncBuildKitSession)
