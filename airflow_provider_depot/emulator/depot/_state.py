"""The emulator's whole state, and the operations on organizations, projects, tokens, trust
policies, images and usage records (builds are in ``_builds.py``).

One re-entrant lock guards everything: RPC handlers run on the server's event loop thread while
tests reach the same state through the admin handle from theirs. Operations hold the lock only
briefly and never across an ``await``. ``version`` grows with every change (persistence saves
when it moved). Errors are ``ConnectError``s, the form in which they reach clients.
"""

from __future__ import annotations

import datetime
import itertools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_provider_depot.client._project_settings import REGIONS
from airflow_provider_depot.connect._codes import Code
from airflow_provider_depot.connect._errors import ConnectError

from .._clock import Clock
from ._auth import Principal, TokenKind
from ._ids import IdFactory, project_token_secret, secret_digest
from ._images import ProjectImages
from ._model import (
    DEFAULT_KEEP_DAYS,
    DEFAULT_KEEP_GB,
    DEFAULT_REGION,
    Build,
    Organization,
    Project,
    ProjectToken,
    TrustPolicy,
)
from ._paging import PageTokens
from ._usage import UsageBook

TRUST_PROVIDERS = {
    "github": ("repository_owner", "repository"),
    "circleci": ("organization_uuid", "project_uuid"),
    "buildkite": ("organization_slug", "pipeline_slug"),
}
_NAME_MAX = 256


@dataclass(frozen=True)
class ProjectSettings:
    """Optional changes of UpdateProject (None = leave as is)."""

    name: str | None = None
    region_id: str | None = None
    keep_gb: int | None = None
    keep_days: int | None = None
    hardware: int | None = None


class DepotState:
    def __init__(self, clock: Clock, *, id_seed: int | None = None, page_key: bytes | None = None) -> None:
        self.clock = clock
        self.ids = IdFactory(id_seed)
        self.lock = threading.RLock()
        self.version = 0
        self._seq = itertools.count(1)
        self.page_key = b""
        self.pages = PageTokens(b"")
        self.set_page_key(page_key or os.urandom(32))
        self.organizations: dict[str, Organization] = {}
        self.org_tokens: dict[str, str] = {}  # token digest -> org id
        self.projects: dict[str, Project] = {}
        self.project_order: list[Project] = []
        self.tokens: dict[str, ProjectToken] = {}
        self.token_digests: dict[str, str] = {}  # digest -> token id
        self.trust_policies: dict[str, list[TrustPolicy]] = {}
        self.builds: dict[str, Build] = {}
        self.project_builds: dict[str, list[Build]] = {}
        self.build_digests: dict[str, str] = {}  # build token digest -> build id
        self.images: dict[str, ProjectImages] = {}
        self.usage = UsageBook()
        # (project, step digest) -> seconds its last uncached run took: the time a cache hit saves.
        self.step_seconds: dict[tuple[str, str], float] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def set_page_key(self, key: bytes) -> None:
        """The MAC key of page tokens (kept in the state file so tokens survive a restart)."""
        self.page_key = key
        self.pages = PageTokens(key)

    def next_seq(self) -> int:
        return next(self._seq)

    def reserve_seqs(self, count: int) -> int:
        """The first of ``count`` consecutive fresh seqs."""
        first = next(self._seq)
        if count > 1:
            self._seq = itertools.count(first + count)
        return first

    def restore_seq(self, last: int) -> None:
        """After loading records with seqs up to ``last``, continue above it."""
        self._seq = itertools.count(max(last, next(self._seq) - 1) + 1)

    def changed(self) -> None:
        self.version += 1

    def now(self) -> datetime.datetime:
        return self.clock.now()

    # -- credentials ---------------------------------------------------------------------------

    def principal_for(self, secret: str) -> Principal | None:
        digest = secret_digest(secret)
        with self.lock:
            org_id = self.org_tokens.get(digest)
            if org_id is not None:
                return Principal(TokenKind.ORG, org_id)
            token_id = self.token_digests.get(digest)
            if token_id is not None:
                token = self.tokens[token_id]
                project = self.projects[token.project_id]
                return Principal(TokenKind.PROJECT, project.org_id, project_id=project.project_id)
            build_id = self.build_digests.get(digest)
            if build_id is not None:
                build = self.builds[build_id]
                return Principal(
                    TokenKind.BUILD, build.org_id, project_id=build.project_id, build_id=build_id
                )
        return None

    # -- organizations -------------------------------------------------------------------------

    def add_organization(
        self, name: str, *, org_id: str | None = None, created_at: datetime.datetime | None = None
    ) -> Organization:
        with self.lock:
            org = Organization(org_id or self.ids.organization_id(), name, created_at or self.now())
            if org.org_id in self.organizations:
                raise ConnectError(Code.ALREADY_EXISTS, f"organization {org.org_id} already exists")
            self.organizations[org.org_id] = org
            self.changed()
            return org

    def add_org_token(self, secret: str, org_id: str) -> None:
        self.add_org_token_digest(secret_digest(secret), org_id)

    def add_org_token_digest(self, digest: str, org_id: str) -> None:
        with self.lock:
            if org_id not in self.organizations:
                raise ValueError(f"org_id: no organization {org_id!r}")
            self.org_tokens[digest] = org_id
            self.changed()

    def default_org(self) -> Organization:
        with self.lock:
            if not self.organizations:
                raise ValueError("the emulator has no organization")
            return next(iter(self.organizations.values()))

    # -- projects ------------------------------------------------------------------------------

    def create_project(
        self,
        org_id: str,
        name: str,
        *,
        region_id: str = "",
        keep_gb: int = DEFAULT_KEEP_GB,
        keep_days: int = DEFAULT_KEEP_DAYS,
        hardware: int = 0,
        project_id: str | None = None,
        created_at: datetime.datetime | None = None,
    ) -> Project:
        _check_name(name)
        region = check_region(region_id or DEFAULT_REGION)
        _check_cache_policy(keep_gb, keep_days)
        with self.lock:
            if org_id not in self.organizations:
                raise ConnectError(Code.NOT_FOUND, f"organization {org_id} not found")
            pid = project_id or self.ids.project_id()
            if pid in self.projects:
                raise ConnectError(Code.ALREADY_EXISTS, f"project {pid} already exists")
            project = Project(
                project_id=pid,
                org_id=org_id,
                name=name,
                region_id=region,
                created_at=created_at or self.now(),
                seq=self.next_seq(),
                keep_gb=keep_gb,
                keep_days=keep_days,
                hardware=hardware,
            )
            self.projects[pid] = project
            self.project_order.append(project)
            self.project_builds[pid] = []
            self.images[pid] = ProjectImages()
            self.changed()
            return project

    def project(self, project_id: str) -> Project | None:
        with self.lock:
            return self.projects.get(project_id)

    def org_projects(self, org_id: str, region_id: str | None = None) -> list[Project]:
        with self.lock:
            return [
                p
                for p in self.project_order
                if p.org_id == org_id and (region_id is None or p.region_id == region_id)
            ]

    def update_project(self, project: Project, settings: ProjectSettings) -> Project:
        if settings.name is not None:
            _check_name(settings.name)
        region = check_region(settings.region_id) if settings.region_id is not None else None
        with self.lock:
            keep_gb = project.keep_gb if settings.keep_gb is None else settings.keep_gb
            keep_days = project.keep_days if settings.keep_days is None else settings.keep_days
            _check_cache_policy(keep_gb, keep_days)
            if settings.name is not None:
                project.name = settings.name
            if region is not None:
                project.region_id = region
            project.keep_gb, project.keep_days = keep_gb, keep_days
            if settings.hardware is not None:
                project.hardware = settings.hardware
            self.changed()
            return project

    def delete_project(self, project: Project) -> None:
        with self.lock:
            pid = project.project_id
            del self.projects[pid]
            self.project_order.remove(project)
            for token in [t for t in self.tokens.values() if t.project_id == pid]:
                self._drop_token(token)
            for build in self.project_builds.pop(pid, []):
                del self.builds[build.build_id]
                self.build_digests.pop(build.token_digest, None)
            self.trust_policies.pop(pid, None)
            self.images.pop(pid, None)
            self.usage.drop_project(pid)
            self.step_seconds = {k: v for k, v in self.step_seconds.items() if k[0] != pid}
            self.changed()

    def reset_project(self, project: Project) -> None:
        """Forget the project's layer cache: no step is a cache hit of an earlier build any more."""
        with self.lock:
            project.cache_reset_at = self.now()
            pid = project.project_id
            self.step_seconds = {k: v for k, v in self.step_seconds.items() if k[0] != pid}
            self.changed()

    # -- project tokens ------------------------------------------------------------------------

    def create_token(
        self, project: Project, description: str, *, secret: str | None = None
    ) -> tuple[ProjectToken, str]:
        """A new project token and its secret (returned once; only its digest is kept)."""
        secret = secret or project_token_secret()
        with self.lock:
            token = ProjectToken(
                self.ids.token_id(), project.project_id, description, secret_digest(secret), self.next_seq()
            )
            self.store_token(token)
            return token, secret

    def store_token(self, token: ProjectToken) -> None:
        with self.lock:
            self.tokens[token.token_id] = token
            self.token_digests[token.digest] = token.token_id
            self.changed()

    def project_tokens(self, project_id: str) -> list[ProjectToken]:
        with self.lock:
            return sorted(
                (t for t in self.tokens.values() if t.project_id == project_id), key=lambda t: t.seq
            )

    def token(self, token_id: str) -> ProjectToken | None:
        with self.lock:
            return self.tokens.get(token_id)

    def update_token(self, token: ProjectToken, description: str) -> None:
        with self.lock:
            token.description = description
            self.changed()

    def delete_token(self, token: ProjectToken) -> None:
        with self.lock:
            self._drop_token(token)
            self.changed()

    def _drop_token(self, token: ProjectToken) -> None:
        self.tokens.pop(token.token_id, None)
        self.token_digests.pop(token.digest, None)

    # -- trust policies ------------------------------------------------------------------------

    def add_trust_policy(self, project: Project, provider: str, fields: dict[str, str]) -> TrustPolicy:
        expected = TRUST_PROVIDERS.get(provider)
        if expected is None:
            raise ConnectError(Code.INVALID_ARGUMENT, f"unknown trust policy provider {provider!r}")
        missing = [name for name in expected if not fields.get(name)]
        if missing:
            raise ConnectError(Code.INVALID_ARGUMENT, f"{provider}.{missing[0]} is required")
        with self.lock:
            policy = TrustPolicy(
                self.ids.trust_policy_id(),
                project.project_id,
                provider,
                {name: fields[name] for name in expected},
                self.next_seq(),
            )
            self.trust_policies.setdefault(project.project_id, []).append(policy)
            self.changed()
            return policy

    def project_trust_policies(self, project_id: str) -> list[TrustPolicy]:
        with self.lock:
            return list(self.trust_policies.get(project_id, []))

    def remove_trust_policy(self, project: Project, trust_policy_id: str) -> None:
        with self.lock:
            policies = self.trust_policies.get(project.project_id, [])
            kept = [p for p in policies if p.trust_policy_id != trust_policy_id]
            if len(kept) == len(policies):
                raise ConnectError(Code.NOT_FOUND, f"trust policy {trust_policy_id} not found")
            self.trust_policies[project.project_id] = kept
            self.changed()

    # -- images --------------------------------------------------------------------------------

    def add_images(
        self,
        project_id: str,
        tags: Sequence[str],
        digests: Sequence[str],
        pushed_at_us: Sequence[int],
        sizes: Sequence[int],
    ) -> None:
        """Bulk-add images to a project's registry (see ``ProjectImages.extend``)."""
        with self.lock:
            images = self.images.get(project_id)
            if images is None:
                raise ConnectError(Code.NOT_FOUND, f"project {project_id} not found")
            first = self.reserve_seqs(len(tags))
            images.extend(tags, digests, pushed_at_us, sizes, first)
            self.changed()

    def project_images(self, project_id: str) -> ProjectImages:
        with self.lock:
            images = self.images.get(project_id)
            if images is None:
                raise ConnectError(Code.NOT_FOUND, f"project {project_id} not found")
            return images

    def delete_images(self, project_id: str, tags: Sequence[str]) -> list[str]:
        with self.lock:
            removed = self.project_images(project_id).delete(tags)
            if removed:
                self.changed()
            return removed


def _check_name(name: str) -> None:
    if not name or not name.strip():
        raise ConnectError(Code.INVALID_ARGUMENT, "name is required")
    if len(name) > _NAME_MAX:
        raise ConnectError(Code.INVALID_ARGUMENT, f"name must be at most {_NAME_MAX} characters")


def check_region(region_id: str) -> str:
    if region_id not in REGIONS:
        raise ConnectError(
            Code.INVALID_ARGUMENT, f"unknown region_id {region_id!r}; regions are {', '.join(REGIONS)}"
        )
    return region_id


def _check_cache_policy(keep_gb: int, keep_days: int) -> None:
    if keep_gb < 0 or keep_days < 0:
        raise ConnectError(Code.INVALID_ARGUMENT, "cache_policy values must not be negative")
