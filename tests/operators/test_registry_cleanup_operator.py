"""DepotRegistryCleanupOperator against the emulator: full listing first, batches, failures, dry run.

Image ages are seeded relative to the real clock, since the operator measures ages against the
worker's wall clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowException
from support.operator_support import Depot, assert_json, assert_rejected_before_any_call

from airflow_provider_depot.operators.registry_cleanup import DepotRegistryCleanupOperator

RESULT_KEYS = {
    "project_id",
    "scanned",
    "kept",
    "deleted",
    "bytes_freed",
    "dry_run",
    "deleted_tags",
    "deleted_tags_count",
}


def _synthetic(depot: Depot, count: int) -> str:
    """A project with ``count`` images ``img-000000`` (oldest) ... one minute apart, the newest now."""
    project_id = depot.project()
    depot.admin.add_synthetic_images(project_id, count, newest=dt.datetime.now(dt.timezone.utc))
    return project_id


def _cleanup(project_id: str, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = DepotRegistryCleanupOperator(
        task_id="cleanup", project_id=project_id, **kwargs
    ).execute({})
    return result


def test_ten_thousand_images_across_pages(depot: Depot) -> None:
    project_id = _synthetic(depot, 10_000)
    sizes = {record.tag: record.size_bytes for record in depot.admin.images(project_id)}
    since = depot.mark()

    result = _cleanup(project_id, keep_last=100)

    assert_json(result)
    assert set(result) == RESULT_KEYS
    assert (result["scanned"], result["kept"], result["deleted"]) == (10_000, 100, 9_900)
    assert result["deleted_tags_count"] == 9_900
    assert result["deleted_tags"] == [f"img-{i:06d}" for i in range(1_000)]  # capped, oldest first
    assert depot.tags(project_id) == {f"img-{i:06d}" for i in range(9_900, 10_000)}
    assert result["bytes_freed"] == sum(sizes[f"img-{i:06d}"] for i in range(9_900))
    assert result["dry_run"] is False
    calls = depot.calls(since)
    assert calls["ListImages"] == 100
    assert calls["DeleteImage"] == 99


def test_listing_failure_on_page_three_deletes_nothing(depot: Depot) -> None:
    project_id = _synthetic(depot, 1_000)
    depot.fail("RegistryService/ListImages", skip_first=2)
    since = depot.mark()

    with pytest.raises(AirflowException, match=r"after 200 images.*nothing was deleted"):
        _cleanup(project_id, keep_last=10)

    calls = depot.calls(since)
    assert calls["ListImages"] == 3
    assert calls["DeleteImage"] == 0
    assert len(depot.tags(project_id)) == 1_000


def test_a_failed_batch_does_not_stop_the_others_and_fails_naming_its_tags(depot: Depot) -> None:
    project_id = _synthetic(depot, 1_000)  # keep 100: 900 to delete, 9 batches of 100, oldest first
    depot.fail("RegistryService/DeleteImage", skip_first=2)
    since = depot.mark()

    with pytest.raises(AirflowException) as raised:
        _cleanup(project_id, keep_last=100, batch_size=100)

    missing = [f"img-{i:06d}" for i in range(200, 300)]
    message = str(raised.value)
    assert "100 of 900 tags were not deleted" in message
    named = message.rsplit("): ", 1)[1].split(", ")
    assert named == missing
    assert depot.tags(project_id) == set(missing) | {f"img-{i:06d}" for i in range(900, 1_000)}
    assert depot.calls(since)["DeleteImage"] == 9

    retry = _cleanup(project_id, keep_last=100, batch_size=100)
    assert retry["deleted_tags"] == missing
    assert len(depot.tags(project_id)) == 100


def test_dry_run_changes_nothing_and_reports_the_plan(depot: Depot) -> None:
    project_id = _synthetic(depot, 300)
    since = depot.mark()

    result = _cleanup(project_id, keep_last=50, dry_run=True)

    assert result["dry_run"] is True
    assert (result["scanned"], result["kept"], result["deleted"]) == (300, 50, 250)
    assert result["deleted_tags"] == [f"img-{i:06d}" for i in range(250)]
    assert len(depot.tags(project_id)) == 300
    assert depot.calls(since)["DeleteImage"] == 0


def test_a_second_run_after_a_real_run_is_a_no_op(depot: Depot) -> None:
    project_id = _synthetic(depot, 300)
    first = _cleanup(project_id, keep_last=50)
    since = depot.mark()

    second = _cleanup(project_id, keep_last=50)

    assert first["deleted"] == 250
    assert (second["scanned"], second["kept"], second["deleted"], second["bytes_freed"]) == (50, 50, 0, 0)
    assert second["deleted_tags"] == []
    assert depot.calls(since)["DeleteImage"] == 0


def test_age_globs_and_keep_tags_together(depot: Depot) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    project_id = depot.project()
    images = {
        "latest": 100,  # days old; protected by keep_tags
        "pr-1": 40,
        "pr-2": 35,
        "pr-3": 5,
        "release-1.0": 90,  # out of scope (include_tags)
        "pr-keep-me": 60,  # excluded
    }
    depot.admin.add_images(
        project_id,
        list(images),
        pushed_at=[now - dt.timedelta(days=age) for age in images.values()],
        sizes=[1_000] * len(images),
    )

    result = _cleanup(
        project_id, older_than="P30D", include_tags="pr-*", exclude_tags=["pr-keep-*"], keep_last=1
    )

    assert sorted(result["deleted_tags"]) == ["pr-1", "pr-2"]
    assert depot.tags(project_id) == {"latest", "pr-3", "release-1.0", "pr-keep-me"}


def test_bytes_freed_leaves_out_digests_that_a_kept_tag_still_uses(depot: Depot) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    project_id = depot.project()
    depot.admin.add_images(
        project_id,
        ["v1", "v1-alias", "v2", "v3"],
        digests=["sha256:aa", "sha256:aa", "sha256:bb", "sha256:bb"],
        pushed_at=[now - dt.timedelta(days=d) for d in (4, 3, 2, 1)],
        sizes=[100, 100, 10, 10],
    )

    result = _cleanup(project_id, keep_last=1)

    assert sorted(result["deleted_tags"]) == ["v1", "v1-alias", "v2"]
    assert result["bytes_freed"] == 100  # sha256:aa once; sha256:bb is still v3's


def test_an_ecr_lifecycle_policy_as_json_text(depot: Depot) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    project_id = depot.project()
    tags = [f"prod-{i}" for i in range(5)] + [f"dev-{i}" for i in range(5)]
    depot.admin.add_images(
        project_id, tags, pushed_at=[now - dt.timedelta(days=10.5 - i) for i in range(len(tags))]
    )
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the 2 newest prod images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPrefixList": ["prod"],
                    "countType": "imageCountMoreThan",
                    "countNumber": 2,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 3,
                },
                "action": {"type": "expire"},
            },
        ]
    }

    result = _cleanup(project_id, lifecycle_policy=json.dumps(policy))

    # prod-0..4 pushed 10.5..6.5 days ago: the 2 newest stay. dev-0..4 pushed 5.5..1.5 days ago:
    # those older than 3 days go.
    assert sorted(result["deleted_tags"]) == ["dev-0", "dev-1", "dev-2", "prod-0", "prod-1", "prod-2"]
    assert depot.tags(project_id) == {"prod-3", "prod-4", "dev-3", "dev-4"}


def _op(**kwargs: Any) -> DepotRegistryCleanupOperator:
    return DepotRegistryCleanupOperator(task_id="cleanup", project_id=kwargs.pop("project_id", "p"), **kwargs)


@pytest.mark.parametrize(
    ("operator", "parameter"),
    [
        (lambda: _op(project_id="", keep_last=1), "project_id"),
        (lambda: _op(), "keep_last"),
        (lambda: _op(keep_last=-1), "keep_last"),
        (lambda: _op(keep_last="10"), "keep_last"),
        (lambda: _op(older_than="P1M"), "older_than"),
        (lambda: _op(older_than="soon"), "older_than"),
        (lambda: _op(keep_last=1, include_tags=[]), "include_tags"),
        (lambda: _op(keep_last=1, keep_tags=[""]), "keep_tags"),
        (lambda: _op(keep_last=1, batch_size=0), "batch_size"),
        (lambda: _op(keep_last=1, batch_size=True), "batch_size"),
        (lambda: _op(keep_last=1, dry_run="False"), "dry_run"),
        (lambda: _op(keep_last=1, lifecycle_policy={"rules": []}), "lifecycle_policy"),
        (lambda: _op(lifecycle_policy="{not json"), "lifecycle_policy"),
        (
            lambda: _op(
                lifecycle_policy={
                    "rules": [
                        {
                            "rulePriority": 1,
                            "selection": {
                                "tagStatus": "untagged",
                                "countType": "imageCountMoreThan",
                                "countNumber": 1,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
            "tagStatus",
        ),
    ],
)
def test_bad_input_fails_before_any_call(depot: Depot, operator: Callable[[], Any], parameter: str) -> None:
    assert_rejected_before_any_call(depot, operator(), parameter)


def test_ids_and_rules_are_templated() -> None:
    fields = set(DepotRegistryCleanupOperator.template_fields)
    assert {
        "depot_conn_id",
        "project_id",
        "keep_last",
        "older_than",
        "include_tags",
        "exclude_tags",
    } <= fields
    assert {"keep_tags", "plan_only", "batch_size", "lifecycle_policy"} <= fields
