"""The BuildKit status tap, fed a real HTTP/2 conversation (both ends built with the h2 library)."""

from __future__ import annotations

import gzip
import struct

import h2.config
import h2.connection

from airflow_provider_depot._proto.moby.buildkit.v1 import status_pb2
from airflow_provider_depot.emulator.depot._status_tap import STATUS_PATH, StatusTap


def _grpc(message: status_pb2.StatusResponse, *, compress: bool = False) -> bytes:
    payload = message.SerializeToString()
    if compress:
        payload = gzip.compress(payload)
    return struct.pack(">BI", int(compress), len(payload)) + payload


def _status(name: str) -> status_pb2.StatusResponse:
    return status_pb2.StatusResponse(vertexes=[status_pb2.Vertex(digest=f"sha256:{name}", name=name)])


def _headers(path: bytes) -> list[tuple[bytes, bytes]]:
    return [
        (b":method", b"POST"),
        (b":scheme", b"http"),
        (b":authority", b"buildkit"),
        (b":path", path),
        (b"content-type", b"application/grpc"),
        (b"te", b"trailers"),
    ]


def test_tap_decodes_status_responses_of_status_calls_only():
    seen: list[status_pb2.StatusResponse] = []
    tap = StatusTap(seen.append)
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))

    def to_server() -> None:
        data = client.data_to_send()
        tap.from_client(data)
        server.receive_data(data)

    def to_client() -> None:
        data = server.data_to_send()
        tap.from_server(data)
        client.receive_data(data)

    client.initiate_connection()
    to_server()
    server.initiate_connection()
    to_client()
    to_server()
    solve = client.get_next_available_stream_id()
    client.send_headers(solve, _headers(b"/moby.buildkit.v1.Control/Solve"))
    status = client.get_next_available_stream_id()
    client.send_headers(status, _headers(STATUS_PATH), end_stream=False)
    client.send_data(status, _grpc(status_pb2.StatusResponse()), end_stream=True)
    to_server()
    server.send_headers(solve, [(b":status", b"200"), (b"content-type", b"application/grpc")])
    server.send_data(solve, _grpc(_status("not-a-status-call")))
    server.send_headers(status, [(b":status", b"200"), (b"content-type", b"application/grpc")])
    whole = _grpc(_status("one")) + _grpc(_status("two"), compress=True)
    server.send_data(status, whole[:7])  # a message split across DATA frames
    server.send_data(status, whole[7:])
    server.send_headers(status, [(b"grpc-status", b"0")], end_stream=True)
    to_client()
    assert [s.vertexes[0].name for s in seen] == ["one", "two"]
    assert tap.active


def test_tap_gives_up_quietly_on_garbage():
    tap = StatusTap(lambda status: None)
    tap.from_client(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not tap.active
    tap.from_server(b"\x00" * 100)  # ignored once off
