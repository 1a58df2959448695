"""A refused client stream is answered at once, while the client is still sending, as connect-go does.

The rest of the request is read and dropped, and the connection serves the next request: raw
HTTP/2 (the ``h2`` state machine) and raw HTTP/1.1 (``h11``) over sockets, so that the test, not a
client library, decides when the request ends.
"""

from __future__ import annotations

import json
import socket
from typing import NamedTuple

import h2.config
import h2.connection
import h2.events
import h11
import pytest

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot.connect._envelope import EnvelopeReader, encode_envelope
from airflow_provider_depot.emulator import EmulatorHandle

REPORT_HEALTH = "/depot.buildkit.v1.BuildKitService/ReportHealth"
REFUSAL = {"code": "unavailable", "message": "refused at once"}
HANG_GUARD = 30.0  # seconds a socket read may block: a reply that never comes fails, not hangs
LATE_BYTES = 256 * 1024  # sent after the reply: several times the HTTP/2 flow-control windows


class Health(NamedTuple):
    token: str  # the build's
    message: bytes  # one enveloped ReportHealthRequest
    rule_id: str  # the rule that refuses the first ReportHealth


@pytest.fixture
def health(emulator: EmulatorHandle, project) -> Health:
    build_id, token = emulator.admin.create_build(project.project_id)
    (rule_id,) = emulator.admin.add_faults(
        [{"method": "*/ReportHealth", "action": "error", "times": 1, **REFUSAL}]
    )
    message = buildkit_pb2.ReportHealthRequest(build_id=build_id, platform=buildkit_pb2.PLATFORM_AMD64)
    return Health(token, encode_envelope(message.SerializeToString()), rule_id)


def _audited(emulator: EmulatorHandle) -> list[tuple[str, str | None]]:
    return [(e["code"], e["fault"]) for e in emulator.admin.audit()]


def _headers(token: str) -> list[tuple[str, str]]:
    return [
        ("content-type", "application/connect+proto"),
        ("connect-protocol-version", "1"),
        ("authorization", f"Bearer {token}"),
    ]


def _end_of_stream(body: bytes) -> dict[str, object]:
    reader = EnvelopeReader()
    envelopes = list(reader.feed(body))
    assert reader.pending == 0 and envelopes and envelopes[-1].end_stream
    end: dict[str, object] = json.loads(envelopes[-1].payload)
    return end


def _connect(emulator: EmulatorHandle) -> socket.socket:
    host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=HANG_GUARD)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# -- HTTP/2 ------------------------------------------------------------------------------------


class H2Client:
    """h2c with prior knowledge; replies are collected per stream as the socket is read."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.sock = _connect(emulator)
        self.authority = emulator.url.removeprefix("http://")
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.status: dict[int, str] = {}
        self.body: dict[int, bytearray] = {}
        self.ended: set[int] = set()
        self._flush()

    def _flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def open(self, path: str, headers: list[tuple[str, str]], first: bytes, *, end: bool) -> int:
        stream_id = self.conn.get_next_available_stream_id()
        pseudo = [(":method", "POST"), (":scheme", "http"), (":authority", self.authority), (":path", path)]
        self.conn.send_headers(stream_id, pseudo + headers)
        self.body[stream_id] = bytearray()
        self.send(stream_id, first, end=end)
        return stream_id

    def send(self, stream_id: int, data: bytes, *, end: bool = False) -> None:
        """Send ``data`` as the flow-control windows allow, reading the peer's updates meanwhile."""
        view = memoryview(data)
        while view:
            size = min(self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size)
            if size <= 0:
                self._read()
                continue
            self.conn.send_data(stream_id, view[:size].tobytes())
            self._flush()
            view = view[size:]
        if end:
            self.conn.end_stream(stream_id)
            self._flush()

    def reply(self, stream_id: int) -> tuple[str, bytes]:
        """Read until the reply on ``stream_id`` has ended; its status and body."""
        while stream_id not in self.ended:
            self._read()
        return self.status[stream_id], bytes(self.body[stream_id])

    def _read(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the server closed the connection")
        for event in self.conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                self.status[event.stream_id] = dict(event.headers)[":status"]
            elif isinstance(event, h2.events.DataReceived):
                self.body[event.stream_id] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.ended.add(event.stream_id)
            elif isinstance(event, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                raise AssertionError(f"the server ended the stream or connection: {event}")
        self._flush()

    def close(self) -> None:
        self.sock.close()


def test_h2_refused_client_stream_is_answered_while_it_is_still_open(emulator, health):
    token, message = health.token, health.message
    client = H2Client(emulator)
    try:
        refused = client.open(REPORT_HEALTH, _headers(token), message, end=False)
        status, body = client.reply(refused)
        assert status == "200"
        assert _end_of_stream(body) == {"error": REFUSAL}
        assert _audited(emulator) == [("unavailable", health.rule_id)]  # recorded with the reply

        client.send(refused, message * (LATE_BYTES // len(message)))  # the client keeps sending
        meanwhile = client.open(REPORT_HEALTH, _headers(token), message, end=True)
        assert client.reply(meanwhile)[0] == "200"  # another stream of the connection works

        client.send(refused, message, end=True)
        status, body = client.reply(client.open(REPORT_HEALTH, _headers(token), message, end=True))
        assert (status, _end_of_stream(body)) == ("200", {})
    finally:
        client.close()
    assert _audited(emulator) == [("unavailable", health.rule_id), ("ok", None), ("ok", None)]


# -- HTTP/1.1 ----------------------------------------------------------------------------------


class H11Client:
    """One keep-alive HTTP/1.1 connection; request bodies are chunked."""

    def __init__(self, emulator: EmulatorHandle) -> None:
        self.sock = _connect(emulator)
        self.host = emulator.url.removeprefix("http://")
        self.conn = h11.Connection(h11.CLIENT)

    def _send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            self.sock.sendall(data)

    def start(self, path: str, headers: list[tuple[str, str]], first: bytes) -> None:
        fields = [("host", self.host), ("transfer-encoding", "chunked"), *headers]
        self._send(h11.Request(method="POST", target=path, headers=fields))
        self.send(first)

    def send(self, data: bytes) -> None:
        self._send(h11.Data(data=data))

    def end(self) -> None:
        self._send(h11.EndOfMessage())

    def reply(self) -> tuple[int, bytes]:
        """Read a whole reply; its status and body."""
        status, body = 0, bytearray()
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(self.sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, bytes(body)
            else:
                raise AssertionError(f"unexpected {event!r}")

    def next_cycle(self) -> None:
        """Get ready for the next request (h11 refuses when either side asked to close)."""
        self.conn.start_next_cycle()

    def close(self) -> None:
        self.sock.close()


def test_http11_refused_client_stream_is_answered_before_its_body_ends(emulator, health):
    token, message = health.token, health.message
    client = H11Client(emulator)
    try:
        client.start(REPORT_HEALTH, _headers(token), message)
        status, body = client.reply()
        assert client.conn.our_state is h11.SEND_BODY  # the request is still going
        assert status == 200
        assert _end_of_stream(body) == {"error": REFUSAL}
        assert _audited(emulator) == [("unavailable", health.rule_id)]  # recorded with the reply

        for _ in range(LATE_BYTES // len(message)):  # the client keeps sending, message by message
            client.send(message)
        client.end()
        for _ in range(2):  # keep-alive: the next requests go over the same connection
            client.next_cycle()
            client.start(REPORT_HEALTH, _headers(token), message)
            client.end()
            status, body = client.reply()
            assert (status, _end_of_stream(body)) == (200, {})
    finally:
        client.close()
    assert _audited(emulator) == [("unavailable", health.rule_id), ("ok", None), ("ok", None)]
