"""TransportOptions: every bad setting is refused up front, naming the parameter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_depot import __version__
from airflow_provider_depot.connect import TransportOptions
from airflow_provider_depot.connect._options import is_loopback_host


def test_defaults() -> None:
    options = TransportOptions()
    assert options.base_url == "https://api.depot.dev"
    assert (options.codec, options.http_version, options.timeout, options.max_retries) == (
        "proto",
        "auto",
        None,
        3,
    )
    assert options.verify is True
    assert options.accept_gzip is True
    assert options.user_agent == f"airflow-provider-depot/{__version__}"


def test_trailing_slash_is_dropped_and_path_kept() -> None:
    assert TransportOptions(base_url="https://proxy.example/depot/").base_url == "https://proxy.example/depot"


def test_token_is_not_in_repr() -> None:
    assert "s3cret" not in repr(TransportOptions(token="s3cret"))


@pytest.mark.parametrize(
    "url",
    ["http://api.depot.dev", "http://10.0.0.5:8080", "http://[fe80::1]", "http://localhost.example.com"],
)
def test_token_over_cleartext_to_a_remote_host_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"base_url {url!r}")) as caught:
        TransportOptions(base_url=url, token="tok-123")
    assert "tok-123" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9",
        "http://127.8.9.10",
        "http://[::1]:8080",
        "http://localhost:1",
        "https://api.depot.dev",
    ],
)
def test_token_allowed_over_tls_or_loopback(url: str) -> None:
    assert TransportOptions(base_url=url, token="tok").token == "tok"


def test_no_token_over_cleartext_is_fine() -> None:
    assert TransportOptions(base_url="http://api.depot.dev").token is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.255.254", True),
        ("::1", True),
        ("LOCALHOST", True),
        ("128.0.0.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"base_url": "ftp://x"}, "base_url"),
        ({"base_url": "api.depot.dev"}, "base_url"),
        ({"base_url": "https://"}, "base_url"),
        ({"base_url": "https://x/?a=1"}, "base_url"),
        ({"base_url": "https://user:pw@x"}, "base_url"),
        ({"token": ""}, "token"),
        ({"token": "a b"}, "token"),
        ({"token": "caf\u00e9"}, "token"),
        ({"codec": "xml"}, "codec"),
        ({"http_version": "3"}, "http_version"),
        ({"http_version": "h2c"}, "http_version"),  # h2c needs http://
        ({"timeout": 0}, "timeout"),
        ({"timeout": -2.0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retries": True}, "max_retries"),
        ({"backoff_base": -0.1}, "backoff_base"),
        ({"backoff_max": float("nan")}, "backoff_max"),
        ({"backoff_base": 2.0, "backoff_max": 1.0}, "backoff_max"),
        ({"verify": "/nonexistent/ca.pem"}, "verify"),
        ({"verify": "/"}, "verify"),
        ({"verify": 1}, "verify"),
        ({"user_agent": "a\nb"}, "user_agent"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        TransportOptions(**kwargs)


def test_verify_accepts_a_ca_bundle_path(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    assert TransportOptions(verify=str(bundle)).verify == str(bundle)


def test_h2c_over_http() -> None:
    assert TransportOptions(base_url="http://127.0.0.1:1", http_version="h2c").http_version == "h2c"
