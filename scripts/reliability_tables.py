"""Render the reliability suite's outcomes into README.md's fault-matrix and bad-input tables.

    python scripts/reliability_tables.py                  # run tests/reliability, then rewrite the tables
    python scripts/reliability_tables.py --results FILE   # rewrite them from a results file
    python scripts/reliability_tables.py --results FILE --check   # exit 1 if README.md differs

The tables are what a run observed: the suite records each fault-matrix cell and each bad-input
row (``tests/reliability/conftest.py`` writes them to ``$RELIABILITY_RESULTS`` at the end of a
run), this script turns them into markdown. Only the text between
``<!-- reliability:faults:start -->`` / ``<!-- reliability:faults:end -->`` and
``<!-- reliability:bad-input:start -->`` / ``<!-- reliability:bad-input:end -->`` is replaced.
A test of the suite runs ``--check`` against the session's own outcomes, so a stale table fails.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("faults", "bad-input")
TABLE_CHECK = "tests/reliability/test_readme_tables.py::test_readme_tables_match_this_run"
LEGEND = (
    "*recovers*: the task succeeded after the call was sent again (the transport's retry) or "
    "after the client saw its stream fail and reopened it; *no effect*: the task succeeded "
    "without either; *fails*: the task failed "
    "with an error naming the RPC and that Connect code. **Bug** marks a cell where the contract "
    "(reads recover from transient faults, writes are never sent twice, health streams survive, "
    "every failure names its RPC and code) is broken today; the note under the table says how."
)
FAULT_NOTES = (
    "How each fault is made: the emulator's fault rules, each firing once (`error`, `http`, "
    "`drop_after`, or `drop_before` on GetEndpoint, `truncate`, `no_end_stream`); *deadline "
    "exceeded* delays the call 3 s past a 1 s deadline (the connection's `timeout`, or the "
    "operator's `endpoint_timeout`; the health stream gets the server's `deadline_exceeded`); "
    "*reset mid-stream* is a TCP proxy that resets the connection (RST) inside a unary reply's "
    "body, after GetEndpoint's first message, or after ReportHealth's third report."
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", type=Path, help="a results file; default: run tests/reliability")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if README.md differs")
    parser.add_argument("--readme", type=Path, default=REPO / "README.md")
    args = parser.parse_args(argv)
    if args.results is not None:
        outcomes = json.loads(args.results.read_text())
    else:
        outcomes = run_suite()
        if outcomes is None:
            return 1
    current = args.readme.read_text()
    updated = replace_sections(current, render(outcomes))
    if args.check:
        if updated == current:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(), updated.splitlines(), "README.md", "README.md (this run)", lineterm=""
        )
        print("\n".join(diff))
        print(
            f"\n{args.readme.name}'s reliability tables are stale: run python scripts/reliability_tables.py"
        )
        return 1
    args.readme.write_text(updated)
    print(f"{args.readme.name}: the reliability tables are updated")
    return 0


def run_suite() -> dict[str, Any] | None:
    """Run the reliability suite (not the table check itself); its outcomes, or None if it failed."""
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "outcomes.json"
        env = {**os.environ, "RELIABILITY_RESULTS": str(results)}
        command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider"]
        status = subprocess.run([*command, "--deselect", TABLE_CHECK], cwd=REPO, env=env).returncode
        if status != 0:
            print("the reliability suite failed: README.md is left as it is", file=sys.stderr)
            return None
        return json.loads(results.read_text())  # type: ignore[no-any-return]


def render(outcomes: dict[str, Any]) -> dict[str, str]:
    return {"faults": fault_table(outcomes), "bad-input": bad_input_table(outcomes)}


def fault_table(outcomes: dict[str, Any]) -> str:
    kinds, faults = dict(outcomes["kinds"]), dict(outcomes["faults"])  # [key, label] pairs, in order
    cells = {(c["kind"], c["fault"]): c for c in outcomes["cells"]}
    bugs: list[str] = []
    lines = [
        "| Fault (fires once) | " + " | ".join(kinds.values()) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for fault, label in faults.items():
        row = [label]
        for kind in kinds:
            cell = cells.get((kind, fault))
            row.append("not run" if cell is None else _fault_cell(cell, bugs))
        lines.append("| " + " | ".join(_escape(text) for text in row) + " |")
    notes = [f"{number}. {summary}" for number, summary in enumerate(bugs, 1)]
    return "\n".join([*lines, "", LEGEND, "", FAULT_NOTES, *(["", *notes] if notes else [])])


def _fault_cell(cell: dict[str, Any], bugs: list[str]) -> str:
    if cell["ok"]:
        return str(cell["outcome"])
    summary = cell["bug"] or "not a known bug: the suite failed"
    if summary not in bugs:
        bugs.append(summary)
    return f"**bug {bugs.index(summary) + 1}**: {cell['outcome']}"


def bad_input_table(outcomes: dict[str, Any]) -> str:
    rows = {r["row"]: r for r in outcomes["bad_input"]}
    bugs: list[str] = []
    lines = [
        "| Operator | Invalid argument | Names | Error | API calls |",
        "|---|---|---|---|---|",
    ]
    for row_id in outcomes["bad_input_rows"]:
        row = rows.get(row_id)
        if row is None:
            lines.append(f"| {_escape(row_id)} | not run | | | |")
            continue
        named = f"`{row['parameter']}`"
        if not row["ok"]:
            summary = row["bug"] or "not a known bug: the suite failed"
            if summary not in bugs:
                bugs.append(summary)
            named = f"**bug {bugs.index(summary) + 1}**"
        cells = (f"`{row['operator']}`", f"`{row['arguments']}`", named, row["error"], str(row["api_calls"]))
        lines.append("| " + " | ".join(_escape(cell) for cell in cells) + " |")
    intro = (
        "Each operator is given one invalid argument and executed against the emulator; the task must "
        "fail with an error naming the parameter before any API call (the emulator's audit shows none): "
        "when the DAG file is parsed, or when the task runs, then without retries (AirflowFailException)."
    )
    notes = [f"{number}. {summary}" for number, summary in enumerate(bugs, 1)]
    return "\n".join([intro, "", *lines, *(["", *notes] if notes else [])])


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def replace_sections(readme: str, tables: dict[str, str]) -> str:
    """``readme`` with each ``<!-- reliability:NAME:start/end -->`` section holding its table."""
    for name, table in tables.items():
        start, end = f"<!-- reliability:{name}:start -->", f"<!-- reliability:{name}:end -->"
        head, found, rest = readme.partition(start)
        _, found_end, tail = rest.partition(end)
        if not found or not found_end:
            raise SystemExit(f"README.md has no {start} ... {end} section")
        readme = f"{head}{start}\n{table}\n{end}{tail}"
    return readme


if __name__ == "__main__":
    sys.exit(main())
