from __future__ import annotations

import pytest

from airflow_provider_depot.hooks._connection_config import DEFAULT_API_URL, resolve_connection


def resolve(extra=None, host=None, port=None, password="tok-123", env=None):
    return resolve_connection(password=password, host=host, port=port, extra=extra or {}, env=env or {})


def test_defaults():
    cfg = resolve()
    assert cfg.base_url == DEFAULT_API_URL
    assert cfg.http_version == "auto"
    assert cfg.max_retries == 3
    assert cfg.timeout is None
    assert cfg.verify is True
    assert cfg.org_id is None


def test_api_url_extra_beats_host_and_env():
    cfg = resolve({"api_url": "https://a.example/"}, host="b.example", env={"DEPOT_API_URL": "https://c"})
    assert cfg.base_url == "https://a.example"


def test_host_field_beats_env_and_gets_https_and_port():
    cfg = resolve(host="depot.internal", port=8443, env={"DEPOT_API_URL": "https://c.example"})
    assert cfg.base_url == "https://depot.internal:8443"


def test_env_used_when_connection_sets_no_url():
    assert resolve(env={"DEPOT_API_URL": "http://127.0.0.1:9999"}).base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize(
    ("url", "http2", "expected"),
    [
        ("https://x.example", True, "auto"),
        ("https://x.example", False, "1.1"),
        ("http://127.0.0.1:1", True, "h2c"),
        ("http://127.0.0.1:1", "false", "1.1"),
    ],
)
def test_http_version(url, http2, expected):
    assert resolve({"api_url": url, "http2": http2}).http_version == expected


def test_numbers_and_org():
    cfg = resolve({"timeout": "2.5", "max_retries": 0, "org_id": "org1"})
    assert (cfg.timeout, cfg.max_retries, cfg.org_id) == (2.5, 0, "org1")


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"password": ""}, "token"),
        ({"extra": {"timeout": "soon"}}, "'timeout'"),
        ({"extra": {"timeout": 0}}, "'timeout'"),
        ({"extra": {"max_retries": -1}}, "'max_retries'"),
        ({"extra": {"max_retries": 1.5}}, "'max_retries'"),
        ({"extra": {"http2": "maybe"}}, "'http2'"),
        ({"extra": {"api_url": "ftp://x"}}, "api_url"),
        ({"extra": {"ca_bundle": "/nonexistent/ca.pem"}}, "'ca_bundle'"),
    ],
)
def test_errors_name_the_field(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        resolve(**kwargs)


def test_ca_bundle(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert resolve({"ca_bundle": str(ca)}).verify == str(ca)


def test_repr_hides_token():
    cfg = resolve(password="super-secret-token")
    assert "super-secret-token" not in repr(cfg)
    assert "super-secret-token" not in str(cfg)
