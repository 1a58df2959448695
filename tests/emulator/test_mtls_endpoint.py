"""With --buildkit-endpoint, each lease's endpoint is an mTLS proxy in front of that BuildKit:
only the holder of the lease's client certificate gets through, and release closes it."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator

import pytest
from emulator_support import Rpc

from airflow_provider_depot._proto.depot.buildkit.v1 import buildkit_pb2
from airflow_provider_depot._proto.depot.cli.v1 import build_pb2 as cli_pb2
from airflow_provider_depot.emulator import run_emulator


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def fake_buildkit() -> Iterator[str]:
    """A plain TCP service standing in for BuildKit (it echoes)."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _dial(active, tmp_path, *, with_client_cert: bool) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=active.ca_cert.cert)
    if with_client_cert:
        pem = tmp_path / "client.pem"
        pem.write_text(active.cert.cert.cert + active.cert.key.key)
        context.load_cert_chain(pem)
    host, port = active.endpoint.removeprefix("tcp://").rsplit(":", 1)
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=active.server_name) as tls,
    ):
        tls.sendall(b"ping")
        return tls.recv(4)


def test_endpoint_is_an_mtls_proxy_to_the_configured_buildkit(fake_buildkit, tmp_path):
    with run_emulator(buildkit_endpoint=fake_buildkit, pending=0) as emu:
        project = emu.admin.create_project("p")
        build_id, token = emu.admin.create_build(project.project_id)
        rpc = Rpc(emu.url, token)
        try:
            (reply,) = rpc.server_stream(
                "depot.buildkit.v1.BuildKitService/GetEndpoint",
                buildkit_pb2.GetEndpointRequest(build_id=build_id),
            )
            active = reply.active
            assert active.endpoint != fake_buildkit
            assert _dial(active, tmp_path, with_client_cert=True) == b"ping"
            # Without the client certificate the proxy ends the TLS session (in TLS 1.3 the client
            # learns it on its first read): nothing reaches BuildKit, nothing comes back.
            try:
                echoed = _dial(active, tmp_path, with_client_cert=False)
            except (ssl.SSLError, ConnectionError):
                echoed = b""
            assert echoed == b""
            rpc(
                "depot.buildkit.v1.BuildKitService/ReleaseEndpoint",
                buildkit_pb2.ReleaseEndpointRequest(build_id=build_id),
            )
            for _ in range(100):  # the proxy closes on the server loop, right after the reply
                try:
                    _dial(active, tmp_path, with_client_cert=True)
                except (ConnectionError, ssl.SSLError, OSError):
                    break
            else:
                pytest.fail("the released endpoint still accepts connections")
        finally:
            rpc.close()


def test_plain_endpoint_is_handed_out_without_certificates(fake_buildkit):
    with run_emulator(buildkit_endpoint=fake_buildkit, buildkit_mtls=False, pending=0) as emu:
        project = emu.admin.create_project("p")
        build_id, token = emu.admin.create_build(project.project_id)
        rpc = Rpc(emu.url, token)
        try:
            reply = rpc(
                "depot.cli.v1.BuildService/GetBuildKitConnection",
                cli_pb2.GetBuildKitConnectionRequest(build_id=build_id),
            )
            assert not reply.active.HasField("cert") and not reply.active.HasField("ca_cert")
            host, port = reply.active.endpoint.removeprefix("tcp://").rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=10) as plain:
                plain.sendall(b"ping")
                assert plain.recv(4) == b"ping"
        finally:
            rpc.close()
