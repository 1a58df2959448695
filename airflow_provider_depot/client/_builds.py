"""``client.builds``: depot.build.v1.BuildService (create, finish, steps, logs) and
depot.core.v1.BuildService (get, list, share). Two services, one group: both are about builds."""

from __future__ import annotations

from airflow_provider_depot._proto.depot.build.v1 import build_pb2 as build_v1
from airflow_provider_depot._proto.depot.core.v1 import build_pb2 as core_v1

from ._operations import Mode, ServiceGroup, unary
from ._pagination import paged
from ._validation import require_id, require_text, valid_page_size, valid_page_token

_BUILD_V1 = build_v1.DESCRIPTOR.services_by_name["BuildService"]
_CORE_V1 = core_v1.DESCRIPTOR.services_by_name["BuildService"]


class BuildsAPI(ServiceGroup[Mode]):
    """Builds: the BuildKit flow's bookends and the build history."""

    @unary(_BUILD_V1, build_v1.CreateBuildResponse)
    def create_build(self, *, project_id: str) -> build_v1.CreateBuildRequest:
        """Register a build; the response carries ``build_id`` and the short-lived ``build_token``
        (a credential) for the BuildKit session. Not retried on ambiguous failures."""
        return build_v1.CreateBuildRequest(project_id=require_id("project_id", project_id))

    @unary(_BUILD_V1, build_v1.FinishBuildResponse)
    def finish_build(self, *, build_id: str, error: str | None = None) -> build_v1.FinishBuildRequest:
        """Mark the build finished: successful when ``error`` is None, else failed with that message."""
        request = build_v1.FinishBuildRequest(build_id=require_id("build_id", build_id))
        if error is None:
            request.success.SetInParent()
        else:
            request.error.error = require_text("error", error)
        return request

    @unary(_BUILD_V1, build_v1.GetBuildStepsResponse)
    def get_build_steps(
        self, *, project_id: str, build_id: str, page_size: int | None = None, page_token: str | None = None
    ) -> build_v1.GetBuildStepsRequest:
        return build_v1.GetBuildStepsRequest(
            project_id=require_id("project_id", project_id),
            build_id=require_id("build_id", build_id),
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_build_steps = paged(get_build_steps, lambda response: response.build_steps)

    @unary(_BUILD_V1, build_v1.GetBuildStepLogsResponse)
    def get_build_step_logs(
        self,
        *,
        project_id: str,
        build_id: str,
        build_step_digest: str,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> build_v1.GetBuildStepLogsRequest:
        return build_v1.GetBuildStepLogsRequest(
            project_id=require_id("project_id", project_id),
            build_id=require_id("build_id", build_id),
            build_step_digest=require_id("build_step_digest", build_step_digest),
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_build_step_logs = paged(get_build_step_logs, lambda response: response.logs)

    @unary(_CORE_V1, core_v1.GetBuildResponse)
    def get_build(self, *, build_id: str) -> core_v1.GetBuildRequest:
        return core_v1.GetBuildRequest(build_id=require_id("build_id", build_id))

    @unary(_CORE_V1, core_v1.ListBuildsResponse)
    def list_builds(
        self, *, project_id: str, page_size: int | None = None, page_token: str | None = None
    ) -> core_v1.ListBuildsRequest:
        return core_v1.ListBuildsRequest(
            project_id=require_id("project_id", project_id),
            page_size=valid_page_size(page_size),
            page_token=valid_page_token(page_token),
        )

    iter_builds = paged(list_builds, lambda response: response.builds)

    @unary(_CORE_V1, core_v1.ShareBuildResponse)
    def share_build(self, *, build_id: str) -> core_v1.ShareBuildRequest:
        """Make the build's page public; the response holds ``share_url``."""
        return core_v1.ShareBuildRequest(build_id=require_id("build_id", build_id))

    @unary(_CORE_V1, core_v1.StopSharingBuildResponse)
    def stop_sharing_build(self, *, build_id: str) -> core_v1.StopSharingBuildRequest:
        return core_v1.StopSharingBuildRequest(build_id=require_id("build_id", build_id))
