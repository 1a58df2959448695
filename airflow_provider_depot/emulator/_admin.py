"""The admin handle: direct access to a running emulator's state, faults, audit log and leases.

Tests hold it as ``handle.admin`` (``run_emulator`` / the ``depot_emulator`` fixture); the HTTP
admin endpoints (``_admin_http.py``) call the same methods. Every method is thread-safe.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._snapshot import dump_document, load_document, write_document
from .connect_server import FaultRule, rules_from_json
from .depot._builds import create_build, get_build, request_cancel
from .depot._images import ImageRecord
from .depot._model import Build, Organization, Project
from .depot._usage import ActivityDay, ProjectDay, day_of_date

if TYPE_CHECKING:
    from ._emulator import Emulator

_MiB = 1 << 20


class Admin:
    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.state = emulator.state

    # -- organizations, projects, tokens -------------------------------------------------------

    @property
    def organization(self) -> Organization:
        """The default organization (the one ``--token`` tokens belong to)."""
        return self.state.default_org()

    def add_org_token(self, secret: str, org_id: str | None = None) -> None:
        self.state.add_org_token(secret, org_id or self.organization.org_id)

    def create_project(
        self, name: str, *, region_id: str = "us-east-1", org_id: str | None = None
    ) -> Project:
        return self.state.create_project(org_id or self.organization.org_id, name, region_id=region_id)

    def project(self, project_id: str) -> Project | None:
        return self.state.project(project_id)

    def projects(self) -> list[Project]:
        with self.state.lock:
            return list(self.state.project_order)

    def create_project_token(self, project_id: str, description: str = "") -> tuple[str, str]:
        """A new project token: ``(token_id, secret)``."""
        project = self._project(project_id)
        token, secret = self.state.create_token(project, description)
        return token.token_id, secret

    # -- registry ------------------------------------------------------------------------------

    def add_images(
        self,
        project_id: str,
        tags: Sequence[str],
        *,
        digests: Sequence[str] | None = None,
        pushed_at: Sequence[datetime.datetime] | None = None,
        sizes: Sequence[int] | None = None,
    ) -> None:
        """Add images; digests default to a hash of the tag, times to now, sizes to 50 MiB."""
        count = len(tags)
        now_us = int(self.state.clock.time() * 1_000_000)
        self.state.add_images(
            project_id,
            tags,
            digests if digests is not None else [_digest(f"{project_id}:{t}") for t in tags],
            [round(p.timestamp() * 1_000_000) for p in pushed_at]
            if pushed_at is not None
            else [now_us] * count,
            sizes if sizes is not None else [50 * _MiB] * count,
        )

    def add_synthetic_images(
        self,
        project_id: str,
        count: int,
        *,
        newest: datetime.datetime | None = None,
        spacing_seconds: float = 60.0,
    ) -> None:
        """Bulk-add ``count`` images ``img-000000``..., one every ``spacing_seconds`` up to ``newest``."""
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        if spacing_seconds <= 0:
            raise ValueError(f"spacing_seconds must be positive, got {spacing_seconds}")
        end_us = round((newest.timestamp() if newest else self.state.clock.time()) * 1_000_000)
        step = round(spacing_seconds * 1_000_000)
        tags = [f"img-{i:06d}" for i in range(count)]
        prefix = hashlib.sha256(project_id.encode()).hexdigest()[:48]
        self.state.add_images(
            project_id,
            tags,
            [f"sha256:{prefix}{i:016x}" for i in range(count)],
            list(range(end_us - step * (count - 1), end_us + 1, step)) if count else [],
            [(i * 7919 % 500 + 1) * _MiB for i in range(count)],
        )

    def images(self, project_id: str) -> list[ImageRecord]:
        """All images of a project, newest push first."""
        with self.state.lock:
            store = self.state.project_images(project_id)
            records, _ = store.page(None, len(store))
            return records

    # -- builds --------------------------------------------------------------------------------

    def create_build(self, project_id: str) -> tuple[str, str]:
        """A new running build: ``(build_id, build_token)``."""
        build, secret = create_build(self.state, self._project(project_id))
        return build.build_id, secret

    def build(self, build_id: str) -> Build:
        build = get_build(self.state, build_id)
        if build is None:
            raise KeyError(f"build_id: no build {build_id!r}")
        return build

    def cancel_build(self, build_id: str) -> None:
        """Ask the build's CLI to cancel (its next ReportBuildHealth gets ``cancels_at``)."""
        request_cancel(self.state, self.build(build_id))

    # -- usage ---------------------------------------------------------------------------------

    def set_usage(
        self,
        project_id: str,
        date: datetime.date,
        *,
        build_count: int = 0,
        build_duration_seconds: int = 0,
        minutes_saved: float = 0.0,
        minutes_billed: float | None = None,
        layer_cache_size_gb: int | None = None,
    ) -> None:
        """Set a project's explicit usage record for one UTC day (replacing an earlier one)."""
        self._project(project_id)
        with self.state.lock:
            self.state.usage.set_project_day(
                project_id,
                day_of_date(date),
                ProjectDay(
                    build_count=build_count,
                    build_seconds=build_duration_seconds,
                    saved_seconds=round(minutes_saved * 60),
                    billed_seconds=build_duration_seconds
                    if minutes_billed is None
                    else round(minutes_billed * 60),
                    layer_cache_size_gb=layer_cache_size_gb,
                ),
            )
            self.state.changed()

    def set_github_usage(
        self,
        date: datetime.date,
        repo: str,
        workflow: str,
        runner: str,
        *,
        job_count: int,
        minutes_elapsed: float,
        minutes_billed: float,
    ) -> None:
        with self.state.lock:
            self.state.usage.set_github_day(
                repo,
                workflow,
                runner,
                day_of_date(date),
                ActivityDay(job_count, round(minutes_elapsed * 60), round(minutes_billed * 60)),
            )
            self.state.changed()

    # -- faults, audit, endpoints, clock -------------------------------------------------------

    def add_faults(self, rules: Iterable[FaultRule | Mapping[str, Any]] | Mapping[str, Any]) -> list[str]:
        """Add fault rules (objects or their JSON form, see ``FaultRule``); returns their ids."""
        if isinstance(rules, Mapping):
            parsed = rules_from_json(rules)
        else:
            parsed = [r if isinstance(r, FaultRule) else FaultRule.from_dict(r) for r in rules]
        return self._emulator.faults.add(parsed)

    def faults(self) -> list[dict[str, Any]]:
        return self._emulator.faults.rules()

    def remove_fault(self, rule_id: str) -> bool:
        return self._emulator.faults.remove(rule_id)

    def clear_faults(self) -> None:
        self._emulator.faults.clear()

    def audit(self, since: int = 0) -> list[dict[str, Any]]:
        """The calls answered so far (``seq > since``), oldest first."""
        return [e.to_dict() for e in self._emulator.audit.entries(since)]

    def clear_audit(self) -> None:
        self._emulator.audit.clear()

    def endpoints(self) -> dict[str, list[dict[str, Any]]]:
        """BuildKit endpoint leases: ``live``, ``leaked`` (expired by the reaper) and ``released``."""
        return self._emulator.broker.report()

    def reap(self) -> list[str]:
        """Run the health reaper now; returns the ids of the builds it expired."""
        return self._emulator.broker.reap()

    # -- persistence ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The state as a seed/state document (credentials as digests)."""
        return dump_document(self.state)

    def load(self, doc: Mapping[str, Any]) -> None:
        """Add a seed document's contents to the running state."""
        load_document(self.state, doc)

    def save(self, path: str | None = None) -> None:
        """Write the state file now (to ``path``, or to the configured ``--state`` file)."""
        target = path or self._emulator.config.state_file
        if target is None:
            raise ValueError("path: no path given and the emulator has no state file")
        write_document(target, self.snapshot())

    def _project(self, project_id: str) -> Project:
        project = self.state.project(project_id)
        if project is None:
            raise KeyError(f"project_id: no project {project_id!r}")
        return project


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
