"""The fault matrix: every kind of RPC the provider makes meets every fault, through the real
operators against the emulator over real HTTP.

Kinds: unary reads (GetProject through DepotGetProjectOperator, ListImages through
DepotRegistryCleanupOperator), unary writes (CreateProject, CreateToken, CreateBuild through
DepotCreateProjectOperator, DepotCreateTokenOperator, DepotBuildKitOperator), the server stream
GetEndpoint and the client stream ReportHealth (the BuildKit session of DepotBuildKitOperator).
Each fault fires once (it is transient). The contract checked in every cell:

- a read recovers from a transient fault worth retrying (unavailable, a proxy's 502, a reset,
  resource_exhausted);
- a write is never sent twice in one task try;
- a health stream survives: the build ends successful;
- every failure is a task error that names the RPC and the Connect code.

Each cell's observed outcome is recorded for the README table before the contract is asserted;
``KNOWN_BUGS`` lists the cells where another layer breaks the contract today (the test then
xfails, and fails once the bug is gone so the list and the README get updated).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from reliability_proxy import ResetProxy, ResetRule
from reliability_support import (
    Emulators,
    Evidence,
    FaultOutcome,
    Outcomes,
    TaskRun,
    conclude,
    rpc_and_code,
    run_task,
)
from support.operator_support import Depot, run_dag_file

from airflow_provider_depot.operators.buildkit import DepotBuildKitOperator
from airflow_provider_depot.operators.projects import DepotCreateProjectOperator, DepotGetProjectOperator
from airflow_provider_depot.operators.registry_cleanup import DepotRegistryCleanupOperator
from airflow_provider_depot.operators.tokens import DepotCreateTokenOperator

CLIENT_DEADLINE = 1.0  # seconds: the deadline the deadline fault outlasts
SERVER_DELAY_MS = 3000
HEALTH_TIMEOUT = 2.0  # the emulator's; health reports go every 0.2 s, a reopened stream waits 0.5 s
HEALTH_INTERVAL = 0.2
HOLD_BUILDER = "sleep 4.5"  # over twice the health timeout


@dataclass(frozen=True)
class Kind:
    label: str
    rpcs: tuple[str, ...]  # the faulted RPCs, one task run each, in this order
    emulator: dict[str, Any]
    stream: str | None = None  # "server" or "client"


KINDS = {
    "unary_read": Kind("unary read (GetProject, ListImages)", ("GetProject", "ListImages"), {"pending": 0}),
    "unary_write": Kind(
        "unary write (CreateProject, CreateToken, CreateBuild)",
        ("CreateProject", "CreateToken", "CreateBuild"),
        {"pending": 0},
    ),
    "server_stream": Kind(
        "server stream (GetEndpoint)", ("GetEndpoint",), {"pending": 1, "pending_interval": 0.3}, "server"
    ),
    "client_stream": Kind(
        "client stream (ReportHealth)",
        ("ReportHealth",),
        {"pending": 0, "health_timeout": HEALTH_TIMEOUT, "reap_interval": 0.25},
        "client",
    ),
}

FAULTS = {
    "unavailable": "Connect `unavailable`",
    "html_502": "HTML 502 from a proxy",
    "reset_before_reply": "connection reset before the reply",
    "reset_mid_stream": "connection reset mid-stream",
    "deadline_exceeded": "deadline exceeded",
    "resource_exhausted": "`resource_exhausted` with Retry-After: 1",
    "malformed_body": "malformed body",
    "truncated_body": "body cut short (clean end inside a message)",
    "missing_end_of_stream": "missing end-of-stream",
}
# Faults a read must recover from: the request was refused or lost, asking again is harmless.
RETRIED_ON_READS = {"unavailable", "html_502", "reset_before_reply", "reset_mid_stream", "resource_exhausted"}


# Contract breaks in other layers today, each reported with a reproduction: cell -> summary.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def emulator_rule(kind: Kind, fault: str) -> dict[str, Any] | None:
    """The emulator fault rule acting out ``fault`` on ``kind`` (None: the reset proxy does it)."""
    content_type = "application/proto" if kind.stream is None else "application/connect+proto"
    rules: dict[str, dict[str, Any] | None] = {
        "unavailable": {"action": "error", "code": "unavailable", "message": "injected: unavailable"},
        "html_502": {"action": "http", "status": 502},
        # drop_after runs the call first (a write takes effect); on a server stream it would come
        # after the messages, which is the mid-stream case, so that one drops before the call.
        "reset_before_reply": {"action": "drop_before" if kind.stream == "server" else "drop_after"},
        "reset_mid_stream": None,
        # The client gives a health stream a day: the server's deadline is the one that passes.
        "deadline_exceeded": {"action": "error", "code": "deadline_exceeded", "message": "injected"}
        if kind.stream == "client"
        else {"action": "delay", "delay_ms": SERVER_DELAY_MS},
        "resource_exhausted": {"action": "error", "code": "resource_exhausted", "retry_after": 1},
        "malformed_body": {
            "action": "http",
            "status": 200,
            "content_type": content_type,
            "body": "\x7f this is neither a protobuf message nor an envelope \x7f",
        },
        "truncated_body": {"action": "truncate", "keep_messages": 1 if kind.stream == "server" else 0},
        "missing_end_of_stream": {"action": "no_end_stream"},
    }
    return rules[fault]


def proxy_rule(kind: Kind, rpc: str) -> ResetRule:
    """Where the reset proxy cuts ``rpc``: inside a unary reply's body, after GetEndpoint's first
    message, after ReportHealth's third report."""
    if kind.stream == "server":
        return ResetRule(f"/{rpc}", "reply", after=1)
    if kind.stream == "client":
        return ResetRule(f"/{rpc}", "request", after=3)
    return ResetRule(f"/{rpc}", "reply", after=0, half=True)


@dataclass
class Cell:
    """One kind meeting one fault: the emulator (maybe behind the reset proxy), and the runs."""

    kind_key: str
    fault: str
    depot: Depot
    evidence: Evidence
    project_id: str
    proxy_rules: dict[str, ResetRule] = field(default_factory=dict)
    rule_ids: dict[str, str] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return KINDS[self.kind_key]

    def operator(self, rpc: str) -> Any:
        deadline = self.fault == "deadline_exceeded"
        builds = {"task_id": f"build_{rpc.lower()}", "project_id": self.project_id}
        factories: dict[str, Callable[[], Any]] = {
            "GetProject": lambda: DepotGetProjectOperator(task_id="get_project", project_id=self.project_id),
            "ListImages": lambda: DepotRegistryCleanupOperator(
                task_id="cleanup", project_id=self.project_id, keep_last=1, dry_run=True
            ),
            "CreateProject": lambda: DepotCreateProjectOperator(
                task_id="create_project", name="fault-matrix", region_id="us-east-1"
            ),
            "CreateToken": lambda: DepotCreateTokenOperator(
                task_id="create_token", project_id=self.project_id, description="fault matrix"
            ),
            "CreateBuild": lambda: DepotBuildKitOperator(**builds, bash_command="true"),
            "GetEndpoint": lambda: DepotBuildKitOperator(
                **builds, bash_command="true", endpoint_timeout=CLIENT_DEADLINE if deadline else 60.0
            ),
            "ReportHealth": lambda: DepotBuildKitOperator(
                **builds, bash_command=HOLD_BUILDER, health_interval=HEALTH_INTERVAL
            ),
        }
        return factories[rpc]()

    def fired(self, rpc: str) -> bool:
        if rpc in self.proxy_rules:
            return self.proxy_rules[rpc].fired.is_set()
        rule = next(r for r in self.depot.admin.faults() if r["id"] == self.rule_ids[rpc])
        return bool(rule["fired"])

    def run(self, rpc: str) -> tuple[TaskRun, int, int]:
        """One task try of the operator for ``rpc``: the run, how often ``rpc`` was sent, and how
        often the client said it reopened a failed stream."""
        since = self.depot.mark()
        with client_reopenings() as reopenings:
            run = run_task(self.operator(rpc), self.evidence)
        return run, self.depot.calls(since)[rpc], len(reopenings)


@contextmanager
def client_reopenings() -> Iterator[list[str]]:
    """The client's "...; reopening" log lines (a GetEndpoint or ReportHealth stream that failed
    or ended early) while the block runs."""
    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.getMessage().endswith("; reopening"):
                found.append(record.getMessage())

    logger = logging.getLogger("airflow_provider_depot.client")
    handler, level = Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield found
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@contextmanager
def open_cell(kind_key: str, fault: str, emulators: Emulators, evidence: Evidence) -> Iterator[Cell]:
    kind = KINDS[kind_key]
    depot = emulators.start(**kind.emulator)
    project_id = depot.project("fault-matrix-target")
    depot.admin.add_images(project_id, ["v1", "v2", "v3"])
    extra: dict[str, Any] = {}
    if fault == "deadline_exceeded" and kind.stream is None:
        extra["timeout"] = CLIENT_DEADLINE
    cell = Cell(kind_key, fault, depot, evidence, project_id)
    rule = emulator_rule(kind, fault)
    if rule is not None:
        ids = depot.admin.add_faults([{**rule, "method": f"*/{rpc}", "times": 1} for rpc in kind.rpcs])
        cell.rule_ids = dict(zip(kind.rpcs, ids, strict=True))
        emulators.connect(depot.emulator.url, **extra)
        yield cell
        return
    host, port = depot.emulator.url.removeprefix("http://").rsplit(":", 1)
    with ResetProxy(host, int(port)) as proxy:
        cell.proxy_rules = {rpc: proxy.arm(proxy_rule(kind, rpc)) for rpc in kind.rpcs}
        emulators.connect(proxy.url, http2=False, **extra)
        yield cell


def describe(run: TaskRun, rpc: str, calls: int, reopenings: int, stream: str | None) -> str:
    """A run's outcome in words, free of ids and timings (the README shows it). A call recovers
    when it was sent again (the transport's retry) or the client reopened its failed stream; a
    health stream is opened many times in a run anyway, so only the reopening counts there."""
    if run.error is None:
        resent = calls > 1 and stream != "client"
        return "recovers" if resent or reopenings else "no effect"
    named = rpc_and_code(str(run.error))
    if named is None:
        return f"fails: {type(run.error).__name__}, no RPC and code named"
    failed_rpc, code = named
    return f"fails: `{code}`" if failed_rpc.endswith(f"/{rpc}") else f"fails at `{failed_rpc}`: `{code}`"


def violations(kind_key: str, fault: str, rpc: str, run: TaskRun, calls: int, depot: Depot) -> list[str]:
    """How a run breaks the contract of the module docstring."""
    broken = []
    if run.error is not None and rpc_and_code(str(run.error)) is None:
        broken.append(f"{rpc}: the task error names no RPC and Connect code: {run.message}")
    if kind_key == "unary_write" and calls != 1:
        broken.append(f"{rpc} was sent {calls} times in one task try")
    if kind_key in ("unary_read", "server_stream") and fault in RETRIED_ON_READS and run.error is not None:
        broken.append(f"{rpc}: a transient fault on a read was not recovered from: {run.message}")
    if kind_key == "client_stream" and run.error is not None:
        broken.append(f"{rpc}: the health stream did not survive a transient fault: {run.message}")
    live = depot.admin.endpoints()["live"]
    if live:
        broken.append(f"BuildKit endpoints left live: {live}")
    return broken


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind_key", list(KINDS))
def test_fault_matrix(
    kind_key: str, fault: str, emulators: Emulators, evidence: Evidence, outcomes: Outcomes
) -> None:
    outcomes.kinds.update({key: kind.label for key, kind in KINDS.items()})
    outcomes.faults.update(FAULTS)
    with open_cell(kind_key, fault, emulators, evidence) as cell:
        texts, broken = [], []
        for rpc in cell.kind.rpcs:
            run, calls, reopenings = cell.run(rpc)
            assert cell.fired(rpc), f"the {fault} fault never fired on {rpc}: the cell would prove nothing"
            text = describe(run, rpc, calls, reopenings, cell.kind.stream)
            if kind_key == "unary_write":
                text += ", sent once" if calls == 1 else f", sent {calls} times"
            texts.append((rpc, text))
            broken += violations(kind_key, fault, rpc, run, calls, cell.depot)
    bug = KNOWN_BUGS.get((kind_key, fault))
    outcomes.cells.append(FaultOutcome(kind_key, fault, _cell_text(texts), not broken, bug))
    conclude(broken, bug)


def _cell_text(texts: list[tuple[str, str]]) -> str:
    """One text when every RPC of the kind fared alike, else one per RPC."""
    distinct = {text for _, text in texts}
    if len(distinct) == 1:
        return distinct.pop()
    return "; ".join(f"{rpc}: {text}" for rpc, text in texts)


@pytest.mark.parametrize(
    ("calls", "reopenings", "stream", "outcome"),
    [
        (1, 0, None, "no effect"),
        (2, 0, None, "recovers"),  # the transport sent the call again
        (2, 0, "server", "recovers"),
        (1, 1, "server", "recovers"),  # the session reopened GetEndpoint
        (5, 0, "client", "no effect"),  # health streams come one after another anyway
        (5, 1, "client", "recovers"),
    ],
)
def test_a_cell_says_recovers_only_with_evidence(
    calls: int, reopenings: int, stream: str | None, outcome: str
) -> None:
    assert describe(TaskRun(), "ReportHealth", calls, reopenings, stream) == outcome


@pytest.mark.parametrize("fault", ["unavailable", "html_502"])
def test_a_read_fault_that_persists_fails_after_the_retries_naming_rpc_and_code(
    fault: str, emulators: Emulators, evidence: Evidence
) -> None:
    depot = emulators.start(pending=0)
    project_id = depot.project()
    rule = emulator_rule(KINDS["unary_read"], fault)
    assert rule is not None
    depot.admin.add_faults([{**rule, "method": "*/GetProject"}])  # every call, for good
    emulators.connect(depot.emulator.url, max_retries=2)
    since = depot.mark()

    run = run_task(DepotGetProjectOperator(task_id="get_project", project_id=project_id), evidence)

    assert rpc_and_code(str(run.error)) == ("ProjectService/GetProject", "unavailable"), run.message
    assert depot.calls(since)["GetProject"] == 3  # the call and its two retries


def test_a_retried_task_after_an_ambiguous_create_reuses_what_the_first_try_created(
    emulators: Emulators, evidence: Evidence
) -> None:
    """CreateProject ran, the reply was lost: the try fails; the next try finds the project."""
    depot = emulators.start(pending=0)
    depot.admin.add_faults([{"method": "*/CreateProject", "action": "drop_after", "times": 1}])
    emulators.connect(depot.emulator.url)
    since = depot.mark()

    tries = [
        run_task(DepotCreateProjectOperator(task_id="create", name="api", region_id="us-east-1"), evidence)
        for _ in range(2)
    ]

    assert rpc_and_code(str(tries[0].error)) == ("ProjectService/CreateProject", "unavailable")
    assert tries[1].error is None
    [project] = depot.admin.projects()
    assert tries[1].result["project_id"] == project.project_id
    assert depot.calls(since)["CreateProject"] == 1


@pytest.mark.airflow_run
@pytest.mark.usefixtures("airflow_db")
def test_a_depot_error_fails_the_airflow_task_with_rpc_and_code_in_its_log(
    emulators: Emulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The cells above call ``execute()``; here one failure goes through Airflow's task runner."""
    depot = emulators.start(pending=0)
    project_id = depot.project()
    depot.admin.add_faults([{"method": "*/GetProject", "action": "http", "status": 502}])
    emulators.connect(depot.emulator.url, max_retries=1)
    source = (
        "import pendulum\nfrom airflow.sdk import DAG\n"
        "from airflow_provider_depot.operators.projects import DepotGetProjectOperator\n"
        "with DAG('reliability_task_error', schedule=None,"
        " start_date=pendulum.datetime(2025, 1, 1, tz='UTC'), params={'project_id': ''}) as dag:\n"
        "    DepotGetProjectOperator(task_id='get_project', project_id='{{ params.project_id }}')\n"
    )

    run = run_dag_file(tmp_path, monkeypatch, source, "reliability_task_error", {"project_id": project_id})

    assert run.state == "failed"
    log = capfd.readouterr().out
    assert "ConnectError: ProjectService/GetProject: unavailable: HTTP 502" in log
    print(log)  # back into the captured output, for the secret scan
