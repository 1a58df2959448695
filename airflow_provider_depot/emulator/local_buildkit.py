"""A real BuildKit on this machine: a private dockerd whose embedded BuildKit is made reachable
as a plain ``tcp://127.0.0.1:PORT`` endpoint, for tests and the demo.

No package here ships ``buildkitd``, but Debian's ``docker.io`` dockerd embeds BuildKit and serves
its Control API behind the Docker API call ``POST /grpc`` upgraded to ``h2c``. ``LocalBuildKit``
starts a dockerd of its own (temp data root, exec root, socket and pid file; no iptables, no
bridge, so it does not touch the host's networking), then runs a ``ByteProxy`` that performs that
upgrade on dockerd's socket for every TCP connection and pipes the HTTP/2 bytes on. Any BuildKit
client (``depot build``, ``buildctl``, ``docker buildx`` with the remote driver) can use the
endpoint; wrap it in an ``MTLSProxy`` for the mutual-TLS endpoint Depot hands out.

Limits of dockerd 20.10 (bookworm): only ``FROM scratch`` or local bases (nothing can be pulled
here), ``RUN`` steps need ``--network none``, exporters are ``local``, ``tar`` and ``moby``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from airflow_provider_depot.emulator._mtls_proxy import ByteProxy, Streams

__all__ = ["LocalBuildKit", "LocalBuildKitError", "buildkit_unavailable_reason"]

_UPGRADE_REQUEST = (
    b"POST /grpc HTTP/1.1\r\n"
    b"Host: dockerd\r\n"
    b"Connection: Upgrade\r\n"
    b"Upgrade: h2c\r\n"
    b"Content-Length: 0\r\n"
    b"\r\n"
)
_UPGRADE_TIMEOUT = 10.0
_STOP_TIMEOUT = 20.0
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes; keep a margin
_LOG_TAIL = 4000
_MNT_DETACH = 2


class LocalBuildKitError(RuntimeError):
    """dockerd could not be started or reached; the message ends with the tail of its log."""


def buildkit_unavailable_reason(dockerd: str | None = None) -> str | None:
    """Why ``LocalBuildKit`` cannot run here, or None when it can (as far as can be told
    without starting it). ``scripts/install_build_tools.sh`` installs what is missing."""
    if not sys.platform.startswith("linux"):
        return f"dockerd needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "dockerd needs root (it mounts file systems); run as root"
    if _find_dockerd(dockerd) is None:
        return "no dockerd binary: install Debian's docker.io (scripts/install_build_tools.sh)"
    if shutil.which("containerd") is None:
        return "no containerd binary (a dependency of Debian's docker.io)"
    return None


class LocalBuildKit:
    """Context manager: a private dockerd plus the ``/grpc`` upgrade proxy in front of it.

    Inside the ``with`` block, ``endpoint`` is ``tcp://127.0.0.1:PORT`` and ``docker_host`` is
    dockerd's ``unix://`` socket. Leaving it (also on an exception) stops the proxy and dockerd,
    kills any process dockerd left behind, unmounts what it mounted and removes the temp dir.
    """

    def __init__(self, *, dockerd: str | None = None, port: int = 0, startup_timeout: float = 60.0) -> None:
        if startup_timeout <= 0:
            raise ValueError(f"startup_timeout must be positive, got {startup_timeout!r}")
        self._dockerd = dockerd
        self._port = port
        self._startup_timeout = startup_timeout
        self._root: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._proxy: ByteProxy | None = None
        self._log_file: Path | None = None
        self.dockerd_version = ""

    @property
    def endpoint(self) -> str:
        """The plain BuildKit endpoint, ``tcp://127.0.0.1:PORT``."""
        return self._running_proxy().endpoint

    @property
    def port(self) -> int:
        return self._running_proxy().port

    @property
    def docker_host(self) -> str:
        """dockerd's own API socket, as a ``DOCKER_HOST`` value."""
        self._running_proxy()
        return f"unix://{self._socket_path}"

    def start(self) -> None:
        reason = buildkit_unavailable_reason(self._dockerd)
        if reason is not None:
            raise LocalBuildKitError(f"cannot start a local BuildKit: {reason}")
        if self._root is not None:
            raise RuntimeError("LocalBuildKit is already started")
        self._root = Path(tempfile.mkdtemp(prefix="depot-buildkit-"))
        try:
            if len(str(self._socket_path)) > _SOCKET_PATH_MAX:
                raise LocalBuildKitError(
                    f"temp dir path too long for a unix socket: {self._root} (set TMPDIR shorter)"
                )
            self._start_dockerd()
            self._wait_for_dockerd()
            socket_path = str(self._socket_path)

            async def open_upstream() -> Streams:
                return await open_dockerd_grpc(socket_path)

            proxy = ByteProxy(open_upstream, port=self._port)
            proxy.start_in_thread()
            self._proxy = proxy
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop everything started; safe to call more than once and after a failed start."""
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.stop_in_thread()
        process, self._process = self._process, None
        if process is not None:
            _stop_process_tree(process)
        root, self._root = self._root, None
        if root is not None:
            _unmount_below(root)
            shutil.rmtree(root, ignore_errors=True)

    def __enter__(self) -> LocalBuildKit:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def _socket_path(self) -> Path:
        assert self._root is not None
        return self._root / "docker.sock"

    def _running_proxy(self) -> ByteProxy:
        if self._proxy is None:
            raise RuntimeError("LocalBuildKit is not started")
        return self._proxy

    def _start_dockerd(self) -> None:
        assert self._root is not None
        dockerd = _find_dockerd(self._dockerd)
        assert dockerd is not None  # checked by buildkit_unavailable_reason
        config = self._root / "daemon.json"
        # Not /etc/docker/daemon.json: nothing of the host's config. dockerd < 23 also keeps an
        # identity key, by default in /etc/docker; this one's stays in the temp dir.
        settings = (
            {"deprecated-key-path": str(self._root / "key.json")} if _major_version(dockerd) < 23 else {}
        )
        config.write_text(json.dumps(settings))
        self._log_file = self._root / "dockerd.log"
        command = [
            dockerd,
            f"--config-file={config}",
            f"--data-root={self._root / 'data'}",
            f"--exec-root={self._root / 'exec'}",
            f"--host=unix://{self._socket_path}",
            f"--pidfile={self._root / 'dockerd.pid'}",
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
        ]

        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_") and k != "NOTIFY_SOCKET"}
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        with self._log_file.open("wb") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def _wait_for_dockerd(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._process.poll() is not None:
                raise LocalBuildKitError(
                    f"dockerd exited with status {self._process.returncode}" + self._log_tail()
                )
            try:
                self.dockerd_version = str(_docker_api_get(self._socket_path, "/version")["Version"])
                return
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                if time.monotonic() > deadline:
                    raise LocalBuildKitError(
                        f"dockerd did not answer within {self._startup_timeout:g} s" + self._log_tail()
                    ) from None
                time.sleep(0.05)

    def _log_tail(self) -> str:
        if self._log_file is None or not self._log_file.exists():
            return ""
        text = self._log_file.read_text(errors="replace")[-_LOG_TAIL:]
        return f"\n--- dockerd log (tail) ---\n{text}"


async def open_dockerd_grpc(socket_path: str) -> Streams:
    """Open dockerd's socket and upgrade ``POST /grpc`` to h2c; the streams then carry BuildKit's
    gRPC. Bytes dockerd sends right after the 101 stay buffered in the returned reader."""
    reader, writer = await asyncio.open_unix_connection(socket_path)
    try:
        writer.write(_UPGRADE_REQUEST)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _UPGRADE_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError) as exc:
        writer.close()
        raise ConnectionError(f"dockerd did not answer the /grpc upgrade: {exc!r}") from None
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    if status_line.split(" ")[1:2] != ["101"]:
        writer.close()
        raise ConnectionError(f"dockerd refused the /grpc upgrade: {status_line}")
    return reader, writer


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: Path) -> None:
        super().__init__("dockerd", timeout=5)
        self._socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(str(self._socket_path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _docker_api_get(socket_path: Path, path: str) -> dict[str, object]:
    connection = _UnixHTTPConnection(socket_path)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise ValueError(f"GET {path}: HTTP {response.status}")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError(f"GET {path}: not a JSON object")
        return data
    finally:
        connection.close()


def _find_dockerd(dockerd: str | None) -> str | None:
    if dockerd is not None:
        return dockerd if os.access(dockerd, os.X_OK) else None
    return shutil.which("dockerd") or next(
        (p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.access(p, os.X_OK)), None
    )


def _major_version(dockerd: str) -> int:
    """dockerd's major version from ``dockerd --version`` ("Docker version 20.10.24+dfsg1, ...")."""
    output = subprocess.run([dockerd, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"version (\d+)\.", output)
    return int(match.group(1)) if match else 0


def _stop_process_tree(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM dockerd (it stops its containerd), then SIGKILL whatever of its tree is left."""
    tree = _descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid, started in tree:
        if _process_start_time(pid) == started:  # still the same process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[tuple[int, str]]:
    """Every live descendant of ``pid`` with its start time, from /proc. Taken before dockerd
    stops, since what it leaves behind is re-parented and no longer found by parentage."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append((int(entry.name), fields[19]))
    found: list[tuple[int, str]] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child[0])
    return found


def _process_start_time(pid: int) -> str | None:
    fields = _stat_fields(pid)
    return None if fields is None else fields[19]


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat after the ``(comm)`` field (which may hold spaces): state, ppid, ...;
    index 19 is the start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def _unmount_below(root: Path) -> None:
    """Detach every mount at or below ``root`` (dockerd bind-mounts its data root), deepest first."""
    prefix = str(root)
    mounts = []
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        for line in mountinfo:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                mounts.append(point)
    if not mounts:
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    for point in sorted(mounts, key=len, reverse=True):
        libc.umount2(point.encode(), _MNT_DETACH)
