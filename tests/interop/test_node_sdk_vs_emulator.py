"""The official Node SDK calls every method it has against the emulator, and gets Depot's answers.

One scenario (``_scenario``) chains create -> read -> update -> delete through every service of
@depot/sdk-node in one Node process (node/sdk_calls.cjs), on three transports: the SDK's own
ready clients (HTTP/2 h2c, binary, the transport a user gets), and clients for the SDK's
service definitions on connect-node over HTTP/1.1 (binary) and over HTTP/2 with JSON. Replies
come back as proto3 JSON and are checked against the seed below and against what earlier
calls created.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from node_env import SDK_CALLS_SCRIPT, NodeTools, run_node_jsonl
from proto_schema import Schema

from airflow_provider_depot.emulator import run_emulator

pytestmark = pytest.mark.node

PROJECT = "seedprj001"
BUILD = "seedbld001"
PROJECT_TOKEN = "seed-project-token"
STEP_A, STEP_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64
START, END = "2025-01-01T00:00:00Z", "2025-01-04T00:00:00Z"  # holds the seeded usage day only
BIG_SIZE = 2**53 + 1  # not a JavaScript number: must travel as an int64 string

SEED: dict[str, Any] = {
    "format": "depot-emulator/1",
    "organizations": [
        {"org_id": "seedorg001", "name": "Interop Org ü", "created_at": "2024-06-01T00:00:00Z"}
    ],
    "projects": [
        {
            "project_id": PROJECT,
            "name": "seeded",
            "region_id": "us-east-1",
            "created_at": "2024-07-01T00:00:00Z",
            "hardware": "HARDWARE_8X16",
            "cache_policy": {"keep_gb": 40, "keep_days": 10},
            "tokens": [{"description": "seeded token", "secret": PROJECT_TOKEN}],
            "images": [
                {
                    "tag": "v1",
                    "digest": "sha256:" + "1" * 64,
                    "pushed_at": "2024-08-01T00:00:00Z",
                    "size_bytes": 10,
                },
                {
                    "tag": "v2",
                    "digest": "sha256:" + "2" * 64,
                    "pushed_at": "2024-08-02T00:00:00Z",
                    "size_bytes": 20,
                },
                {
                    "tag": "v3",
                    "digest": "sha256:" + "3" * 64,
                    "pushed_at": "2024-08-03T00:00:00.123456Z",
                    "size_bytes": BIG_SIZE,
                },
            ],
            "builds": [
                {
                    "build_id": BUILD,
                    "status": "success",
                    "created_at": "2024-08-01T10:00:00Z",
                    "started_at": "2024-08-01T10:00:01Z",
                    "finished_at": "2024-08-01T10:01:01Z",
                    "saved_seconds": 30,
                    "steps": [
                        {
                            "digest": STEP_A,
                            "name": "[1/2] FROM scratch",
                            "started_at": "2024-08-01T10:00:02Z",
                            "completed_at": "2024-08-01T10:00:03Z",
                            "cached": True,
                        },
                        {
                            "digest": STEP_B,
                            "name": "[2/2] COPY . /",
                            "started_at": "2024-08-01T10:00:04Z",
                            "completed_at": "2024-08-01T10:01:00Z",
                            "logs": [
                                {"timestamp": "2024-08-01T10:00:05Z", "message": "copying ✓"},
                                {"timestamp": "2024-08-01T10:00:06Z", "message": "done"},
                            ],
                        },
                    ],
                }
            ],
            "usage": [
                {
                    "date": "2025-01-02",
                    "build_count": 3,
                    "build_duration_seconds": 300,
                    "minutes_saved": 2.5,
                    "minutes_billed": 5,
                    "layer_cache_size_gb": 12,
                }
            ],
        }
    ],
    "usage": {
        "github_actions": [
            {
                "date": "2025-01-02",
                "repo": "o/r",
                "workflow": "ci",
                "runner": "depot-ubuntu-24.04",
                "job_count": 4,
                "minutes_elapsed": 20,
                "minutes_billed": 20,
            }
        ],
        "agent_sandbox": [
            {
                "date": "2025-01-02",
                "agent_type": "claude-code",
                "sandboxes_count": 1,
                "minutes_elapsed": 9,
                "minutes_billed": 9,
            }
        ],
        "storage": [{"date": "2025-01-02", "storage_type": "cache", "total_gb": 40.5}],
    },
}

TRANSPORTS: dict[str, dict[str, Any] | None] = {
    "sdk-h2c-binary": None,
    "http1.1-binary": {"http_version": "1.1", "binary": True},
    "h2c-json": {"http_version": "2", "binary": False},
}

CORE, BUILD_V1, BUILDKIT = "depot.core.v1.", "depot.build.v1.", "depot.buildkit.v1."


def _ref(path: str) -> dict[str, str]:
    return {"$ref": path}


def _scenario(org_token: str) -> list[dict[str, Any]]:
    """(id, service, method, request, token) for every call, in order; ids name the replies."""
    new = _ref("create_project.project.projectId")
    build_token = _ref("create_build.buildToken")
    amd64 = {"buildId": _ref("create_build.buildId"), "platform": "PLATFORM_AMD64"}
    calls: list[tuple[str, str, str, dict[str, Any], Any]] = [
        ("list_orgs", CORE + "OrganizationService", "ListOrganizations", {}, org_token),
        ("list_projects", CORE + "ProjectService", "ListProjects", {}, org_token),
        (
            "create_project",
            CORE + "ProjectService",
            "CreateProject",
            {
                "name": "interop ü",
                "regionId": "eu-central-1",
                "cachePolicy": {"keepGb": 20, "keepDays": 7},
                "hardware": "HARDWARE_32X64",
            },
            org_token,
        ),
        ("get_project", CORE + "ProjectService", "GetProject", {"projectId": new}, org_token),
        (
            "update_project",
            CORE + "ProjectService",
            "UpdateProject",
            {"projectId": new, "name": "renamed", "cachePolicy": {"keepGb": 30, "keepDays": 9}},
            org_token,
        ),
        ("reset_project", CORE + "ProjectService", "ResetProject", {"projectId": new}, org_token),
        (
            "add_github",
            CORE + "ProjectService",
            "AddTrustPolicy",
            {"projectId": new, "github": {"repositoryOwner": "octo", "repository": "repo"}},
            org_token,
        ),
        (
            "add_circleci",
            CORE + "ProjectService",
            "AddTrustPolicy",
            {"projectId": new, "circleci": {"organizationUuid": "org-uuid", "projectUuid": "prj-uuid"}},
            org_token,
        ),
        ("list_policies", CORE + "ProjectService", "ListTrustPolicies", {"projectId": new}, org_token),
        (
            "remove_github",
            CORE + "ProjectService",
            "RemoveTrustPolicy",
            {"projectId": new, "trustPolicyId": _ref("add_github.trustPolicy.trustPolicyId")},
            org_token,
        ),
        ("list_policies_after", CORE + "ProjectService", "ListTrustPolicies", {"projectId": new}, org_token),
        (
            "create_token",
            CORE + "ProjectService",
            "CreateToken",
            {"projectId": new, "description": "ci"},
            org_token,
        ),
        ("list_tokens", CORE + "ProjectService", "ListTokens", {"projectId": new}, org_token),
        (
            "update_token",
            CORE + "ProjectService",
            "UpdateToken",
            {"tokenId": _ref("create_token.tokenId"), "description": "ci 2"},
            org_token,
        ),
        ("list_tokens_updated", CORE + "ProjectService", "ListTokens", {"projectId": new}, org_token),
        (
            "delete_token",
            CORE + "ProjectService",
            "DeleteToken",
            {"tokenId": _ref("create_token.tokenId")},
            org_token,
        ),
        ("list_tokens_deleted", CORE + "ProjectService", "ListTokens", {"projectId": new}, org_token),
        ("delete_project", CORE + "ProjectService", "DeleteProject", {"projectId": new}, org_token),
        ("get_deleted", CORE + "ProjectService", "GetProject", {"projectId": new}, org_token),
        ("list_projects_project_token", CORE + "ProjectService", "ListProjects", {}, PROJECT_TOKEN),
        ("get_project_bad_token", CORE + "ProjectService", "GetProject", {"projectId": PROJECT}, "wrong"),
        ("list_images", BUILD_V1 + "RegistryService", "ListImages", {"projectId": PROJECT}, PROJECT_TOKEN),
        (
            "list_images_page1",
            BUILD_V1 + "RegistryService",
            "ListImages",
            {"projectId": PROJECT, "pageSize": 2},
            org_token,
        ),
        (
            "list_images_page2",
            BUILD_V1 + "RegistryService",
            "ListImages",
            {"projectId": PROJECT, "pageSize": 2, "pageToken": _ref("list_images_page1.nextPageToken")},
            org_token,
        ),
        (
            "delete_image",
            BUILD_V1 + "RegistryService",
            "DeleteImage",
            {"projectId": PROJECT, "imageTags": ["v1"]},
            org_token,
        ),
        ("list_images_after", BUILD_V1 + "RegistryService", "ListImages", {"projectId": PROJECT}, org_token),
        (
            "steps_page1",
            BUILD_V1 + "BuildService",
            "GetBuildSteps",
            {"projectId": PROJECT, "buildId": BUILD, "pageSize": 1},
            org_token,
        ),
        (
            "steps_page2",
            BUILD_V1 + "BuildService",
            "GetBuildSteps",
            {
                "projectId": PROJECT,
                "buildId": BUILD,
                "pageSize": 1,
                "pageToken": _ref("steps_page1.nextPageToken"),
            },
            org_token,
        ),
        (
            "step_logs",
            BUILD_V1 + "BuildService",
            "GetBuildStepLogs",
            {"projectId": PROJECT, "buildId": BUILD, "buildStepDigest": STEP_B},
            org_token,
        ),
        ("get_seeded_build", CORE + "BuildService", "GetBuild", {"buildId": BUILD}, org_token),
        ("share", CORE + "BuildService", "ShareBuild", {"buildId": BUILD}, org_token),
        ("stop_sharing", CORE + "BuildService", "StopSharingBuild", {"buildId": BUILD}, org_token),
        ("stop_sharing_again", CORE + "BuildService", "StopSharingBuild", {"buildId": BUILD}, org_token),
        ("create_build", BUILD_V1 + "BuildService", "CreateBuild", {"projectId": PROJECT}, org_token),
        ("get_endpoint", BUILDKIT + "BuildKitService", "GetEndpoint", amd64, build_token),
        ("report_health", BUILDKIT + "BuildKitService", "ReportHealth", [amd64, amd64], build_token),
        ("release_endpoint", BUILDKIT + "BuildKitService", "ReleaseEndpoint", amd64, build_token),
        (
            "finish_build",
            BUILD_V1 + "BuildService",
            "FinishBuild",
            {"buildId": _ref("create_build.buildId"), "success": {}},
            org_token,
        ),
        (
            "get_new_build",
            CORE + "BuildService",
            "GetBuild",
            {"buildId": _ref("create_build.buildId")},
            org_token,
        ),
        ("list_builds", CORE + "BuildService", "ListBuilds", {"projectId": PROJECT}, org_token),
        ("get_usage", CORE + "UsageService", "GetUsage", {"startAt": START, "endAt": END}, org_token),
        (
            "get_project_usage",
            CORE + "UsageService",
            "GetProjectUsage",
            {"projectId": PROJECT, "startAt": START, "endAt": END},
            org_token,
        ),
        (
            "list_project_usage",
            CORE + "UsageService",
            "ListProjectUsage",
            {"startAt": START, "endAt": END},
            org_token,
        ),
        ("usage_without_end", CORE + "UsageService", "GetUsage", {"startAt": START}, org_token),
    ]
    requests = []
    for call_id, service, method, request, token in calls:
        body: dict[str, Any] = {"requests": request} if isinstance(request, list) else {"request": request}
        if method == "GetEndpoint":
            body["take"] = 2  # pending, then active; the SDK then closes the stream
        requests.append({"id": call_id, "service": service, "method": method, "token": token, **body})
    return requests


@dataclass
class Run:
    transport: str
    requests: list[dict[str, Any]] = field(repr=False)
    replies: dict[str, dict[str, Any]] = field(repr=False)
    audit: list[dict[str, Any]] = field(repr=False)
    endpoints: dict[str, list[dict[str, Any]]] = field(repr=False)

    def ok(self, call_id: str) -> dict[str, Any]:
        reply = self.replies[call_id]
        assert "error" not in reply, f"{self.transport} {call_id}: {reply['error']}"
        result: dict[str, Any] = reply.get("response", reply)
        return result

    def error(self, call_id: str) -> str:
        reply = self.replies[call_id]
        assert "error" in reply, f"{self.transport} {call_id}: expected an error, got {reply}"
        code: str = reply["error"]["code"]
        return code


@pytest.fixture(scope="module", params=list(TRANSPORTS))
def run(request: pytest.FixtureRequest, interop_node: NodeTools) -> Iterator[Run]:
    transport = TRANSPORTS[request.param]
    with run_emulator(seed=SEED, pending=1, pending_interval=0.05) as emu:
        requests = _scenario(emu.token)
        if transport is not None:
            requests = [{**r, "transport": transport} for r in requests]
        replies = run_node_jsonl(interop_node, SDK_CALLS_SCRIPT, requests, env={"DEPOT_API_URL": emu.url})
        yield Run(
            request.param,
            requests,
            {r["id"]: r for r in replies},
            emu.admin.audit(),
            emu.admin.endpoints(),
        )


def test_scenario_calls_every_sdk_method(sdk_schema: Schema) -> None:
    called = {(r["service"], r["method"]) for r in _scenario("t")}
    every = {(s, m) for s, svc in sdk_schema["services"].items() for m in svc["methods"]}
    assert every - called == set(), "SDK methods the scenario never calls"
    assert called <= every


def test_no_call_failed_in_the_script(run: Run) -> None:
    broken = {
        i: r["error"] for i, r in run.replies.items() if r.get("error", {}).get("code") == "script_error"
    }
    assert not broken


def test_every_call_reached_the_emulator_in_order(run: Run) -> None:
    procedures = [f"{r['service']}/{r['method']}" for r in run.requests]
    assert [e["procedure"] for e in run.audit] == procedures
    kinds = {e["procedure"]: e["token_kind"] for e in run.audit}
    assert kinds[f"{BUILDKIT}BuildKitService/ReportHealth"] == "build"
    assert kinds[f"{BUILD_V1}RegistryService/DeleteImage"] == "org"


def test_organizations(run: Run) -> None:
    assert run.ok("list_orgs") == {
        "organizations": [
            {"orgId": "seedorg001", "name": "Interop Org ü", "createdAt": "2024-06-01T00:00:00Z"}
        ]
    }


def test_project_lifecycle(run: Run) -> None:
    seeded = run.ok("list_projects")["projects"]
    assert [p["projectId"] for p in seeded] == [PROJECT]
    assert seeded[0] == {
        "projectId": PROJECT,
        "organizationId": "seedorg001",
        "name": "seeded",
        "regionId": "us-east-1",
        "createdAt": "2024-07-01T00:00:00Z",
        "cachePolicy": {"keepBytes": str(40 << 30), "keepDays": 10, "keepGb": 40},
        "hardware": "HARDWARE_8X16",
    }
    created = run.ok("create_project")["project"]
    assert created["name"] == "interop ü"
    assert created["regionId"] == "eu-central-1"
    assert created["organizationId"] == "seedorg001"
    assert created["hardware"] == "HARDWARE_32X64"
    assert created["cachePolicy"] == {"keepBytes": str(20 << 30), "keepDays": 7, "keepGb": 20}
    assert created["projectId"] and created["projectId"] != PROJECT
    assert run.ok("get_project") == {"project": created}
    updated = run.ok("update_project")["project"]
    assert updated == {
        **created,
        "name": "renamed",
        "cachePolicy": {"keepBytes": str(30 << 30), "keepDays": 9, "keepGb": 30},
    }
    assert run.ok("reset_project") == {}
    assert run.ok("delete_project") == {}
    assert run.error("get_deleted") == "not_found"


def test_trust_policies(run: Run) -> None:
    github = run.ok("add_github")["trustPolicy"]
    circleci = run.ok("add_circleci")["trustPolicy"]
    assert github["github"] == {"repositoryOwner": "octo", "repository": "repo"}
    assert circleci["circleci"] == {"organizationUuid": "org-uuid", "projectUuid": "prj-uuid"}
    assert github["trustPolicyId"] != circleci["trustPolicyId"]
    assert run.ok("list_policies") == {"trustPolicies": [github, circleci]}
    assert run.ok("remove_github") == {}
    assert run.ok("list_policies_after") == {"trustPolicies": [circleci]}


def test_project_tokens(run: Run) -> None:
    created = run.ok("create_token")
    assert created["tokenId"] and created["secret"] and created["secret"] != created["tokenId"]
    assert run.ok("list_tokens") == {"tokens": [{"tokenId": created["tokenId"], "description": "ci"}]}
    assert run.ok("update_token") == {}
    assert run.ok("list_tokens_updated") == {
        "tokens": [{"tokenId": created["tokenId"], "description": "ci 2"}]
    }
    assert run.ok("delete_token") == {}
    assert run.ok("list_tokens_deleted") == {}


def test_credentials_are_checked(run: Run) -> None:
    assert run.error("list_projects_project_token") == "permission_denied"
    assert run.error("get_project_bad_token") == "unauthenticated"


def test_registry(run: Run) -> None:
    images = run.ok("list_images")["images"]
    assert [i["tag"] for i in images] == ["v3", "v2", "v1"]  # newest push first
    assert images[0] == {
        "tag": "v3",
        "digest": "sha256:" + "3" * 64,
        "pushedAt": "2024-08-03T00:00:00.123456Z",
        "sizeBytes": str(BIG_SIZE),
    }
    page1, page2 = run.ok("list_images_page1"), run.ok("list_images_page2")
    assert [i["tag"] for i in page1["images"]] == ["v3", "v2"] and page1["nextPageToken"]
    assert [i["tag"] for i in page2["images"]] == ["v1"] and "nextPageToken" not in page2
    assert run.ok("delete_image") == {}
    assert [i["tag"] for i in run.ok("list_images_after")["images"]] == ["v3", "v2"]


def test_build_steps_and_logs(run: Run) -> None:
    page1, page2 = run.ok("steps_page1"), run.ok("steps_page2")
    assert page1["buildSteps"] == [
        {
            "name": "[1/2] FROM scratch",
            "digest": STEP_A,
            "startedAt": "2024-08-01T10:00:02Z",
            "completedAt": "2024-08-01T10:00:03Z",
            "cacheState": "CACHE_STATE_CACHED",
        }
    ]
    assert page1["nextPageToken"]
    assert page2["buildSteps"] == [
        {
            "name": "[2/2] COPY . /",
            "digest": STEP_B,
            "startedAt": "2024-08-01T10:00:04Z",
            "completedAt": "2024-08-01T10:01:00Z",
            "cacheState": "CACHE_STATE_UNCACHED",
            "hasLogs": True,
        }
    ]
    assert "nextPageToken" not in page2
    assert run.ok("step_logs") == {
        "logs": [
            {"message": "copying ✓", "timestamp": "2024-08-01T10:00:05Z"},
            {"message": "done", "timestamp": "2024-08-01T10:00:06Z"},
        ]
    }


def test_builds_and_sharing(run: Run) -> None:
    seeded = run.ok("get_seeded_build")["build"]
    assert seeded == {
        "buildId": BUILD,
        "status": "STATUS_SUCCESS",
        "createdAt": "2024-08-01T10:00:00Z",
        "startedAt": "2024-08-01T10:00:01Z",
        "finishedAt": "2024-08-01T10:01:01Z",
        "buildDurationSeconds": 60,
        "savedDurationSeconds": 30,
        "cachedSteps": 1,
        "totalSteps": 2,
    }
    assert run.ok("share")["shareUrl"].startswith("https://depot.dev/shared/")
    assert run.ok("stop_sharing") == {}
    assert run.error("stop_sharing_again") == "failed_precondition"
    new_id = run.ok("create_build")["buildId"]
    assert run.ok("get_new_build")["build"]["status"] == "STATUS_SUCCESS"
    listed = run.ok("list_builds")["builds"]
    assert [b["buildId"] for b in listed] == [new_id, BUILD]  # newest first


def test_buildkit_endpoint_flow(run: Run) -> None:
    created = run.ok("create_build")
    assert created["buildToken"] and created["buildId"]
    pending, active = run.ok("get_endpoint")["messages"]
    assert pending == {"pending": {}}
    connection = active["active"]
    assert connection["endpoint"].startswith("tcp://")
    assert connection["serverName"]
    assert "BEGIN CERTIFICATE" in connection["cert"]["cert"]["cert"]
    assert "PRIVATE KEY" in connection["cert"]["key"]["key"]
    assert "BEGIN CERTIFICATE" in connection["caCert"]["cert"]
    assert run.ok("report_health") == {}
    assert run.ok("release_endpoint") == {}
    assert run.ok("finish_build") == {}
    released = [lease for lease in run.endpoints["released"] if lease.get("build_id") == created["buildId"]]
    assert released, run.endpoints


def test_usage(run: Run) -> None:
    usage = run.ok("get_usage")
    assert usage["periodStart"] == START and usage["periodEnd"] == END
    assert usage["containerBuild"] == [
        {"projectName": "seeded", "buildCount": 3, "minutesSaved": 2.5, "minutesBilled": 5}
    ]
    assert usage["githubActionsJobs"] == [
        {
            "repo": "o/r",
            "total": {"jobCount": 4, "minutesElapsed": 20, "minutesBilled": 20},
            "jobs": [
                {
                    "workflow": "ci",
                    "runner": "depot-ubuntu-24.04",
                    "jobCount": 4,
                    "minutesElapsed": 20,
                    "minutesBilled": 20,
                }
            ],
        }
    ]
    assert usage["storage"] == [{"storageType": "cache", "totalGb": 40.5}]
    assert usage["agentSandbox"] == [
        {"agentType": "claude-code", "sandboxesCount": 1, "minutesElapsed": 9, "minutesBilled": 9}
    ]
    expected = {"projectId": PROJECT, "buildCount": 3, "buildDurationSeconds": 300, "layerCacheSizeGb": 12}
    assert run.ok("get_project_usage") == {"usage": expected}
    assert run.ok("list_project_usage") == {"usage": [expected]}
    assert run.error("usage_without_end") == "invalid_argument"
