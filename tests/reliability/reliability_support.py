"""What the reliability tests share: the session's evidence for the secret scan, the outcomes
the README tables are made of, and running an operator the way a task would.

``Evidence`` is a pytest plugin (this folder's conftest registers it for the whole session): it
keeps the captured output and failure text of every test report and the audit of every emulator
the session stops, next to the secrets the tests generated. ``Outcomes`` holds one entry per
fault-matrix cell and per bad-input row; ``scripts/reliability_tables.py`` renders them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import traceback
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.operator_support import Depot

from airflow_provider_depot.emulator import run_emulator

# Credentials the emulator generates (``emulator/depot/_ids.py``) and the organization tokens the
# reliability tests configure: distinctive enough that any occurrence in output is a leak.
ORG_TOKEN_PREFIX = "depot_org_reliability_"
SECRET_PATTERNS = {
    "build token": re.compile(r"depot_build_[A-Za-z0-9_-]{20,}"),
    "project token secret": re.compile(r"depot_project_[0-9a-f]{32,}"),
    "pull token": re.compile(r"depot_pull_[A-Za-z0-9_-]{20,}"),
    "organization token": re.compile(re.escape(ORG_TOKEN_PREFIX) + r"[0-9a-f]{32}"),
}
_CODES = (
    "canceled|unknown|invalid_argument|deadline_exceeded|not_found|already_exists|permission_denied|"
    "resource_exhausted|failed_precondition|aborted|out_of_range|unimplemented|internal|unavailable|"
    "data_loss|unauthenticated"
)
_RPC_AND_CODE = re.compile(rf"\b([A-Z][A-Za-z]*Service/[A-Z][A-Za-z]*): ({_CODES})\b")


def new_org_token() -> str:
    return ORG_TOKEN_PREFIX + secrets.token_hex(16)


def rpc_and_code(message: str) -> tuple[str, str] | None:
    """``("ProjectService/GetProject", "unavailable")`` as named in an error message, if it is."""
    found = _RPC_AND_CODE.search(message)
    return (found.group(1), found.group(2)) if found else None


@dataclass(frozen=True)
class Finding:
    source: str
    what: str
    excerpt: str


class Evidence:
    """Everything the session printed, raised or recorded, and the secrets it must not contain."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.known: dict[str, str] = {}  # secret -> what it is

    def add(self, source: str, text: str) -> None:
        if text:
            self.texts.append((source, text))

    def secret(self, value: str, what: str) -> str:
        """Remember a secret the session handed out or learned; returns it."""
        if value:
            self.known[value] = what
        return value

    def scan(self, extra: Sequence[tuple[str, str]] = ()) -> list[Finding]:
        """Every place a known secret, or anything shaped like a Depot credential, appears."""
        findings: dict[tuple[str, int], Finding] = {}  # one per place: a known secret has a shape too
        for source, text in [*self.texts, *extra]:
            for value, what in self.known.items():
                at = text.find(value)
                while at >= 0:
                    findings.setdefault((source, at), Finding(source, what, _excerpt(text, at, len(value))))
                    at = text.find(value, at + 1)
            for what, pattern in SECRET_PATTERNS.items():
                for match in pattern.finditer(text):
                    place = (source, match.start())
                    findings.setdefault(
                        place, Finding(source, what, _excerpt(text, match.start(), len(match.group())))
                    )
        return list(findings.values())

    # -- the plugin side -----------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown":  # its sections hold what setup and call captured as well
            for name, content in report.sections:
                self.add(f"{report.nodeid} [{name}]", content)
        if report.longrepr is not None:
            self.add(f"{report.nodeid} [{report.when} failure]", report.longreprtext)

    def emulator_stopping(self, handle: Any) -> None:
        """Keep the audit and the lease report of an emulator that is about to stop."""
        self.add(f"emulator {handle.url} audit", json.dumps(handle.admin.audit()))
        self.add(f"emulator {handle.url} endpoints", json.dumps(handle.admin.endpoints()))


def _excerpt(text: str, at: int, length: int) -> str:
    """The surroundings of a finding with the secret itself shortened (the report must not leak)."""
    before = text[max(0, at - 60) : at].replace("\n", " ")
    after = text[at + length : at + length + 40].replace("\n", " ")
    return f"...{before}<{text[at : at + 12]}...>{after}..."


class XComRecorder:
    """The part of a task instance the operators use outside ``execute``'s return: ``xcom_push``."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value)  # XCom takes JSON
        self.pushed[key] = value


@dataclass
class TaskRun:
    """One ``execute()``: what it returned or raised, and what it pushed to XCom."""

    result: Any = None
    error: BaseException | None = None
    xcom: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return "" if self.error is None else f"{type(self.error).__name__}: {self.error}"


def run_task(operator: Any, evidence: Evidence, context: dict[str, Any] | None = None) -> TaskRun:
    """``operator.execute(context)`` as the task runner would call it; every value and every
    exception text it produced goes into the evidence for the secret scan."""
    recorder = XComRecorder()
    run = TaskRun(xcom=recorder.pushed)
    try:
        run.result = operator.execute({"ti": recorder, **(context or {})})
    except Exception as exc:
        run.error = exc
        evidence.add(f"{operator.task_id} exception", "".join(traceback.format_exception(exc)))
        evidence.add(f"{operator.task_id} exception repr", repr(exc))
    evidence.add(f"{operator.task_id} return value", json.dumps(run.result, default=str))
    evidence.add(f"{operator.task_id} xcom", json.dumps(recorder.pushed, default=str))
    return run


@dataclass(frozen=True)
class FaultOutcome:
    """One cell of the fault matrix as the README shows it."""

    kind: str
    fault: str
    outcome: str
    ok: bool
    bug: str | None = None


@dataclass(frozen=True)
class BadInputOutcome:
    """One row of the bad-input table."""

    row: str
    operator: str
    arguments: str
    parameter: str
    error: str
    api_calls: int
    ok: bool
    bug: str | None = None


@dataclass
class Outcomes:
    """What the session observed, in the shape ``scripts/reliability_tables.py`` reads."""

    kinds: dict[str, str] = field(default_factory=dict)  # key -> column label
    faults: dict[str, str] = field(default_factory=dict)  # key -> row label
    cells: list[FaultOutcome] = field(default_factory=list)
    bad_input: list[BadInputOutcome] = field(default_factory=list)
    bad_input_rows: list[str] = field(default_factory=list)  # every row id, in table order

    def to_json(self) -> dict[str, Any]:
        return {  # lists of pairs: the order is the table's, and JSON objects may be re-sorted
            "kinds": list(self.kinds.items()),
            "faults": list(self.faults.items()),
            "cells": [asdict(cell) for cell in self.cells],
            "bad_input_rows": self.bad_input_rows,
            "bad_input": [asdict(row) for row in self.bad_input],
        }

    @property
    def complete(self) -> bool:
        """Every cell and row of both tables was observed in this session."""
        cells = {(c.kind, c.fault) for c in self.cells}
        rows = {r.row for r in self.bad_input}
        return (
            bool(self.kinds)
            and bool(self.bad_input_rows)
            and cells == {(k, f) for k in self.kinds for f in self.faults}
            and rows == set(self.bad_input_rows)
        )


def conclude(problems: list[str], bug: str | None) -> None:
    """Assert the contract. A known bug (``bug``: its summary) xfails while it reproduces and
    fails the test once it no longer does, so the lists of known bugs and the README stay true."""
    if bug is not None:
        if problems:
            pytest.xfail(f"known bug: {bug} ({'; '.join(problems)})")
        pytest.fail(f"known bug no longer reproduces; update the known bugs and the README: {bug}")
    assert not problems, "\n".join(problems)


def build_processes(build_id: str) -> list[int]:
    """Live processes (zombies excluded) whose environment names ``DEPOT_BUILD_ID=build_id``: the
    depot CLI of DepotBuildOperator, the bash_command of DepotBuildKitOperator and its children."""
    marker = f"DEPOT_BUILD_ID={build_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in environ.split(b"\0") and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def kill_processes(pids: list[int]) -> None:
    """SIGKILL processes a test started (directly or through a task) and left behind."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


class Emulators:
    """Emulators for one test, each accepting ``org_token``; ``connect`` points depot_default at one."""

    def __init__(self, org_token: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.org_token = org_token
        self._monkeypatch = monkeypatch
        self._running: list[Any] = []

    def start(self, **options: Any) -> Depot:
        context = run_emulator(tokens=(self.org_token,), **options)
        handle = context.__enter__()
        self._running.append(context)
        return Depot(handle)

    def connect(self, url: str, **extra: Any) -> None:
        """``depot_default`` (AIRFLOW_CONN_DEPOT_DEFAULT) to ``url`` with the org token."""
        connection = {"conn_type": "depot", "password": self.org_token, "host": url, "extra": extra}
        self._monkeypatch.setenv("AIRFLOW_CONN_DEPOT_DEFAULT", json.dumps(connection))

    def close(self) -> None:
        while self._running:
            self._running.pop().__exit__(None, None, None)
