"""Token operators: the created secret is masked and never reaches logs, XCom or errors."""

from __future__ import annotations

import json
import logging
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk._shared.secrets_masker import redact
from airflow.sdk.exceptions import AirflowException
from airflow.sdk.log import mask_secret
from support.operator_support import Depot, assert_json, assert_rejected_before_any_call, run_dag_file

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.operators import tokens
from airflow_provider_depot.operators.tokens import (
    DepotCreateTokenOperator,
    DepotDeleteTokenOperator,
    DepotListTokensOperator,
    DepotUpdateTokenOperator,
)


@pytest.fixture
def secrets_masked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the token operators hand to ``mask_secret``, which is passed on to the real one."""
    seen: list[str] = []

    def spy(secret: Any, name: str | None = None) -> None:
        seen.append(secret)
        mask_secret(secret, name)

    monkeypatch.setattr(tokens, "mask_secret", spy)
    return seen


def _works_as_project_token(depot: Depot, secret: str, project_id: str) -> bool:
    with depot.client(token=secret) as client:
        client.registry.list_images(project_id=project_id)
    return True


def test_create_token_masks_the_secret_and_keeps_it_out_of_logs_and_xcom(
    depot: Depot,
    secrets_masked: list[str],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    project_id = depot.project()
    caplog.set_level(logging.DEBUG)

    result = DepotCreateTokenOperator(task_id="token", project_id=project_id, description="ci").execute({})

    [secret] = secrets_masked
    assert _works_as_project_token(depot, secret, project_id)
    assert redact(f"token={secret}") == "token=***"
    assert_json(result)
    assert set(result) == {"project_id", "token_id", "description", "stored_in_variable"}
    assert result["stored_in_variable"] is None
    assert secret not in json.dumps(result)
    captured = capfd.readouterr()
    for text in (caplog.text, captured.out, captured.err):
        assert secret not in text
    assert result["token_id"] in captured.out + captured.err + caplog.text


def test_a_failed_store_deletes_the_token_and_keeps_the_secret_out_of_the_error(
    depot: Depot, secrets_masked: list[str]
) -> None:
    """Outside a task Airflow's Variable.set has no API server to write to, so storing fails."""
    project_id = depot.project()
    operator = DepotCreateTokenOperator(
        task_id="token", project_id=project_id, description="ci", store_in_variable="depot_token_ci"
    )

    with pytest.raises(AirflowException, match="the token was deleted again") as raised:
        operator.execute({})

    [secret] = secrets_masked
    text = "".join(str(e) for e in (raised.value, raised.value.__cause__, raised.value.__context__) if e)
    assert secret not in text
    with depot.client() as client:
        assert list(client.projects.list_tokens(project_id=project_id).tokens) == []


def test_list_update_delete_tokens(depot: Depot) -> None:
    project_id = depot.project()
    created = DepotCreateTokenOperator(task_id="t", project_id=project_id, description="ci").execute({})
    token_id = created["token_id"]

    listed = DepotListTokensOperator(task_id="list", project_id=project_id).execute({})
    assert_json(listed)
    assert listed == [{"token_id": token_id, "description": "ci"}]

    updated = DepotUpdateTokenOperator(task_id="update", token_id=token_id, description="deploy").execute({})
    assert updated == {"token_id": token_id, "description": "deploy"}
    assert DepotListTokensOperator(task_id="list", project_id=project_id).execute({}) == [
        {"token_id": token_id, "description": "deploy"}
    ]

    assert DepotDeleteTokenOperator(task_id="delete", token_id=token_id).execute({}) == {
        "token_id": token_id,
        "deleted": True,
    }
    assert DepotListTokensOperator(task_id="list", project_id=project_id).execute({}) == []
    again = DepotDeleteTokenOperator(task_id="delete", token_id=token_id, missing_ok=True)
    assert again.execute({}) == {"token_id": token_id, "deleted": False}
    with pytest.raises(ConnectError) as raised:
        DepotDeleteTokenOperator(task_id="delete", token_id=token_id).execute({})
    assert raised.value.code is Code.NOT_FOUND


@pytest.mark.parametrize(
    ("operator", "parameter"),
    [
        (lambda: DepotCreateTokenOperator(task_id="t", project_id="", description="ci"), "project_id"),
        (lambda: DepotCreateTokenOperator(task_id="t", project_id="p", description="  "), "description"),
        (
            lambda: DepotCreateTokenOperator(
                task_id="t", project_id="p", description="d", store_in_variable="a b"
            ),
            "store_in_variable",
        ),
        (
            lambda: DepotCreateTokenOperator(
                task_id="t", project_id="p", description="d", store_in_variable="k" * 251
            ),
            "store_in_variable",
        ),
        (lambda: DepotListTokensOperator(task_id="t", project_id=" "), "project_id"),
        (lambda: DepotUpdateTokenOperator(task_id="t", token_id="", description="d"), "token_id"),
        (lambda: DepotUpdateTokenOperator(task_id="t", token_id="x", description=""), "description"),
        (lambda: DepotDeleteTokenOperator(task_id="t", token_id="x y"), "token_id"),
        (
            lambda: DepotDeleteTokenOperator(task_id="t", token_id="x", missing_ok=1),  # type: ignore[arg-type]
            "missing_ok",
        ),
    ],
)
def test_bad_input_fails_before_any_call(depot: Depot, operator: Callable[[], Any], parameter: str) -> None:
    assert_rejected_before_any_call(depot, operator(), parameter)


def test_ids_are_templated() -> None:
    assert {"depot_conn_id", "project_id", "description", "store_in_variable"} <= set(
        DepotCreateTokenOperator.template_fields
    )
    assert {"depot_conn_id", "project_id"} <= set(DepotListTokensOperator.template_fields)
    assert {"depot_conn_id", "token_id"} <= set(DepotUpdateTokenOperator.template_fields)
    assert {"depot_conn_id", "token_id"} <= set(DepotDeleteTokenOperator.template_fields)


TOKEN_DAG = textwrap.dedent(
    """
    import pendulum
    from airflow.sdk import DAG

    from airflow_provider_depot.operators.tokens import DepotCreateTokenOperator

    with DAG("depot_token_test", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC")) as dag:
        DepotCreateTokenOperator(
            task_id="create_token",
            project_id="{{ params.project_id }}",
            description="ci for {{ params.project_id }}",
            store_in_variable="depot_token_{{ params.project_id }}",
            params={"project_id": ""},
        )
    """
)


@pytest.mark.airflow_run
def test_in_a_real_run_the_secret_goes_to_the_variable_only(
    depot: Depot,
    airflow_db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from airflow.models.variable import Variable

    project_id = depot.project()
    caplog.set_level(logging.DEBUG)

    run = run_dag_file(tmp_path, monkeypatch, TOKEN_DAG, "depot_token_test", {"project_id": project_id})

    assert run.state == "success"
    key = f"depot_token_{project_id}"
    secret = Variable.get(key)
    assert _works_as_project_token(depot, secret, project_id)
    [pushed] = run.xcoms["create_token"]
    assert pushed["stored_in_variable"] == key
    assert pushed["description"] == f"ci for {project_id}"
    assert secret not in json.dumps(pushed)
    captured = capfd.readouterr()
    for text in (caplog.text, captured.out, captured.err):
        assert secret not in text
    assert pushed["token_id"] in captured.out + captured.err + caplog.text
