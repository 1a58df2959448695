"""Operators for Depot projects: create (rerun-safe), get, list, update, delete, reset the cache.

Each returns plain JSON (see ``_json``): a project is a dict with ``project_id``,
``organization_id``, ``name``, ``region_id``, ``created_at`` (ISO-8601), ``cache_policy``
(``{keep_bytes, keep_days, keep_gb}`` or None) and ``hardware`` (an enum name such as
``"HARDWARE_4X4"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk.exceptions import AirflowFailException

from ._base import DepotBaseOperator, DepotProjectOperator, require_flag
from ._json import message_to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot._proto.depot.core.v1 import project_pb2
    from airflow_provider_depot.client import DepotClient

    from ._project_args import HardwareArg, ProjectSettings

IF_EXISTS = ("reuse", "fail")


class DepotCreateProjectOperator(DepotBaseOperator):
    """Create a Depot project and return it.

    With ``if_exists="reuse"`` (the default) the organization's projects are listed first and a
    project with exactly this ``name`` (in ``organization_id``, when given) is returned instead
    of creating a second one, so a rerun or retry is safe. Its other settings are left as they
    are; a difference from the requested ``region_id`` or ``hardware`` is logged as a warning
    (use DepotUpdateProjectOperator to change them). With ``"fail"`` an existing project of that
    name fails the task. Two runs racing each other can still both create: Depot does not
    enforce unique names.

    :param name: the project name (templated).
    :param region_id: e.g. ``"us-east-1"`` (templated).
    :param cache_policy: ``{"keep_gb": int, "keep_days": int}``; None for Depot's default.
    :param hardware: builder size: ``"4x4"``, ``"HARDWARE_4X4"`` or the enum number.
    :param organization_id: defaults to the connection's ``org_id``, then the token's organization.
    :param if_exists: ``"reuse"`` or ``"fail"``.
    """

    template_fields: Sequence[str] = (
        *DepotBaseOperator.template_fields,
        "name",
        "region_id",
        "organization_id",
        "cache_policy",
        "hardware",
    )

    def __init__(
        self,
        *,
        name: str,
        region_id: str,
        cache_policy: Mapping[str, int] | None = None,
        hardware: HardwareArg | None = None,
        organization_id: str | None = None,
        if_exists: Literal["reuse", "fail"] = "reuse",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.region_id = region_id
        self.cache_policy = cache_policy
        self.hardware = hardware
        self.organization_id = organization_id
        self.if_exists = if_exists

    def validated(self) -> tuple[ProjectSettings, str | None]:
        from airflow_provider_depot.client._validation import optional_id, require_id, require_text

        from ._project_args import project_settings

        if self.if_exists not in IF_EXISTS:
            raise ValueError(f"if_exists must be one of {IF_EXISTS}, got {self.if_exists!r}")
        settings = project_settings(
            name=require_text("name", self.name),
            region_id=require_id("region_id", self.region_id),
            cache_policy=self.cache_policy,
            hardware=self.hardware,
        )
        return settings, optional_id("organization_id", self.organization_id)

    def call_depot(
        self, client: DepotClient, args: tuple[ProjectSettings, str | None], context: Context
    ) -> dict[str, Any]:
        settings, organization_id = args
        existing = self._find_by_name(client, settings.name, organization_id)
        if existing is not None:
            if self.if_exists == "fail":
                raise AirflowFailException(
                    f"A project named {settings.name!r} already exists ({existing.project_id}) "
                    "and if_exists='fail'"
                )
            self._warn_on_drift(existing, settings)
            self.log.info("Reusing project %s named %r", existing.project_id, existing.name)
            return message_to_json(existing)
        project = client.projects.create_project(
            organization_id=organization_id, **settings.as_kwargs()
        ).project
        self.log.info(
            "Created project %s named %r in %s", project.project_id, project.name, project.region_id
        )
        return message_to_json(project)

    @staticmethod
    def _find_by_name(
        client: DepotClient, name: str | None, organization_id: str | None
    ) -> project_pb2.Project | None:
        for project in client.projects.iter_projects():
            if project.name == name and organization_id in (None, project.organization_id):
                return project
        return None

    def _warn_on_drift(self, existing: project_pb2.Project, wanted: ProjectSettings) -> None:
        if wanted.region_id != existing.region_id:
            self.log.warning(
                "Project %s is in region %s, not %s as requested; it is reused unchanged",
                existing.project_id,
                existing.region_id,
                wanted.region_id,
            )
        if wanted.hardware is not None and wanted.hardware != existing.hardware:
            self.log.warning(
                "Project %s has different hardware than requested; it is reused unchanged",
                existing.project_id,
            )


class DepotGetProjectOperator(DepotProjectOperator):
    """Return one project as a dict.

    :param project_id: the project (templated).
    """

    def call_depot(self, client: DepotClient, args: str, context: Context) -> dict[str, Any]:
        return message_to_json(client.projects.get_project(project_id=args).project)


class DepotListProjectsOperator(DepotBaseOperator):
    """Return every project of the token's organization (all pages), as a list of dicts.

    :param region_id: only the projects of this region (templated); None for all.
    """

    template_fields: Sequence[str] = (*DepotBaseOperator.template_fields, "region_id")

    def __init__(self, *, region_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.region_id = region_id

    def validated(self) -> str | None:
        from airflow_provider_depot.client._project_settings import to_region

        return None if self.region_id is None else to_region(self.region_id)

    def call_depot(self, client: DepotClient, args: str | None, context: Context) -> list[dict[str, Any]]:
        return [message_to_json(p) for p in client.projects.iter_projects(region_id=args)]


class DepotUpdateProjectOperator(DepotProjectOperator):
    """Change a project's settings and return the updated project.

    Only the settings given are sent; at least one is required.

    :param project_id: the project (templated).
    :param name: a new name (templated).
    :param region_id: a new region (templated).
    :param cache_policy: ``{"keep_gb": int, "keep_days": int}``.
    :param hardware: ``"4x4"``, ``"HARDWARE_4X4"`` or the enum number.
    """

    template_fields: Sequence[str] = (
        *DepotProjectOperator.template_fields,
        "name",
        "region_id",
        "cache_policy",
        "hardware",
    )

    def __init__(
        self,
        *,
        project_id: str,
        name: str | None = None,
        region_id: str | None = None,
        cache_policy: Mapping[str, int] | None = None,
        hardware: HardwareArg | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.name = name
        self.region_id = region_id
        self.cache_policy = cache_policy
        self.hardware = hardware

    def validated(self) -> tuple[str, ProjectSettings]:
        from ._project_args import project_settings

        project_id = self.checked_project_id()
        settings = project_settings(
            name=self.name, region_id=self.region_id, cache_policy=self.cache_policy, hardware=self.hardware
        )
        if not settings.as_kwargs():
            raise ValueError("name, region_id, cache_policy, hardware: give at least one setting to change")
        return project_id, settings

    def call_depot(
        self, client: DepotClient, args: tuple[str, ProjectSettings], context: Context
    ) -> dict[str, Any]:
        project_id, settings = args
        project = client.projects.update_project(project_id=project_id, **settings.as_kwargs()).project
        self.log.info("Updated %s of project %s", ", ".join(settings.as_kwargs()), project_id)
        return message_to_json(project)


class DepotDeleteProjectOperator(DepotProjectOperator):
    """Delete a project, its registry and its cache. Returns ``{project_id, deleted}``.

    :param project_id: the project (templated).
    :param missing_ok: if True, a project that does not exist (already deleted) is success
        with ``deleted: False``; if False it fails the task.
    """

    def __init__(self, *, project_id: str, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.missing_ok = missing_ok

    def validated(self) -> str:
        require_flag("missing_ok", self.missing_ok)
        return self.checked_project_id()

    def call_depot(self, client: DepotClient, args: str, context: Context) -> dict[str, Any]:
        deleted = self.delete_or_missing(
            lambda: client.projects.delete_project(project_id=args),
            missing_ok=self.missing_ok,
            what=f"project {args}",
        )
        return {"project_id": args, "deleted": deleted}


class DepotResetProjectOperator(DepotProjectOperator):
    """Reset a project's build cache: Depot stops its builders and drops the cached layers.

    The next build starts cold. Returns ``{project_id, reset: True}``.

    :param project_id: the project (templated).
    """

    def call_depot(self, client: DepotClient, args: str, context: Context) -> dict[str, Any]:
        client.projects.reset_project(project_id=args)
        self.log.info("Reset the build cache of project %s", args)
        return {"project_id": args, "reset": True}
