"""TransportOptions: everything a transport is configured with, validated up front."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from airflow_provider_depot import __version__

from ._codec import CODECS, CodecName

HttpVersion = Literal["auto", "1.1", "h2c", "2"]
HTTP_VERSIONS: tuple[HttpVersion, ...] = ("auto", "1.1", "h2c", "2")
DEFAULT_BASE_URL = "https://api.depot.dev"
DEFAULT_USER_AGENT = f"airflow-provider-depot/{__version__}"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_timeout(value: float | None, name: str) -> None:
    """``value`` must be None (no deadline) or a positive, finite number of seconds."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{name} must be a positive number of seconds or None, got {value!r}")


@dataclass(frozen=True)
class TransportOptions:
    """How a ConnectTransport talks to the API.

    ``http_version``: ``"auto"`` lets TLS ALPN pick HTTP/2 on https and uses HTTP/1.1 on
    http; ``"1.1"`` forces HTTP/1.1; ``"2"`` forces HTTP/2 (on http:// that is prior
    knowledge); ``"h2c"`` is HTTP/2 with prior knowledge and requires an http:// URL.
    ``timeout`` is the default whole-call deadline in seconds (None: no deadline).
    ``verify`` is True (system/certifi trust), False (explicitly off), or a CA bundle path.
    """

    base_url: str = DEFAULT_BASE_URL
    token: str | None = field(default=None, repr=False)
    codec: CodecName = "proto"
    http_version: HttpVersion = "auto"
    timeout: float | None = None
    max_retries: int = 3
    backoff_base: float = 0.2
    backoff_max: float = 10.0
    verify: bool | str = True
    user_agent: str = DEFAULT_USER_AGENT
    accept_gzip: bool = True

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url) if isinstance(self.base_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http:// or https:// URL with a host: {self.base_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("base_url must not carry a query, a fragment or credentials")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        check_token(self.token, "token")
        if self.token is not None:
            self.check_token_destination()
        if self.codec not in CODECS:
            raise ValueError(f"codec must be one of {sorted(CODECS)}, got {self.codec!r}")
        if self.http_version not in HTTP_VERSIONS:
            raise ValueError(f"http_version must be one of {HTTP_VERSIONS}, got {self.http_version!r}")
        if self.http_version == "h2c" and parts.scheme != "http":
            raise ValueError("http_version='h2c' (cleartext HTTP/2) needs an http:// base_url")
        check_timeout(self.timeout, "timeout")
        retries = self.max_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {self.max_retries!r}")
        for name in ("backoff_base", "backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.backoff_max < self.backoff_base:
            raise ValueError("backoff_max must be >= backoff_base")
        if isinstance(self.verify, str):
            if not os.path.isfile(self.verify):
                raise ValueError(f"verify must name a CA bundle file; there is none at {self.verify!r}")
        elif not isinstance(self.verify, bool):
            raise ValueError(f"verify must be True, False or a CA bundle path, got {self.verify!r}")
        if not isinstance(self.user_agent, str) or not self.user_agent.isprintable():
            raise ValueError("user_agent must be a printable string")

    @property
    def cleartext_remote(self) -> bool:
        """True when base_url is plain http:// to a host other than this machine."""
        parts = urlsplit(self.base_url)
        return parts.scheme == "http" and not is_loopback_host(parts.hostname or "")

    def check_token_destination(self) -> None:
        """Refuse to let a credential travel unencrypted off this machine."""
        if self.cleartext_remote:
            raise ValueError(
                f"base_url {self.base_url!r} is plain http:// to a non-loopback host; "
                "refusing to send a token over it (use https://)"
            )


def check_token(token: str | None, name: str) -> None:
    """A token must be a non-empty string that fits in an HTTP header (its value is never echoed)."""
    if token is None:
        return
    if not isinstance(token, str) or not token:
        raise ValueError(f"{name} must be a non-empty string or None")
    if not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError(f"{name} contains characters that cannot be sent in an HTTP header")
