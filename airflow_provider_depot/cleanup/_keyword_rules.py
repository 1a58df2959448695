"""The operator's plain rules (keep_last, older_than, include_tags, exclude_tags) as one decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ._durations import age_cutoff
from ._globs import TagGlobs
from ._records import ImageRecord


@dataclass(frozen=True, slots=True)
class KeywordRules:
    """Validated plain rules; at least one of ``keep_last`` and ``older_than`` is set.

    The scope is the tags matching ``include`` (all when None) and not ``exclude``; tags out of
    scope are kept. A tag in scope is deleted only if every rule given allows it: ``keep_last``
    allows all but the ``keep_last`` newest tags of the scope, ``older_than`` allows those
    pushed strictly before ``now - older_than``.
    """

    keep_last: int | None
    older_than: timedelta | None
    include: TagGlobs | None
    exclude: TagGlobs | None

    def expired(self, newest_first: Sequence[ImageRecord], now: datetime) -> list[bool]:
        """For each record of a newest-first listing: do the rules delete it?"""
        include, exclude, keep_last = self.include, self.exclude, self.keep_last
        cutoff = None if self.older_than is None else age_cutoff(now, self.older_than)
        in_scope_so_far = 0
        verdicts: list[bool] = []
        for record in newest_first:
            if (include is not None and not include.matches(record.tag)) or (
                exclude is not None and exclude.matches(record.tag)
            ):
                verdicts.append(False)
                continue
            deletable = keep_last is None or in_scope_so_far >= keep_last
            in_scope_so_far += 1
            if cutoff is not None and not record.pushed_at < cutoff:
                deletable = False
            verdicts.append(deletable)
        return verdicts
