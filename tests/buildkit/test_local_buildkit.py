"""Real builds on dockerd's embedded BuildKit, driven by docker buildx (remote driver): over the
plain tcp:// endpoint, and over the mTLS proxy with one build's credentials."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest
from buildx_tools import Buildx, TLSFiles, expected_image_files, read_tree

from airflow_provider_depot.emulator._certs import issue_build_credentials
from airflow_provider_depot.emulator._mtls_proxy import MTLSProxy
from airflow_provider_depot.emulator.local_buildkit import (
    LocalBuildKit,
    LocalBuildKitError,
    buildkit_unavailable_reason,
    open_dockerd_grpc,
)

SERVER_NAME = "buildkit-local.builders.depot.test"


@pytest.mark.buildkit
def test_plain_endpoint_builds_from_scratch(
    local_buildkit: LocalBuildKit, buildx: Buildx, build_context: Path, tmp_path: Path
) -> None:
    assert local_buildkit.endpoint.startswith("tcp://127.0.0.1:")
    buildx.create_remote("plain", local_buildkit.endpoint)
    dest = tmp_path / "out"
    result = buildx.build_local("plain", build_context, dest)
    assert read_tree(dest) == expected_image_files(build_context)
    assert "COPY files/ /app/" in result.stderr  # the steps really ran on BuildKit


@pytest.mark.buildkit
def test_build_through_the_mtls_proxy(
    local_buildkit: LocalBuildKit, buildx: Buildx, build_context: Path, tmp_path: Path
) -> None:
    credentials = issue_build_credentials(SERVER_NAME)
    tls = TLSFiles.write(credentials, tmp_path / "tls")
    with MTLSProxy(credentials, local_buildkit.endpoint) as proxy:
        buildx.create_remote("mtls", proxy.endpoint, tls)
        dest = tmp_path / "out"
        buildx.build_local("mtls", build_context, dest)
    assert read_tree(dest) == expected_image_files(build_context)


@pytest.mark.buildkit
def test_run_step_with_network_none(local_buildkit: LocalBuildKit, buildx: Buildx, tmp_path: Path) -> None:
    """RUN works on dockerd 20.10 with `--network none`, on a base made of local files only."""
    context = tmp_path / "context"
    context.mkdir()
    shell = _copy_with_libraries(Path("/bin/sh"), context)
    (context / "Dockerfile").write_text(
        f'FROM scratch\nCOPY . /\nRUN ["/{shell}", "-c", "echo ran-in-buildkit > /ran.txt"]\n'
    )
    buildx.create_remote("run-step", local_buildkit.endpoint)
    dest = tmp_path / "out"
    buildx.build_local("run-step", context, dest)
    assert (dest / "ran.txt").read_text() == "ran-in-buildkit\n"


def _copy_with_libraries(binary: Path, context: Path) -> str:
    """Copy a dynamically linked binary and the shared objects it loads into ``context``."""
    import shutil
    import subprocess

    libraries = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
    paths = [binary, *(Path(word) for word in libraries.split() if word.startswith("/"))]
    for path in paths:
        target = context / path.resolve().relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path.resolve(), target)
        if path.resolve() != path:
            link = context / path.relative_to("/")
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path.resolve())
    return binary.resolve().relative_to("/").as_posix()


@pytest.mark.buildkit
def test_dockerd_api_is_private_and_answers(local_buildkit: LocalBuildKit) -> None:
    socket_path = local_buildkit.docker_host.removeprefix("unix://")
    assert socket_path != "/var/run/docker.sock" and os.path.exists(socket_path)
    assert local_buildkit.dockerd_version  # read from dockerd's /version

    async def upgrade() -> bytes:
        reader, writer = await open_dockerd_grpc(socket_path)
        try:
            # after the 101, the embedded BuildKit's HTTP/2 server speaks first: a SETTINGS frame
            return await asyncio.wait_for(reader.readexactly(9), 5)
        finally:
            writer.close()

    frame_header = asyncio.run(upgrade())
    assert frame_header[3] == 0x4  # HTTP/2 frame type SETTINGS


@pytest.mark.buildkit
def test_cleanup_leaves_nothing_behind_also_on_error(local_buildkit: LocalBuildKit) -> None:
    """A second, short-lived instance: everything it made is gone after an exception in its block."""
    with pytest.raises(RuntimeError, match="boom"), LocalBuildKit() as buildkit:
        root = Path(buildkit.docker_host.removeprefix("unix://")).parent
        pid = int((root / "dockerd.pid").read_text())
        port = buildkit.port
        tree = _descendant_pids(pid)
        assert tree, "dockerd should have started its containerd"
        raise RuntimeError("boom")
    assert not root.exists()
    assert not any(_alive(p) for p in [pid, *tree])
    assert str(root) not in Path("/proc/self/mountinfo").read_text()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert local_buildkit.dockerd_version  # the session's instance is untouched


def _descendant_pids(pid: int) -> list[int]:
    """From every thread's /proc children list (Go forks from any of its threads)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [p for child in children for p in [child, *_descendant_pids(child)]]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_unavailable_reason_names_a_missing_dockerd(tmp_path: Path) -> None:
    reason = buildkit_unavailable_reason(str(tmp_path / "no-dockerd"))
    assert reason is not None and "dockerd" in reason
    with pytest.raises(LocalBuildKitError, match="dockerd"):
        LocalBuildKit(dockerd=str(tmp_path / "no-dockerd")).start()


def test_refused_upgrade_is_a_connection_error(tmp_path: Path) -> None:
    """A socket that answers the /grpc upgrade with anything but 101 fails the connection."""
    socket_path = str(tmp_path / "fake.sock")

    async def scenario() -> str:
        async def not_dockerd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(not_dockerd, socket_path)
        try:
            with pytest.raises(ConnectionError) as caught:
                await open_dockerd_grpc(socket_path)
            return str(caught.value)
        finally:
            server.close()
            await server.wait_closed()

    assert "404" in asyncio.run(scenario())


def test_startup_timeout_is_checked() -> None:
    with pytest.raises(ValueError, match="startup_timeout"):
        LocalBuildKit(startup_timeout=0)
