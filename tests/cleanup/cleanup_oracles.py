"""Independent re-statements of the cleanup rules, written from the documented semantics.

They share no code with the planner: quadratic, obvious, and using fnmatch.fnmatchcase directly.
They are the yardstick the property tests hold the planner to.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from fnmatch import fnmatchcase

from airflow_provider_depot.cleanup import ImageRecord


def matches_any(tag: str, patterns: Sequence[str] | None) -> bool:
    return any(fnmatchcase(tag, pattern) for pattern in patterns or ())


def newer(a: ImageRecord, b: ImageRecord) -> bool:
    """Does ``a`` come before ``b`` in the documented order (newest first, ties by tag)?"""
    return a.pushed_at > b.pushed_at or (a.pushed_at == b.pushed_at and a.tag < b.tag)


def keyword_keep_reasons(
    record: ImageRecord,
    listing: Sequence[ImageRecord],
    *,
    now: datetime,
    keep_last: int | None,
    older_than: timedelta | None,
    include: Sequence[str] | None,
    exclude: Sequence[str] | None,
    keep_tags: Sequence[str],
) -> list[str]:
    """Every documented reason the plain rules keep ``record``; empty means it must be deleted."""
    if matches_any(record.tag, keep_tags):
        return ["keep_tags"]

    def in_scope(r: ImageRecord) -> bool:
        included = include is None or matches_any(r.tag, include)
        return included and not matches_any(r.tag, exclude) and not matches_any(r.tag, keep_tags)

    if not in_scope(record):
        return ["out of scope"]
    reasons = []
    if keep_last is not None:
        rank = sum(1 for other in listing if in_scope(other) and newer(other, record))
        if rank < keep_last:
            reasons.append(f"among the {keep_last} newest (rank {rank})")
    if older_than is not None and record.pushed_at >= now - older_than:
        reasons.append("not older than older_than")
    return reasons


def _ecr_selects(rule: dict[str, object], tag: str) -> bool:
    selection = rule["selection"]
    assert isinstance(selection, dict)
    if selection["tagStatus"] == "any":
        return True
    if "tagPrefixList" in selection:
        return all(tag.startswith(prefix) for prefix in selection["tagPrefixList"])
    # ECR patterns know only '*'; the test alphabets contain none of fnmatch's other specials.
    return all(fnmatchcase(tag, pattern) for pattern in selection["tagPatternList"])


def ecr_expires(
    record: ImageRecord,
    listing: Sequence[ImageRecord],
    policy: dict[str, object],
    *,
    now: datetime,
    keep_tags: Sequence[str],
) -> bool:
    """ECR's documented evaluator for one record (keep_tags set aside first, as documented)."""
    if matches_any(record.tag, keep_tags):
        return False
    candidates = [r for r in listing if not matches_any(r.tag, keep_tags)]
    rules = policy["rules"]
    assert isinstance(rules, list)
    matching = [rule for rule in rules if _ecr_selects(rule, record.tag)]
    if not matching:
        return False
    owner = min(matching, key=lambda rule: rule["rulePriority"])
    selection = owner["selection"]
    if selection["countType"] == "sinceImagePushed":
        return record.pushed_at < now - timedelta(days=selection["countNumber"])
    newer_selected = sum(1 for other in candidates if _ecr_selects(owner, other.tag) and newer(other, record))
    return newer_selected >= selection["countNumber"]
