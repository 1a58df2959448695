"""Reading a ``depot`` Airflow connection into client settings (no I/O, no Airflow import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://api.depot.dev"
API_URL_ENV = "DEPOT_API_URL"


@dataclass(frozen=True)
class DepotConnectionConfig:
    """The settings a DepotClient needs, resolved from one connection.

    ``repr`` leaves the token out so the config can appear in tracebacks safely.
    """

    base_url: str
    token: str
    org_id: str | None
    timeout: float | None
    max_retries: int
    http_version: str
    verify: bool | str

    def __repr__(self) -> str:
        return (
            f"DepotConnectionConfig(base_url={self.base_url!r}, org_id={self.org_id!r}, "
            f"timeout={self.timeout!r}, max_retries={self.max_retries!r}, "
            f"http_version={self.http_version!r}, verify={self.verify!r})"
        )

    def client_kwargs(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "base_url": self.base_url,
            "org_id": self.org_id,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "http_version": self.http_version,
            "verify": self.verify,
        }


def _base_url(host: str | None, port: int | None, extra: Mapping[str, Any], env: Mapping[str, str]) -> str:
    url = extra.get("api_url") or None
    if not url and host:
        url = host if "://" in host else f"https://{host}"
        if port and urlsplit(url).port is None:
            url = f"{url.rstrip('/')}:{port}"
    url = url or env.get(API_URL_ENV) or DEFAULT_API_URL
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Depot connection: api_url {url!r} is not an http(s) URL with a host")
    return str(url).rstrip("/")


def _number(extra: Mapping[str, Any], key: str, kind: type[float] | type[int], minimum: float) -> Any:
    raw = extra.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"Depot connection: extra {key!r} must be a number, got {raw!r}") from None
    if value < minimum or (kind is int and float(raw) != value):
        raise ValueError(
            f"Depot connection: extra {key!r} must be a {kind.__name__} >= {minimum}, got {raw!r}"
        )
    return value


def _flag(extra: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"Depot connection: extra {key!r} must be true or false, got {raw!r}")


def resolve_connection(
    *,
    password: str | None,
    host: str | None,
    port: int | None,
    extra: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
) -> DepotConnectionConfig:
    """Resolve a connection's fields; every error names the field it is about.

    The URL comes from extra ``api_url``, else the host field, else ``DEPOT_API_URL`` (as the
    official clients honour it), else https://api.depot.dev.
    """
    if not password:
        raise ValueError("Depot connection: the token (password field) is empty")
    base_url = _base_url(host, port, extra, os.environ if env is None else env)
    http2 = _flag(extra, "http2", True)
    https = base_url.startswith("https://")
    http_version = ("auto" if https else "h2c") if http2 else "1.1"
    ca_bundle = extra.get("ca_bundle") or None
    if ca_bundle is not None and not os.path.isfile(str(ca_bundle)):
        raise ValueError(f"Depot connection: extra 'ca_bundle' {ca_bundle!r} is not a readable file")
    retries = _number(extra, "max_retries", int, 0)
    return DepotConnectionConfig(
        base_url=base_url,
        token=password,
        org_id=extra.get("org_id") or None,
        timeout=_number(extra, "timeout", float, 0.001),
        max_retries=3 if retries is None else retries,
        http_version=http_version,
        verify=str(ca_bundle) if ca_bundle else True,
    )
