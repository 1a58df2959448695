"""DepotHook against the emulator: connections from AIRFLOW_CONN_* JSON, masking, TLS rules."""

from __future__ import annotations

import json
import logging

import pytest
from airflow.sdk.log import redact

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.hooks.depot import DepotHook

SECRET = "depot-hook-test-secret-7f3a9c"


@pytest.fixture
def depot_conn(depot_emulator, monkeypatch):
    depot_emulator.admin.add_org_token(SECRET)

    def set_conn(conn_id="depot_default", **fields):
        doc = {"conn_type": "depot", "password": SECRET, "host": depot_emulator.url, **fields}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(doc))
        return conn_id

    return set_conn


def test_connection_from_env_json(depot_conn, depot_emulator):
    depot_conn(extra={"org_id": "org-1", "timeout": 5, "max_retries": 1, "http2": False})
    hook = DepotHook()
    cfg = hook.config
    assert (cfg.base_url, cfg.org_id, cfg.timeout, cfg.max_retries) == (depot_emulator.url, "org-1", 5.0, 1)
    assert cfg.http_version == "1.1"
    depot_emulator.admin.create_project("listed")
    projects = hook.get_client().projects.list_projects().projects
    assert [p.name for p in projects] == ["listed"]
    assert hook.get_client() is hook.get_client()  # one pooled client per hook
    hook.close()


def test_api_url_extra_and_h2c(depot_conn, depot_emulator):
    depot_conn("depot_h2c", host=None, extra={"api_url": depot_emulator.url, "http2": True})
    hook = DepotHook(depot_conn_id="depot_h2c")
    assert hook.config.http_version == "h2c"
    assert hook.get_client().organizations.list_organizations().organizations
    hook.close()


def test_depot_api_url_env_is_used_when_connection_has_no_url(depot_conn, depot_emulator, monkeypatch):
    depot_conn(host=None)
    monkeypatch.setenv("DEPOT_API_URL", depot_emulator.url)
    hook = DepotHook()
    assert hook.config.base_url == depot_emulator.url
    ok, message = hook.test_connection()
    assert ok, message


def test_test_connection_reports_success_and_failure(depot_conn, depot_emulator):
    depot_conn()
    ok, message = DepotHook().test_connection()
    assert ok and depot_emulator.url in message
    depot_conn("depot_bad", password="not-a-valid-token")
    ok, message = DepotHook(depot_conn_id="depot_bad").test_connection()
    assert not ok and "unauthenticated" in message
    assert "not-a-valid-token" not in message


def test_token_is_masked_and_never_logged(depot_conn, caplog):
    depot_conn()
    caplog.set_level(logging.DEBUG)
    hook = DepotHook()
    hook.get_client().organizations.list_organizations()
    hook.close()
    assert redact(f"token={SECRET}") == "token=***"
    assert SECRET not in caplog.text
    assert SECRET not in repr(hook.config)


@pytest.mark.parametrize("host", ["http://depot.example.com", "http://10.1.2.3:8080"])
def test_plain_http_to_a_remote_host_is_refused_before_any_request(monkeypatch, host):
    monkeypatch.setenv(
        "AIRFLOW_CONN_DEPOT_REMOTE", json.dumps({"conn_type": "depot", "password": SECRET, "host": host})
    )
    hook = DepotHook(depot_conn_id="depot_remote")
    with pytest.raises(ValueError, match="base_url") as info:
        hook.get_client()
    assert SECRET not in str(info.value)


def test_missing_token_names_the_field(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DEPOT_EMPTY", json.dumps({"conn_type": "depot", "host": "https://x"}))
    with pytest.raises(ValueError, match="password field"):
        DepotHook(depot_conn_id="depot_empty").config  # noqa: B018


async def test_async_client_through_aconfig(depot_conn, depot_emulator):
    depot_conn()
    hook = DepotHook()
    await hook.aconfig()
    client = hook.get_async_client()
    project = depot_emulator.admin.create_project("hooked")
    reply = await client.projects.get_project(project_id=project.project_id)
    assert reply.project.name == "hooked"
    with pytest.raises(ConnectError) as info:
        await client.projects.get_project(project_id="nosuchproj")
    assert info.value.code is Code.NOT_FOUND
    assert str(info.value).startswith("ProjectService/GetProject: not_found")
    await hook.aclose()
