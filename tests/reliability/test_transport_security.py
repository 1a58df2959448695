"""Transport security through the operators and the ``depot_default`` connection.

- The emulator behind TLS with a CA of its own (the emulator's ASGI app stays plain; a
  ``ByteProxy`` with a server-only TLS context terminates TLS in front of it): without the CA the
  call fails and nothing reaches the API, with the connection extra ``ca_bundle`` it passes.
- ``http://`` to a host that is not this machine is refused before any connection is attempted.
- Redirects are never followed, so the token never goes to a second server.
"""

from __future__ import annotations

import asyncio
import http.server
import socket
import ssl
import threading
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reliability_support import Emulators, Evidence, rpc_and_code, run_task
from support.operator_support import Depot

from airflow_provider_depot.emulator._certs import issue_build_credentials
from airflow_provider_depot.emulator._mtls_proxy import ByteProxy, Streams
from airflow_provider_depot.operators.buildkit import DepotBuildKitOperator
from airflow_provider_depot.operators.projects import DepotGetProjectOperator


@dataclass
class TlsDepot:
    depot: Depot
    url: str  # https://127.0.0.1:PORT
    ca_bundle: str
    other_ca_bundle: str  # a CA that did not sign the server's certificate


def _pem_files(folder: Path, name: str) -> dict[str, str]:
    credentials = issue_build_credentials("localhost")  # SAN: localhost and 127.0.0.1
    files = {
        "ca": credentials.ca_cert_pem,
        "chain": credentials.server_cert_pem + credentials.server_key_pem,
    }
    for kind, pem in files.items():
        (folder / f"{name}-{kind}.pem").write_text(pem)
    return {kind: str(folder / f"{name}-{kind}.pem") for kind in files}


@pytest.fixture
def tls_depot(emulators: Emulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TlsDepot]:
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(variable, raising=False)
    depot = emulators.start(pending=0)
    server, other = _pem_files(tmp_path, "server"), _pem_files(tmp_path, "other")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server["chain"])
    context.set_alpn_protocols(["h2", "http/1.1"])  # whichever the client speaks goes on to hypercorn
    host, port = depot.emulator.url.removeprefix("http://").rsplit(":", 1)

    def open_upstream() -> Awaitable[Streams]:
        return asyncio.open_connection(host, int(port))

    with ByteProxy(open_upstream, ssl_context=context) as proxy:
        yield TlsDepot(depot, f"https://127.0.0.1:{proxy.port}", server["ca"], other["ca"])


@pytest.mark.parametrize("trust", ["system store", "another CA"])
def test_an_untrusted_certificate_fails_the_call_before_it_reaches_the_api(
    tls_depot: TlsDepot, emulators: Emulators, evidence: Evidence, trust: str
) -> None:
    extra = {"ca_bundle": tls_depot.other_ca_bundle} if trust == "another CA" else {}
    emulators.connect(tls_depot.url, **extra)
    since = tls_depot.depot.mark()
    project_id = tls_depot.depot.project()

    run = run_task(DepotGetProjectOperator(task_id="get", project_id=project_id), evidence)

    assert run.error is not None
    assert rpc_and_code(str(run.error)) == ("ProjectService/GetProject", "unavailable")
    assert "CERTIFICATE_VERIFY_FAILED" in str(run.error)
    assert tls_depot.depot.calls(since) == {}


def test_ca_bundle_makes_every_kind_of_call_work_over_tls(
    tls_depot: TlsDepot, emulators: Emulators, evidence: Evidence
) -> None:
    """A unary call, and the BuildKit session's streams (HTTP/2 through ALPN)."""
    emulators.connect(tls_depot.url, ca_bundle=tls_depot.ca_bundle)
    project_id = tls_depot.depot.project()
    since = tls_depot.depot.mark()

    got = run_task(DepotGetProjectOperator(task_id="get", project_id=project_id), evidence)
    built = run_task(
        DepotBuildKitOperator(
            task_id="build", project_id=project_id, bash_command="sleep 1", health_interval=0.2
        ),
        evidence,
    )

    assert got.error is None and got.result["project_id"] == project_id
    assert built.error is None and built.result["exit_code"] == 0
    calls = tls_depot.depot.calls(since)
    assert {
        "GetProject",
        "CreateBuild",
        "GetEndpoint",
        "ReportHealth",
        "ReleaseEndpoint",
        "FinishBuild",
    } <= set(calls)


class _Listener:
    """A TCP listener on every interface that only counts the connections it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("0.0.0.0", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self.sock.close()


def _non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent to find it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only the routing table is consulted
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.mark.parametrize("where", ["this machine's own non-loopback address", "a name that does not resolve"])
def test_plain_http_to_a_remote_host_is_refused_without_connecting(
    emulators: Emulators, evidence: Evidence, where: str
) -> None:
    listener = _Listener()
    try:
        if where.startswith("this machine"):
            address = _non_loopback_address()
            assert address is not None, "this machine has no non-loopback IPv4 address to test with"
            url = f"http://{address}:{listener.port}"
        else:
            # Had a connection been attempted, it would fail on name resolution (unavailable).
            url = "http://depot-api.reliability.invalid"
        emulators.connect(url)
        runs = [
            run_task(DepotGetProjectOperator(task_id="get", project_id="proj1"), evidence),
            run_task(
                DepotBuildKitOperator(task_id="build", project_id="proj1", bash_command="true"), evidence
            ),
        ]
    finally:
        listener.close()
    for run in runs:
        assert isinstance(run.error, ValueError), run.message
        assert f"base_url {url!r} is plain http:// to a non-loopback host" in str(run.error)
    assert listener.accepted == 0


@dataclass
class _Recorder:
    """What an HTTP server saw: one (path, Authorization header or None) per request."""

    requests: list[tuple[str, str | None]] = field(default_factory=list)


def _serve(recorder: _Recorder, location: str | None) -> http.server.ThreadingHTTPServer:
    """An HTTP/1.1 server on 127.0.0.1 that records requests. With ``location`` (a URL prefix, ""
    for this server itself) it answers 307 to ``{location}/moved{path}``, else 404."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            recorder.requests.append((self.path, self.headers.get("authorization")))
            if location is not None and not self.path.startswith("/moved"):
                self.send_response(307)
                self.send_header("location", f"{location}/moved{self.path}")
            else:
                self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("target", ["another server", "the same server"])
def test_redirects_are_not_followed_so_no_second_request_carries_the_token(
    emulators: Emulators, evidence: Evidence, target: str
) -> None:
    elsewhere, redirecting = _Recorder(), _Recorder()
    other = _serve(elsewhere, location=None)
    location = f"http://127.0.0.1:{other.server_address[1]}" if target == "another server" else ""
    server = _serve(redirecting, location=location)
    try:
        emulators.connect(f"http://127.0.0.1:{server.server_address[1]}", http2=False)
        run = run_task(DepotGetProjectOperator(task_id="get", project_id="proj1"), evidence)
    finally:
        for running in (server, other):
            running.shutdown()
            running.server_close()

    assert run.error is not None
    assert rpc_and_code(str(run.error)) is not None, run.message
    assert "HTTP 307" in str(run.error)
    # The one request is the operator's own (with its token); nothing followed the Location.
    assert [path for path, _ in redirecting.requests] == ["/depot.core.v1.ProjectService/GetProject"]
    assert [auth == f"Bearer {emulators.org_token}" for _, auth in redirecting.requests] == [True]
    assert elsewhere.requests == []
