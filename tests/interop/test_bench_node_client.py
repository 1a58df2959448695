"""bench/node/unary.mjs (the Node SDK benchmark client) works: a small run against the emulator.

Only what it does is checked (calls made, the JSON it prints, its argument errors); how fast
it is belongs to the benchmark itself.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from node_env import NodeTools, ensure_npm_ci

from airflow_provider_depot.emulator import run_emulator

pytestmark = pytest.mark.node

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench" / "node"
STATS = {
    "calls",
    "in_flight",
    "median_us",
    "p90_us",
    "p99_us",
    "mean_us",
    "min_us",
    "max_us",
    "wall_s",
    "throughput_rps",
}


@pytest.fixture(scope="module")
def bench_node(interop_node: NodeTools) -> NodeTools:
    ensure_npm_ci(BENCH_DIR, interop_node)
    return interop_node


def _bench(tools: NodeTools, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tools.node, str(BENCH_DIR / "unary.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bench_client_makes_the_calls_and_prints_stats(bench_node: NodeTools) -> None:
    with run_emulator() as emu:
        project = emu.admin.create_project("bench")
        proc = _bench(
            bench_node,
            *("--url", emu.url, "--token", emu.token, "--project-id", project.project_id),
            *("--calls", "12", "--concurrency", "4", "--concurrent-calls", "9", "--warmup", "3"),
        )
        audit = emu.admin.audit()
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["client"] == "@depot/sdk-node" and result["sdk_version"] == "1.4.0"
    assert set(result["sequential"]) == STATS == set(result["concurrent"])
    assert (result["sequential"]["calls"], result["sequential"]["in_flight"]) == (12, 1)
    assert (result["concurrent"]["calls"], result["concurrent"]["in_flight"]) == (9, 4)
    for stats in (result["sequential"], result["concurrent"]):
        assert (
            0 < stats["min_us"] <= stats["median_us"] <= stats["p90_us"] <= stats["p99_us"] <= stats["max_us"]
        )
    assert [(e["procedure"], e["code"]) for e in audit] == [
        ("depot.core.v1.ProjectService/GetProject", "ok")
    ] * 24
    assert emu.token not in proc.stdout + proc.stderr


def test_bench_client_fails_on_a_failed_call(bench_node: NodeTools) -> None:
    with run_emulator() as emu:
        proc = _bench(bench_node, "--url", emu.url, "--token", "wrong", "--project-id", "p", "--calls", "1")
    assert proc.returncode == 1
    assert "unauthenticated" in proc.stderr and "wrong" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "t", "--project-id", "p"], "--url is required"),
        (["--url", "ftp://x", "--token", "t", "--project-id", "p"], "--url must be http:// or https://"),
        (
            ["--url", "http://127.0.0.1:9", "--token", "t", "--project-id", "p", "--calls", "0"],
            "--calls must be",
        ),
        (
            ["--url", "http://127.0.0.1:9", "--token", "t", "--project-id", "p", "--concurrency", "x"],
            "--concurrency",
        ),
    ],
)
def test_bench_client_names_a_bad_argument(bench_node: NodeTools, args: list[str], message: str) -> None:
    proc = _bench(bench_node, *args)
    assert proc.returncode == 1
    assert message in proc.stderr
