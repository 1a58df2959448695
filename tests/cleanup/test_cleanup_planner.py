"""Example-based planner tests: the combination rules, parameter errors, rendering, scale."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_depot.cleanup import (
    CleanupConfigError,
    CleanupRules,
    ImageRecord,
    format_bytes,
    plan_cleanup,
)

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
ANY_KEEP_3 = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
            "action": {"type": "expire"},
        }
    ]
}


def image(tag: str, days_ago: float, size: int = 1000) -> ImageRecord:
    return ImageRecord(tag, "sha256:" + tag, NOW - timedelta(days=days_ago), size)


LISTING = [
    image("latest", 0),
    image("v3", 1),
    image("v2", 10),
    image("v1", 40),
    image("pr-9", 2),
    image("pr-8", 20),
    image("pr-7", 50),
    image("Pr-6", 60),
]


def plan_tags(**params):
    plan = plan_cleanup(LISTING, now=NOW, **params)
    return plan.keep.tags(), plan.delete.tags()


def test_keep_last_alone_keeps_the_newest_besides_keep_tags():
    # Newest first without "latest": v3, pr-9, v2, pr-8, v1, pr-7, Pr-6.
    assert plan_tags(keep_last=2) == (["latest", "v3", "pr-9"], ["Pr-6", "pr-7", "v1", "pr-8", "v2"])


def test_older_than_alone_is_strict():
    listing = [image("edge", 7), image("older", 7.0001), image("younger", 6.9999)]
    plan = plan_cleanup(listing, now=NOW, older_than=7)
    assert plan.delete.tags() == ["older"]


def test_both_rules_must_allow_a_deletion():
    # Beyond the 2 newest: v2, pr-8, v1, pr-7, Pr-6; of those, older than 30 days: v1, pr-7, Pr-6.
    assert plan_tags(keep_last=2, older_than="P30D")[1] == ["Pr-6", "pr-7", "v1"]


def test_include_and_exclude_define_the_scope_of_keep_last():
    # Scope: pr-* (case-sensitive, so not Pr-6) minus pr-9 -> pr-8, pr-7; keep the newest one.
    keep, delete = plan_tags(keep_last=1, include_tags="pr-*", exclude_tags=["pr-9"])
    assert delete == ["pr-7"]
    assert set(keep) == {"latest", "v3", "v2", "v1", "pr-9", "pr-8", "Pr-6"}


def test_keep_tags_are_globs_and_protect_from_everything():
    keep, delete = plan_tags(keep_last=0, keep_tags=["latest", "v*"])
    assert delete == ["Pr-6", "pr-7", "pr-8", "pr-9"]
    assert keep == ["latest", "v3", "v2", "v1"]
    # No protection at all when keep_tags is empty or None.
    assert plan_tags(keep_last=0, keep_tags=None)[0] == []
    assert plan_tags(keep_last=0, keep_tags=[])[0] == []


def test_keep_tags_are_not_counted_by_keep_last():
    # "latest" is the newest image; keep_last=1 still keeps v3 besides it.
    assert plan_tags(keep_last=1)[0] == ["latest", "v3"]


def test_lifecycle_policy_with_keep_tags():
    # any keep 3 over v3, pr-9, v2, pr-8, v1, pr-7, Pr-6 ("latest" set aside).
    keep, delete = plan_tags(lifecycle_policy=ANY_KEEP_3)
    assert keep == ["latest", "v3", "pr-9", "v2"]
    assert delete == ["Pr-6", "pr-7", "v1", "pr-8"]


def test_same_push_time_is_broken_by_tag():
    listing = [image("b", 1), image("a", 1), image("c", 1)]
    assert plan_cleanup(listing, now=NOW, keep_last=1).keep.tags() == ["a"]
    assert plan_cleanup(listing, now=NOW, keep_last=1).delete.tags() == ["c", "b"]


def test_a_tag_listed_twice_counts_once_as_its_newest_record():
    stale = ImageRecord("v3", "sha256:old", NOW - timedelta(days=90), 5)
    plan = plan_cleanup([stale, *LISTING], now=NOW, older_than=30)
    assert plan.scanned == len(LISTING)
    assert "v3" in plan.keep.tags()


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({}, "keep_last/older_than/lifecycle_policy", "none is set"),
        ({"include_tags": "pr-*"}, "keep_last/older_than/lifecycle_policy", "none is set"),
        ({"keep_last": -1}, "keep_last", ">= 0"),
        ({"keep_last": True}, "keep_last", "integer"),
        ({"keep_last": "3"}, "keep_last", "integer"),
        ({"keep_last": 2.0}, "keep_last", "integer"),
        ({"older_than": "P1M"}, "older_than", "months"),
        ({"keep_last": 1, "include_tags": []}, "include_tags", "empty"),
        ({"keep_last": 1, "include_tags": ["ok", ""]}, "include_tags[1]", "non-empty"),
        ({"keep_last": 1, "exclude_tags": 5}, "exclude_tags", "list of glob patterns"),
        ({"keep_last": 1, "exclude_tags": {"a": 1}}, "exclude_tags", "list of glob patterns"),
        ({"keep_last": 1, "keep_tags": [None]}, "keep_tags[0]", "non-empty"),
        ({"keep_last": 1, "keep_tags": ""}, "keep_tags", "non-empty"),
        ({"keep_last": 1, "lifecycle_policy": ANY_KEEP_3}, "lifecycle_policy", "keep_last"),
        (
            {"older_than": 3, "exclude_tags": "x", "lifecycle_policy": ANY_KEEP_3},
            "lifecycle_policy",
            "older_than, exclude_tags",
        ),
        ({"lifecycle_policy": {"rules": [{}]}}, "lifecycle_policy.rules[0].rulePriority", "required"),
    ],
)
def test_bad_parameters_are_refused_before_any_listing(params, parameter, words):
    with pytest.raises(CleanupConfigError) as caught:
        CleanupRules.from_params(**params)
    assert caught.value.parameter == parameter
    assert words in caught.value.problem


def test_now_must_be_timezone_aware():
    rules = CleanupRules.from_params(keep_last=1)
    with pytest.raises(CleanupConfigError) as caught:
        rules.plan(LISTING, now=datetime(2026, 3, 1))
    assert caught.value.parameter == "now"


def test_image_records_are_checked():
    with pytest.raises(ValueError, match="timezone-aware"):
        ImageRecord("a", "d", datetime(2026, 1, 1), 1)
    with pytest.raises(ValueError, match="size_bytes"):
        ImageRecord("a", "d", NOW, -1)
    with pytest.raises(ValueError, match="tag"):
        ImageRecord("", "d", NOW, 1)


@pytest.mark.parametrize("batch_size", [0, -3, True, 2.5, None])
def test_batch_size_is_checked(batch_size):
    plan = plan_cleanup(LISTING, now=NOW, keep_last=0)
    with pytest.raises(CleanupConfigError) as caught:
        list(plan.batches(batch_size))
    assert caught.value.parameter == "batch_size"


def test_render_table():
    listing = [image(f"t{i}", i, size=1536) for i in range(8)] + [image("latest", 0, size=3 * 1024**3)]
    text = plan_cleanup(listing, now=NOW, keep_last=2).render_table(first=3)
    lines = text.splitlines()
    assert lines[0].split() == ["tags", "size", "first", "tags"]
    assert lines[1].split(None, 3) == ["keep", "3", "3.0", "GiB  latest, t0, t1"]
    assert lines[2].split(None, 3) == ["delete", "6", "9.0", "KiB  t7, t6, t5, ... (+3 more)"]
    assert lines[3].split() == ["total", "9", "3.0", "GiB"]
    empty = plan_cleanup([], now=NOW, keep_last=2).render_table()
    assert empty.splitlines()[1].split() == ["keep", "0", "0", "B", "-"]


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024**2 - 1, "1.0 MiB"),
        (5 * 1024**4, "5.0 TiB"),
        (3 * 1024**7, "3072.0 EiB"),
    ],
)
def test_format_bytes(size, text):
    assert format_bytes(size) == text


def test_plans_a_hundred_thousand_images():
    listing = [
        ImageRecord(f"build-{i:06d}", f"sha256:{i % 977:064x}", NOW - timedelta(seconds=37 * i), 10_000 + i)
        for i in range(100_000)
    ]
    listing.append(image("latest", 0))
    plan = plan_cleanup(reversed(listing), now=NOW, keep_last=100, exclude_tags="build-00000[0-4]")
    # Kept: latest, the excluded build-000000..4, and the 100 newest of the rest (build-000005..104).
    assert len(plan.keep) == 106
    assert plan.keep.tags()[-1] == "build-000104"
    assert len(plan.delete) == 100_001 - 106
    assert plan.delete.first_tags(1) == ["build-099999"]
    assert sum(len(batch) for batch in plan.batches(100)) == len(plan.delete)
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["build-*7"],
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 1,
                },
                "action": {"type": "expire"},
            },
            {"rulePriority": 2, **{k: v for k, v in ANY_KEEP_3["rules"][0].items() if k != "rulePriority"}},
        ]
    }
    by_policy = plan_cleanup(listing, now=NOW, lifecycle_policy=policy)
    # Rule 1 owns the *7 tags: 37 s apart, build-000000..002335 are less than a day old, so the
    # 234 *7 tags among them are kept. Rule 2 owns the rest and keeps the 3 newest overall,
    # build-000000..000002 (none ends in 7). Plus "latest".
    young_sevens = sum(1 for i in range(2336) if i % 10 == 7)
    assert young_sevens == 233
    assert len(by_policy.keep) == 1 + young_sevens + 3
    assert by_policy.scanned == 100_001


def test_importing_the_planner_pulls_in_no_io_or_airflow_modules():
    code = (
        "import sys, airflow_provider_depot.cleanup\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in {'httpx', 'airflow', 'google', 'grpc'}"
        " or m.startswith('airflow_provider_depot._proto')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
