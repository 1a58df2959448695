"""Operators for OIDC trust policies: which CI jobs may build in a project without a token.

A trust policy is returned as ``{trust_policy_id, provider, github, buildkite, circleci}``:
``provider`` names the one of the three that is set, the other two are None.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ._base import DepotProjectOperator, require_flag
from ._json import message_to_json

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot._proto.depot.core.v1 import project_pb2
    from airflow_provider_depot.client import DepotClient

Provider = Literal["github", "buildkite", "circleci"]

# The fields each provider takes, in the order the API declares them.
PROVIDER_FIELDS: dict[str, tuple[str, str]] = {
    "github": ("repository_owner", "repository"),
    "buildkite": ("organization_slug", "pipeline_slug"),
    "circleci": ("organization_uuid", "project_uuid"),
}
_ALL_FIELDS = tuple(name for names in PROVIDER_FIELDS.values() for name in names)

# Patterns, compiled on first use (by ``re``'s cache), not when a DAG file imports this.
# GitHub: owners are 1-39 alphanumerics or single hyphens; repository names 1-100 of [A-Za-z0-9._-].
_GITHUB_OWNER = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\Z"
_GITHUB_REPOSITORY = r"[A-Za-z0-9._-]{1,100}\Z"
# Buildkite slugs: lowercase alphanumerics and hyphens (what Buildkite derives from a name).
_BUILDKITE_SLUG = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\Z"


def trust_policy_json(policy: project_pb2.TrustPolicy) -> dict[str, Any]:
    return {**message_to_json(policy), "provider": policy.WhichOneof("provider")}


def _github(owner: str, repository: str) -> dict[str, str]:
    if not re.match(_GITHUB_OWNER, owner):
        raise ValueError(f"repository_owner {owner!r} is not a GitHub user or organization name")
    if "/" in repository:
        raise ValueError(
            f"repository {repository!r} must be the name alone; the owner goes in repository_owner"
        )
    if not re.match(_GITHUB_REPOSITORY, repository) or repository in (".", ".."):
        raise ValueError(f"repository {repository!r} is not a GitHub repository name")
    return {"repository_owner": owner, "repository": repository}


def _buildkite(organization_slug: str, pipeline_slug: str) -> dict[str, str]:
    for name, slug in (("organization_slug", organization_slug), ("pipeline_slug", pipeline_slug)):
        if not re.match(_BUILDKITE_SLUG, slug):
            raise ValueError(
                f"{name} {slug!r} is not a Buildkite slug (lowercase letters, digits and hyphens)"
            )
    return {"organization_slug": organization_slug, "pipeline_slug": pipeline_slug}


def _circleci(organization_uuid: str, project_uuid: str) -> dict[str, str]:
    import uuid

    checked = {}
    for name, text in (("organization_uuid", organization_uuid), ("project_uuid", project_uuid)):
        try:
            checked[name] = str(uuid.UUID(text))
        except ValueError:
            raise ValueError(
                f"{name} {text!r} is not a UUID (CircleCI shows it under Organization/Project Settings)"
            ) from None
    return checked


_CHECKS = {"github": _github, "buildkite": _buildkite, "circleci": _circleci}


class DepotAddTrustPolicyOperator(DepotProjectOperator):
    """Trust CI jobs of one GitHub repository, Buildkite pipeline or CircleCI project.

    Give ``provider`` and exactly its two fields; they are checked here, before any call:
    GitHub owner and repository names by GitHub's rules (the repository without its owner),
    Buildkite slugs as lowercase slugs, CircleCI ids as UUIDs (written back in canonical
    lowercase form).

    If the project already has the same policy it is returned instead of adding a duplicate, so
    reruns are safe. Returns the policy (see the module docstring) plus ``created`` (bool).

    :param project_id: the project (templated).
    :param provider: ``"github"``, ``"buildkite"`` or ``"circleci"``.
    :param repository_owner: GitHub user or organization (templated).
    :param repository: GitHub repository name (templated).
    :param organization_slug: Buildkite organization slug (templated).
    :param pipeline_slug: Buildkite pipeline slug (templated).
    :param organization_uuid: CircleCI organization id (templated).
    :param project_uuid: CircleCI project id (templated).
    """

    template_fields: Sequence[str] = (*DepotProjectOperator.template_fields, "provider", *_ALL_FIELDS)

    def __init__(
        self,
        *,
        project_id: str,
        provider: Provider,
        repository_owner: str | None = None,
        repository: str | None = None,
        organization_slug: str | None = None,
        pipeline_slug: str | None = None,
        organization_uuid: str | None = None,
        project_uuid: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.provider = provider
        self.repository_owner = repository_owner
        self.repository = repository
        self.organization_slug = organization_slug
        self.pipeline_slug = pipeline_slug
        self.organization_uuid = organization_uuid
        self.project_uuid = project_uuid

    def validated(self) -> tuple[str, str, dict[str, str]]:
        from airflow_provider_depot.client._validation import require_id

        project_id = self.checked_project_id()
        if self.provider not in PROVIDER_FIELDS:
            raise ValueError(f"provider must be one of {sorted(PROVIDER_FIELDS)}, got {self.provider!r}")
        own = PROVIDER_FIELDS[self.provider]
        foreign = [name for name in _ALL_FIELDS if name not in own and getattr(self, name) is not None]
        if foreign:
            raise ValueError(
                f"{', '.join(foreign)}: not a field of provider {self.provider!r} (it takes {own})"
            )
        values = [require_id(name, getattr(self, name)) for name in own]
        return project_id, self.provider, _CHECKS[self.provider](*values)

    def call_depot(
        self, client: DepotClient, args: tuple[str, str, dict[str, str]], context: Context
    ) -> dict[str, Any]:
        project_id, provider, fields = args
        for policy in client.projects.list_trust_policies(project_id=project_id).trust_policies:
            if (
                policy.WhichOneof("provider") == provider
                and message_to_json(getattr(policy, provider)) == fields
            ):
                self.log.info(
                    "Project %s already trusts this %s policy (%s)",
                    project_id,
                    provider,
                    policy.trust_policy_id,
                )
                return {**trust_policy_json(policy), "created": False}
        policy = client.projects.add_trust_policy(project_id=project_id, **{provider: fields}).trust_policy
        self.log.info("Added %s trust policy %s to project %s", provider, policy.trust_policy_id, project_id)
        return {**trust_policy_json(policy), "created": True}


class DepotRemoveTrustPolicyOperator(DepotProjectOperator):
    """Remove a trust policy. Returns ``{project_id, trust_policy_id, removed}``.

    :param project_id: the project (templated).
    :param trust_policy_id: the policy (templated).
    :param missing_ok: if True, a policy that does not exist is success with ``removed: False``.
    """

    template_fields: Sequence[str] = (*DepotProjectOperator.template_fields, "trust_policy_id")

    def __init__(
        self, *, project_id: str, trust_policy_id: str, missing_ok: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.trust_policy_id = trust_policy_id
        self.missing_ok = missing_ok

    def validated(self) -> tuple[str, str]:
        from airflow_provider_depot.client._validation import require_id

        require_flag("missing_ok", self.missing_ok)
        return self.checked_project_id(), require_id("trust_policy_id", self.trust_policy_id)

    def call_depot(self, client: DepotClient, args: tuple[str, str], context: Context) -> dict[str, Any]:
        project_id, policy_id = args
        removed = self.delete_or_missing(
            lambda: client.projects.remove_trust_policy(project_id=project_id, trust_policy_id=policy_id),
            missing_ok=self.missing_ok,
            what=f"trust policy {policy_id} of project {project_id}",
        )
        return {"project_id": project_id, "trust_policy_id": policy_id, "removed": removed}


class DepotListTrustPoliciesOperator(DepotProjectOperator):
    """Return a project's trust policies as a list of dicts (see the module docstring).

    :param project_id: the project (templated).
    """

    def call_depot(self, client: DepotClient, args: str, context: Context) -> list[dict[str, Any]]:
        policies = client.projects.list_trust_policies(project_id=args).trust_policies
        return [trust_policy_json(policy) for policy in policies]
