"""Typed Depot API client: ``DepotClient`` (blocking) and ``AsyncDepotClient`` (asyncio).

Keyword arguments in, generated protobuf messages out. Arguments are validated before any
request (ValueError/TypeError naming the parameter). Timestamps accept aware datetimes
(pendulum included); naive ones are refused. RPC failures raise ``connect.ConnectError``.
No Airflow import lives below this package.
"""

from __future__ import annotations

from ._buildkit_session import AsyncBuildKitSession, BuildKitEndpoint, BuildKitSession, EndpointTimeoutError
from ._client import DEFAULT_BASE_URL, AsyncDepotClient, DepotClient
from ._credentials import BuildKitCredentials
from ._pagination import PaginationError
from ._timestamps import to_datetime, to_timestamp

__all__ = [
    "DEFAULT_BASE_URL",
    "AsyncBuildKitSession",
    "AsyncDepotClient",
    "BuildKitCredentials",
    "BuildKitEndpoint",
    "BuildKitSession",
    "DepotClient",
    "EndpointTimeoutError",
    "PaginationError",
    "to_datetime",
    "to_timestamp",
]
