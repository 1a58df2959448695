"""The registry-cleanup planner: validated rules in, a CleanupPlan out; no I/O, no clock.

How a plan is decided
---------------------
1. The listing is put in canonical order: ``pushed_at`` newest first, ties by tag ascending.
   A tag listed twice counts once, as its most recently pushed record. The plan therefore
   depends only on the set of records, never on the order pages arrived in.
2. ``keep_tags`` (fnmatch-style globs; a plain tag such as ``"latest"`` matches only itself,
   Docker tags cannot contain ``*``, ``?`` or ``[``) are set aside first: they are always
   kept, and the rules below neither see nor count them.
3. The remaining tags are decided by exactly one of:

   **Plain rules** (``keep_last``, ``older_than``, ``include_tags``, ``exclude_tags``):
   the scope is the tags matching some ``include_tags`` glob (every tag when None) and no
   ``exclude_tags`` glob; tags out of scope are kept. A tag in scope is deleted only if every
   rule given allows it:

   - ``keep_last=N`` allows deleting all but the N newest tags *of the scope*;
   - ``older_than=AGE`` allows deleting tags pushed strictly before ``now - AGE``.

   So ``keep_last=10, older_than=30`` deletes what is both beyond the 10 newest and older
   than 30 days; ``keep_last=0`` alone deletes the whole scope (an explicit choice).

   **An ECR lifecycle policy** (``lifecycle_policy``), evaluated as ECR documents it; see
   ``_ecr_policy``. It cannot be combined with the plain rules.

Giving neither ``keep_last``, ``older_than`` nor ``lifecycle_policy`` is an error: the planner
refuses to guess, since "no rule" would otherwise mean "delete everything in scope".

Globs (``include_tags``, ``exclude_tags``, ``keep_tags``) are case-sensitive fnmatch patterns:
``*`` any run, ``?`` one character, ``[seq]`` / ``[!seq]`` a class. Each parameter takes one
pattern string or a list of them. ``older_than`` takes a timedelta, a number of days, or an
ISO-8601 duration without years or months (see ``parse_older_than``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._durations import parse_older_than
from ._ecr_policy import LifecyclePolicy, parse_lifecycle_policy
from ._errors import CleanupConfigError
from ._globs import TagGlobs, compile_globs
from ._keyword_rules import KeywordRules
from ._plan import CleanupPlan, ImageGroup
from ._records import ImageRecord, newest_first

DEFAULT_KEEP_TAGS = ("latest",)


@dataclass(frozen=True, slots=True)
class CleanupRules:
    """Validated cleanup parameters, ready to plan any number of listings.

    Build it with ``CleanupRules.from_params`` before calling the API, so that bad input fails
    before anything is listed or deleted.
    """

    decide: KeywordRules | LifecyclePolicy
    keep_tags: TagGlobs | None

    @classmethod
    def from_params(
        cls,
        *,
        keep_last: int | None = None,
        older_than: timedelta | float | str | None = None,
        include_tags: str | Iterable[str] | None = None,
        exclude_tags: str | Iterable[str] | None = None,
        keep_tags: str | Iterable[str] | None = DEFAULT_KEEP_TAGS,
        lifecycle_policy: LifecyclePolicy | Mapping[str, object] | str | None = None,
    ) -> CleanupRules:
        protected = compile_globs(keep_tags, parameter="keep_tags", allow_empty=True)
        if lifecycle_policy is not None:
            given = [
                name
                for name, value in (
                    ("keep_last", keep_last),
                    ("older_than", older_than),
                    ("include_tags", include_tags),
                    ("exclude_tags", exclude_tags),
                )
                if value is not None
            ]
            if given:
                raise CleanupConfigError(
                    "lifecycle_policy",
                    f"cannot be combined with {', '.join(given)}; express those as policy rules instead",
                )
            return cls(parse_lifecycle_policy(lifecycle_policy), protected)
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int)):
            raise CleanupConfigError("keep_last", f"must be an integer >= 0 or None, got {keep_last!r}")
        if keep_last is not None and keep_last < 0:
            raise CleanupConfigError("keep_last", f"must be >= 0, got {keep_last}")
        age = parse_older_than(older_than)
        if keep_last is None and age is None:
            raise CleanupConfigError(
                "keep_last/older_than/lifecycle_policy",
                "none is set; give at least one (refusing to treat 'no rule' as 'delete everything')",
            )
        rules = KeywordRules(
            keep_last=keep_last,
            older_than=age,
            include=compile_globs(include_tags, parameter="include_tags", allow_empty=False),
            exclude=compile_globs(exclude_tags, parameter="exclude_tags", allow_empty=True),
        )
        return cls(rules, protected)

    def plan(self, records: Iterable[ImageRecord], *, now: datetime) -> CleanupPlan:
        """Decide a full listing. ``now`` (timezone-aware) is the instant ages are measured at."""
        if not isinstance(now, datetime) or now.utcoffset() is None:
            raise CleanupConfigError("now", f"must be a timezone-aware datetime, got {now!r}")
        ordered = newest_first(records)
        keep_tags = self.keep_tags
        if keep_tags is None:
            protected = [False] * len(ordered)
        else:
            protected = [keep_tags.matches(record.tag) for record in ordered]
        candidates = [record for record, kept in zip(ordered, protected, strict=True) if not kept]
        verdicts = iter(self.decide.expired(candidates, now))
        keep: list[ImageRecord] = []
        delete: list[ImageRecord] = []
        for record, is_protected in zip(ordered, protected, strict=True):
            # Protected tags are not candidates, so they consume no verdict.
            (keep if is_protected or not next(verdicts) else delete).append(record)
        delete.reverse()
        return CleanupPlan(keep=ImageGroup(keep), delete=ImageGroup(delete))


def plan_cleanup(
    records: Iterable[ImageRecord],
    *,
    now: datetime,
    keep_last: int | None = None,
    older_than: timedelta | float | str | None = None,
    include_tags: str | Iterable[str] | None = None,
    exclude_tags: str | Iterable[str] | None = None,
    keep_tags: str | Iterable[str] | None = DEFAULT_KEEP_TAGS,
    lifecycle_policy: LifecyclePolicy | Mapping[str, object] | str | None = None,
) -> CleanupPlan:
    """Validate the parameters and plan ``records`` in one call (see the module docstring)."""
    rules = CleanupRules.from_params(
        keep_last=keep_last,
        older_than=older_than,
        include_tags=include_tags,
        exclude_tags=exclude_tags,
        keep_tags=keep_tags,
        lifecycle_policy=lifecycle_policy,
    )
    return rules.plan(records, now=now)
