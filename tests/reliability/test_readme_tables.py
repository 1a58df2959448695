"""README.md's fault-matrix and bad-input tables are what this session observed.

Runs after every other test (``reliability_last``), hands the session's outcomes to
``scripts/reliability_tables.py --check``, and fails when the README differs: regenerate with
``python scripts/reliability_tables.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_support import Outcomes

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "reliability_tables.py"


@pytest.mark.reliability_last
def test_readme_tables_match_this_run(outcomes: Outcomes, tmp_path: Path) -> None:
    if not outcomes.complete:
        pytest.skip("only part of the fault matrix or the bad-input table ran in this session")
    results = tmp_path / "outcomes.json"
    results.write_text(json.dumps(outcomes.to_json()))
    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--results", str(results), "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_renderer_replaces_only_its_sections(tmp_path: Path) -> None:
    """The script's own contract, on a README of its own: both sections replaced, the rest kept."""
    readme = tmp_path / "README.md"
    readme.write_text(
        "# P\nintro\n<!-- reliability:faults:start -->\nold\n<!-- reliability:faults:end -->\nmiddle\n"
        "<!-- reliability:bad-input:start -->\n<!-- reliability:bad-input:end -->\nend\n"
    )
    results = tmp_path / "outcomes.json"
    results.write_text(
        json.dumps(
            {
                "kinds": [["k", "kind K"]],
                "faults": [["g", "fault G"], ["f", "fault F"]],
                "cells": [
                    {"kind": "k", "fault": "f", "outcome": "recovers", "ok": True, "bug": None},
                    {"kind": "k", "fault": "g", "outcome": "fails: `x|y`", "ok": False, "bug": "it breaks"},
                ],
                "bad_input_rows": ["r"],
                "bad_input": [
                    {
                        "row": "r",
                        "operator": "Op",
                        "arguments": "a=1",
                        "parameter": "a",
                        "error": "a must be 2",
                        "api_calls": 0,
                        "ok": True,
                        "bug": None,
                    }
                ],
            }
        )
    )
    command = [sys.executable, str(SCRIPT), "--results", str(results), "--readme", str(readme)]
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 1  # "old" is stale
    assert subprocess.run(command, capture_output=True).returncode == 0
    text = readme.read_text()
    assert text.startswith("# P\nintro\n<!-- reliability:faults:start -->\n| Fault (fires once) | kind K |")
    assert "| fault G | **bug 1**: fails: `x\\|y` |\n| fault F | recovers |" in text  # in the given order
    assert "1. it breaks" in text
    assert "| `Op` | `a=1` | `a` | a must be 2 | 0 |" in text
    assert "old" not in text
    assert text.endswith("<!-- reliability:bad-input:end -->\nend\n")
    assert "\nmiddle\n" in text
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0
