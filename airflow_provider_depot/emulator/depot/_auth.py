"""Who is calling, and what their token lets them do.

Three kinds of bearer token, as at Depot:

- organization tokens (configured with ``--token`` or a seed): everything in their organization;
- project tokens (``ProjectService.CreateToken``): the builds and the registry of one project;
- build tokens (``CreateBuild``): the BuildKit and CLI calls of one build.

A missing, unknown or revoked token is ``unauthenticated``. A valid token used beyond its reach
is ``permission_denied``, except that an organization token never learns whether another
organization's resource exists: that is ``not_found``, as for a resource that does not exist.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from ._model import Build, Project


class TokenKind(str, enum.Enum):
    ORG = "org"
    PROJECT = "project"
    BUILD = "build"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: TokenKind
    org_id: str
    project_id: str | None = None
    build_id: str | None = None


def authenticated(principal: object) -> Principal:
    if not isinstance(principal, Principal):
        raise ConnectError(Code.UNAUTHENTICATED, "missing or invalid bearer token")
    return principal


def require_org_token(principal: object) -> Principal:
    caller = authenticated(principal)
    if caller.kind is not TokenKind.ORG:
        raise ConnectError(
            Code.PERMISSION_DENIED, f"this call needs an organization token, not a {caller.kind.value} token"
        )
    return caller


def check_project(
    caller: Principal, project: Project | None, project_id: str, *, builds_allowed: bool = False
) -> Project:
    """``project`` if ``caller`` may use it; raises not_found / permission_denied otherwise.

    Build tokens reach a project only where ``builds_allowed`` (calls about their own build).
    """
    if project is None or (caller.kind is TokenKind.ORG and project.org_id != caller.org_id):
        raise ConnectError(Code.NOT_FOUND, f"project {project_id} not found")
    if caller.kind is TokenKind.PROJECT and caller.project_id != project.project_id:
        raise ConnectError(Code.PERMISSION_DENIED, "this project token belongs to another project")
    if caller.kind is TokenKind.BUILD and (not builds_allowed or caller.project_id != project.project_id):
        raise ConnectError(Code.PERMISSION_DENIED, "a build token cannot be used for this call")
    return project


def check_build(
    caller: Principal, build: Build | None, build_id: str, *, build_token_ok: bool = True
) -> Build:
    """``build`` if ``caller`` may use it; raises not_found / permission_denied otherwise."""
    if build is None or (caller.kind is TokenKind.ORG and build.org_id != caller.org_id):
        raise ConnectError(Code.NOT_FOUND, f"build {build_id} not found")
    if caller.kind is TokenKind.PROJECT and caller.project_id != build.project_id:
        raise ConnectError(Code.PERMISSION_DENIED, "this project token belongs to another project")
    if caller.kind is TokenKind.BUILD:
        if not build_token_ok:
            raise ConnectError(Code.PERMISSION_DENIED, "a build token cannot be used for this call")
        if caller.build_id != build.build_id:
            raise ConnectError(Code.PERMISSION_DENIED, "this build token belongs to another build")
    return build
