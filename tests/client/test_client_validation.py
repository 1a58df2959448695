"""Bad arguments fail before any request, with an error naming the parameter."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
import pytest
from fake_depot import BUILD_TOKEN, ORG_TOKEN, FakeDepot, Front

from airflow_provider_depot.client import AsyncDepotClient, DepotClient

UTC = dt.timezone.utc
JAN, FEB = dt.datetime(2025, 1, 1, tzinfo=UTC), dt.datetime(2025, 2, 1, tzinfo=UTC)
SESSION = {"build_id": "b1", "build_token": BUILD_TOKEN}

# (group.method, kwargs, exception, text the message must contain)
CASES: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("projects.get_project", {"project_id": ""}, ValueError, "project_id must not be empty"),
    ("projects.get_project", {"project_id": "   "}, ValueError, "project_id must not be empty"),
    ("projects.get_project", {"project_id": "p1\n"}, ValueError, "project_id must not contain whitespace"),
    ("projects.get_project", {"project_id": None}, TypeError, "project_id must be a string"),
    ("projects.create_project", {"name": "", "region_id": "us-east-1"}, ValueError, "name"),
    ("projects.create_project", {"name": "n", "region_id": ""}, ValueError, "region_id"),
    ("projects.create_project", {"name": "n", "region_id": "us-east1"}, ValueError, "region_id"),
    ("projects.update_project", {"project_id": "p", "region_id": "mars-1"}, ValueError, "region_id"),
    ("projects.list_projects", {"region_id": "eu-west-9"}, ValueError, "region_id"),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "organization_id": ""},
        ValueError,
        "organization_id",
    ),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "cache_policy": {"keep_bytes": 1}},
        ValueError,
        "cache_policy has unknown keys ['keep_bytes']",
    ),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "cache_policy": {"keep_gb": -1}},
        ValueError,
        "cache_policy['keep_gb']",
    ),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "cache_policy": 5},
        TypeError,
        "cache_policy",
    ),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "hardware": "3x3"},
        ValueError,
        "hardware",
    ),
    (
        "projects.create_project",
        {"name": "n", "region_id": "us-east-1", "hardware": 99},
        ValueError,
        "hardware",
    ),
    ("projects.update_project", {"project_id": "", "name": "n"}, ValueError, "project_id"),
    (
        "projects.add_trust_policy",
        {"project_id": "p"},
        ValueError,
        "exactly one of github, circleci or buildkite",
    ),
    (
        "projects.add_trust_policy",
        {"project_id": "p", "github": {"repository_owner": "o", "repository": "r"}, "buildkite": {}},
        ValueError,
        "exactly one",
    ),
    (
        "projects.add_trust_policy",
        {"project_id": "p", "github": {"repository_owner": "o"}},
        ValueError,
        "github['repository'] must not be empty",
    ),
    ("projects.add_trust_policy", {"project_id": "p", "circleci": {"org": "x"}}, ValueError, "circleci"),
    ("projects.add_trust_policy", {"project_id": "p", "buildkite": "slug"}, TypeError, "buildkite"),
    (
        "projects.remove_trust_policy",
        {"project_id": "p", "trust_policy_id": ""},
        ValueError,
        "trust_policy_id",
    ),
    ("projects.create_token", {"project_id": "p", "description": ""}, ValueError, "description"),
    ("projects.update_token", {"token_id": "", "description": "d"}, ValueError, "token_id"),
    ("projects.delete_token", {"token_id": ""}, ValueError, "token_id"),
    ("projects.list_projects", {"page_size": 0}, ValueError, "page_size"),
    ("projects.iter_projects", {"page_size": -1}, ValueError, "page_size"),
    ("projects.iter_projects", {"page_size": True}, TypeError, "page_size"),
    ("projects.iter_projects", {"region_id": ""}, ValueError, "region_id"),
    ("registry.list_images", {"project_id": "p", "page_token": "a b"}, ValueError, "page_token"),
    ("registry.iter_images", {"project_id": ""}, ValueError, "project_id"),
    (
        "registry.delete_image",
        {"project_id": "p", "image_tags": []},
        ValueError,
        "image_tags must not be empty",
    ),
    ("registry.delete_image", {"project_id": "p", "image_tags": "latest"}, TypeError, "image_tags"),
    ("registry.delete_image", {"project_id": "p", "image_tags": ["v1", ""]}, ValueError, "image_tags[1]"),
    ("builds.create_build", {"project_id": ""}, ValueError, "project_id"),
    ("builds.finish_build", {"build_id": "b", "error": ""}, ValueError, "error"),
    ("builds.finish_build", {"build_id": ""}, ValueError, "build_id"),
    (
        "builds.get_build_step_logs",
        {"project_id": "p", "build_id": "b", "build_step_digest": ""},
        ValueError,
        "build_step_digest",
    ),
    ("builds.iter_build_steps", {"project_id": "p", "build_id": ""}, ValueError, "build_id"),
    ("builds.get_build", {"build_id": ""}, ValueError, "build_id"),
    ("builds.iter_builds", {"project_id": ""}, ValueError, "project_id"),
    ("builds.share_build", {"build_id": ""}, ValueError, "build_id"),
    ("builds.stop_sharing_build", {"build_id": ""}, ValueError, "build_id"),
    (
        "usage.get_usage",
        {"start_at": dt.datetime(2025, 1, 1), "end_at": FEB},
        ValueError,
        "start_at must be timezone-aware",
    ),
    ("usage.get_usage", {"start_at": JAN, "end_at": dt.datetime(2025, 2, 1)}, ValueError, "end_at"),
    ("usage.get_usage", {"start_at": FEB, "end_at": JAN}, ValueError, "end_at must be later than start_at"),
    ("usage.get_usage", {"start_at": JAN, "end_at": JAN}, ValueError, "end_at must be later than start_at"),
    ("usage.get_project_usage", {"project_id": "", "start_at": JAN, "end_at": FEB}, ValueError, "project_id"),
    ("usage.iter_project_usage", {"start_at": "2025-01-01", "end_at": FEB}, TypeError, "start_at"),
    ("usage.list_project_usage", {"start_at": dt.date(2025, 1, 1), "end_at": FEB}, TypeError, "start_at"),
    (
        "usage.list_project_usage",
        {"start_at": pendulum.naive(2025, 1, 1), "end_at": FEB},
        ValueError,
        "start_at",
    ),
    ("buildkit.session", {**SESSION, "build_id": ""}, ValueError, "build_id"),
    ("buildkit.session", {**SESSION, "build_token": ""}, ValueError, "build_token"),
    ("buildkit.session", {**SESSION, "build_token": BUILD_TOKEN + "\n"}, ValueError, "build_token"),
    ("buildkit.session", {**SESSION, "platform": "linux/386"}, ValueError, "platform"),
    ("buildkit.session", {**SESSION, "platform": 0}, ValueError, "platform"),
    ("buildkit.session", {**SESSION, "health_interval": 0}, ValueError, "health_interval"),
    ("buildkit.session", {**SESSION, "health_interval": "5"}, TypeError, "health_interval"),
    (
        "buildkit.session",
        {**SESSION, "health_interval": 10, "health_warn_after": 5},
        ValueError,
        "health_warn_after",
    ),
    ("buildkit.session", {**SESSION, "timeout": -1}, ValueError, "timeout"),
]


@pytest.mark.parametrize(("target", "kwargs", "error", "text"), CASES, ids=[c[0] for c in CASES])
async def test_rejected_before_any_request(
    front: Front, depot: FakeDepot, target: str, kwargs: dict[str, Any], error: type[Exception], text: str
) -> None:
    group, method = target.split(".")
    with pytest.raises(error) as raised:
        await front.call(getattr(getattr(front.client, group), method)(**kwargs))
    assert text in str(raised.value)
    assert BUILD_TOKEN not in str(raised.value)
    assert depot.requests == []


@pytest.mark.parametrize("cls", [DepotClient, AsyncDepotClient])
@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"token": ""}, "token"),
        ({"token": ORG_TOKEN, "base_url": "ftp://api.depot.dev"}, "base_url"),
        ({"token": ORG_TOKEN, "base_url": "http://depot.example.com"}, "base_url"),
        ({"token": ORG_TOKEN, "org_id": " "}, "org_id"),
        ({"token": ORG_TOKEN, "timeout": 0}, "timeout"),
    ],
)
def test_client_constructor_rejects_bad_settings(cls: type[Any], kwargs: dict[str, Any], text: str) -> None:
    with pytest.raises(ValueError, match=text) as raised:
        cls(**kwargs)
    assert ORG_TOKEN not in str(raised.value)
