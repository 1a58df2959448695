"""Project operators against the emulator over HTTP: CRUD, reuse on rerun, JSON returns, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support.operator_support import Depot, assert_json, assert_rejected_before_any_call

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.operators.projects import (
    DepotCreateProjectOperator,
    DepotDeleteProjectOperator,
    DepotGetProjectOperator,
    DepotListProjectsOperator,
    DepotResetProjectOperator,
    DepotUpdateProjectOperator,
)

PROJECT_KEYS = {
    "project_id",
    "organization_id",
    "name",
    "region_id",
    "created_at",
    "cache_policy",
    "hardware",
}


def test_create_returns_the_project_as_plain_json(depot: Depot) -> None:
    project = DepotCreateProjectOperator(
        task_id="create",
        name="api",
        region_id="eu-central-1",
        cache_policy={"keep_gb": 20, "keep_days": 7},
        hardware="4x4",
    ).execute({})

    assert_json(project)
    assert set(project) == PROJECT_KEYS
    assert project["name"] == "api"
    assert project["region_id"] == "eu-central-1"
    assert project["hardware"] == "HARDWARE_4X4"
    assert project["cache_policy"]["keep_gb"] == 20
    assert project["cache_policy"]["keep_days"] == 7
    created = dt.datetime.fromisoformat(project["created_at"])
    assert created.utcoffset() == dt.timedelta(0)
    assert project["organization_id"] == depot.admin.organization.org_id
    stored = depot.admin.project(project["project_id"])
    assert (stored.name, stored.region_id, stored.keep_gb, stored.keep_days) == ("api", "eu-central-1", 20, 7)


@pytest.mark.parametrize("hardware", ["8x16", "HARDWARE_8X16", "hardware_8x16", 4])
def test_hardware_accepts_short_names_enum_names_and_numbers(depot: Depot, hardware: str | int) -> None:
    project = DepotCreateProjectOperator(
        task_id="create", name="api", region_id="us-east-1", hardware=hardware
    ).execute({})
    assert project["hardware"] == "HARDWARE_8X16"


def test_reuse_twice_gives_one_project(depot: Depot) -> None:
    since = depot.mark()
    first = DepotCreateProjectOperator(task_id="create", name="api", region_id="us-east-1").execute({})
    second = DepotCreateProjectOperator(task_id="create", name="api", region_id="us-east-1").execute({})

    assert second == first
    assert [p.name for p in depot.admin.projects()] == ["api"]
    assert depot.calls(since)["CreateProject"] == 1


def test_reuse_finds_the_name_beyond_the_first_page(depot: Depot) -> None:
    for index in range(120):
        depot.project(f"other-{index:03d}")
    existing = depot.project("api")

    project = DepotCreateProjectOperator(task_id="create", name="api", region_id="us-east-1").execute({})

    assert project["project_id"] == existing
    assert len(depot.admin.projects()) == 121


def test_if_exists_fail_refuses_a_second_project_of_that_name(depot: Depot) -> None:
    existing = depot.project("api")
    since = depot.mark()

    operator = DepotCreateProjectOperator(
        task_id="create", name="api", region_id="us-east-1", if_exists="fail"
    )
    with pytest.raises(AirflowFailException, match=existing):
        operator.execute({})

    assert depot.calls(since)["CreateProject"] == 0
    assert len(depot.admin.projects()) == 1


def test_get_list_update_reset_delete(depot: Depot) -> None:
    project_id = DepotCreateProjectOperator(task_id="c", name="api", region_id="us-east-1").execute({})[
        "project_id"
    ]
    depot.project("web")

    got = DepotGetProjectOperator(task_id="get", project_id=project_id).execute({})
    assert_json(got)
    assert got["name"] == "api"

    listed = DepotListProjectsOperator(task_id="list").execute({})
    assert_json(listed)
    assert sorted(p["name"] for p in listed) == ["api", "web"]
    assert DepotListProjectsOperator(task_id="list", region_id="eu-central-1").execute({}) == []

    updated = DepotUpdateProjectOperator(
        task_id="update", project_id=project_id, name="api-v2", hardware="HARDWARE_16X32"
    ).execute({})
    assert_json(updated)
    assert (updated["name"], updated["hardware"]) == ("api-v2", "HARDWARE_16X32")
    assert updated["region_id"] == "us-east-1"
    assert depot.admin.project(project_id).name == "api-v2"

    since = depot.mark()
    assert DepotResetProjectOperator(task_id="reset", project_id=project_id).execute({}) == {
        "project_id": project_id,
        "reset": True,
    }
    assert depot.calls(since)["ResetProject"] == 1
    assert depot.admin.project(project_id).cache_reset_at is not None

    deleted = DepotDeleteProjectOperator(task_id="delete", project_id=project_id).execute({})
    assert deleted == {"project_id": project_id, "deleted": True}
    assert depot.admin.project(project_id) is None


def test_delete_of_a_missing_project(depot: Depot) -> None:
    missing = DepotDeleteProjectOperator(task_id="delete", project_id="nosuchproject", missing_ok=True)
    assert missing.execute({}) == {"project_id": "nosuchproject", "deleted": False}

    strict = DepotDeleteProjectOperator(task_id="delete", project_id="nosuchproject")
    with pytest.raises(ConnectError) as raised:
        strict.execute({})
    assert raised.value.code is Code.NOT_FOUND


@pytest.mark.parametrize(
    ("operator", "parameter"),
    [
        (lambda: DepotCreateProjectOperator(task_id="t", name="", region_id="us-east-1"), "name"),
        (lambda: DepotCreateProjectOperator(task_id="t", name="api", region_id="us east"), "region_id"),
        (
            lambda: DepotCreateProjectOperator(
                task_id="t", name="api", region_id="us-east-1", hardware="3x3"
            ),
            "hardware",
        ),
        (
            lambda: DepotCreateProjectOperator(task_id="t", name="api", region_id="us-east-1", hardware=True),
            "hardware",
        ),
        (
            lambda: DepotCreateProjectOperator(
                task_id="t", name="api", region_id="us-east-1", cache_policy={"keep_gb": -1}
            ),
            "keep_gb",
        ),
        (
            lambda: DepotCreateProjectOperator(
                task_id="t", name="api", region_id="us-east-1", cache_policy={"keep_bytes": 5}
            ),
            "cache_policy",
        ),
        (
            lambda: DepotCreateProjectOperator(
                task_id="t",
                name="api",
                region_id="us-east-1",
                if_exists="replace",  # type: ignore[arg-type]
            ),
            "if_exists",
        ),
        (
            lambda: DepotCreateProjectOperator(
                task_id="t", name="api", region_id="us-east-1", organization_id=" "
            ),
            "organization_id",
        ),
        (lambda: DepotGetProjectOperator(task_id="t", project_id=""), "project_id"),
        (lambda: DepotListProjectsOperator(task_id="t", region_id="a b"), "region_id"),
        (lambda: DepotUpdateProjectOperator(task_id="t", project_id="p"), "at least one"),
        (lambda: DepotUpdateProjectOperator(task_id="t", project_id="p", name=" "), "name"),
        (lambda: DepotUpdateProjectOperator(task_id="t", project_id="p\n", name="x"), "project_id"),
        (
            lambda: DepotDeleteProjectOperator(task_id="t", project_id="p", missing_ok="yes"),  # type: ignore[arg-type]
            "missing_ok",
        ),
        (lambda: DepotResetProjectOperator(task_id="t", project_id=None), "project_id"),  # type: ignore[arg-type]
    ],
)
def test_bad_input_fails_before_any_call(depot: Depot, operator: object, parameter: str) -> None:
    assert_rejected_before_any_call(depot, operator(), parameter)  # type: ignore[operator]


def test_ids_and_names_are_templated() -> None:
    assert {"depot_conn_id", "name", "region_id", "organization_id"} <= set(
        DepotCreateProjectOperator.template_fields
    )
    for operator in (DepotGetProjectOperator, DepotDeleteProjectOperator, DepotResetProjectOperator):
        assert {"depot_conn_id", "project_id"} <= set(operator.template_fields)
    assert {"depot_conn_id", "project_id", "name", "region_id"} <= set(
        DepotUpdateProjectOperator.template_fields
    )
    assert {"depot_conn_id", "region_id"} <= set(DepotListProjectsOperator.template_fields)
