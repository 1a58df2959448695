"""Trust-policy operators: each provider's fields, client-side validation, rerun safety."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.operator_support import Depot, assert_json, assert_rejected_before_any_call

from airflow_provider_depot.connect import Code, ConnectError
from airflow_provider_depot.operators.trust_policies import (
    DepotAddTrustPolicyOperator,
    DepotListTrustPoliciesOperator,
    DepotRemoveTrustPolicyOperator,
    Provider,
)

ORG_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
PROJECT_UUID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

PROVIDERS: list[tuple[Provider, dict[str, str]]] = [
    ("github", {"repository_owner": "acme-corp", "repository": "api.server"}),
    ("buildkite", {"organization_slug": "acme", "pipeline_slug": "api-deploy"}),
    ("circleci", {"organization_uuid": ORG_UUID, "project_uuid": PROJECT_UUID}),
]


@pytest.mark.parametrize(("provider", "fields"), PROVIDERS)
def test_add_list_remove(depot: Depot, provider: Provider, fields: dict[str, str]) -> None:
    project_id = depot.project()

    added = DepotAddTrustPolicyOperator(
        task_id="add",
        project_id=project_id,
        provider=provider,
        **fields,
    ).execute({})

    assert_json(added)
    assert added["created"] is True
    assert added["provider"] == provider
    assert added[provider] == fields
    others = {"github", "buildkite", "circleci"} - {provider}
    assert all(added[other] is None for other in others)

    listed = DepotListTrustPoliciesOperator(task_id="list", project_id=project_id).execute({})
    assert_json(listed)
    assert listed == [{key: value for key, value in added.items() if key != "created"}]

    policy_id = added["trust_policy_id"]
    removed = DepotRemoveTrustPolicyOperator(
        task_id="remove", project_id=project_id, trust_policy_id=policy_id
    ).execute({})
    assert removed == {"project_id": project_id, "trust_policy_id": policy_id, "removed": True}
    assert DepotListTrustPoliciesOperator(task_id="list", project_id=project_id).execute({}) == []


def test_adding_the_same_policy_again_returns_the_existing_one(depot: Depot) -> None:
    project_id = depot.project()

    def add() -> Any:
        return DepotAddTrustPolicyOperator(
            task_id="add", project_id=project_id, provider="github", repository_owner="acme", repository="api"
        ).execute({})

    since = depot.mark()
    first, second = add(), add()

    assert (first["created"], second["created"]) == (True, False)
    assert second["trust_policy_id"] == first["trust_policy_id"]
    assert depot.calls(since)["AddTrustPolicy"] == 1


def test_circleci_uuids_are_sent_in_canonical_form(depot: Depot) -> None:
    project_id = depot.project()
    added = DepotAddTrustPolicyOperator(
        task_id="add",
        project_id=project_id,
        provider="circleci",
        organization_uuid=ORG_UUID.upper(),
        project_uuid="{" + PROJECT_UUID + "}",
    ).execute({})
    assert added["circleci"] == {"organization_uuid": ORG_UUID, "project_uuid": PROJECT_UUID}


def test_remove_of_a_missing_policy(depot: Depot) -> None:
    project_id = depot.project()
    missing = DepotRemoveTrustPolicyOperator(
        task_id="remove", project_id=project_id, trust_policy_id="nope", missing_ok=True
    )
    assert missing.execute({})["removed"] is False
    with pytest.raises(ConnectError) as raised:
        DepotRemoveTrustPolicyOperator(
            task_id="remove", project_id=project_id, trust_policy_id="nope"
        ).execute({})
    assert raised.value.code is Code.NOT_FOUND


def _add(**kwargs: Any) -> DepotAddTrustPolicyOperator:
    return DepotAddTrustPolicyOperator(task_id="add", project_id=kwargs.pop("project_id", "p"), **kwargs)


@pytest.mark.parametrize(
    ("operator", "parameter"),
    [
        (lambda: _add(provider="gitlab", repository_owner="a", repository="b"), "provider"),
        (lambda: _add(provider="github", repository="api"), "repository_owner"),
        (lambda: _add(provider="github", repository_owner="acme"), "repository"),
        (lambda: _add(provider="github", repository_owner="acme", repository="acme/api"), "repository"),
        (lambda: _add(provider="github", repository_owner="-acme", repository="api"), "repository_owner"),
        (lambda: _add(provider="github", repository_owner="ac--me", repository="api"), "repository_owner"),
        (lambda: _add(provider="github", repository_owner="a" * 40, repository="api"), "repository_owner"),
        (lambda: _add(provider="github", repository_owner="acme", repository=".."), "repository"),
        (lambda: _add(provider="github", repository_owner="acme", repository="a" * 101), "repository"),
        (
            lambda: _add(provider="github", repository_owner="acme", repository="api", pipeline_slug="x"),
            "pipeline_slug",
        ),
        (
            lambda: _add(provider="buildkite", organization_slug="Acme Corp", pipeline_slug="p"),
            "organization_slug",
        ),
        (
            lambda: _add(provider="buildkite", organization_slug="acme", pipeline_slug="deploy-"),
            "pipeline_slug",
        ),
        (lambda: _add(provider="buildkite", organization_slug="acme"), "pipeline_slug"),
        (
            lambda: _add(provider="circleci", organization_uuid="acme", project_uuid=PROJECT_UUID),
            "organization_uuid",
        ),
        (lambda: _add(provider="circleci", organization_uuid=ORG_UUID, project_uuid="1234"), "project_uuid"),
        (
            lambda: _add(
                provider="circleci", organization_uuid=ORG_UUID, project_uuid=PROJECT_UUID, repository="api"
            ),
            "repository",
        ),
        (lambda: _add(project_id="", provider="github", repository_owner="a", repository="b"), "project_id"),
        (lambda: DepotListTrustPoliciesOperator(task_id="t", project_id=""), "project_id"),
        (
            lambda: DepotRemoveTrustPolicyOperator(task_id="t", project_id="p", trust_policy_id=""),
            "trust_policy_id",
        ),
        (
            lambda: DepotRemoveTrustPolicyOperator(
                task_id="t",
                project_id="p",
                trust_policy_id="x",
                missing_ok="true",  # type: ignore[arg-type]
            ),
            "missing_ok",
        ),
    ],
)
def test_bad_input_fails_before_any_call(depot: Depot, operator: Callable[[], Any], parameter: str) -> None:
    assert_rejected_before_any_call(depot, operator(), parameter)


def test_ids_and_fields_are_templated() -> None:
    assert {
        "depot_conn_id",
        "project_id",
        "repository_owner",
        "repository",
        "organization_slug",
        "pipeline_slug",
        "organization_uuid",
        "project_uuid",
    } <= set(DepotAddTrustPolicyOperator.template_fields)
    assert {"depot_conn_id", "project_id", "trust_policy_id"} <= set(
        DepotRemoveTrustPolicyOperator.template_fields
    )
    assert {"depot_conn_id", "project_id"} <= set(DepotListTrustPoliciesOperator.template_fields)
