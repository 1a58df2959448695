"""A fast local Connect server for client benchmarks: one unary RPC, answered with fixed bytes.

The server is a Node.js process (``node:http`` for HTTP/1.1 keep-alive and ``node:http2`` for
h2c, prior knowledge, on two ports of one process), so it neither shares the benchmark's GIL
nor costs much CPU: it compares the request with the bytes it expects and writes a reply that
was serialized once, in Python, before it started. A request that differs in path, method,
content type, protocol version, token or body gets a Connect error instead, and is counted:
a benchmark checks ``stats()["rejected"] == 0`` so that it never times errors.

    with FastConnectServer(spec_path, request_bytes, reply_bytes, token) as server:
        server.url("http1"), server.url("h2c"), server.stats()
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import urllib.request
from types import TracebackType
from typing import Any, Literal

Listener = Literal["http1", "h2c"]

STATS_PATH = "/_bench/stats"  # GET on the HTTP/1.1 port: {"answered", "rejected", "cpu_us"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, always direct

_SERVER_JS = r"""
import http from "node:http";
import http2 from "node:http2";

const config = JSON.parse(process.env.FAST_CONNECT_SERVER);
const reply = Buffer.from(config.reply, "base64");
const expected = Buffer.from(config.request, "base64");
const authorization = `Bearer ${config.token}`;
const replyHeaders = { "content-type": "application/proto", "content-length": reply.length };
let answered = 0;
let rejected = 0;

// null when the request is the expected GetProject call, else [httpStatus, connectCode, message].
function problem(method, path, headers, body) {
  if (method !== "POST" || path !== config.path) return [404, "unimplemented", `no route ${method} ${path}`];
  if (headers["content-type"] !== "application/proto") return [415, "internal", "not application/proto"];
  if (headers["connect-protocol-version"] !== "1") return [400, "invalid_argument", "not Connect protocol 1"];
  if (headers["authorization"] !== authorization) return [401, "unauthenticated", "wrong token"];
  if (!body.equals(expected)) return [400, "invalid_argument", "unexpected request message"];
  return null;
}

function errorBody(found) {
  rejected++;
  return Buffer.from(JSON.stringify({ code: found[1], message: found[2] }));
}

function stats() {
  const cpu = process.cpuUsage();
  return Buffer.from(JSON.stringify({ answered, rejected, cpu_us: cpu.user + cpu.system }));
}

const http1 = http.createServer({ keepAliveTimeout: 600_000, requestTimeout: 0 }, (req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    if (req.method === "GET" && req.url === config.statsPath) {
      res.writeHead(200, { "content-type": "application/json" }).end(stats());
      return;
    }
    const found = problem(req.method, req.url, req.headers, Buffer.concat(chunks));
    if (found === null) {
      answered++;
      res.writeHead(200, replyHeaders).end(reply);
    } else {
      res.writeHead(found[0], { "content-type": "application/json" }).end(errorBody(found));
    }
  });
});

const h2c = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
h2c.on("stream", (stream, headers) => {
  const chunks = [];
  stream.on("data", (chunk) => chunks.push(chunk));
  stream.on("end", () => {
    const found = problem(headers[":method"], headers[":path"], headers, Buffer.concat(chunks));
    if (found === null) {
      answered++;
      stream.respond({ ":status": 200, ...replyHeaders });
      stream.end(reply);
    } else {
      stream.respond({ ":status": found[0], "content-type": "application/json" });
      stream.end(errorBody(found));
    }
  });
});
h2c.on("sessionError", () => {});

// The parent holds our stdin: when it goes away, so do we.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
http1.listen(0, "127.0.0.1", () => {
  h2c.listen(0, "127.0.0.1", () => {
    const ports = { http1: http1.address().port, h2c: h2c.address().port };
    process.stdout.write(JSON.stringify({ ports, node_version: process.version }) + "\n");
  });
});
"""


class FastConnectServer:
    """The Node server above as a context manager; ``url(listener)`` is its base URL."""

    def __init__(self, path: str, request: bytes, reply: bytes, token: str) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is needed for the fast Connect server (apt-get install -y nodejs)")
        config = {
            "path": path,
            "statsPath": STATS_PATH,
            "token": token,
            "request": base64.b64encode(request).decode(),
            "reply": base64.b64encode(reply).decode(),
        }
        self._proc = subprocess.Popen(
            [node, "--input-type=module", "-e", _SERVER_JS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={"FAST_CONNECT_SERVER": json.dumps(config), "PATH": ""},
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        try:
            hello = json.loads(line)
        except ValueError:
            self.close()
            raise RuntimeError(f"the fast Connect server did not start (it printed {line!r})") from None
        self._ports: dict[str, int] = hello["ports"]
        self.node_version: str = hello["node_version"]
        self.node = node  # the node binary, for clients run beside the server

    def url(self, listener: Listener) -> str:
        return f"http://127.0.0.1:{self._ports[listener]}"

    def stats(self) -> dict[str, Any]:
        """Requests answered and rejected so far, and the server's CPU time in microseconds."""
        with _NO_PROXY.open(self.url("http1") + STATS_PATH, timeout=10) as response:
            result: dict[str, Any] = json.load(response)
        return result

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> FastConnectServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
