"""Node.js as a test peer: finding node and npm, installing the pinned npm packages, running scripts.

A Node project here is a folder with a package.json and a committed package-lock.json
(tests/interop/node, bench/node). ``npm ci`` installs exactly what the lock file says; it is
rerun whenever node_modules no longer matches the lock file, so a changed pin never runs
against stale packages.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from required_tools import require_tool

INTEROP_NODE_DIR = Path(__file__).resolve().parent / "node"
INTEROP_BATCH_SCRIPT = INTEROP_NODE_DIR / "interop_batch.cjs"  # protocols in the scripts' headers
SDK_CALLS_SCRIPT = INTEROP_NODE_DIR / "sdk_calls.cjs"


@dataclass(frozen=True)
class NodeTools:
    node: str
    npm: str


def find_node_tools() -> NodeTools | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    return NodeTools(node, npm) if node and npm else None


def require_node_tools() -> NodeTools:
    """node and npm, or skip the test; in CI (CI=true) a missing tool fails it instead."""
    tools = find_node_tools()
    if tools is not None:
        return tools
    require_tool(False, "node and npm are needed to run the official Depot Node SDK")
    raise AssertionError("unreachable: require_tool skips or fails")


def _locked_packages(lock_file: Path) -> dict[str, tuple[str, str]]:
    packages = json.loads(lock_file.read_text())["packages"]
    return {
        path: (entry.get("version", ""), entry.get("integrity", ""))
        for path, entry in packages.items()
        if path  # "" is the project itself, which the installed copy does not list
    }


def node_modules_current(project_dir: Path) -> bool:
    """Whether node_modules holds exactly the packages of the project's package-lock.json."""
    installed = project_dir / "node_modules" / ".package-lock.json"
    if not installed.is_file():
        return False
    return _locked_packages(installed) == _locked_packages(project_dir / "package-lock.json")


def ensure_npm_ci(project_dir: Path, tools: NodeTools) -> None:
    """Run ``npm ci`` in project_dir unless its node_modules already matches the lock file."""
    if node_modules_current(project_dir):
        return
    proc = subprocess.run(
        [tools.npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"npm ci failed in {project_dir.name} ({proc.returncode}):\n{proc.stderr[-4000:]}")


def run_node_jsonl(
    tools: NodeTools,
    script: Path,
    requests: Sequence[Mapping[str, Any]],
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 300.0,
) -> list[dict[str, Any]]:
    """Run a JSON-lines Node script once on all requests: one request a line in, one reply a line out.

    Replies must come back in request order with the same ``id``; a reply with ``error`` is
    returned as it is, for the caller to report.
    """
    stdin = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests)
    proc = subprocess.run(
        [tools.node, str(script)],
        cwd=script.parent,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    replies = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    sent = [r.get("id") for r in requests]
    got = [r.get("id") for r in replies]
    if got != sent:
        raise RuntimeError(f"{script.name} answered ids {got[:5]}... for requests {sent[:5]}...")
    return replies
