"""The ``demo`` seed: an organization with three projects, 90 days of images and usage, and a few
finished builds with steps and logs.

Everything is drawn from a fixed-seed generator and placed relative to ``anchor`` (the clock's
current UTC day), so the same day gives the same document and "the last 90 days" always has data.
"""

from __future__ import annotations

import datetime
import hashlib
import random
from typing import Any

_PROJECTS = (
    ("demoapi001", "api", "us-east-1"),
    ("demoweb002", "web", "us-east-1"),
    ("demowrk003", "worker", "eu-central-1"),
)
_DAYS = 90
_STEPS: tuple[tuple[str, list[str]], ...] = (
    ("[internal] load build definition from Dockerfile", ["transferring dockerfile: 412B done"]),
    ("[internal] load .dockerignore", ["transferring context: 2B done"]),
    ("[1/4] FROM docker.io/library/python:3.12-slim", ["resolve docker.io/library/python:3.12-slim done"]),
    ("[2/4] COPY requirements.txt /app/", []),
    (
        "[3/4] RUN pip install -r /app/requirements.txt",
        [
            "Collecting httpx==0.28.1",
            "Collecting protobuf==5.29.3",
            "Installing collected packages: protobuf, httpx",
            "Successfully installed httpx-0.28.1 protobuf-5.29.3",
        ],
    ),
    ("[4/4] COPY . /app", []),
    ("exporting to image", ["exporting layers done", "writing image sha256:{digest} done"]),
)


def demo_document(anchor: datetime.date) -> dict[str, Any]:
    rng = random.Random(20260101)
    end = datetime.datetime.combine(anchor, datetime.time(), datetime.timezone.utc)
    start = end - datetime.timedelta(days=_DAYS)
    projects = [
        {
            "project_id": project_id,
            "name": name,
            "region_id": region,
            "created_at": _iso(start - datetime.timedelta(days=30 + 10 * index)),
            "hardware": "HARDWARE_16X32" if index != 2 else "HARDWARE_8X16",
            "cache_policy": {"keep_gb": 50, "keep_days": 14},
            "images": _images(rng, name, start),
            "usage": _usage(rng, start),
            "builds": _builds(rng, project_id, end),
        }
        for index, (project_id, name, region) in enumerate(_PROJECTS)
    ]
    return {
        "format": "depot-emulator/1",
        "organizations": [
            {
                "org_id": "demoorg001",
                "name": "Demo Robotics",
                "created_at": _iso(start - datetime.timedelta(days=120)),
            }
        ],
        "projects": projects,
        "usage": _org_usage(rng, start),
    }


def _images(rng: random.Random, name: str, start: datetime.datetime) -> dict[str, list[Any]]:
    tags: list[str] = []
    digests: list[str] = []
    pushed: list[int] = []
    sizes: list[int] = []
    for day in range(_DAYS):
        for n in range(rng.randint(1, 4)):
            when = start + datetime.timedelta(days=day, seconds=rng.randint(6 * 3600, 22 * 3600) + n)
            sha = hashlib.sha256(f"{name}-{day}-{n}".encode()).hexdigest()
            tags.append(f"main-{sha[:7]}" if n else f"v1.{day // 7}.{day % 7}")
            digests.append(f"sha256:{sha}")
            pushed.append(int(when.timestamp() * 1_000_000))
            sizes.append(rng.randint(40, 900) * 1_048_576 + rng.randint(0, 1_048_575))
    return {"tag": tags, "digest": digests, "pushed_at_us": pushed, "size_bytes": sizes}


def _usage(rng: random.Random, start: datetime.datetime) -> list[dict[str, Any]]:
    records = []
    cache_gb = rng.randint(5, 15)
    for day in range(_DAYS):
        builds = rng.randint(0, 12)
        seconds = sum(rng.randint(40, 600) for _ in range(builds))
        cache_gb = min(50, cache_gb + rng.randint(0, 1))
        records.append(
            {
                "date": (start + datetime.timedelta(days=day)).date().isoformat(),
                "build_count": builds,
                "build_duration_seconds": seconds,
                "minutes_saved": round(seconds * rng.uniform(0.2, 0.8) / 60, 2),
                "minutes_billed": round(seconds / 60, 2),
                "layer_cache_size_gb": cache_gb,
            }
        )
    return records


def _org_usage(rng: random.Random, start: datetime.datetime) -> dict[str, list[dict[str, Any]]]:
    github, sandboxes, storage = [], [], []
    for day in range(_DAYS):
        date = (start + datetime.timedelta(days=day)).date().isoformat()
        for repo, workflow in (("demo-robotics/api", "ci"), ("demo-robotics/web", "deploy")):
            jobs = rng.randint(0, 20)
            elapsed = round(jobs * rng.uniform(2, 9), 2)
            github.append(
                {
                    "date": date,
                    "repo": repo,
                    "workflow": workflow,
                    "runner": "depot-ubuntu-24.04",
                    "job_count": jobs,
                    "minutes_elapsed": elapsed,
                    "minutes_billed": elapsed,
                }
            )
        count = rng.randint(0, 3)
        minutes = round(count * rng.uniform(5, 40), 2)
        sandboxes.append(
            {
                "date": date,
                "agent_type": "claude-code",
                "sandboxes_count": count,
                "minutes_elapsed": minutes,
                "minutes_billed": minutes,
            }
        )
        storage.append({"date": date, "storage_type": "cache", "total_gb": round(30 + day * 0.25, 2)})
    return {"github_actions": github, "agent_sandbox": sandboxes, "storage": storage}


def _builds(rng: random.Random, project_id: str, end: datetime.datetime) -> list[dict[str, Any]]:
    builds = []
    for n, (status, cached_upto) in enumerate((("success", 0), ("failed", 4), ("success", 6))):
        created = end - datetime.timedelta(days=3 - n, hours=rng.randint(1, 8))
        clock = created + datetime.timedelta(seconds=rng.randint(2, 9))
        build_id = "b" + hashlib.sha256(f"{project_id}-{n}".encode()).hexdigest()[:11]
        steps = []
        for index, (name, lines) in enumerate(_STEPS):
            if status == "failed" and index > 4:
                break
            cached = index < cached_upto and index >= 2
            seconds = 0.0 if cached else rng.uniform(0.1, 40.0 if "pip" in name else 3.0)
            digest = "sha256:" + hashlib.sha256(f"{project_id}-{name}".encode()).hexdigest()
            failed = status == "failed" and index == 4
            step_lines = ["ERROR: No matching distribution found for protobuf==99"] if failed else lines
            steps.append(
                {
                    "digest": digest,
                    "name": name,
                    "started_at": _iso(clock),
                    "completed_at": _iso(clock + datetime.timedelta(seconds=seconds)),
                    "cached": cached,
                    "error": 'process "/bin/sh -c pip install" did not complete successfully: exit code: 1'
                    if failed
                    else None,
                    "logs": [
                        {
                            "timestamp": _iso(
                                clock + datetime.timedelta(seconds=seconds * k / max(1, len(step_lines)))
                            ),
                            "message": line.format(digest=digest[7:19]),
                        }
                        for k, line in enumerate(step_lines)
                    ],
                }
            )
            clock += datetime.timedelta(seconds=seconds)
        builds.append(
            {
                "build_id": build_id,
                "status": status,
                "created_at": _iso(created),
                "started_at": _iso(created + datetime.timedelta(seconds=2)),
                "finished_at": _iso(clock + datetime.timedelta(seconds=1)),
                "error": "failed to solve: process did not complete successfully"
                if status == "failed"
                else None,
                "saved_seconds": round(rng.uniform(5, 60), 1) if cached_upto else 0.0,
                "steps": steps,
            }
        )
    return builds


def _iso(when: datetime.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
