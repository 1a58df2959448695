"""Benchmark of DepotRegistryCleanupOperator: 100k images, keep_last=100, against the emulator.

    .venv/bin/python bench/bench_registry_cleanup.py                 # 100k images, 3 rounds
    .venv/bin/python bench/bench_registry_cleanup.py --images 20000 --rounds 1

The emulator runs in a process of its own (so that it does not share the measured process's
GIL) and seeds a fresh project of ``--images`` images for every measurement. Each round, in the
same benchmark process and through the same DepotClient class built from the same Airflow
connection (``DepotHook.get_client()``), measures:

- the raw floor: list every page (ListImages, 100 a page) keeping only the tags, then send the
  minimal DeleteImage batches (everything but the newest ``keep_last``, ``--batch-size`` tags a
  call), the least any cleanup must do;
- the operator: ``DepotRegistryCleanupOperator(keep_last=100).execute()`` on its own project,
  which lists, plans, logs the plan and deletes in batches of the same size.

The ratio compares the best round of each (other load on the machine only ever adds time; the
medians are printed too), and each round's emulator audit is checked (the same number of
ListImages and DeleteImage calls, every image but ``keep_last`` gone). Peak memory
is measured in a separate fresh process that runs the operator once: ``ru_maxrss`` of that whole
process (Airflow and the provider imported), and the tracemalloc peak of ``execute()`` alone.

Goals: operator time <= 1.5x the floor; peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

TIME_GOAL = 1.5
MEMORY_GOAL_MB = 300.0


def serve_emulator(commands: Connection) -> None:
    """The emulator's process: serves, and seeds projects or reports the audit on request."""
    from airflow_provider_depot.emulator import run_emulator

    with run_emulator() as emulator:
        admin = emulator.admin
        commands.send((emulator.url, emulator.token))
        while (command := commands.recv()) is not None:
            kind, argument = command
            if kind == "seed":
                name, count = argument
                project_id = admin.create_project(name).project_id
                admin.add_synthetic_images(project_id, count, newest=dt.datetime.now(dt.timezone.utc))
                commands.send(project_id)
            elif kind == "audit":
                entries = admin.audit(argument)
                seq = entries[-1]["seq"] if entries else argument
                commands.send((seq, Counter(e["procedure"].rsplit("/", 1)[-1] for e in entries)))
            elif kind == "count":
                commands.send(len(admin.images(argument)))


class Emulator:
    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._commands, child = context.Pipe()
        self._process = context.Process(target=serve_emulator, args=(child,), daemon=True)
        self._process.start()
        self.url, self.token = self._commands.recv()
        self._seq = 0

    def ask(self, kind: str, argument: Any) -> Any:
        self._commands.send((kind, argument))
        return self._commands.recv()

    def seed(self, name: str, count: int) -> str:
        project_id: str = self.ask("seed", (name, count))
        return project_id

    def calls_since_last(self) -> Counter[str]:
        self._seq, calls = self.ask("audit", self._seq)
        return calls  # type: ignore[no-any-return]

    def stop(self) -> None:
        self._commands.send(None)
        self._process.join(30)


def use_emulator_connection(emulator: Emulator) -> None:
    os.environ["AIRFLOW_CONN_DEPOT_DEFAULT"] = json.dumps(
        {"conn_type": "depot", "password": emulator.token, "host": emulator.url}
    )


def quiet_airflow() -> None:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    from airflow.sdk.bases.operator import ExecutorSafeguard

    ExecutorSafeguard.test_mode = True  # execute() is called directly, outside a task runner


def floor(project_id: str, keep_last: int, batch_size: int) -> tuple[float, float]:
    """List everything, then delete all but the newest ``keep_last`` tags: the least work.

    Returns (wall seconds, CPU seconds of this process)."""
    from airflow_provider_depot.hooks.depot import DepotHook

    hook = DepotHook("depot_default")
    client = hook.get_client()
    start, cpu = time.perf_counter(), time.process_time()
    tags = [image.tag for image in client.registry.iter_images(project_id=project_id, page_size=100)]
    doomed = tags[keep_last:]  # ListImages pages newest first
    for offset in range(0, len(doomed), batch_size):
        client.registry.delete_image(project_id=project_id, image_tags=doomed[offset : offset + batch_size])
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    hook.close()
    return elapsed


def run_operator(project_id: str, keep_last: int, batch_size: int) -> tuple[float, float, dict[str, Any]]:
    """Returns (wall seconds, CPU seconds of this process, the operator's result)."""
    from airflow_provider_depot.operators.registry_cleanup import DepotRegistryCleanupOperator

    operator = DepotRegistryCleanupOperator(
        task_id="cleanup", project_id=project_id, keep_last=keep_last, batch_size=batch_size
    )
    start, cpu = time.perf_counter(), time.process_time()
    result: dict[str, Any] = operator.execute({})
    return time.perf_counter() - start, time.process_time() - cpu, result


def measure_memory(
    url: str, token: str, project_id: str, keep_last: int, batch_size: int
) -> dict[str, float]:
    """In a fresh process: peak RSS of the whole process, tracemalloc peak of execute()."""
    os.environ["AIRFLOW_CONN_DEPOT_DEFAULT"] = json.dumps(
        {"conn_type": "depot", "password": token, "host": url}
    )
    quiet_airflow()
    from airflow_provider_depot.operators.registry_cleanup import DepotRegistryCleanupOperator

    operator = DepotRegistryCleanupOperator(
        task_id="cleanup", project_id=project_id, keep_last=keep_last, batch_size=batch_size
    )
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    operator.execute({})
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "rss_before_mb": before_mb,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tracemalloc_peak_mb": peak / 2**20,
    }


def _memory_child(queue: Any, *args: Any) -> None:
    queue.put(measure_memory(*args))


def check_round(emulator: Emulator, what: str, project_id: str, images: int, keep_last: int) -> Counter[str]:
    calls = emulator.calls_since_last()
    left = emulator.ask("count", project_id)
    if left != keep_last:
        raise SystemExit(f"{what}: {left} images left, expected {keep_last}")
    if calls["ListImages"] != -(-images // 100):
        raise SystemExit(f"{what}: {calls['ListImages']} ListImages calls for {images} images")
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--keep-last", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    emulator = Emulator()
    try:
        use_emulator_connection(emulator)
        quiet_airflow()
        floors, operators = [], []
        for round_number in range(1, args.rounds + 1):
            project = emulator.seed(f"floor-{round_number}", args.images)
            emulator.calls_since_last()
            floor_wall, floor_cpu = floor(project, args.keep_last, args.batch_size)
            floors.append(floor_wall)
            floor_calls = check_round(emulator, "floor", project, args.images, args.keep_last)

            project = emulator.seed(f"operator-{round_number}", args.images)
            emulator.calls_since_last()
            seconds, cpu, result = run_operator(project, args.keep_last, args.batch_size)
            operators.append(seconds)
            operator_calls = check_round(emulator, "operator", project, args.images, args.keep_last)
            if (
                operator_calls["DeleteImage"] != floor_calls["DeleteImage"]
                or result["kept"] != args.keep_last
            ):
                raise SystemExit(
                    f"operator made {operator_calls} calls, the floor {floor_calls}; result {result}"
                )
            print(
                f"round {round_number}: floor {floors[-1]:.2f} s, operator {seconds:.2f} s "
                f"({seconds / floors[-1]:.2f}x); client CPU {floor_cpu:.2f} s vs {cpu:.2f} s; "
                f"{floor_calls['ListImages']} ListImages + "
                f"{floor_calls['DeleteImage']} DeleteImage calls each",
                flush=True,
            )

        project = emulator.seed("memory", args.images)
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(
            target=_memory_child,
            args=(queue, emulator.url, emulator.token, project, args.keep_last, args.batch_size),
        )
        child.start()
        memory = queue.get(timeout=600)
        child.join(60)
    finally:
        emulator.stop()

    floor_s, operator_s = min(floors), min(operators)
    ratio = operator_s / floor_s
    print(f"\nregistry cleanup of {args.images:,} images, keep_last={args.keep_last}, ", end="")
    print(f"batch_size={args.batch_size}")
    print(
        f"  raw floor (list + minimal deletes): {floor_s:.2f} s best of {args.rounds} "
        f"(median {statistics.median(floors):.2f} s)"
    )
    print(
        f"  DepotRegistryCleanupOperator:       {operator_s:.2f} s best of {args.rounds} "
        f"(median {statistics.median(operators):.2f} s)"
    )
    print(f"  ratio: {ratio:.2f}x (goal <= {TIME_GOAL}x)")
    print(
        f"  peak memory: {memory['rss_peak_mb']:.0f} MB RSS of the whole process "
        f"({memory['rss_before_mb']:.0f} MB before execute); tracemalloc peak of execute(): "
        f"{memory['tracemalloc_peak_mb']:.0f} MB (goal <= {MEMORY_GOAL_MB:.0f} MB)"
    )
    headline = [
        {
            "metric": f"operator / floor time, {args.images:,} images, keep_last={args.keep_last}",
            "value": round(ratio, 3),
            "goal": f"<= {TIME_GOAL}",
            "met": ratio <= TIME_GOAL,
            "detail": f"{operator_s:.2f} s vs {floor_s:.2f} s, best of {args.rounds}",
        },
        {
            "metric": "operator peak RSS MB (whole process)",
            "value": round(memory["rss_peak_mb"], 1),
            "goal": f"<= {MEMORY_GOAL_MB:g}",
            "met": memory["rss_peak_mb"] <= MEMORY_GOAL_MB,
            "detail": f"tracemalloc peak of execute() {memory['tracemalloc_peak_mb']:.0f} MB",
        },
    ]
    goals_met = all(line["met"] for line in headline)
    print("  goals met" if goals_met else "  GOAL MISSED")
    figures = {
        "floor_s": floors,
        "operator_s": operators,
        "memory": memory,
        "settings": {
            "images": args.images,
            "keep_last": args.keep_last,
            "batch_size": args.batch_size,
            "rounds": args.rounds,
        },
    }
    print(
        json.dumps(
            {"bench": "registry_cleanup", "goals_met": goals_met, "headline": headline, "figures": figures}
        )
    )
    return 0 if goals_met else 1


if __name__ == "__main__":
    sys.exit(main())
