"""The official ``depot`` CLI as a test peer: finding the pinned binary and running it in a sandbox.

The binary is where ``scripts/install_build_tools.sh`` puts it (``$DEPOT_CLI`` when set, as
``eval "$(scripts/install_build_tools.sh)"`` sets it; else ``$DEPOT_TOOLS_CACHE`` or the repo's
``.cache``, then ``depot-cli/node_modules/@depot/cli-linux-x64/bin/depot``). Nothing on PATH is
used: another version of the CLI would make other calls.

Each run gets a minimal environment (PATH, the quiet settings the build operator also uses, what
the test passes) and a private HOME, XDG and Docker config directories, so the CLI never reads
or writes the user's configuration. It runs in a session of its own; when it has exited, any
process still in that session is killed and reported as a failure, so no CLI process outlives
its test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from required_tools import require_tool

from airflow_provider_depot.operators._depot_cli import QUIET_ENV

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI_VERSION = "2.102.12"  # scripts/install_build_tools.sh pins @depot/cli-linux-x64@0.0.1-cli.2.102.12
INSTALL_HINT = "run scripts/install_build_tools.sh"
_BINARY = Path("depot-cli", "node_modules", "@depot", "cli-linux-x64", "bin", "depot")
_KILL_WAIT = 10.0
_PRIVATE_DIRS = {
    "HOME": "home",
    "XDG_CONFIG_HOME": "config",
    "XDG_CACHE_HOME": "cache",
    "XDG_DATA_HOME": "data",
    "XDG_STATE_HOME": "state",
    "DOCKER_CONFIG": "docker",
}


def cli_path() -> Path:
    """Where the install script puts the CLI (whether or not it is there)."""
    explicit = os.environ.get("DEPOT_CLI")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("DEPOT_TOOLS_CACHE") or str(REPO_ROOT / ".cache")
    return Path(cache) / _BINARY


@dataclass(frozen=True)
class CliResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        command = " ".join(self.argv)
        return f"depot {command} exited {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"

    def ok(self) -> CliResult:
        """This result, or an AssertionError with the CLI's output when it did not exit 0."""
        assert self.returncode == 0, self.describe()
        return self


@dataclass(frozen=True)
class DepotCli:
    """The CLI binary and the private directory its runs use as HOME, XDG and Docker config."""

    binary: Path
    sandbox: Path

    def run(
        self, *argv: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 60.0
    ) -> CliResult:
        """Run ``depot ARGV`` with ``env`` (DEPOT_API_URL, DEPOT_TOKEN, ...) on top of the sandbox."""
        process = subprocess.Popen(
            [str(self.binary), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(env),
            cwd=cwd or self.sandbox,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_session(process.pid)
            stdout, stderr = process.communicate()
            raise AssertionError(
                f"depot {' '.join(argv)} did not finish within {timeout:g} s\n{stdout}{stderr}"
            ) from None
        left = _kill_session(process.pid)
        assert not left, f"depot {' '.join(argv)} left processes behind (killed): {left}"
        return CliResult(tuple(argv), process.returncode, stdout, stderr)

    def _environment(self, env: Mapping[str, str]) -> dict[str, str]:
        base = {"PATH": os.environ.get("PATH", os.defpath), "TMPDIR": tempfile.gettempdir()}
        for variable, name in _PRIVATE_DIRS.items():
            directory = self.sandbox / name
            directory.mkdir(parents=True, exist_ok=True)
            base[variable] = str(directory)
        return {**base, **QUIET_ENV, **env}


def find_depot_cli(sandbox: Path) -> DepotCli:
    """The pinned CLI, or skip the test (fail it when CI=true) if it is missing or another version."""
    binary = cli_path()
    installed = binary.is_file() and os.access(binary, os.X_OK)
    require_tool(installed, f"the depot CLI is not installed at {binary} ({INSTALL_HINT})")
    cli = DepotCli(binary, sandbox)
    version = cli.run("--version", env={}).ok().stdout
    require_tool(
        f"version {CLI_VERSION} " in version,
        f"the depot CLI at {binary} is not version {CLI_VERSION}: {version.strip()!r} ({INSTALL_HINT})",
    )
    return cli


def _kill_session(session_id: int) -> list[str]:
    """SIGKILL every live process of the session ``session_id`` and wait (up to 10 s) until they
    are gone; their ``pid (name)`` descriptions."""
    killed = {pid: name for pid, name in _session_members(session_id).items() if _signal(pid)}
    deadline = time.monotonic() + _KILL_WAIT
    while set(killed) & set(_session_members(session_id)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return [f"{pid} ({name})" for pid, name in killed.items()]


def _session_members(session_id: int) -> dict[int, str]:
    """The live (not zombie) processes of a session: pid -> command name, from /proc."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.find("(") + 1 : stat.rfind(")")], stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == session_id:  # state, ppid, pgrp, session
            members[int(entry.name)] = name
    return members


def _signal(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
