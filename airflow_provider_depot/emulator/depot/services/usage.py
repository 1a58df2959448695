"""depot.core.v1.UsageService: daily usage summed over an interval (org tokens only).

The interval rule (which days an interval holds) and the additivity it guarantees are described
in ``depot/_usage.py``.
"""

from __future__ import annotations

from airflow_provider_depot._proto.depot.core.v1 import usage_pb2 as pb

from ...connect_server import ServerCall
from .._auth import check_project, require_org_token
from .._builds import derived_usage
from .._model import Project
from .._state import DepotState
from .._usage import ProjectDay, days_in
from ._common import interval, paged, paging_fields, project_seq, required, timestamp


class UsageService:
    def __init__(self, state: DepotState) -> None:
        self.state = state

    def _project_day(self, project: Project, days: range) -> ProjectDay:
        total = self.state.usage.project_total(project.project_id, days)
        total.add(derived_usage(self.state, project.project_id, days))
        return total

    def _project_usage(self, project: Project, days: range) -> pb.ProjectUsage:
        total = self._project_day(project, days)
        return pb.ProjectUsage(
            project_id=project.project_id,
            build_count=total.build_count,
            build_duration_seconds=total.build_seconds,
            layer_cache_size_gb=total.layer_cache_size_gb or 0,
        )

    def ListProjectUsage(
        self, call: ServerCall, request: pb.ListProjectUsageRequest
    ) -> pb.ListProjectUsageResponse:
        caller = require_org_token(call.context)
        start, end = interval(request)
        days = days_in(start, end)
        projects = self.state.org_projects(caller.org_id)
        chunk, token = paged(
            self.state, f"usage:{caller.org_id}", projects, project_seq, *paging_fields(request)
        )
        with self.state.lock:
            usage = [self._project_usage(p, days) for p in chunk]
        return pb.ListProjectUsageResponse(usage=usage, next_page_token=token)

    def GetProjectUsage(
        self, call: ServerCall, request: pb.GetProjectUsageRequest
    ) -> pb.GetProjectUsageResponse:
        caller = require_org_token(call.context)
        required(request.project_id, "project_id")
        start, end = interval(request)
        project = check_project(caller, self.state.project(request.project_id), request.project_id)
        with self.state.lock:
            return pb.GetProjectUsageResponse(usage=self._project_usage(project, days_in(start, end)))

    def GetUsage(self, call: ServerCall, request: pb.GetUsageRequest) -> pb.GetUsageResponse:
        caller = require_org_token(call.context)
        start, end = interval(request)
        days = days_in(start, end)
        response = pb.GetUsageResponse(period_start=timestamp(start), period_end=timestamp(end))
        book = self.state.usage
        with self.state.lock:
            for project in self.state.org_projects(caller.org_id):
                total = self._project_day(project, days)
                if total.build_count or total.build_seconds or total.saved_seconds or total.billed_seconds:
                    response.container_build.append(
                        pb.ContainerBuildUsage(
                            project_name=project.name,
                            build_count=total.build_count,
                            minutes_saved=total.saved_seconds / 60.0,
                            minutes_billed=total.billed_seconds / 60.0,
                        )
                    )
            jobs = book.activity_totals(book.github_jobs, days)
            for repo in sorted({key[0] for key in jobs}):
                details = sorted((k, v) for k, v in jobs.items() if k[0] == repo)
                response.github_actions_jobs.append(
                    pb.GithubActionsJobsUsage(
                        repo=repo,
                        total=pb.GithubActionsJobsUsageTotal(
                            job_count=sum(v.count for _, v in details),
                            minutes_elapsed=sum(v.elapsed_seconds for _, v in details) / 60.0,
                            minutes_billed=sum(v.billed_seconds for _, v in details) / 60.0,
                        ),
                        jobs=[
                            pb.GithubActionsJobUsageDetail(
                                workflow=workflow,
                                runner=runner,
                                job_count=v.count,
                                minutes_elapsed=v.elapsed_seconds / 60.0,
                                minutes_billed=v.billed_seconds / 60.0,
                            )
                            for (_, workflow, runner), v in details
                        ],
                    )
                )
            for storage_type, total_gb in sorted(book.storage_levels(days).items()):
                response.storage.append(pb.StorageUsage(storage_type=storage_type, total_gb=total_gb))
            for agent_type, v in sorted(book.activity_totals(book.agent_sandboxes, days).items()):
                response.agent_sandbox.append(
                    pb.AgentSandboxUsage(
                        agent_type=agent_type,
                        sandboxes_count=v.count,
                        minutes_elapsed=v.elapsed_seconds / 60.0,
                        minutes_billed=v.billed_seconds / 60.0,
                    )
                )
        return response
