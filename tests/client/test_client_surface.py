"""The client covers every RPC of its services exactly once, each reachable from both fronts."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fake_depot import BUILD_TOKEN, SPECS, FakeDepot, Front

from airflow_provider_depot.client._buildkit import BuildKitAPI
from airflow_provider_depot.client._builds import BuildsAPI
from airflow_provider_depot.client._operations import Operation, Unary
from airflow_provider_depot.client._organizations import OrganizationsAPI
from airflow_provider_depot.client._projects import ProjectsAPI
from airflow_provider_depot.client._registry import RegistryAPI
from airflow_provider_depot.client._usage import UsageAPI

GROUPS = {
    "projects": ProjectsAPI,
    "builds": BuildsAPI,
    "registry": RegistryAPI,
    "buildkit": BuildKitAPI,
    "usage": UsageAPI,
    "organizations": OrganizationsAPI,
}
UTC = dt.timezone.utc
WINDOW = {"start_at": dt.datetime(2025, 1, 1, tzinfo=UTC), "end_at": dt.datetime(2025, 1, 2, tzinfo=UTC)}
# Smallest valid arguments of every unary operation.
MINIMAL: dict[str, dict[str, Any]] = {
    "projects.list_projects": {},
    "projects.get_project": {"project_id": "p"},
    "projects.create_project": {"name": "n", "region_id": "us-east-1"},
    "projects.update_project": {"project_id": "p"},
    "projects.delete_project": {"project_id": "p"},
    "projects.reset_project": {"project_id": "p"},
    "projects.list_trust_policies": {"project_id": "p"},
    "projects.add_trust_policy": {
        "project_id": "p",
        "circleci": {"organization_uuid": "o", "project_uuid": "u"},
    },
    "projects.remove_trust_policy": {"project_id": "p", "trust_policy_id": "t"},
    "projects.list_tokens": {"project_id": "p"},
    "projects.create_token": {"project_id": "p", "description": "d"},
    "projects.update_token": {"token_id": "t", "description": "d"},
    "projects.delete_token": {"token_id": "t"},
    "builds.create_build": {"project_id": "p"},
    "builds.finish_build": {"build_id": "b"},
    "builds.get_build_steps": {"project_id": "p", "build_id": "b"},
    "builds.get_build_step_logs": {"project_id": "p", "build_id": "b", "build_step_digest": "d"},
    "builds.get_build": {"build_id": "b"},
    "builds.list_builds": {"project_id": "p"},
    "builds.share_build": {"build_id": "b"},
    "builds.stop_sharing_build": {"build_id": "b"},
    "registry.list_images": {"project_id": "p"},
    "registry.delete_image": {"project_id": "p", "image_tags": ["t"]},
    "usage.get_usage": WINDOW,
    "usage.get_project_usage": {"project_id": "p", **WINDOW},
    "usage.list_project_usage": WINDOW,
    "organizations.list_organizations": {},
}


def unary_ops() -> dict[str, Unary[Any, Any, Any]]:
    return {
        f"{group}.{name}": op
        for group, cls in GROUPS.items()
        for name, op in vars(cls).items()
        if isinstance(op, Unary)
    }


def test_every_rpc_has_exactly_one_operation() -> None:
    paths = [op.spec.path for op in unary_ops().values()]
    assert len(paths) == len(set(paths))
    buildkit = {path for path in SPECS if path.startswith("/depot.buildkit.v1.")}  # served by session()
    assert set(paths) == set(SPECS) - buildkit
    assert set(MINIMAL) == set(unary_ops())


def test_every_paged_rpc_has_an_iterator() -> None:
    iterators = {
        f"{group}.{name}"
        for group, cls in GROUPS.items()
        for name, op in vars(cls).items()
        if isinstance(op, Operation) and name.startswith("iter_")
    }
    assert iterators == {
        "registry.iter_images",
        "builds.iter_build_steps",
        "builds.iter_build_step_logs",
        "builds.iter_builds",
        "usage.iter_project_usage",
        "projects.iter_projects",
    }


@pytest.mark.parametrize("target", sorted(MINIMAL))
async def test_every_operation_reaches_its_rpc(front: Front, depot: FakeDepot, target: str) -> None:
    op = unary_ops()[target]
    group, name = target.split(".")
    reply = await front.call(getattr(getattr(front.client, group), name)(**MINIMAL[target]))
    assert isinstance(reply, op.spec.output)
    (seen,) = depot.requests
    assert seen.path == op.spec.path
    assert isinstance(seen.messages[0], op.spec.input)


def test_operations_document_their_arguments() -> None:
    import inspect

    from airflow_provider_depot.client import DepotClient

    client = DepotClient(token="t", base_url="http://127.0.0.1:9")
    signature = inspect.signature(client.registry.iter_images)
    assert list(signature.parameters) == ["project_id", "page_size", "page_token"]
    assert (
        "session" in dir(client.buildkit)
        and "build_token" in inspect.signature(client.buildkit.session).parameters
    )
    assert client.registry.list_images.__doc__ and client.registry.list_images.__name__ == "list_images"
    client.close()
    assert BUILD_TOKEN  # (the token constant is shared with the session tests)


def test_return_types_are_precise_for_both_fronts() -> None:
    """mypy --strict accepts typing_check.py, whose assert_type calls pin every front's return types."""
    check = Path(__file__).with_name("typing_check.py")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(check)],  # strict, per pyproject.toml
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr
