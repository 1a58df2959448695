"""Stopping the emulator while a client stream is open and its handler is reading it.

In-flight requests get the graceful timeout, then their connections are closed and the emulator
stops, on HTTP/2 (h2c) as on HTTP/1.1 (chunked), and also when the client reads nothing of a reply
that the server cannot finish writing. The clients are raw sockets (``h2``, ``h11``) so that the
request stays open for as long as the test wants.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

import h2.config
import h2.connection
import h11
import pytest

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot.connect._envelope import encode_envelope
from airflow_provider_depot.emulator import run_emulator

REPORT_HEALTH = "/depot.buildkit.v1.BuildKitService/ReportHealth"
HANG_GUARD = 30.0  # seconds a socket read may block: a server that never closes fails, not hangs
POLL = 0.01
BIG_STATE_IMAGES = 50_000  # a state document of megabytes: more than the sockets between hold


def _open_h2(sock: socket.socket, authority: str, headers: list[tuple[str, str]], message: bytes) -> None:
    """h2c with prior knowledge: one request stream with one message, left open."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(header_encoding="utf-8"))
    conn.initiate_connection()
    pseudo = [(":method", "POST"), (":scheme", "http"), (":authority", authority), (":path", REPORT_HEALTH)]
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(stream_id, pseudo + headers)
    conn.send_data(stream_id, message)
    sock.sendall(conn.data_to_send())


def _open_h11(sock: socket.socket, authority: str, headers: list[tuple[str, str]], message: bytes) -> None:
    """A chunked HTTP/1.1 request with one message, left open."""
    conn = h11.Connection(h11.CLIENT)
    fields = [("host", authority), ("transfer-encoding", "chunked"), *headers]
    sock.sendall(conn.send(h11.Request(method="POST", target=REPORT_HEALTH, headers=fields)))
    sock.sendall(conn.send(h11.Data(data=message)))


def _read_until_closed(sock: socket.socket) -> None:
    """Read (and drop) what the server sends until it closes the connection."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass  # closed with an abort: closed all the same


@pytest.mark.parametrize("open_stream", [_open_h2, _open_h11], ids=["h2c", "http1.1"])
def test_stop_closes_an_open_client_stream(
    open_stream: Callable[[socket.socket, str, list[tuple[str, str]], bytes], None],
) -> None:
    with contextlib.ExitStack() as sockets:
        with run_emulator(pending=0) as emu:
            project = emu.admin.create_project("app")
            build_id, token = emu.admin.create_build(project.project_id)
            created = emu.admin.build(build_id).last_health
            emu.clock.advance(1)  # so that the handler's health report shows
            message = buildkit_pb2.ReportHealthRequest(
                build_id=build_id, platform=buildkit_pb2.PLATFORM_AMD64
            )
            headers = [
                ("content-type", "application/connect+proto"),
                ("connect-protocol-version", "1"),
                ("authorization", f"Bearer {token}"),
            ]
            authority = emu.url.removeprefix("http://")
            host, port = authority.rsplit(":", 1)
            sock = sockets.enter_context(socket.create_connection((host, int(port)), timeout=HANG_GUARD))
            open_stream(sock, authority, headers, encode_envelope(message.SerializeToString()))
            while emu.admin.build(build_id).last_health == created:  # the handler has not read it yet
                time.sleep(POLL)
        # The block's end stopped the emulator with the stream still open, and did not raise.
        _read_until_closed(sock)  # a socket.timeout if the server left the connection open


def test_stop_aborts_a_connection_whose_client_does_not_read() -> None:
    with contextlib.ExitStack() as sockets:
        with run_emulator(pending=0) as emu:
            project = emu.admin.create_project("app")
            emu.admin.add_synthetic_images(project.project_id, BIG_STATE_IMAGES)
            authority = emu.url.removeprefix("http://")
            host, port = authority.rsplit(":", 1)
            sock = sockets.enter_context(socket.socket())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the server's writes stall soon
            sock.settimeout(HANG_GUARD)
            sock.connect((host, int(port)))
            sock.sendall(f"GET /_emulator/state HTTP/1.1\r\nhost: {authority}\r\n\r\n".encode())
            assert sock.recv(1) == b"H"  # the reply has begun; the client reads no more of it
        _read_until_closed(sock)
