"""The examples of ECR's lifecycle-policy documentation, rewritten for Depot's registry.

ECR images carry several tags; a Depot registry lists single tags. Each example is restated
with single tags that keep the example's point (a tag like ``beta-prod-1`` plays an ECR image
tagged both ``beta-1`` and ``prod-1``), and the kept and expired sets are worked out by hand in
the comments. ``now`` is fixed; "Nd" means pushed N days before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_depot.cleanup import CleanupConfigError, ImageRecord, plan_cleanup

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def image(tag: str, days_ago: float, size: int = 100) -> ImageRecord:
    return ImageRecord(tag, f"sha256:{tag}", NOW - timedelta(days=days_ago), size)


def rule(priority: int, count_type: str, count: int, **selection: object) -> dict[str, object]:
    body: dict[str, object] = {
        "tagStatus": "tagged",
        **selection,
        "countType": count_type,
        "countNumber": count,
    }
    if count_type == "sinceImagePushed":
        body["countUnit"] = "days"
    return {
        "rulePriority": priority,
        "description": f"Rule {priority}",
        "selection": body,
        "action": {"type": "expire"},
    }


def expired(listing: list[ImageRecord], *rules: dict[str, object], keep_tags=("latest",)) -> set[str]:
    plan = plan_cleanup(listing, now=NOW, lifecycle_policy={"rules": list(rules)}, keep_tags=keep_tags)
    return set(plan.delete.tags())


def test_filtering_on_image_age():
    # ECR: expire tags matching prod* pushed more than 14 days ago.
    listing = [
        image("prod-1", 20),  # prod*, 20 > 14 days          -> expired
        image("prod-2", 14),  # prod*, exactly 14 days: not *more* than 14 -> kept
        image("prod-3", 13),  # prod*, 13 days               -> kept
        image("dev-1", 30),  # no rule selects it           -> kept
    ]
    policy_rule = rule(1, "sinceImagePushed", 14, tagPatternList=["prod*"])
    assert expired(listing, policy_rule) == {"prod-1"}


def test_filtering_on_image_count():
    # ECR: "keep only one untagged image, expire all others". Depot images are always tagged,
    # so the same intent is tagStatus any; "latest" (default keep_tags) is set aside, uncounted.
    listing = [
        image("latest", 0),  # keep_tags                    -> kept, not counted
        image("a", 1),  # newest counted image         -> kept (the one)
        image("b", 2),  # beyond the first one         -> expired
        image("c", 3),  #                              -> expired
    ]
    any_rule = {
        "rulePriority": 1,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"},
    }
    assert expired(listing, any_rule) == {"b", "c"}
    # The literal ECR example is refused with a clear message.
    untagged = {**any_rule, "selection": {**any_rule["selection"], "tagStatus": "untagged"}}
    with pytest.raises(CleanupConfigError, match="always tagged") as caught:
        expired(listing, untagged)
    assert caught.value.parameter == "lifecycle_policy.rules[0].selection.tagStatus"


# ECR's "filtering on multiple rules": images A [beta-1, prod-1] 10d, B [beta-2, prod-2] 9d,
# C [beta-3] 8d. One Depot tag carries both words for A and B.
MULTI_RULE_LISTING = [image("beta-prod-1", 10), image("beta-prod-2", 9), image("beta-3", 8)]


def test_multiple_rules_example_a():
    # Rule 1 (*prod*, keep 1) selects beta-prod-2, beta-prod-1: keeps beta-prod-2, marks beta-prod-1.
    # Rule 2 (*beta*, keep 1) selects beta-3, beta-prod-2, beta-prod-1 (it still *counts* the
    #   images rule 1 owns): keeps beta-3, marks beta-prod-2 and beta-prod-1.
    # Owners: beta-prod-1 and beta-prod-2 -> rule 1 (lowest matching priority); beta-3 -> rule 2.
    # beta-prod-1: rule 1 marks it -> expired. beta-prod-2: rule 1 keeps it, rule 2's mark does
    # not count -> kept. beta-3: rule 2 keeps it -> kept. (ECR: "Image A is expired".)
    assert expired(
        MULTI_RULE_LISTING,
        rule(1, "imageCountMoreThan", 1, tagPatternList=["*prod*"]),
        rule(2, "imageCountMoreThan", 1, tagPatternList=["*beta*"]),
    ) == {"beta-prod-1"}


def test_multiple_rules_example_b_priorities_swapped():
    # Rule 1 (*beta*, keep 1) selects all three and owns all three: keeps beta-3, marks
    # beta-prod-2 and beta-prod-1. Rule 2 (*prod*) owns nothing. (ECR: "Images A and B are expired".)
    assert expired(
        MULTI_RULE_LISTING,
        rule(1, "imageCountMoreThan", 1, tagPatternList=["*beta*"]),
        rule(2, "imageCountMoreThan", 1, tagPatternList=["*prod*"]),
    ) == {"beta-prod-1", "beta-prod-2"}


def test_multiple_rules_example_a_with_each_ecr_tag_as_its_own_depot_tag():
    # ECR's tags listed one by one, as Depot would list them (A's and B's tags share digests but
    # are separate images here): beta-1 & prod-1 10d, beta-2 & prod-2 9d, beta-3 8d.
    # Rule 1 (prefix prod, keep 1): prod-2 kept, prod-1 marked; owns prod-1 and prod-2.
    # Rule 2 (prefix beta, keep 1): beta-3 kept, beta-2 and beta-1 marked; owns the beta tags.
    # So beta-2 goes here, where ECR keeps image B: in Depot it is a tag of its own.
    listing = [
        image("beta-1", 10),
        image("prod-1", 10),
        image("beta-2", 9),
        image("prod-2", 9),
        image("beta-3", 8),
    ]
    assert expired(
        listing,
        rule(1, "imageCountMoreThan", 1, tagPrefixList=["prod"]),
        rule(2, "imageCountMoreThan", 1, tagPrefixList=["beta"]),
    ) == {"prod-1", "beta-1", "beta-2"}


def test_multiple_tags_in_one_rule_example_a():
    # ECR: prefixes [alpha, beta], older than 5 days; an image must match *all* of them.
    # Depot: patterns [*alpha*, *beta*]; only alpha-beta-2 and alpha-beta-4 match both.
    listing = [
        image("alpha-1", 12),  # lacks beta            -> kept
        image("beta-1", 11),  # lacks alpha           -> kept
        image("alpha-beta-2", 10),  # both, 10 > 5 days     -> expired (ECR's image C)
        image("alpha-3", 4),  # lacks beta            -> kept
        image("beta-3", 3),  # lacks alpha           -> kept
        image("alpha-beta-4", 2),  # both, 2 days          -> kept
    ]
    assert expired(listing, rule(1, "sinceImagePushed", 5, tagPatternList=["*alpha*", "*beta*"])) == {
        "alpha-beta-2"
    }
    # The literal prefix list selects nothing: no single tag starts with both "alpha" and "beta".
    assert expired(listing, rule(1, "sinceImagePushed", 5, tagPrefixList=["alpha", "beta"])) == set()
    # All prefixes must match: "alpha" and "alpha-b" together select only the alpha-beta tags.
    assert expired(listing, rule(1, "sinceImagePushed", 5, tagPrefixList=["alpha", "alpha-b"])) == {
        "alpha-beta-2"
    }


def test_multiple_tags_in_one_rule_example_b_tags_are_not_exclusive():
    # ECR: A [alpha-1, beta-1, gamma-1] 10d, B [alpha-2, beta-2] 9d, C [alpha-3, beta-3, gamma-2] 8d;
    # prefixes [alpha, beta], keep 1. Every image matches (extra tags do not matter): keep C,
    # expire A and B.
    listing = [image("alpha-beta-gamma-1", 10), image("alpha-beta-2", 9), image("alpha-beta-gamma-3", 8)]
    assert expired(listing, rule(1, "imageCountMoreThan", 1, tagPatternList=["*alpha*", "*beta*"])) == {
        "alpha-beta-gamma-1",
        "alpha-beta-2",
    }


def test_protect_rule_then_any_rule_counts_the_protected_images():
    # ECR's evaluation rules: "an image that matches the tagging requirements of a rule cannot be
    # expired by a rule with a lower priority", yet lower rules still count it.
    # Rule 1: prod*, keep 9999 (protects every prod tag). Rule 2: any, keep 2.
    # Rule 2, newest first: prod-3 #0, dev-c #1 (both within 2), prod-2 #2, dev-b #3, dev-a #4,
    # prod-1 #5 (marked). Owners: prod-* -> rule 1 (marks none); dev-* -> rule 2.
    # Expired: dev-b, dev-a. dev-c survives only because it is among the 2 newest overall.
    listing = [
        image("prod-3", 1),
        image("dev-c", 2),
        image("prod-2", 3),
        image("dev-b", 4),
        image("dev-a", 5),
        image("prod-1", 6),
    ]
    any_rule = {
        "rulePriority": 2,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 2},
        "action": {"type": "expire"},
    }
    assert expired(listing, rule(1, "imageCountMoreThan", 9999, tagPatternList=["prod*"]), any_rule) == {
        "dev-b",
        "dev-a",
    }


def test_keep_tags_protect_even_when_a_rule_would_expire_them():
    # prod* older than 1 day would expire both; "prod-pinned" is in keep_tags -> kept.
    listing = [image("prod-pinned", 30), image("prod-old", 30)]
    assert expired(
        listing, rule(1, "sinceImagePushed", 1, tagPatternList=["prod*"]), keep_tags=["prod-pinned"]
    ) == {"prod-old"}
