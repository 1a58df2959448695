"""No organization token, build token or created token secret appears anywhere the session can see.

The scan runs after every other test of the session (``reliability_last``) over: the captured
output and failure text of every test (task logs of every ``dag.test()`` and direct ``execute()``
included), every XCom value and rendered template field in the session's metadata database, the
return values, XCom pushes and exception texts the reliability tests recorded, the output of the
killed task processes, and the audit and lease report of every emulator the session stopped. It
looks for the secrets the session knows and for anything shaped like a Depot credential.

``test_a_dag_run_that_handles_every_kind_of_secret`` makes sure there is something to find: a
DAG creates a project token (stored in a Variable), runs a BuildKit build that exposes its build
token to a failing command, and fails a Depot call, with templated fields throughout.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_support import SECRET_PATTERNS, Emulators, Evidence, Finding
from support.operator_support import run_dag_file

DAG_ID = "reliability_secrets"
VARIABLE = "depot_token_reliability_secrets"
DAG_SOURCE = f'''
import pendulum
from airflow.sdk import DAG

from airflow_provider_depot.operators.buildkit import DepotBuildKitOperator
from airflow_provider_depot.operators.projects import DepotGetProjectOperator
from airflow_provider_depot.operators.tokens import DepotCreateTokenOperator

with DAG(
    "{DAG_ID}",
    schedule=None,
    start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
    params={{"project_id": "", "token_file": ""}},
) as dag:
    DepotCreateTokenOperator(
        task_id="create_token",
        project_id="{{{{ params.project_id }}}}",
        description="ci for {{{{ params.project_id }}}}",
        store_in_variable="{VARIABLE}",
    )
    DepotBuildKitOperator(
        task_id="build",
        project_id="{{{{ params.project_id }}}}",
        bash_command='printf %s "$DEPOT_TOKEN" > {{{{ params.token_file }}}}; exit 3',
        expose_build_token=True,
        health_interval=0.5,
    )
    DepotGetProjectOperator(task_id="missing_project", project_id="no-such-project")
'''


def test_the_scan_finds_what_it_looks_for() -> None:
    """Without this the empty result of the real scan would prove nothing."""
    evidence = Evidence()
    known = evidence.secret("s3cret-value-of-a-test", "a test secret")
    shaped = {
        "build token": "depot_build_" + "A1b2_C3d4-" * 5,
        "project token secret": "depot_project_" + "0123456789abcdef" * 4,
        "pull token": "depot_pull_" + "x" * 40,
        "organization token": "depot_org_reliability_" + "ab" * 16,
    }
    assert set(shaped) == set(SECRET_PATTERNS)
    evidence.add("log", f"line one\nGot {known} from the API\n")
    for what, value in shaped.items():
        evidence.add(f"text with a {what}", f"token={value};")
    evidence.add("clean", "Depot build b1234 created: https://depot.dev/orgs/o/projects/p/builds/b1234")

    findings = evidence.scan([("extra", "Bearer " + known)])

    assert sorted((f.source, f.what) for f in findings) == sorted(
        [("log", "a test secret"), ("extra", "a test secret")]
        + [(f"text with a {what}", what) for what in shaped]
    )
    assert all(known not in f.excerpt for f in findings)  # the report itself shows no secret


@pytest.mark.airflow_run
@pytest.mark.usefixtures("airflow_db")
def test_a_dag_run_that_handles_every_kind_of_secret(
    emulators: Emulators, evidence: Evidence, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk.log import redact
    from airflow.utils.session import create_session
    from sqlalchemy import text

    depot = emulators.start(pending=0)
    emulators.connect(depot.emulator.url)
    project_id = depot.project("secrets")
    token_file = tmp_path / "build-token"

    run = run_dag_file(
        tmp_path, monkeypatch, DAG_SOURCE, DAG_ID, {"project_id": project_id, "token_file": str(token_file)}
    )

    assert run.state == "failed"  # the build's command and the missing project fail, as planned
    with create_session() as session:
        stored = session.execute(
            text("SELECT val FROM variable WHERE key = :key"), {"key": VARIABLE}
        ).scalar()
    created = evidence.secret(str(stored), "created token secret")
    build_token = evidence.secret(token_file.read_text(), "build token")
    assert depot.admin.state.principal_for(created) is not None  # the real secret, stored
    assert depot.admin.state.principal_for(build_token) is not None
    assert redact(created) == "***" and redact(build_token) == "***"
    [token_xcom] = run.xcoms["create_token"]
    assert token_xcom["stored_in_variable"] == VARIABLE


@pytest.mark.reliability_last
@pytest.mark.usefixtures("airflow_db")
def test_no_secret_appears_anywhere_in_the_session(evidence: Evidence) -> None:
    kinds = set(evidence.known.values())
    assert {"organization token", "created token secret", "build token"} <= kinds, (
        "the session handled no secret of some kind, so the scan would prove nothing: "
        "run test_a_dag_run_that_handles_every_kind_of_secret with it"
    )
    findings = evidence.scan(_metadata_database())
    assert findings == [], _report(findings)


def _metadata_database() -> list[tuple[str, str]]:
    """Every XCom value and rendered template field the session's DAG runs stored."""
    from airflow.utils.session import create_session
    from sqlalchemy import text

    texts = []
    with create_session() as session:
        for dag_id, task_id, value in session.execute(text("SELECT dag_id, task_id, value FROM xcom")):
            texts.append((f"XCom of {dag_id}.{task_id}", str(value)))
        fields = session.execute(
            text("SELECT dag_id, task_id, rendered_fields FROM rendered_task_instance_fields")
        )
        for dag_id, task_id, rendered in fields:
            texts.append((f"rendered template fields of {dag_id}.{task_id}", str(rendered)))
    return texts


def _report(findings: list[Finding]) -> str:
    lines = [f"{len(findings)} secret(s) found:"]
    lines += [f"- {f.what} in {f.source}: {f.excerpt}" for f in findings[:50]]
    return "\n".join(lines)
