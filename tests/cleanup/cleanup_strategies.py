"""Hypothesis strategies for the cleanup planner tests: listings, globs and ECR policies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import strategies as st

from airflow_provider_depot.cleanup import ImageRecord

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
# A small alphabet makes globs match often and tags collide with keep_tags patterns.
TAG_CHARS = "abA1-"
tags = st.text(TAG_CHARS, min_size=1, max_size=4)
# Hours over ~9 days: many ties on pushed_at and ages on both sides of day boundaries.
pushed_ats = st.integers(min_value=0, max_value=220).map(lambda hours: NOW - timedelta(hours=hours))


@st.composite
def listings(draw: st.DrawFn, max_size: int = 30) -> list[ImageRecord]:
    """A listing with unique tags (Depot lists each tag once)."""
    names = draw(st.lists(tags, unique=True, max_size=max_size))
    return [
        ImageRecord(
            tag=name,
            digest=draw(st.sampled_from(["sha256:aa", "sha256:bb", "sha256:cc"])),
            pushed_at=draw(pushed_ats),
            size_bytes=draw(st.integers(min_value=0, max_value=10**12)),
        )
        for name in names
    ]


glob_patterns = st.text(TAG_CHARS + "*?", min_size=1, max_size=4) | st.sampled_from(["[ab]*", "[!a]*", "*1"])
glob_lists = st.none() | st.lists(glob_patterns, min_size=1, max_size=3)
keep_tag_lists = st.lists(tags | glob_patterns, max_size=3)
older_thans = st.none() | st.integers(min_value=0, max_value=220).map(lambda hours: timedelta(hours=hours))
keep_lasts = st.none() | st.integers(min_value=0, max_value=12)

ecr_patterns = st.text(TAG_CHARS + "*", min_size=1, max_size=5).filter(lambda p: p.count("*") <= 4)
ecr_prefixes = st.text(TAG_CHARS, min_size=1, max_size=2)


@st.composite
def ecr_selections(draw: st.DrawFn, tag_status: str) -> dict[str, object]:
    selection: dict[str, object] = {"tagStatus": tag_status}
    if tag_status == "tagged":
        if draw(st.booleans()):
            selection["tagPatternList"] = draw(st.lists(ecr_patterns, min_size=1, max_size=2))
        else:
            selection["tagPrefixList"] = draw(st.lists(ecr_prefixes, min_size=1, max_size=2))
    if draw(st.booleans()):
        selection.update(countType="imageCountMoreThan", countNumber=draw(st.integers(1, 6)))
    else:
        selection.update(countType="sinceImagePushed", countUnit="days", countNumber=draw(st.integers(1, 9)))
    return selection


@st.composite
def ecr_policies(draw: st.DrawFn) -> dict[str, object]:
    """A valid policy document: unique priorities, an optional 'any' rule at the highest one."""
    priorities = sorted(draw(st.lists(st.integers(1, 50), min_size=1, max_size=4, unique=True)))
    with_any = draw(st.booleans())
    rules = []
    for position, priority in enumerate(priorities):
        status = "any" if with_any and position == len(priorities) - 1 else "tagged"
        rules.append(
            {
                "rulePriority": priority,
                "description": f"rule {priority}",
                "selection": draw(ecr_selections(status)),
                "action": {"type": "expire"},
            }
        )
    return {"rules": draw(st.permutations(rules))}
