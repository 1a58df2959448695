"""DepotRegistryCleanupOperator: delete old images from a project's Depot registry.

The decision is the planner's (``airflow_provider_depot.cleanup``); this module lists the
registry, hands the full listing to the planner, logs the plan, and sends the DeleteImage
batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException

from ._base import DepotProjectOperator, require_flag

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_depot._proto.depot.build.v1 import registry_pb2
    from airflow_provider_depot.cleanup import CleanupPlan, CleanupRules, ImageRecord
    from airflow_provider_depot.client import DepotClient

    # What ``validated`` hands ``call_depot``: project_id, the rules, dry_run, batch_size.
    CleanupArgs = tuple[str, CleanupRules, bool, int]

# ListImages serves at most 100 images a page (WIRE.md section 7).
LIST_PAGE_SIZE = 100
# deleted_tags in XCom and the tags named in a failure message stop here; counts stay exact.
MAX_REPORTED_TAGS = 1_000


class DepotRegistryCleanupOperator(DepotProjectOperator):
    """Delete the images of a project's registry that the given rules allow to go.

    How it works:

    1. Every page of ListImages is read first. If the listing fails, nothing is deleted.
    2. The planner decides from the full listing (``airflow_provider_depot.cleanup``): tags
       matching ``keep_tags`` are always kept; of the others, with the plain rules, a tag in
       scope (matching ``include_tags`` if given, and not ``exclude_tags``) is deleted only if
       every rule given allows it: ``keep_last`` keeps the newest N of the scope by
       ``pushed_at``, ``older_than`` allows only tags pushed before now minus that age. Or, with
       ``lifecycle_policy``, an Amazon ECR lifecycle policy decides as ECR would. At least one
       of ``keep_last``, ``older_than`` and ``lifecycle_policy`` is required.
    3. The plan is logged as a table (counts, sizes and first tags kept and deleted).
    4. Unless ``dry_run``, the tags are deleted oldest first, ``batch_size`` per DeleteImage
       call. A failed batch does not stop the others; afterwards the task fails naming the tags
       that are left (a retry lists again and deletes only those).

    "Now" is the worker's wall clock (UTC) at the start of the run.

    Returns ``{project_id, scanned, kept, deleted, bytes_freed, dry_run, deleted_tags,
    deleted_tags_count}``. With ``dry_run`` the ``deleted*`` and ``bytes_freed`` figures are what
    a real run would delete. ``deleted_tags`` lists at most 1,000 tags (oldest first);
    ``deleted_tags_count`` is exact. ``bytes_freed`` adds the sizes of the deleted images whose
    digest no kept tag still points to (registry layers shared between images are counted with
    each image, so it is an upper bound of the storage released).

    :param project_id: the project (templated).
    :param keep_last: keep the N most recently pushed tags in scope.
    :param older_than: delete only tags older than this: a timedelta, a number of days or an
        ISO-8601 duration such as ``"P30D"``.
    :param include_tags: glob(s) selecting the tags in scope (default: all).
    :param exclude_tags: glob(s) taking tags out of scope.
    :param keep_tags: glob(s) never deleted, whatever the rules (default ``("latest",)``).
    :param dry_run: plan and log, delete nothing (templated; kept in the attribute
        ``plan_only``, as ``BaseOperator.dry_run`` is a method).
    :param batch_size: tags per DeleteImage call.
    :param lifecycle_policy: an ECR lifecycle-policy document (dict or JSON text), instead of
        ``keep_last``/``older_than``/``include_tags``/``exclude_tags``.
    """

    template_fields: Sequence[str] = (
        *DepotProjectOperator.template_fields,
        "keep_last",
        "older_than",
        "include_tags",
        "exclude_tags",
        "keep_tags",
        "plan_only",
        "batch_size",
        "lifecycle_policy",
    )
    template_fields_renderers = {"lifecycle_policy": "json"}

    def __init__(
        self,
        *,
        project_id: str,
        keep_last: int | None = None,
        older_than: timedelta | float | str | None = None,
        include_tags: str | Iterable[str] | None = None,
        exclude_tags: str | Iterable[str] | None = None,
        keep_tags: str | Iterable[str] | None = ("latest",),
        dry_run: bool = False,
        batch_size: int = 100,
        lifecycle_policy: Mapping[str, Any] | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(project_id=project_id, **kwargs)
        self.keep_last = keep_last
        self.older_than = older_than
        self.include_tags = include_tags
        self.exclude_tags = exclude_tags
        self.keep_tags = keep_tags
        self.plan_only = dry_run
        self.batch_size = batch_size
        self.lifecycle_policy = lifecycle_policy

    def validated(self) -> CleanupArgs:
        from airflow_provider_depot.cleanup import CleanupRules

        project_id = self.checked_project_id()
        dry_run = require_flag("dry_run", self.plan_only)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        rules = CleanupRules.from_params(
            keep_last=self.keep_last,
            older_than=self.older_than,
            include_tags=self.include_tags,
            exclude_tags=self.exclude_tags,
            keep_tags=self.keep_tags,
            lifecycle_policy=self.lifecycle_policy,
        )
        return project_id, rules, dry_run, self.batch_size

    def call_depot(self, client: DepotClient, args: CleanupArgs, context: Context) -> dict[str, Any]:
        import pendulum

        now = pendulum.now("UTC")
        project_id, rules, dry_run, batch_size = args
        records = self._list_all(client, project_id)
        plan = rules.plan(records, now=now)
        self.log.info(
            "Registry cleanup plan for project %s%s:\n%s",
            project_id,
            " (dry run: nothing is deleted)" if dry_run else "",
            plan.render_table(),
        )
        if not dry_run:
            self._delete(client, project_id, plan, batch_size)
        deleted_tags = plan.delete.first_tags(MAX_REPORTED_TAGS)
        return {
            "project_id": project_id,
            "scanned": plan.scanned,
            "kept": plan.keep.count,
            "deleted": plan.delete.count,
            "bytes_freed": bytes_freed(plan),
            "dry_run": dry_run,
            "deleted_tags": deleted_tags,
            "deleted_tags_count": plan.delete.count,
        }

    def _list_all(self, client: DepotClient, project_id: str) -> list[ImageRecord]:
        from airflow_provider_depot.connect import ConnectError

        records: list[ImageRecord] = []
        images = client.registry.iter_images(project_id=project_id, page_size=LIST_PAGE_SIZE)
        try:
            records.extend(image_records(images))
        except ConnectError as exc:
            raise AirflowException(
                f"Listing the registry of project {project_id} failed after {len(records)} images ({exc}); "
                "nothing was deleted"
            ) from exc
        return records

    def _delete(self, client: DepotClient, project_id: str, plan: CleanupPlan, batch_size: int) -> None:
        from airflow_provider_depot.connect import ConnectError

        left: list[str] = []
        errors: list[str] = []
        for batch in plan.batches(batch_size):
            try:
                client.registry.delete_image(project_id=project_id, image_tags=batch)
            except ConnectError as exc:
                self.log.warning("Deleting %d tags from project %s failed: %s", len(batch), project_id, exc)
                left.extend(batch)
                errors.append(str(exc))
        done = plan.delete.count - len(left)
        self.log.info("Deleted %d of %d tags from project %s", done, plan.delete.count, project_id)
        if left:
            named = ", ".join(left[:MAX_REPORTED_TAGS])
            more = f" and {len(left) - MAX_REPORTED_TAGS} more" if len(left) > MAX_REPORTED_TAGS else ""
            raise AirflowException(
                f"Registry cleanup of project {project_id}: {len(left)} of {plan.delete.count} tags were not "
                f"deleted ({len(errors)} failed DeleteImage calls, first: {errors[0]}): {named}{more}"
            )


def image_records(images: Iterable[registry_pb2.Image]) -> Iterator[ImageRecord]:
    """ListImages entries as the planner's ImageRecords (``pushed_at`` as an aware UTC datetime)."""
    from airflow_provider_depot.cleanup import ImageRecord
    from airflow_provider_depot.client import to_datetime

    for image in images:
        yield ImageRecord(
            tag=image.tag,
            digest=image.digest,
            pushed_at=to_datetime(image.pushed_at),
            size_bytes=image.size_bytes,
        )


def bytes_freed(plan: CleanupPlan) -> int:
    """The sizes of deleted images, each digest once, leaving out digests a kept tag still uses."""
    kept_digests = {record.digest for record in plan.keep if record.digest}
    sizes: dict[str, int] = {}
    freed_untracked = 0
    for record in plan.delete:
        if not record.digest:
            freed_untracked += record.size_bytes
        elif record.digest not in kept_digests:
            sizes[record.digest] = record.size_bytes
    return freed_untracked + sum(sizes.values())
