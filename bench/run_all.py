"""Run every benchmark (``bench/bench_*.py``), keep their figures, and publish the headline table.

    .venv/bin/python bench/run_all.py                       # every benchmark (``make bench``)
    .venv/bin/python bench/run_all.py --only client_vs_node --args client_vs_node="--rounds 3"

Each benchmark runs as a subprocess of the same Python, from the repository root, with its
default arguments (plus any ``--args NAME=...``); its output is shown as it comes. Its result
is the last line of its stdout that is a JSON object (the convention in bench/README.md).
The results are merged into bench/results/latest.json (a benchmark not run this time keeps its
earlier entry, while its script exists), and the table of headline figures is printed and
written into README.md between ``<!-- bench:start -->`` and ``<!-- bench:end -->``; nothing
else in README.md is touched. Exits 1 if a benchmark failed (no result line, an exit status
other than 0 or 1, or a timeout); a missed goal is shown in the table, not an error.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    scripts = _discover(args.bench_dir, args.only)
    if not scripts:
        print(f"no benchmark matches {args.only} in {args.bench_dir.name}/", file=sys.stderr)
        return 2
    entries = {}
    for script in scripts:
        name = bench_name(script)
        print(f"=== {name} ({script.name})", flush=True)
        entries[name] = run_bench(script, shlex.split(args.extra.get(name, "")), args.timeout)
        print(f"=== {name}: {entries[name]['status']} in {entries[name]['seconds']:.0f} s\n", flush=True)
    results = _merge(args.results, entries, args.bench_dir)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    table = headline_table(results)
    print(table)
    if args.readme is not None:
        _update_readme(args.readme, table)
    return 1 if any(entry["status"] == "failed" for entry in entries.values()) else 0


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only these")
    parser.add_argument(
        "--args", action="append", default=[], metavar="NAME=ARGS", help="extra arguments for one benchmark"
    )
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per benchmark")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=None, help="default: BENCH_DIR/results/latest.json")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    parser.add_argument("--no-readme", dest="readme", action="store_const", const=None)
    args = parser.parse_args(argv)
    args.bench_dir = args.bench_dir.resolve()
    if args.results is None:
        args.results = args.bench_dir / "results" / "latest.json"
    args.extra = {}
    for item in args.args:
        name, sep, extra = item.partition("=")
        if not sep or not name:
            parser.error(f"--args must look like NAME=ARGS, got {item!r}")
        args.extra[name] = extra
    return args


def bench_name(script: Path) -> str:
    """``bench/bench_client_vs_node.py`` -> ``client_vs_node``."""
    return script.stem.removeprefix("bench_")


def _discover(bench_dir: Path, only: list[str]) -> list[Path]:
    scripts = sorted(bench_dir.glob("bench_*.py"))
    return [script for script in scripts if not only or bench_name(script) in only]


# -- one benchmark ---------------------------------------------------------------------------------


def run_bench(script: Path, extra: list[str], timeout: float) -> dict[str, Any]:
    """Run one benchmark; its entry: status, exit code, seconds, and its result (or why none)."""
    started = time.monotonic()
    ran_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    proc = subprocess.Popen(
        [sys.executable, str(script), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,  # its own process group: a timeout ends it and its children
    )
    assert proc.stdout is not None and proc.stderr is not None
    timed_out = threading.Event()
    watchdog = threading.Timer(timeout, _stop, (proc, timed_out))
    watchdog.start()
    stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
    echo = threading.Thread(target=_echo, args=(proc.stderr, sys.stderr, stderr_tail), daemon=True)
    echo.start()
    result = None
    for line in _echoed(proc.stdout):
        result = _json_object(line) or result
    code = proc.wait()
    watchdog.cancel()
    echo.join()
    entry: dict[str, Any] = {
        "script": f"{script.parent.name}/{script.name}",
        "args": extra,
        "exit_code": code,
        "ran_at": ran_at,
        "seconds": round(time.monotonic() - started, 1),
    }
    if timed_out.is_set():
        entry.update(status="failed", error=f"timed out after {timeout:g} s")
    elif result is None or code not in (0, 1):
        entry.update(status="failed", error=f"exit {code}" + (", no result line" if result is None else ""))
        entry["stderr_tail"] = _portable([line.rstrip("\n") for line in stderr_tail])
    else:
        entry["result"] = _portable(result)
        entry["status"] = _status(result, code)
    return entry


def _status(result: dict[str, Any], code: int) -> str:
    met = [line.get("met") for line in result.get("headline", []) if isinstance(line, dict)]
    goals_met = result.get("goals_met")
    if code == 1 or goals_met is False or False in met:
        return "goal missed"
    if goals_met is True or True in met:
        return "goals met"
    return "no goals"


def _stop(proc: subprocess.Popen[str], timed_out: threading.Event) -> None:
    """The watchdog: end the benchmark's process group (it may have ended on its own meanwhile)."""
    timed_out.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def _echoed(stream: IO[str]) -> Iterator[str]:
    for line in stream:
        sys.stdout.write("  " + line)
        sys.stdout.flush()
        yield line


def _echo(stream: IO[str], to: IO[str], tail: collections.deque[str]) -> None:
    for line in stream:
        to.write("  " + line)
        to.flush()
        tail.append(line)


def _json_object(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _portable(value: Any) -> Any:
    """``value`` with this machine's repository and home paths replaced (results are committed)."""
    text = json.dumps(value, ensure_ascii=False)
    for path, replacement in ((str(REPO), "."), (str(Path.home()), "~")):
        text = text.replace(json.dumps(path)[1:-1], replacement)
    return json.loads(text)


# -- results and the table -------------------------------------------------------------------------


def _merge(results_file: Path, entries: dict[str, dict[str, Any]], bench_dir: Path) -> dict[str, Any]:
    try:
        earlier = json.loads(results_file.read_text()).get("benches", {})
    except (OSError, ValueError):
        earlier = {}
    existing = {bench_name(script) for script in bench_dir.glob("bench_*.py")}
    benches = {name: entry for name, entry in earlier.items() if name in existing}
    benches.update(entries)
    return {"machine": _machine(), "benches": dict(sorted(benches.items()))}


def _machine() -> dict[str, Any]:
    node = shutil.which("node")
    node_version = None
    if node is not None:
        node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "node": node_version,
    }


def headline_table(results: dict[str, Any]) -> str:
    """The markdown table of every benchmark's headline figures (README.md's bench section)."""
    machine = results["machine"]
    dates = sorted({entry["ran_at"][:10] for entry in results["benches"].values()})
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
    rows = [
        f"Latest figures (`bench/results/latest.json`, {when}; {machine['cpus']} CPUs, "
        f"Python {machine['python']}, Node {machine['node']}), from `make bench`:",
        "",
        "| Benchmark | Figure | Value | Goal | Status |",
        "|---|---|---|---|---|",
    ]
    for name, entry in results["benches"].items():
        rows.extend(_rows(name, entry))
    return "\n".join(rows)


def _rows(name: str, entry: dict[str, Any]) -> list[str]:
    if entry["status"] == "failed":
        return [f"| {name} | {_cell(entry['error'])} | | | **failed** |"]
    headline = [line for line in entry["result"].get("headline", []) if isinstance(line, dict)]
    if not headline:
        return [f"| {name} | (no headline figures: see latest.json) | | | {entry['status']} |"]
    rows = []
    for line in headline:
        value = _number(line.get("value"))
        if line.get("detail"):
            value += f" ({line['detail']})"
        met = line.get("met")
        status = "informative" if met is None else ("met" if met else "**missed**")
        metric, goal = _cell(str(line.get("metric", ""))), _cell(line.get("goal") or "")
        rows.append(f"| {name} | {metric} | {_cell(value)} | {goal} | {status} |")
    return rows


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _update_readme(readme: Path, table: str) -> None:
    text = readme.read_text()
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        print(f"{readme.name} has no {START_MARKER} ... {END_MARKER} section: not updated", file=sys.stderr)
        return
    head, tail = text[: start + len(START_MARKER)], text[end:]
    readme.write_text(f"{head}\n{table}\n{tail}")
    print(f"\n{readme.name}: the section between the bench markers is updated")


if __name__ == "__main__":
    sys.exit(main())
