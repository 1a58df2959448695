"""The byte proxies against real loopback servers: mTLS admission, piping, half-close, shutdown."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from airflow_provider_depot.emulator._certs import (
    BuildCredentials,
    client_ssl_context,
    issue_build_credentials,
)
from airflow_provider_depot.emulator._mtls_proxy import ByteProxy, MTLSProxy, parse_tcp_endpoint

SERVER_NAME = "buildkit-proxy.depot.test"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Upstream:
    """A loopback TCP server that counts the connections it accepted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.accepted = 0
        self.closed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            await self.handler(reader, writer)
        finally:
            writer.close()
            self.closed.set()

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"tcp://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def reverse_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers only once the client half-closed: the whole request, reversed."""
    writer.write((await reader.read())[::-1])
    await writer.drain()


async def start_upstream(handler: Handler) -> Upstream:
    upstream = Upstream(handler)
    upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
    return upstream


@pytest.fixture
async def echo_upstream() -> AsyncIterator[Upstream]:
    upstream = await start_upstream(echo)
    yield upstream
    assert upstream.server is not None
    upstream.server.close()
    await upstream.server.wait_closed()


@pytest.fixture(scope="module")
def creds() -> BuildCredentials:
    return issue_build_credentials(SERVER_NAME)


async def _tls_connect(
    port: int, context: ssl.SSLContext
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=SERVER_NAME)


async def _assert_closed_by_proxy(reader: asyncio.StreamReader) -> None:
    """The proxy ended the connection: EOF, or a reset/TLS error where it aborted."""
    try:
        data = await asyncio.wait_for(reader.read(), 5)
    except (ConnectionError, ssl.SSLError):
        return
    assert data == b""


async def _roundtrip_refused(port: int, context: ssl.SSLContext) -> None:
    """A client the proxy must refuse: the handshake fails, or (TLS 1.3, where the server checks
    the client certificate after the client's handshake is done) the first read does."""
    try:
        reader, writer = await _tls_connect(port, context)
    except (ssl.SSLError, ConnectionError):
        return
    try:
        writer.write(b"ping")
        await writer.drain()
        assert await reader.read(4) == b""
    except (ssl.SSLError, ConnectionError):
        pass
    finally:
        writer.close()


async def test_mtls_client_is_piped_to_upstream_with_h2(
    echo_upstream: Upstream, creds: BuildCredentials
) -> None:
    payload = os.urandom(3 * 1024 * 1024)
    async with MTLSProxy(creds, echo_upstream.endpoint) as proxy:
        assert proxy.endpoint == f"tcp://127.0.0.1:{proxy.port}"
        reader, writer = await _tls_connect(proxy.port, client_ssl_context(creds))
        assert writer.get_extra_info("ssl_object").selected_alpn_protocol() == "h2"
        writer.write(payload)
        await writer.drain()
        assert await reader.readexactly(len(payload)) == payload
        writer.close()
        await writer.wait_closed()
    assert echo_upstream.accepted == 1


async def test_client_without_certificate_never_reaches_upstream(
    echo_upstream: Upstream, creds: BuildCredentials
) -> None:
    no_cert = ssl.create_default_context(cadata=creds.ca_cert_pem)
    async with MTLSProxy(creds, echo_upstream.endpoint) as proxy:
        await _roundtrip_refused(proxy.port, no_cert)
        assert proxy.active_connections == 0
    assert echo_upstream.accepted == 0


async def test_client_certificate_of_another_build_never_reaches_upstream(
    echo_upstream: Upstream, creds: BuildCredentials, tmp_path: Path
) -> None:
    other = issue_build_credentials(SERVER_NAME)
    (tmp_path / "other.pem").write_text(other.client_cert_pem + other.client_key_pem)
    foreign_cert = ssl.create_default_context(cadata=creds.ca_cert_pem)  # trusts the right server
    foreign_cert.load_cert_chain(tmp_path / "other.pem")
    async with MTLSProxy(creds, echo_upstream.endpoint) as proxy:
        await _roundtrip_refused(proxy.port, foreign_cert)
        # the same client with the right build's certificate gets through
        reader, writer = await _tls_connect(proxy.port, client_ssl_context(creds))
        writer.write(b"ok?")
        assert await reader.readexactly(3) == b"ok?"
        writer.close()
    assert echo_upstream.accepted == 1


@pytest.mark.parametrize("mismatch", ["other CA", "other name"])
async def test_client_refuses_a_server_it_cannot_verify(
    echo_upstream: Upstream, creds: BuildCredentials, mismatch: str
) -> None:
    if mismatch == "other CA":
        context, name = client_ssl_context(issue_build_credentials(SERVER_NAME)), SERVER_NAME
    else:
        context, name = client_ssl_context(creds), "not-the-builder.depot.test"
    async with MTLSProxy(creds, echo_upstream.endpoint) as proxy:
        with pytest.raises(ssl.SSLCertVerificationError):
            await asyncio.open_connection("127.0.0.1", proxy.port, ssl=context, server_hostname=name)
    assert echo_upstream.accepted == 0


async def test_plain_proxy_half_close_lets_the_reply_come_back() -> None:
    upstream = await start_upstream(reverse_after_eof)
    host, port = parse_tcp_endpoint(upstream.endpoint)

    async def open_upstream() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    async with ByteProxy(open_upstream) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"abcdef")
        writer.write_eof()
        assert await reader.read() == b"fedcba"
        writer.close()
    assert upstream.server is not None
    upstream.server.close()
    await upstream.server.wait_closed()


async def test_stop_closes_live_connections_on_both_sides(
    echo_upstream: Upstream, creds: BuildCredentials
) -> None:
    proxy = MTLSProxy(creds, echo_upstream.endpoint)
    await proxy.start()
    reader, writer = await _tls_connect(proxy.port, client_ssl_context(creds))
    writer.write(b"x")
    assert await reader.readexactly(1) == b"x"
    assert proxy.active_connections == 1
    await proxy.stop()
    assert proxy.active_connections == 0
    await asyncio.wait_for(echo_upstream.closed.wait(), 5)  # upstream saw its side end
    await _assert_closed_by_proxy(reader)
    writer.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", proxy.port)


async def test_unreachable_upstream_closes_the_client_and_the_proxy_keeps_serving(
    creds: BuildCredentials,
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    async with MTLSProxy(creds, f"tcp://127.0.0.1:{dead_port}") as proxy:
        for _ in range(2):
            reader, writer = await _tls_connect(proxy.port, client_ssl_context(creds))
            await _assert_closed_by_proxy(reader)
            writer.close()


def test_threaded_proxy_serves_a_blocking_client_and_stops_its_thread(creds: BuildCredentials) -> None:
    received = []

    def upstream_server(listener: socket.socket) -> None:
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                received.append(data)
                conn.sendall(data.upper())

    with socket.create_server(("127.0.0.1", 0)) as listener:
        server_thread = threading.Thread(target=upstream_server, args=(listener,), daemon=True)
        server_thread.start()
        threads_before = set(threading.enumerate())
        with MTLSProxy(creds, f"127.0.0.1:{listener.getsockname()[1]}") as proxy:
            assert len(set(threading.enumerate()) - threads_before) == 1
            context = client_ssl_context(creds)
            with (
                socket.create_connection(("127.0.0.1", proxy.port)) as raw,
                context.wrap_socket(raw, server_hostname=SERVER_NAME) as tls,
            ):
                tls.sendall(b"hello buildkit")
                assert tls.recv(100) == b"HELLO BUILDKIT"
            port = proxy.port
        server_thread.join(5)
    assert set(threading.enumerate()) <= threads_before
    assert b"".join(received) == b"hello buildkit"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:1234", ("127.0.0.1", 1234)),
        ("127.0.0.1:1", ("127.0.0.1", 1)),
        ("tcp://[::1]:65535", ("::1", 65535)),
        ("tcp://builder.depot.test:443", ("builder.depot.test", 443)),
    ],
)
def test_parse_tcp_endpoint(text: str, expected: tuple[str, int]) -> None:
    assert parse_tcp_endpoint(text) == expected


@pytest.mark.parametrize(
    "bad", ["", "tcp://", "tcp://host", "tcp://host:0", "tcp://host:70000", "tcp://:80", "unix:x"]
)
def test_bad_upstream_is_refused_by_name(creds: BuildCredentials, bad: str) -> None:
    with pytest.raises(ValueError, match="upstream"):
        MTLSProxy(creds, bad)


def test_bad_port_is_refused_by_name(creds: BuildCredentials) -> None:
    with pytest.raises(ValueError, match="port"):
        MTLSProxy(creds, "tcp://127.0.0.1:1", port=70000)
