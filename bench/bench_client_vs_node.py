"""Benchmark: DepotClient / AsyncDepotClient against the official Node SDK, same calls, same server.

    .venv/bin/python bench/bench_client_vs_node.py                  # about a minute
    .venv/bin/python bench/bench_client_vs_node.py --rounds 5 --calls 5000 --concurrent-calls 10000

What is timed: ``ProjectService/GetProject`` (binary proto, bearer token), each reply checked.

- Sequential: one call at a time; per-call time (median, p90, p99) through
  ``DepotClient.projects.get_project`` and through ``@depot/sdk-node``'s
  ``depot.core.v1.ProjectService.getProject`` (``bench/node/unary.mjs``).
- Concurrent: ``--concurrency`` (64) calls in flight, workers pulling from one counter;
  throughput of ``AsyncDepotClient`` (one client, one asyncio event loop) and of the Node SDK.

The server (``_fast_connect_server``) is one Node process answering with a reply serialized
once, on HTTP/1.1 keep-alive and on h2c ports. The Node SDK speaks h2c on http:// and cannot be
told otherwise; our client is measured in both of its cleartext modes: ``http1`` (what
``http_version="auto"`` picks on http://, hence the headline) and ``h2c``. The server's CPU
per answered call is reported for every side, to show it is not what limits them.

Method: a warm-up, then ``--rounds`` rounds; each runs every side once, the Node SDK first in
even rounds and last in odd ones, so machine noise falls on both. A Node round is a fresh
process that warms up (``--warmup`` calls) on its own connection; a Python round reuses the
warm clients and re-warms them briefly (keep-alive connections idle out after 5 s). A side's
figure is the median of its per-round figures; a ratio divides those medians. Nothing is
pinned to a CPU. Goals: Python median / Node median <= 1.0; async throughput / Node >= 1.0.

Prints a table, then (last line) the JSON result of bench/README.md's convention. Exits 1 when
a goal is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _fast_connect_server import FastConnectServer, Listener

from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.client import AsyncDepotClient, DepotClient

REPO = Path(__file__).resolve().parent.parent
NODE_DIR = REPO / "bench" / "node"
TOKEN = "bench-org-token"
PROJECT_ID = "bench-project-0123456789"
PATH = "/depot.core.v1.ProjectService/GetProject"
HTTP_VERSION: dict[Listener, str] = {"http1": "1.1", "h2c": "h2c"}
MODE_LABEL: dict[Listener, str] = {
    "http1": "HTTP/1.1 keep-alive (http_version='auto' on http://)",
    "h2c": "h2c, HTTP/2 prior knowledge (http_version='h2c')",
}
NODE_LABEL = "@depot/sdk-node, h2c (its only mode on http://)"
SEQUENTIAL_GOAL = 1.0  # Python median per call / Node median per call, at most
CONCURRENT_GOAL = 1.0  # async throughput / Node throughput, at least
STAT_KEYS = ("median_us", "p90_us", "p99_us", "mean_us", "min_us", "max_us", "throughput_rps")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    _ensure_node_packages()
    reply = project_pb2.GetProjectResponse(
        project=project_pb2.Project(
            project_id=PROJECT_ID,
            organization_id="bench-org",
            name="bench",
            region_id="us-east-1",
            created_at={"seconds": 1_700_000_000},
            cache_policy=project_pb2.CachePolicy(keep_gb=50, keep_days=14),
        )
    )
    request = project_pb2.GetProjectRequest(project_id=PROJECT_ID)
    with FastConnectServer(PATH, request.SerializeToString(), reply.SerializeToString(), TOKEN) as server:
        result = _run(server, args)
    _print_table(result)
    print(json.dumps(result, sort_keys=True))
    return 0 if result["goals_met"] else 1


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=_positive, default=5)
    parser.add_argument("--calls", type=_positive, default=1000, help="sequential calls, per side and round")
    parser.add_argument(
        "--concurrent-calls", type=_positive, default=2000, help="concurrent calls, per side and round"
    )
    parser.add_argument("--concurrency", type=_positive, default=64, help="calls in flight")
    parser.add_argument(
        "--warmup", type=_positive, default=2000, help="unmeasured calls first (Node: in every round)"
    )
    return parser.parse_args(argv)


def _positive(text: str) -> int:
    value = int(text) if text.isdigit() else 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _ensure_node_packages() -> None:
    """``npm ci`` in bench/node when its packages are missing (the script is a no-op otherwise)."""
    if not (NODE_DIR / "node_modules" / "@depot" / "sdk-node").is_dir():
        subprocess.run(["bash", str(REPO / "scripts" / "npm_install.sh")], check=True)


# -- one run: warm-up, then interleaved rounds ---------------------------------------------------


def _run(server: FastConnectServer, args: argparse.Namespace) -> dict[str, Any]:
    loop = asyncio.new_event_loop()
    pythons = {mode: _PythonClients(server, mode, loop) for mode in HTTP_VERSION}
    rounds: dict[str, list[dict[str, Any]]] = {side: [] for side in ("node", *pythons)}
    try:
        for python in pythons.values():  # first connections, imports and caches: not measured
            python.warm_up(args.warmup, args.concurrency)
        for number in range(args.rounds):
            order = ["node", "python"] if number % 2 == 0 else ["python", "node"]
            for side in order:
                if side == "node":
                    rounds["node"].append(_measured(server, _node_round, server, args))
                    continue
                for mode, python in pythons.items():
                    rounds[mode].append(_measured(server, python.round, args))
    finally:
        for python in pythons.values():
            python.close()
        loop.close()
    return _result(server, args, rounds)


class _PythonClients:
    """A DepotClient and an AsyncDepotClient (run on ``loop``) in one HTTP mode, kept across rounds."""

    def __init__(self, server: FastConnectServer, mode: Listener, loop: asyncio.AbstractEventLoop) -> None:
        settings: dict[str, Any] = {
            "token": TOKEN,
            "base_url": server.url(mode),
            "http_version": HTTP_VERSION[mode],
        }
        self._loop = loop
        self._client = DepotClient(**settings)
        self._aclient = AsyncDepotClient(**settings)

    def warm_up(self, calls: int, concurrency: int) -> None:
        _sequential(self._client, calls)
        self._loop.run_until_complete(_concurrent(self._aclient, max(calls, concurrency), concurrency))

    def round(self, args: argparse.Namespace) -> dict[str, Any]:
        """Sequential then concurrent figures, each after a short re-warm (idle keep-alive expires)."""
        self.warm_up(min(args.warmup, 100), args.concurrency)
        sequential = _sequential(self._client, args.calls)
        self.warm_up(min(args.warmup, 100), args.concurrency)
        concurrent = self._loop.run_until_complete(
            _concurrent(self._aclient, args.concurrent_calls, args.concurrency)
        )
        return {"sequential": sequential, "concurrent": concurrent}

    def close(self) -> None:
        self._client.close()
        self._loop.run_until_complete(self._aclient.aclose())


def _measured(server: FastConnectServer, run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``run(*args)``'s figures plus the server's CPU per call it answered meanwhile."""
    before = server.stats()
    figures = run(*args)
    after = server.stats()
    if after["rejected"] != before["rejected"]:
        raise RuntimeError(f"the server rejected {after['rejected'] - before['rejected']} requests")
    answered = after["answered"] - before["answered"]
    figures["server_cpu_us_per_call"] = round((after["cpu_us"] - before["cpu_us"]) / answered, 1)
    return figures


def _node_round(server: FastConnectServer, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        server.node,
        str(NODE_DIR / "unary.mjs"),
        *("--url", server.url("h2c"), "--token", TOKEN, "--project-id", PROJECT_ID),
        *("--calls", str(args.calls), "--concurrent-calls", str(args.concurrent_calls)),
        *("--concurrency", str(args.concurrency), "--warmup", str(args.warmup)),
    ]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"bench/node/unary.mjs exited {proc.returncode}: {proc.stderr.strip()}")
    figures: dict[str, Any] = json.loads(proc.stdout)
    return figures


# -- the Python sides: the same loops and statistics as bench/node/unary.mjs ---------------------


def _sequential(client: DepotClient, calls: int) -> dict[str, Any]:
    latencies = []
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(calls):
        began = clock()
        reply = client.projects.get_project(project_id=PROJECT_ID)
        latencies.append((clock() - began) / 1000)
        _check(reply)
    return _stats(latencies, clock() - start, 1)


async def _concurrent(client: AsyncDepotClient, calls: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    issued = 0
    clock = time.perf_counter_ns

    async def worker() -> None:
        nonlocal issued
        while issued < calls:
            issued += 1
            began = clock()
            reply = await client.projects.get_project(project_id=PROJECT_ID)
            latencies.append((clock() - began) / 1000)
            _check(reply)

    in_flight = min(concurrency, calls)
    start = clock()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return _stats(latencies, clock() - start, in_flight)


def _check(reply: project_pb2.GetProjectResponse) -> None:
    if reply.project.project_id != PROJECT_ID:
        raise RuntimeError(f"GetProject returned project {reply.project.project_id!r}, not the one asked for")


def _stats(latencies_us: list[float], wall_ns: int, in_flight: int) -> dict[str, Any]:
    """unary.mjs's STATS: nearest-rank percentiles, rounded alike."""
    ordered = sorted(latencies_us)
    wall_s = wall_ns / 1e9

    def rank(p: float) -> float:
        return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1]

    return {
        "calls": len(ordered),
        "in_flight": in_flight,
        "median_us": round(rank(50), 1),
        "p90_us": round(rank(90), 1),
        "p99_us": round(rank(99), 1),
        "mean_us": round(statistics.fmean(ordered), 1),
        "min_us": round(ordered[0], 1),
        "max_us": round(ordered[-1], 1),
        "wall_s": round(wall_s, 6),
        "throughput_rps": round(len(ordered) / wall_s, 1),
    }


# -- the result -----------------------------------------------------------------------------------


def _result(
    server: FastConnectServer, args: argparse.Namespace, rounds: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    node_rounds = rounds["node"]
    sides: dict[str, dict[str, Any]] = {"node_sdk_h2c": _side(NODE_LABEL, node_rounds)}
    for mode in HTTP_VERSION:
        label = f"DepotClient / AsyncDepotClient, {MODE_LABEL[mode]}"
        sides[f"python_{mode}"] = _side(label, rounds[mode])
    node = sides["node_sdk_h2c"]
    ratios = {}
    for mode in HTTP_VERSION:
        python = sides[f"python_{mode}"]
        ratios[f"sequential_median_{mode}_vs_node"] = round(
            python["sequential"]["median_us"] / node["sequential"]["median_us"], 3
        )
        ratios[f"concurrent_throughput_{mode}_vs_node"] = round(
            python["concurrent"]["throughput_rps"] / node["concurrent"]["throughput_rps"], 3
        )
    sequential_met = ratios["sequential_median_http1_vs_node"] <= SEQUENTIAL_GOAL
    concurrent_met = ratios["concurrent_throughput_http1_vs_node"] >= CONCURRENT_GOAL
    return {
        "bench": "client_vs_node",
        "goals_met": sequential_met and concurrent_met,
        "headline": [
            _headline(
                "sequential GetProject, median per call: DepotClient (HTTP/1.1) / Node SDK (h2c)",
                ratios["sequential_median_http1_vs_node"],
                f"<= {SEQUENTIAL_GOAL}",
                sequential_met,
                f"{sides['python_http1']['sequential']['median_us']:.0f} µs vs "
                f"{node['sequential']['median_us']:.0f} µs",
            ),
            _headline(
                f"{args.concurrency} in flight, throughput: AsyncDepotClient (HTTP/1.1) / Node SDK (h2c)",
                ratios["concurrent_throughput_http1_vs_node"],
                f">= {CONCURRENT_GOAL}",
                concurrent_met,
                f"{sides['python_http1']['concurrent']['throughput_rps']:.0f} vs "
                f"{node['concurrent']['throughput_rps']:.0f} calls/s",
            ),
            _headline(
                "sequential, median per call: DepotClient (h2c) / Node SDK (h2c)",
                ratios["sequential_median_h2c_vs_node"],
                None,
                None,
                f"{sides['python_h2c']['sequential']['median_us']:.0f} µs vs "
                f"{node['sequential']['median_us']:.0f} µs",
            ),
            _headline(
                f"{args.concurrency} in flight, throughput: AsyncDepotClient (h2c) / Node SDK (h2c)",
                ratios["concurrent_throughput_h2c_vs_node"],
                None,
                None,
                f"{sides['python_h2c']['concurrent']['throughput_rps']:.0f} vs "
                f"{node['concurrent']['throughput_rps']:.0f} calls/s",
            ),
        ],
        "figures": {
            "ratios": ratios,
            "sides": sides,
            "server": f"node:http + node:http2 (h2c), one process, fixed reply; node {server.node_version}",
            "node_sdk_version": node_rounds[0]["sdk_version"],
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "rounds": args.rounds,
            "calls": args.calls,
            "concurrent_calls": args.concurrent_calls,
            "concurrency": args.concurrency,
            "warmup": args.warmup,
        },
    }


def _side(label: str, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over the rounds of every statistic, and each round's headline figure."""
    side: dict[str, Any] = {"client": label}
    for phase, headline in (("sequential", "median_us"), ("concurrent", "throughput_rps")):
        side[phase] = {key: round(statistics.median(r[phase][key] for r in rounds), 1) for key in STAT_KEYS}
        side[phase]["calls_per_round"] = rounds[0][phase]["calls"]
        side[phase]["in_flight"] = rounds[0][phase]["in_flight"]
        side[phase][f"{headline}_per_round"] = [r[phase][headline] for r in rounds]
    side["server_cpu_us_per_call"] = statistics.median(r["server_cpu_us_per_call"] for r in rounds)
    return side


def _headline(metric: str, value: float, goal: str | None, met: bool | None, detail: str) -> dict[str, Any]:
    return {"metric": metric, "value": value, "goal": goal, "met": met, "detail": detail}


def _print_table(result: dict[str, Any]) -> None:
    figures = result["figures"]
    print(
        f"GetProject against a fast local Connect server ({figures['server']}); "
        f"{figures['rounds']} interleaved rounds, medians of the rounds; {figures['cpus']} CPUs"
    )
    print(f"{'side':<92} {'seq median':>11} {'seq p99':>9} {'conc calls/s':>13} {'server µs/call':>15}")
    for side in figures["sides"].values():
        sequential, concurrent = side["sequential"], side["concurrent"]
        print(
            f"{side['client']:<92} {sequential['median_us']:>9.1f}µs {sequential['p99_us']:>7.0f}µs"
            f" {concurrent['throughput_rps']:>13.0f} {side['server_cpu_us_per_call']:>15.1f}"
        )
    for line in result["headline"]:
        goal = f"  (goal {line['goal']}: {'met' if line['met'] else 'MISSED'})" if line["goal"] else ""
        print(f"  {line['metric']}: {line['value']:.2f}  [{line['detail']}]{goal}")


if __name__ == "__main__":
    sys.exit(main())
