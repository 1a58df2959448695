"""https: certificate verification and the HTTP version ALPN settles on."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from connect_rpc import GET_PROJECT, MakeFront, get_project
from reference_server import ReferenceServer, new_key

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.emulator._certs import issue_build_credentials


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA and a certificate for 127.0.0.1 signed by it, as files."""
    folder = tmp_path_factory.mktemp("tls")
    credentials = issue_build_credentials("localhost")
    files = {
        "ca": credentials.ca_cert_pem,
        "cert": credentials.server_cert_pem,
        "key": credentials.server_key_pem,
    }
    for name, pem in files.items():
        (folder / f"{name}.pem").write_text(pem)
    return {name: str(folder / f"{name}.pem") for name in files}


@pytest.fixture(scope="session")
def tls_server(tls_files: dict[str, str]) -> Iterator[ReferenceServer]:
    reference = ReferenceServer(tls=(tls_files["cert"], tls_files["key"])).start()
    yield reference
    reference.stop()


@pytest.mark.parametrize(("http_version", "negotiated"), [("auto", "2"), ("1.1", "1.1"), ("2", "2")])
async def test_ca_bundle_and_alpn(
    make_front: MakeFront, tls_server: ReferenceServer, tls_files: dict[str, str], negotiated: str
) -> None:
    key = new_key()
    rpc = make_front(base_url=tls_server.url, verify=tls_files["ca"])
    reply = await rpc.unary(GET_PROJECT, get_project(key))
    assert reply.project.project_id == key
    assert tls_server.front.http_versions[-1] == (GET_PROJECT.path, negotiated)


@pytest.mark.parametrize("http_version", ["auto"])
async def test_untrusted_certificate_is_refused_and_not_retried(
    make_front: MakeFront, tls_server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_depot.connect")
    seen = len(tls_server.front.http_versions)
    with pytest.raises(ConnectError) as caught:
        await make_front(base_url=tls_server.url).unary(GET_PROJECT, get_project(new_key()))
    assert caught.value.code is Code.UNAVAILABLE
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message
    assert len(tls_server.front.http_versions) == seen
    assert caplog.records == []


@pytest.mark.parametrize("http_version", ["auto"])
async def test_verification_off_is_said_out_loud(
    make_front: MakeFront, tls_server: ReferenceServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="airflow_provider_depot.connect")
    key = new_key()
    reply = await make_front(base_url=tls_server.url, verify=False).unary(GET_PROJECT, get_project(key))
    assert reply.project.project_id == key
    assert [r.getMessage() for r in caplog.records] == [
        f"TLS certificate verification is disabled for {tls_server.url}"
    ]
