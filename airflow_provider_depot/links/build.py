"""DepotBuildLink: the "Depot build" button of a task, pointing at the build's page on depot.dev.

Where the URL comes from: build.v1 CreateBuild answers only ``build_id`` and ``build_token``.
The CLI learns the URL from the private cli.v1 GetBuild; the public API has nothing that
returns it. So the provider composes it in the form the Depot dashboard and the CLI use,
``https://depot.dev/orgs/{organization}/projects/{project}/builds/{build}``, with the
organization from the connection's ``org_id`` or, when that is unset, from core.v1 GetProject.
Tasks push it to XCom (key ``build_url``) right after creating the build, before the build
runs, so the link works while the build is running and after it failed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_depot.client import DepotClient

DASHBOARD = "https://depot.dev"
XCOM_BUILD_ID = "build_id"
XCOM_BUILD_URL = "build_url"


def build_url(*, organization_id: str, project_id: str, build_id: str) -> str:
    return f"{DASHBOARD}/orgs/{organization_id}/projects/{project_id}/builds/{build_id}"


def resolve_build_url(client: DepotClient, *, org_id: str | None, project_id: str, build_id: str) -> str:
    """``build_url`` with ``org_id`` if given, else the project's organization (one GetProject)."""
    organization_id = org_id or client.projects.get_project(project_id=project_id).project.organization_id
    return build_url(organization_id=organization_id, project_id=project_id, build_id=build_id)


def push_build_reference(context: Context, *, build_id: str, url: str) -> None:
    """XCom ``build_id`` and ``build_url`` of the running task (what the link reads)."""
    ti = context["ti"]
    ti.xcom_push(key=XCOM_BUILD_ID, value=build_id)
    ti.xcom_push(key=XCOM_BUILD_URL, value=url)


class DepotBuildLink(BaseOperatorLink):
    """The build page of the Depot build a task created or watched (XCom ``build_url``)."""

    name = "Depot build"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url: Any = XCom.get_value(ti_key=ti_key, key=XCOM_BUILD_URL)
        return url if isinstance(url, str) else ""
