"""Per-build mutual-TLS material, the kind Depot hands out with an active BuildKit endpoint.

Every call makes a fresh CA (as Depot does per build), a server certificate for the endpoint's
``server_name`` and a client certificate, all signed by that CA, as PEM text. EC P-256 keeps a
call in the low milliseconds, so there is no process-wide CA: a client certificate of one build is
never accepted by the endpoint of another.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Leaf and CA lifetime. Depot's builders live for one build; a day covers any build and a skewed clock.
_VALIDITY = datetime.timedelta(days=1)
_BACKDATE = datetime.timedelta(minutes=5)
_LOOPBACK_IP = ipaddress.ip_address("127.0.0.1")
_CLIENT_NAME = "depot-build-client"
# RFC 1123 host name: dot-separated labels of 1-63 letters, digits and inner hyphens, <= 253 chars.
_HOST_NAME = re.compile(r"(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*")


@dataclass(frozen=True)
class BuildCredentials:
    """PEM text of one build's mTLS material. The key fields are secrets: ``repr`` leaves them out."""

    server_name: str
    ca_cert_pem: str
    server_cert_pem: str
    server_key_pem: str = field(repr=False)
    client_cert_pem: str
    client_key_pem: str = field(repr=False)


def issue_build_credentials(server_name: str) -> BuildCredentials:
    """Make a fresh CA plus a server and a client certificate signed by it.

    The server certificate names ``server_name`` (a DNS name, or an IP address) and 127.0.0.1 in
    its subjectAltName, so a client may dial the loopback address and verify by server name.
    """
    san = _server_alt_names(server_name)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "depot-emulator build CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski)
    server_key, server_cert = _leaf(
        server_name, ca_name, ca_key, aki, now, ExtendedKeyUsageOID.SERVER_AUTH, san
    )
    client_key, client_cert = _leaf(
        _CLIENT_NAME, ca_name, ca_key, aki, now, ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName(_CLIENT_NAME)]
    )
    return BuildCredentials(
        server_name=server_name,
        ca_cert_pem=_cert_pem(ca_cert),
        server_cert_pem=_cert_pem(server_cert),
        server_key_pem=_key_pem(server_key),
        client_cert_pem=_cert_pem(client_cert),
        client_key_pem=_key_pem(client_key),
    )


def server_ssl_context(
    credentials: BuildCredentials, *, alpn_protocols: Sequence[str] = ("h2",)
) -> ssl.SSLContext:
    """A TLS server context that presents the server certificate and requires a client
    certificate signed by the build's CA."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_chain(context, credentials.server_cert_pem, credentials.server_key_pem)
    context.load_verify_locations(cadata=credentials.ca_cert_pem)
    context.verify_mode = ssl.CERT_REQUIRED
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    return context


def client_ssl_context(
    credentials: BuildCredentials, *, alpn_protocols: Sequence[str] = ("h2",)
) -> ssl.SSLContext:
    """A TLS client context that trusts only the build's CA, checks ``server_name`` and presents
    the client certificate; what a BuildKit client does with the same PEM files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=credentials.ca_cert_pem)
    _load_chain(context, credentials.client_cert_pem, credentials.client_key_pem)
    if alpn_protocols:
        context.set_alpn_protocols(list(alpn_protocols))
    return context


def _server_alt_names(server_name: str) -> list[x509.GeneralName]:
    if not isinstance(server_name, str):
        raise TypeError(f"server_name must be a str, got {type(server_name).__name__}")
    try:
        ip = ipaddress.ip_address(server_name)
    except ValueError:
        if not _HOST_NAME.fullmatch(server_name):
            raise ValueError(
                "server_name must be a DNS host name (letters, digits, '-', dots) or an IP address, "
                f"got {server_name!r:.80}"
            ) from None
        return [x509.DNSName(server_name), x509.IPAddress(_LOOPBACK_IP)]
    return [x509.IPAddress(address) for address in dict.fromkeys([ip, _LOOPBACK_IP])]


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: datetime.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
    )


def _leaf(
    common_name: str,
    ca_name: x509.Name,
    ca_key: ec.EllipticCurvePrivateKey,
    aki: x509.AuthorityKeyIdentifier,
    now: datetime.datetime,
    usage: x509.ObjectIdentifier,
    san: list[x509.GeneralName],
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    # A CN longer than 64 characters is invalid; the SAN is what clients check anyway.
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64])])
    builder = (
        _builder(subject, ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(aki, critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
    )
    return key, builder.sign(ca_key, hashes.SHA256())


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _load_chain(context: ssl.SSLContext, cert_pem: str, key_pem: str) -> None:
    """``load_cert_chain`` reads only files: write cert+key to a private temp file, load, delete."""
    fd, path = tempfile.mkstemp(prefix="depot-mtls-", suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(cert_pem + key_pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)
