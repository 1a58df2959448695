"""Benchmark of the Depot API emulator: unary throughput and seeding speed.

    .venv/bin/python bench/bench_emulator.py            # all figures
    .venv/bin/python bench/bench_emulator.py --seconds 10 --connections 8 --client raw

1. Throughput: ``depot-emulator`` runs in its own process; a separate client process sends
   ``ProjectService/GetProject`` (binary proto, bearer token) over HTTP/1.1 keep-alive on several
   concurrent connections for a fixed time and checks every reply. ``--client raw`` is a minimal
   asyncio HTTP/1.1 client (so the client is not the bottleneck on 2 cores); ``--client httpx``
   uses httpx (one pooled client per thread) and ``--client h2`` httpx over h2c.
2. Seeding: 100k images added in bulk to a running emulator (``Admin.add_synthetic_images``),
   and 100k images loaded from a seed file at start-up; then the first and last ListImages page.

The target for the emulator is at least 2,000 GetProject/s and 100k images seeded in < 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

TOKEN = "bench-org-token"
TARGET_RPS = 2000
TARGET_SEED_SECONDS = 5.0


def _start_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_depot.emulator", "--token", TOKEN, "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return proc, line.rsplit(" ", 1)[-1].strip()


def _create_project(url: str) -> str:
    import httpx

    from airflow_provider_depot._proto.depot.core.v1 import project_pb2

    request = project_pb2.CreateProjectRequest(name="bench", region_id="us-east-1")
    reply = httpx.post(
        f"{url}/depot.core.v1.ProjectService/CreateProject",
        content=request.SerializeToString(),
        headers={"content-type": "application/proto", "authorization": f"Bearer {TOKEN}"},
    )
    reply.raise_for_status()
    return project_pb2.CreateProjectResponse.FromString(reply.content).project.project_id


# -- client process ----------------------------------------------------------------------------


def _client_main(url: str, project_id: str, client: str, connections: int, seconds: float) -> None:
    """Runs in the client process; prints one JSON line of results."""
    from airflow_provider_depot._proto.depot.core.v1 import project_pb2

    body = project_pb2.GetProjectRequest(project_id=project_id).SerializeToString()
    if client == "raw":
        counts, latencies = asyncio.run(_raw_client(url, body, project_id, connections, seconds))
    else:
        counts, latencies = _httpx_client(url, body, project_id, connections, seconds, http2=client == "h2")
    print(json.dumps({"requests": counts, "latencies": latencies}))


async def _raw_client(
    url: str, body: bytes, project_id: str, connections: int, seconds: float
) -> tuple[int, list[float]]:
    from airflow_provider_depot._proto.depot.core.v1 import project_pb2

    host, port = url.removeprefix("http://").rsplit(":", 1)
    request = (
        f"POST /depot.core.v1.ProjectService/GetProject HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/proto\r\nConnect-Protocol-Version: 1\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def one_connection() -> int:
        reader, writer = await asyncio.open_connection(host, int(port))
        done = 0
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected reply: {head[:80]!r}")
                lower = head.lower()
                start = lower.index(b"content-length:") + 15
                length = int(lower[start : lower.index(b"\r\n", start)])
                payload = await reader.readexactly(length)
                if done % 100 == 0:  # spot-check the content without slowing the client down
                    assert project_pb2.GetProjectResponse.FromString(payload).project.project_id == project_id
                latencies.append(time.perf_counter() - sent)
                done += 1
        finally:
            writer.close()
        return done

    counts = await asyncio.gather(*(one_connection() for _ in range(connections)))
    return sum(counts), latencies


def _httpx_client(
    url: str, body: bytes, project_id: str, connections: int, seconds: float, *, http2: bool
) -> tuple[int, list[float]]:
    import httpx

    from airflow_provider_depot._proto.depot.core.v1 import project_pb2

    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    counts = [0] * connections
    headers = {"content-type": "application/proto", "authorization": f"Bearer {TOKEN}"}

    def worker(index: int) -> None:
        with httpx.Client(base_url=url, http1=not http2, http2=http2) as session:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                reply = session.post(
                    "/depot.core.v1.ProjectService/GetProject", content=body, headers=headers
                )
                reply.raise_for_status()
                if counts[index] % 100 == 0:
                    assert (
                        project_pb2.GetProjectResponse.FromString(reply.content).project.project_id
                        == project_id
                    )
                latencies.append(time.perf_counter() - sent)
                counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts), latencies


# -- benchmarks --------------------------------------------------------------------------------


def bench_throughput(client: str, connections: int, seconds: float) -> dict[str, Any]:
    proc, url = _start_server()
    try:
        project_id = _create_project(url)
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--_client", url, project_id, client, str(connections), str(seconds)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(10)
    result = json.loads(out.strip().splitlines()[-1])
    latencies = sorted(result["latencies"])
    return {
        "client": client,
        "connections": connections,
        "requests": result["requests"],
        "rps": result["requests"] / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "wall_s": elapsed,
    }


def bench_seeding(count: int) -> dict[str, float]:
    from airflow_provider_depot._proto.depot.build.v1 import registry_pb2
    from airflow_provider_depot.emulator import Emulator, EmulatorConfig, run_emulator

    figures: dict[str, float] = {}
    with run_emulator(tokens=(TOKEN,)) as emu:
        project = emu.admin.create_project("bench")
        started = time.perf_counter()
        emu.admin.add_synthetic_images(project.project_id, count)
        figures["admin_bulk_add_s"] = time.perf_counter() - started
        import httpx

        headers = {"content-type": "application/proto", "authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=emu.url, headers=headers) as session:
            token = ""
            pages = 0
            started = time.perf_counter()
            while True:
                request = registry_pb2.ListImagesRequest(project_id=project.project_id, page_size=100)
                if token:
                    request.page_token = token
                reply = session.post(
                    "/depot.build.v1.RegistryService/ListImages", content=request.SerializeToString()
                )
                reply.raise_for_status()
                token = registry_pb2.ListImagesResponse.FromString(reply.content).next_page_token
                pages += 1
                if not token:
                    break
            figures["list_all_pages_s"] = time.perf_counter() - started
            figures["pages"] = pages
        doc = emu.admin.snapshot()
    with tempfile.TemporaryDirectory() as tmp:
        seed = Path(tmp) / "seed.json"
        seed.write_text(json.dumps(doc))
        started = time.perf_counter()
        emulator = Emulator(EmulatorConfig(tokens=(TOKEN,), seed=str(seed)))
        figures["seed_file_load_s"] = time.perf_counter() - started
        assert len(emulator.admin.images(project.project_id)) == count
    return figures


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--_client":
        url, project_id, client, connections, seconds = sys.argv[2:7]
        _client_main(url, project_id, client, int(connections), float(seconds))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--client", choices=["raw", "httpx", "h2", "all"], default="all")
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent.parent))
    clients = ["raw", "httpx", "h2"] if args.client == "all" else [args.client]
    throughput = {}
    for client in clients:
        r = bench_throughput(client, args.connections, args.seconds)
        throughput[client] = r
        print(
            f"GetProject  client={r['client']:<5} connections={r['connections']}  {r['rps']:8.0f} req/s  "
            f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  ({r['requests']} requests)"
        )
    seeding = bench_seeding(args.images)
    print(
        f"seed {args.images} images: admin bulk add {seeding['admin_bulk_add_s']:.2f} s, "
        f"seed file load {seeding['seed_file_load_s']:.2f} s; "
        f"listing all {seeding['pages']:.0f} pages {seeding['list_all_pages_s']:.2f} s"
    )
    headline = _headline(throughput, seeding, args)
    goals_met = all(line["met"] is not False for line in headline)
    print("targets met" if goals_met else "TARGETS MISSED (>= 2000 req/s with the raw client, seeding < 5 s)")
    figures = {
        "throughput": throughput,
        "seeding": seeding,
        "settings": {"seconds": args.seconds, "connections": args.connections, "images": args.images},
    }
    print(json.dumps({"bench": "emulator", "goals_met": goals_met, "headline": headline, "figures": figures}))
    return 0 if goals_met else 1


def _headline(
    throughput: dict[str, dict[str, Any]], seeding: dict[str, float], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The goals: raw-client GetProject/s (the server's capacity) and the slower way of seeding."""
    lines: list[dict[str, Any]] = []
    if "raw" in throughput:
        rps, p50, p99 = (throughput["raw"][key] for key in ("rps", "p50_ms", "p99_ms"))
        lines.append(
            {
                "metric": f"GetProject calls/s, server in its own process ({args.connections} connections)",
                "value": round(rps, 1),
                "goal": f">= {TARGET_RPS}",
                "met": rps >= TARGET_RPS,
                "detail": f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
            }
        )
    seed_s = max(seeding["admin_bulk_add_s"], seeding["seed_file_load_s"])
    lines.append(
        {
            "metric": f"seconds to seed {args.images:,} images (slower of bulk add and seed file)",
            "value": round(seed_s, 3),
            "goal": f"< {TARGET_SEED_SECONDS:g}",
            "met": seed_s < TARGET_SEED_SECONDS,
            "detail": (
                f"bulk add {seeding['admin_bulk_add_s']:.2f} s, seed file {seeding['seed_file_load_s']:.2f} s"
            ),
        }
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
