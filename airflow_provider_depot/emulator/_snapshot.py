"""The emulator's JSON document: what ``--seed FILE`` reads and ``--state FILE`` writes.

One format for both. A seed, written by hand, may leave out ids, times and seqs (they are made
up); a state file has them all and reloads to the same state, page tokens included. Credentials
appear either as ``secret`` (a seed) or as ``digest`` (SHA-256 hex; what a state file holds, so a
state file never contains a usable credential)::

    {"format": "depot-emulator/1",
     "organizations": [{"org_id": "...", "name": "Acme", "created_at": "2026-01-01T00:00:00Z",
                        "tokens": ["<org token>"], "token_digests": ["<sha256>"]}],
     "projects": [{"project_id": "...", "org_id": "...", "name": "api", "region_id": "us-east-1",
                   "created_at": "...", "hardware": "HARDWARE_16X32",
                   "cache_policy": {"keep_gb": 50, "keep_days": 14},
                   "tokens": [{"token_id": "...", "description": "ci", "secret": "..."}],
                   "trust_policies": [{"github": {"repository_owner": "o", "repository": "r"}}],
                   "images": [{"tag": "v1", "digest": "sha256:...", "pushed_at": "...", "size_bytes": 1}],
                   "builds": [{"build_id": "...", "status": "success", "created_at": "...",
                               "started_at": "...", "finished_at": "...",
                               "steps": [{"digest": "sha256:...", "name": "[1/2] FROM scratch",
                                          "started_at": "...", "completed_at": "...", "cached": false,
                                          "logs": [{"timestamp": "...", "message": "..."}]}]}],
                   "usage": [{"date": "2026-01-01", "build_count": 3, "build_duration_seconds": 300,
                              "minutes_saved": 2.5, "minutes_billed": 5, "layer_cache_size_gb": 12}]}],
     "usage": {"github_actions": [{"date": "...", "repo": "o/r", "workflow": "ci",
                                   "runner": "depot-ubuntu-24.04", "job_count": 4,
                                   "minutes_elapsed": 20, "minutes_billed": 20}],
               "agent_sandbox": [{"date": "...", "agent_type": "claude-code", "sandboxes_count": 1,
                                  "minutes_elapsed": 9, "minutes_billed": 9}],
               "storage": [{"date": "...", "storage_type": "cache", "total_gb": 40.5}]}}

``images`` may also be columns (``{"tag": [...], "digest": [...], "pushed_at_us": [...],
"size_bytes": [...]}``), which is how a state file stores them and how 100k images load fast.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from airflow_provider_depot._proto.depot.core.v1 import project_pb2
from airflow_provider_depot.connect._errors import ConnectError

from .depot._builds import store_build
from .depot._ids import secret_digest
from .depot._model import Build, BuildOptions, BuildStatus, BuildStep, LogLine, Project, ProjectToken
from .depot._state import TRUST_PROVIDERS, DepotState
from .depot._usage import ActivityDay, ProjectDay, date_of_day, day_of_date

T = TypeVar("T")
FORMAT = "depot-emulator/1"
UTC = datetime.timezone.utc
Doc = Mapping[str, Any]


class SnapshotError(ValueError):
    """The document is not a valid seed or state file; the message names the offending place."""


# -- reading -----------------------------------------------------------------------------------


def load_document(state: DepotState, doc: Doc) -> None:
    """Add everything ``doc`` describes to ``state``."""
    if not isinstance(doc, Mapping):
        raise SnapshotError("the document must be a JSON object")
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise SnapshotError(f"format: expected {FORMAT!r}, got {fmt!r}")
    with state.lock:
        if "page_key" in doc:
            state.set_page_key(bytes.fromhex(str(doc["page_key"])))
        top_seq = 0
        for i, org_doc in enumerate(_list(doc, "organizations")):
            _located(f"organizations[{i}]", _load_org, state, org_doc)
        for i, project_doc in enumerate(_list(doc, "projects")):
            top_seq = max(top_seq, _located(f"projects[{i}]", _load_project, state, project_doc))
        _load_org_usage(state, doc.get("usage") or {})
        for item in doc.get("step_seconds", []):
            project_id, digest, seconds = item
            state.step_seconds[(str(project_id), str(digest))] = float(seconds)
        state.project_order.sort(key=lambda p: p.seq)
        state.restore_seq(top_seq)
        state.changed()


def _located(where: str, load: Callable[[DepotState, Doc, str], T], state: DepotState, doc: Doc) -> T:
    """Run one loader; a rule the state enforces (a ConnectError) becomes a SnapshotError there."""
    try:
        return load(state, doc, where)
    except ConnectError as exc:
        raise SnapshotError(f"{where}: {exc.message}") from None


def _load_org(state: DepotState, doc: Doc, where: str) -> None:
    org = state.add_organization(
        _str(doc, "name", where, default="Emulated organization"),
        org_id=doc.get("org_id") or None,
        created_at=_time(doc, "created_at", where),
    )
    for secret in doc.get("tokens", []):
        state.add_org_token(str(secret), org.org_id)
    for digest in doc.get("token_digests", []):
        state.add_org_token_digest(str(digest), org.org_id)


def _load_project(state: DepotState, doc: Doc, where: str) -> int:
    org_id = doc.get("org_id") or state.default_org().org_id
    policy = doc.get("cache_policy") or {}
    project = state.create_project(
        org_id,
        _str(doc, "name", where),
        region_id=doc.get("region_id", ""),
        keep_gb=int(policy.get("keep_gb", 50)),
        keep_days=int(policy.get("keep_days", 14)),
        hardware=_hardware(doc.get("hardware", "HARDWARE_16X32"), where),
        project_id=doc.get("project_id") or None,
        created_at=_time(doc, "created_at", where),
    )
    if "seq" in doc:
        project.seq = int(doc["seq"])
    project.cache_reset_at = _time(doc, "cache_reset_at", where, required=False)
    top = project.seq
    for i, token_doc in enumerate(doc.get("tokens", [])):
        top = max(top, _load_token(state, project, token_doc, f"{where}.tokens[{i}]"))
    for i, policy_doc in enumerate(doc.get("trust_policies", [])):
        _load_trust_policy(state, project, policy_doc, f"{where}.trust_policies[{i}]")
    top = max(top, _load_images(state, project, doc.get("images", []), f"{where}.images"))
    for i, build_doc in enumerate(doc.get("builds", [])):
        top = max(top, _load_build(state, project, build_doc, f"{where}.builds[{i}]"))
    state.project_builds[project.project_id].sort(key=lambda b: b.seq)
    for i, usage_doc in enumerate(doc.get("usage", [])):
        _load_project_day(state, project, usage_doc, f"{where}.usage[{i}]")
    return top


def _load_token(state: DepotState, project: Project, doc: Doc, where: str) -> int:
    if "digest" in doc:
        digest = str(doc["digest"])
    elif "secret" in doc:
        digest = secret_digest(str(doc["secret"]))
    else:
        raise SnapshotError(f"{where}: a token needs a secret or a digest")
    token = ProjectToken(
        token_id=doc.get("token_id") or state.ids.token_id(),
        project_id=project.project_id,
        description=str(doc.get("description", "")),
        digest=digest,
        seq=int(doc.get("seq") or state.next_seq()),
    )
    state.store_token(token)
    return token.seq


def _load_trust_policy(state: DepotState, project: Project, doc: Doc, where: str) -> None:
    providers = [p for p in TRUST_PROVIDERS if p in doc]
    if len(providers) != 1:
        raise SnapshotError(f"{where}: give exactly one of {', '.join(TRUST_PROVIDERS)}")
    policy = state.add_trust_policy(project, providers[0], dict(doc[providers[0]]))
    if doc.get("trust_policy_id"):
        policy.trust_policy_id = str(doc["trust_policy_id"])


def _load_images(state: DepotState, project: Project, images: object, where: str) -> int:
    if isinstance(images, Mapping):
        tags = list(images.get("tag", []))
        digests = list(images.get("digest", []))
        sizes = list(images.get("size_bytes", []))
        if "pushed_at_us" in images:
            pushed = [int(v) for v in images["pushed_at_us"]]
        else:
            pushed = [_micros(v, f"{where}.pushed_at") for v in images.get("pushed_at", [])]
        seqs = images.get("seq")
    elif isinstance(images, list):
        tags = [_str(i, "tag", where) for i in images]
        digests = [_str(i, "digest", where) for i in images]
        pushed = [_micros(i.get("pushed_at"), f"{where}.pushed_at") for i in images]
        sizes = [int(i.get("size_bytes", 0)) for i in images]
        seqs = None
    else:
        raise SnapshotError(f"{where}: expected a list of images or columns")
    if not tags:
        return 0
    if not (len(tags) == len(digests) == len(pushed) == len(sizes)):
        raise SnapshotError(f"{where}: the columns tag, digest, pushed_at and size_bytes differ in length")
    store = state.project_images(project.project_id)
    if seqs is not None:
        store.load_columns(tags, digests, pushed, sizes, [int(s) for s in seqs])
        return int(seqs[-1]) if seqs else 0
    state.add_images(project.project_id, tags, digests, pushed, sizes)
    return 0


def _load_build(state: DepotState, project: Project, doc: Doc, where: str) -> int:
    status_name = str(doc.get("status", "success"))
    try:
        status = BuildStatus(status_name)
    except ValueError:
        raise SnapshotError(f"{where}.status: one of {', '.join(s.value for s in BuildStatus)}") from None
    created = _time(doc, "created_at", where) or state.now()
    if doc.get("token_digest"):
        digest = str(doc["token_digest"])
    else:  # a seeded build without a token has no build token at all
        digest = secret_digest(str(doc["token"])) if doc.get("token") else ""
    build = Build(
        build_id=doc.get("build_id") or state.ids.build_id(),
        project_id=project.project_id,
        org_id=project.org_id,
        seq=int(doc.get("seq") or state.next_seq()),
        token_digest=digest,
        created_at=created,
        status=status,
        started_at=_time(doc, "started_at", where, required=False),
        finished_at=_time(doc, "finished_at", where, required=False),
        error=doc.get("error"),
        last_health=_time(doc, "last_health", where, required=False) or created,
        cancel_requested_at=_time(doc, "cancel_requested_at", where, required=False),
        share_id=doc.get("share_id"),
        saved_seconds=float(doc.get("saved_seconds", 0.0)),
        options=[BuildOptions(**o) for o in doc.get("options", [])],
        dockerfiles=list(doc.get("dockerfiles", [])),
        step_source=str(doc.get("step_source", "status" if doc.get("steps") else "")),
    )
    if build.finished and build.finished_at is None:
        raise SnapshotError(f"{where}: a {status.value} build needs finished_at")
    top = build.seq
    for i, step_doc in enumerate(doc.get("steps", [])):
        swhere = f"{where}.steps[{i}]"
        step = BuildStep(
            digest=_str(step_doc, "digest", swhere),
            name=_str(step_doc, "name", swhere),
            seq=int(step_doc.get("seq") or state.next_seq()),
            started_at=_time(step_doc, "started_at", swhere) or created,
            completed_at=_time(step_doc, "completed_at", swhere, required=False),
            cached=bool(step_doc.get("cached", False)),
            error=step_doc.get("error"),
        )
        build.step_index[step.digest] = len(build.steps)
        build.steps.append(step)
        top = max(top, step.seq)
        for j, log_doc in enumerate(step_doc.get("logs", [])):
            line = LogLine(
                seq=int(log_doc.get("seq") or state.next_seq()),
                digest=step.digest,
                timestamp=_time(log_doc, "timestamp", f"{swhere}.logs[{j}]") or step.started_at,
                message=str(log_doc.get("message", "")),
            )
            build.logs.append(line)
            top = max(top, line.seq)
    build.logs.sort(key=lambda line: line.seq)
    store_build(state, build)
    return top


def _load_project_day(state: DepotState, project: Project, doc: Doc, where: str) -> None:
    day = _day(doc, where)
    cache = doc.get("layer_cache_size_gb")
    seconds = int(doc.get("build_duration_seconds", 0))
    state.usage.set_project_day(
        project.project_id,
        day,
        ProjectDay(
            build_count=int(doc.get("build_count", 0)),
            build_seconds=seconds,
            saved_seconds=round(float(doc.get("minutes_saved", 0)) * 60),
            billed_seconds=round(float(doc["minutes_billed"]) * 60) if "minutes_billed" in doc else seconds,
            layer_cache_size_gb=None if cache is None else int(cache),
        ),
    )


def _load_org_usage(state: DepotState, doc: Doc) -> None:
    for i, item in enumerate(doc.get("github_actions", [])):
        where = f"usage.github_actions[{i}]"
        state.usage.set_github_day(
            _str(item, "repo", where),
            str(item.get("workflow", "")),
            str(item.get("runner", "")),
            _day(item, where),
            _activity(item, "job_count"),
        )
    for i, item in enumerate(doc.get("agent_sandbox", [])):
        where = f"usage.agent_sandbox[{i}]"
        state.usage.set_sandbox_day(
            _str(item, "agent_type", where), _day(item, where), _activity(item, "sandboxes_count")
        )
    for i, item in enumerate(doc.get("storage", [])):
        where = f"usage.storage[{i}]"
        state.usage.set_storage_day(
            _str(item, "storage_type", where), _day(item, where), float(item.get("total_gb", 0))
        )


def _activity(doc: Doc, count_field: str) -> ActivityDay:
    return ActivityDay(
        count=int(doc.get(count_field, 0)),
        elapsed_seconds=round(float(doc.get("minutes_elapsed", 0)) * 60),
        billed_seconds=round(float(doc.get("minutes_billed", 0)) * 60),
    )


# -- writing -----------------------------------------------------------------------------------


def dump_document(state: DepotState) -> dict[str, Any]:
    """The whole state as a document that ``load_document`` restores (credentials as digests)."""
    with state.lock:
        orgs = [
            {
                "org_id": org.org_id,
                "name": org.name,
                "created_at": _iso(org.created_at),
                "token_digests": sorted(d for d, o in state.org_tokens.items() if o == org.org_id),
            }
            for org in state.organizations.values()
        ]
        projects = [_dump_project(state, p) for p in state.project_order]
        book = state.usage
        usage = {
            "github_actions": [
                {
                    "date": date_of_day(day).isoformat(),
                    "repo": repo,
                    "workflow": workflow,
                    "runner": runner,
                    "job_count": r.count,
                    "minutes_elapsed": r.elapsed_seconds / 60,
                    "minutes_billed": r.billed_seconds / 60,
                }
                for (repo, workflow, runner), days in book.github_jobs.items()
                for day, r in sorted(days.items())
            ],
            "agent_sandbox": [
                {
                    "date": date_of_day(day).isoformat(),
                    "agent_type": agent,
                    "sandboxes_count": r.count,
                    "minutes_elapsed": r.elapsed_seconds / 60,
                    "minutes_billed": r.billed_seconds / 60,
                }
                for agent, days in book.agent_sandboxes.items()
                for day, r in sorted(days.items())
            ],
            "storage": [
                {"date": date_of_day(day).isoformat(), "storage_type": kind, "total_gb": gb}
                for kind, days in book.storage_gb.items()
                for day, gb in sorted(days.items())
            ],
        }
        return {
            "format": FORMAT,
            "page_key": state.page_key.hex(),
            "organizations": orgs,
            "projects": projects,
            "usage": usage,
            "step_seconds": [[p, d, s] for (p, d), s in sorted(state.step_seconds.items())],
        }


def _dump_project(state: DepotState, project: Project) -> dict[str, Any]:
    images = state.images[project.project_id].columns()
    return {
        "project_id": project.project_id,
        "org_id": project.org_id,
        "name": project.name,
        "region_id": project.region_id,
        "created_at": _iso(project.created_at),
        "seq": project.seq,
        "hardware": project.hardware,
        "cache_policy": {"keep_gb": project.keep_gb, "keep_days": project.keep_days},
        "cache_reset_at": _iso(project.cache_reset_at) if project.cache_reset_at else None,
        "tokens": [
            {"token_id": t.token_id, "description": t.description, "digest": t.digest, "seq": t.seq}
            for t in state.project_tokens(project.project_id)
        ],
        "trust_policies": [
            {"trust_policy_id": p.trust_policy_id, p.provider: dict(p.fields)}
            for p in state.trust_policies.get(project.project_id, [])
        ],
        "images": images,
        "builds": [_dump_build(b) for b in state.project_builds.get(project.project_id, [])],
        "usage": [
            {
                "date": date_of_day(day).isoformat(),
                "build_count": r.build_count,
                "build_duration_seconds": r.build_seconds,
                "minutes_saved": r.saved_seconds / 60,
                "minutes_billed": r.billed_seconds / 60,
                "layer_cache_size_gb": r.layer_cache_size_gb,
            }
            for day, r in sorted(state.usage.projects.get(project.project_id, {}).items())
        ],
    }


def _dump_build(build: Build) -> dict[str, Any]:
    logs_by_step: dict[str, list[dict[str, Any]]] = {}
    for line in build.logs:
        logs_by_step.setdefault(line.digest, []).append(
            {"seq": line.seq, "timestamp": _iso(line.timestamp), "message": line.message}
        )
    return {
        "build_id": build.build_id,
        "seq": build.seq,
        "token_digest": build.token_digest,
        "status": build.status.value,
        "created_at": _iso(build.created_at),
        "started_at": _iso(build.started_at) if build.started_at else None,
        "finished_at": _iso(build.finished_at) if build.finished_at else None,
        "last_health": _iso(build.last_health) if build.last_health else None,
        "cancel_requested_at": _iso(build.cancel_requested_at) if build.cancel_requested_at else None,
        "error": build.error,
        "share_id": build.share_id,
        "saved_seconds": build.saved_seconds,
        "step_source": build.step_source,
        "options": [vars(o) for o in build.options],
        "dockerfiles": build.dockerfiles,
        "steps": [
            {
                "digest": s.digest,
                "name": s.name,
                "seq": s.seq,
                "started_at": _iso(s.started_at),
                "completed_at": _iso(s.completed_at) if s.completed_at else None,
                "cached": s.cached,
                "error": s.error,
                "logs": logs_by_step.get(s.digest, []),
            }
            for s in build.steps
        ],
    }


# -- files -------------------------------------------------------------------------------------


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise SnapshotError(f"{os.fspath(path)} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{os.fspath(path)}: the document must be a JSON object")
    return data


def write_document(path: str | os.PathLike[str], doc: Mapping[str, Any]) -> None:
    """Write atomically (temp file + rename), so a crash never leaves half a state file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle, separators=(",", ":"))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# -- values ------------------------------------------------------------------------------------


def _list(doc: Doc, key: str) -> list[Doc]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise SnapshotError(f"{key}: expected a list")
    return cast(list[Doc], value)


def _str(doc: Doc, key: str, where: str, *, default: str | None = None) -> str:
    value = doc.get(key, default) if isinstance(doc, Mapping) else None
    if not isinstance(value, str) or not value:
        raise SnapshotError(f"{where}.{key}: a non-empty string is required")
    return value


def parse_time(value: object, where: str) -> datetime.datetime:
    """An RFC 3339 string (``Z`` or an offset) or epoch seconds, as an aware UTC datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        try:
            parsed = datetime.datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise SnapshotError(f"{where}: expected an RFC 3339 time or epoch seconds, got {value!r}")


def _time(doc: Doc, key: str, where: str, *, required: bool = False) -> datetime.datetime | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise SnapshotError(f"{where}.{key} is required")
        return None
    return parse_time(value, f"{where}.{key}")


def _micros(value: object, where: str) -> int:
    return round(parse_time(value, where).timestamp() * 1_000_000)


def _day(doc: Doc, where: str) -> int:
    value = doc.get("date")
    try:
        return day_of_date(datetime.date.fromisoformat(str(value)))
    except ValueError:
        raise SnapshotError(f"{where}.date: expected YYYY-MM-DD, got {value!r}") from None


def _hardware(value: object, where: str) -> int:
    if isinstance(value, int):
        return value
    try:
        return int(project_pb2.Hardware.Value(str(value)))
    except ValueError:
        raise SnapshotError(f"{where}.hardware: unknown hardware {value!r}") from None


def _iso(when: datetime.datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
