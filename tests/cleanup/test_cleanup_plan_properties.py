"""Property-based tests of the planner against independent oracles (cleanup_oracles)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta

from cleanup_oracles import ecr_expires, keyword_keep_reasons, matches_any, newer
from cleanup_strategies import (
    NOW,
    ecr_policies,
    glob_lists,
    keep_lasts,
    keep_tag_lists,
    listings,
    older_thans,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_depot.cleanup import CleanupPlan, ImageRecord, plan_cleanup

PROPERTIES = settings(deadline=None, max_examples=300)


@st.composite
def keyword_cases(draw: st.DrawFn) -> tuple[list[ImageRecord], dict[str, object]]:
    keep_last, older_than = draw(keep_lasts), draw(older_thans)
    assume(keep_last is not None or older_than is not None)
    params = {
        "keep_last": keep_last,
        "older_than": older_than,
        "include_tags": draw(glob_lists),
        "exclude_tags": draw(glob_lists),
        "keep_tags": draw(keep_tag_lists),
    }
    return draw(listings()), params


def assert_partition(plan: CleanupPlan, listing: list[ImageRecord]) -> None:
    planned = [*plan.keep, *plan.delete]
    assert Counter(planned) == Counter(listing)
    assert plan.scanned == len(listing)
    assert plan.keep.size_bytes + plan.delete.size_bytes == sum(r.size_bytes for r in listing)


def assert_documented_order(plan: CleanupPlan) -> None:
    assert all(newer(a, b) for a, b in zip(plan.keep, plan.keep[1:], strict=False))
    assert all(newer(b, a) for a, b in zip(plan.delete, plan.delete[1:], strict=False))


@PROPERTIES
@given(keyword_cases())
def test_every_kept_image_satisfies_a_keep_rule_and_no_deleted_one_does(case):
    listing, params = case
    plan = plan_cleanup(listing, now=NOW, **params)
    oracle = {
        "now": NOW,
        "keep_last": params["keep_last"],
        "older_than": params["older_than"],
        "include": params["include_tags"],
        "exclude": params["exclude_tags"],
        "keep_tags": params["keep_tags"],
    }
    for record in plan.keep:
        assert keyword_keep_reasons(record, listing, **oracle), f"{record.tag} kept without a reason"
    for record in plan.delete:
        assert not keyword_keep_reasons(record, listing, **oracle), f"{record.tag} deleted despite a rule"


@PROPERTIES
@given(keyword_cases())
def test_keyword_plan_partitions_the_listing_in_documented_order(case):
    listing, params = case
    plan = plan_cleanup(listing, now=NOW, **params)
    assert_partition(plan, listing)
    assert_documented_order(plan)


@PROPERTIES
@given(keyword_cases())
def test_no_keep_tags_entry_is_ever_deleted(case):
    listing, params = case
    plan = plan_cleanup(listing, now=NOW, **params)
    assert not [r.tag for r in plan.delete if matches_any(r.tag, params["keep_tags"])]


@PROPERTIES
@given(keyword_cases(), st.randoms(use_true_random=False))
def test_keyword_plan_is_independent_of_listing_order(case, rng):
    listing, params = case
    shuffled = list(listing)
    rng.shuffle(shuffled)
    assert plan_cleanup(shuffled, now=NOW, **params) == plan_cleanup(listing, now=NOW, **params)


@PROPERTIES
@given(keyword_cases(), st.data())
def test_stale_duplicates_of_a_tag_do_not_change_the_plan(case, data):
    # A tag re-pushed while pages were being listed can show up twice; the newer record wins.
    listing, params = case
    assume(listing)
    stale = [
        replace(
            record,
            digest="sha256:old",
            pushed_at=record.pushed_at - timedelta(hours=data.draw(st.integers(1, 99))),
        )
        for record in data.draw(st.lists(st.sampled_from(listing), min_size=1, max_size=5))
    ]
    assert plan_cleanup([*stale, *listing], now=NOW, **params) == plan_cleanup(listing, now=NOW, **params)


@PROPERTIES
@given(listings(), ecr_policies(), keep_tag_lists)
def test_ecr_policy_expires_exactly_what_the_documented_evaluator_expires(listing, policy, keep_tags):
    plan = plan_cleanup(listing, now=NOW, lifecycle_policy=policy, keep_tags=keep_tags)
    expected = {r.tag for r in listing if ecr_expires(r, listing, policy, now=NOW, keep_tags=keep_tags)}
    assert {r.tag for r in plan.delete} == expected
    assert_partition(plan, listing)
    assert_documented_order(plan)
    assert not [r.tag for r in plan.delete if matches_any(r.tag, keep_tags)]


@PROPERTIES
@given(listings(), ecr_policies(), keep_tag_lists, st.randoms(use_true_random=False))
def test_ecr_plan_is_independent_of_listing_order_and_of_json_encoding(listing, policy, keep_tags, rng):
    shuffled = list(listing)
    rng.shuffle(shuffled)
    from_dict = plan_cleanup(listing, now=NOW, lifecycle_policy=policy, keep_tags=keep_tags)
    from_text = plan_cleanup(shuffled, now=NOW, lifecycle_policy=json.dumps(policy), keep_tags=keep_tags)
    assert from_text == from_dict


@PROPERTIES
@given(keyword_cases(), st.integers(1, 7))
def test_batches_cover_the_deleted_tags_in_order(case, batch_size):
    listing, params = case
    plan = plan_cleanup(listing, now=NOW, **params)
    batches = list(plan.batches(batch_size))
    assert [tag for batch in batches for tag in batch] == plan.delete.tags()
    assert all(1 <= len(batch) <= batch_size for batch in batches)
    assert all(len(batch) == batch_size for batch in batches[:-1])
