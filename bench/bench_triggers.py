"""Benchmark of DepotBuildTrigger: many triggers in one event loop, as in a triggerer.

    .venv/bin/python bench/bench_triggers.py                   # 1,000 triggers
    .venv/bin/python bench/bench_triggers.py --triggers 200 --seconds 10 --http both

``depot-emulator`` runs in a process of its own, so only the triggers' work is measured here.
The bench creates one running build per trigger (build.v1 CreateBuild), starts the triggers
(``depot_default`` points at the emulator) and lets them poll core.v1 GetBuild every
``--poll-interval`` seconds, then ends every build and waits for every trigger's event.

- Memory per trigger: traced Python memory (tracemalloc) once every trigger has polled, minus
  the memory before the triggers started, divided by their number. It includes what they share
  (one client and its HTTP connections per loop). The RSS growth is printed beside it.
- CPU per poll: this process's CPU time over a steady window of polling (tracemalloc off),
  divided by the GetBuild calls the emulator answered in that window (its audit log).

Triggers poll over HTTP/1.1 (``triggers/_shared_client.py``); ``--http both`` also measures
them over h2c, the comparison behind that choice. Goals: at most 50 KB per trigger and 1 ms of
CPU per poll. Exits 1 if a goal is missed over HTTP/1.1 (the h2c figures are informative).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import tracemalloc
from typing import Any

from bench_emulator import TOKEN, _start_server  # depot-emulator in a process of its own

GOAL_BYTES_PER_TRIGGER = 50 * 1024
GOAL_CPU_PER_POLL = 0.001
GET_BUILD = "depot.core.v1.BuildService/GetBuild"
POLLING_HTTP = "1.1"  # what triggers/_shared_client.py uses


def _audit_seq(url: str, since: int) -> tuple[int, int]:
    """(last seq, GetBuild calls after ``since``) from the emulator's audit log."""
    import httpx

    calls = httpx.get(f"{url}/_emulator/audit", params={"since": since}, timeout=60).json()["calls"]
    last = calls[-1]["seq"] if calls else since
    return last, sum(1 for call in calls if call["procedure"] == GET_BUILD)


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


async def _run_phase(
    url: str, build_ids: list[str], *, poll_interval: float, seconds: float, measure_memory: bool
) -> dict[str, Any]:
    from airflow_provider_depot.client import AsyncDepotClient
    from airflow_provider_depot.triggers.build import DepotBuildTrigger

    if measure_memory:
        tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0] if measure_memory else 0
    rss_before = _rss_bytes()
    end_time = time.time() + 3600
    triggers = [
        DepotBuildTrigger(
            build_id=b, depot_conn_id="depot_default", end_time=end_time, poll_interval=poll_interval
        )
        for b in build_ids
    ]

    async def wait(trigger: DepotBuildTrigger) -> str:
        async for event in trigger.run():
            return str(event.payload["status"])
        return "none"

    tasks = [asyncio.ensure_future(wait(t)) for t in triggers]
    await asyncio.sleep(poll_interval * 1.5)  # every trigger has polled at least once
    figures: dict[str, Any] = {"triggers": len(triggers)}
    if measure_memory:
        figures["bytes_per_trigger"] = (tracemalloc.get_traced_memory()[0] - baseline) / len(triggers)
        figures["rss_bytes_per_trigger"] = (_rss_bytes() - rss_before) / len(triggers)
        tracemalloc.stop()
    else:
        seq, _ = await asyncio.to_thread(_audit_seq, url, 0)
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu
        _, polls = await asyncio.to_thread(_audit_seq, url, seq)
        figures.update(polls=polls, cpu_seconds=cpu, cpu_per_poll=cpu / max(polls, 1))

    async with AsyncDepotClient(token=TOKEN, base_url=url, http_version="h2c") as client:
        for build_id in build_ids:
            await client.builds.finish_build(build_id=build_id)
    statuses = await asyncio.gather(*tasks)
    figures["all_succeeded"] = set(statuses) == {"success"}
    return figures


def _create_builds(url: str, count: int) -> list[str]:
    from airflow_provider_depot.client import DepotClient

    with DepotClient(token=TOKEN, base_url=url, http_version="h2c") as client:
        project = client.projects.create_project(name="bench-triggers", region_id="us-east-1").project
        return [client.builds.create_build(project_id=project.project_id).build_id for _ in range(count)]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triggers", type=int, default=1000)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the CPU window")
    parser.add_argument("--http", choices=["1.1", "h2c", "both"], default="1.1")
    args = parser.parse_args()

    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from airflow_provider_depot.triggers import _shared_client

    proc, url = _start_server()
    connection = {"conn_type": "depot", "password": TOKEN, "host": url}
    os.environ["AIRFLOW_CONN_DEPOT_DEFAULT"] = json.dumps(connection)
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        for http in ["1.1", "h2c"] if args.http == "both" else [args.http]:
            _shared_client.POLL_HTTP_VERSION = http  # type: ignore[assignment]
            runs[http] = {}
            for phase in ("memory", "cpu"):
                builds = _create_builds(url, args.triggers)
                runs[http][phase] = asyncio.run(
                    _run_phase(
                        url,
                        builds,
                        poll_interval=args.poll_interval,
                        seconds=args.seconds,
                        measure_memory=phase == "memory",
                    )
                )
    finally:
        proc.terminate()
        proc.wait(30)

    headline = [line for http, figures in runs.items() for line in _headline(http, figures)]
    for line in headline:
        print(f"{line['metric']}: {line['value']} (goal {line['goal']}) {line['detail']}")
    settings = {"triggers": args.triggers, "poll_interval": args.poll_interval, "cpu_window": args.seconds}
    every_event = all(p["all_succeeded"] for phases in runs.values() for p in phases.values())
    goals_met = every_event and all(line["met"] is not False for line in headline)
    print(json.dumps({"bench": "triggers", "goals_met": goals_met, "headline": headline,
                      "figures": {"settings": settings, "runs": runs}}))  # fmt: skip
    return 0 if goals_met else 1


def _headline(http: str, phases: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for the README table; over h2c (not what the triggers use) for information only."""
    counted = http == POLLING_HTTP
    memory, cpu = phases["memory"], phases["cpu"]
    kb = memory["bytes_per_trigger"] / 1024
    ms = cpu["cpu_per_poll"] * 1000
    suffix = "" if counted else f" (over {http}, for comparison)"
    return [
        {
            "metric": f"DepotBuildTrigger memory per trigger, KB{suffix}",
            "value": round(kb, 1),
            "goal": "<= 50" if counted else None,
            "met": kb <= GOAL_BYTES_PER_TRIGGER / 1024 if counted else None,
            "detail": f"{memory['triggers']} triggers in one loop; "
            f"{memory['rss_bytes_per_trigger'] / 1024:.1f} KB RSS each",
        },
        {
            "metric": f"DepotBuildTrigger CPU per GetBuild poll, ms{suffix}",
            "value": round(ms, 3),
            "goal": "<= 1" if counted else None,
            "met": ms <= GOAL_CPU_PER_POLL * 1000 if counted else None,
            "detail": f"{cpu['polls']} polls in {cpu['cpu_seconds']:.1f} s of CPU",
        },
    ]


if __name__ == "__main__":
    sys.exit(main())
