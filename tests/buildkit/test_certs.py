"""Per-build mTLS material: chains, names, usages, fresh CAs, and the SSL contexts built from it."""

from __future__ import annotations

import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from airflow_provider_depot.emulator._certs import (
    BuildCredentials,
    client_ssl_context,
    issue_build_credentials,
    server_ssl_context,
)

SERVER_NAME = "buildkit-0a1b2c.builders.depot.test"


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _san(cert: x509.Certificate) -> list[object]:
    return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


@pytest.fixture(scope="module")
def creds() -> BuildCredentials:
    return issue_build_credentials(SERVER_NAME)


def test_server_chain_verifies_for_server_name_and_loopback(creds: BuildCredentials) -> None:
    store = Store([_cert(creds.ca_cert_pem)])
    for subject in (x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        chain = (
            PolicyBuilder()
            .store(store)
            .build_server_verifier(subject)
            .verify(_cert(creds.server_cert_pem), [])
        )
        assert chain[-1] == _cert(creds.ca_cert_pem)


def test_server_chain_rejects_other_names(creds: BuildCredentials) -> None:
    verifier = (
        PolicyBuilder()
        .store(Store([_cert(creds.ca_cert_pem)]))
        .build_server_verifier(x509.DNSName("other.depot.test"))
    )
    with pytest.raises(VerificationError):
        verifier.verify(_cert(creds.server_cert_pem), [])


def test_client_chain_verifies(creds: BuildCredentials) -> None:
    verified = (
        PolicyBuilder()
        .store(Store([_cert(creds.ca_cert_pem)]))
        .build_client_verifier()
        .verify(_cert(creds.client_cert_pem), [])
    )
    assert verified.chain[-1] == _cert(creds.ca_cert_pem)


def test_leaves_do_not_verify_under_another_builds_ca(creds: BuildCredentials) -> None:
    other_store = Store([_cert(issue_build_credentials(SERVER_NAME).ca_cert_pem)])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(other_store).build_client_verifier().verify(_cert(creds.client_cert_pem), [])
    with pytest.raises(VerificationError):
        PolicyBuilder().store(other_store).build_server_verifier(x509.DNSName(SERVER_NAME)).verify(
            _cert(creds.server_cert_pem), []
        )


def test_names_and_usages(creds: BuildCredentials) -> None:
    server, client, ca = _cert(creds.server_cert_pem), _cert(creds.client_cert_pem), _cert(creds.ca_cert_pem)
    assert _san(server) == [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    assert _eku(server) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert _eku(client) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    for leaf in (server, client):
        assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
        assert leaf.issuer == ca.subject
    assert creds.server_name == SERVER_NAME


def test_keys_are_p256_and_match_their_certificates(creds: BuildCredentials) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    for cert_pem, key_pem in (
        (creds.server_cert_pem, creds.server_key_pem),
        (creds.client_cert_pem, creds.client_key_pem),
    ):
        key = load_pem_private_key(key_pem.encode(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        assert isinstance(key.curve, ec.SECP256R1)
        assert key.public_key() == _cert(cert_pem).public_key()
        assert key_pem.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "::1"])
def test_ip_server_name_is_an_ip_san(address: str) -> None:
    server = _cert(issue_build_credentials(address).server_cert_pem)
    expected = list(dict.fromkeys([ipaddress.ip_address(address), ipaddress.ip_address("127.0.0.1")]))
    assert _san(server) == [x509.IPAddress(ip) for ip in expected]


def test_every_call_has_a_fresh_ca_and_keys() -> None:
    first, second = issue_build_credentials(SERVER_NAME), issue_build_credentials(SERVER_NAME)
    assert first.ca_cert_pem != second.ca_cert_pem
    assert first.client_key_pem != second.client_key_pem
    assert first.server_key_pem != second.server_key_pem


def test_repr_leaves_out_private_keys(creds: BuildCredentials) -> None:
    text = repr(creds)
    assert "PRIVATE KEY" not in text
    assert creds.server_key_pem not in text and creds.client_key_pem not in text
    assert SERVER_NAME in text


@pytest.mark.parametrize(
    "bad",
    ["", "two words", "a..b", "-lead.example", "trail-.example", "x" * 64, "under_score", "ünï.de", "host."],
)
def test_bad_server_name_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValueError, match="server_name"):
        issue_build_credentials(bad)


def test_non_string_server_name_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="server_name"):
        issue_build_credentials(3)  # type: ignore[arg-type]


def test_ssl_contexts_require_client_certificates_and_offer_h2(creds: BuildCredentials) -> None:
    server = server_ssl_context(creds)
    client = client_ssl_context(creds)
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert client.verify_mode == ssl.CERT_REQUIRED and client.check_hostname
    assert server.minimum_version >= ssl.TLSVersion.TLSv1_2
