"""CleanupPlan, the planner's result: which tags to keep, which to delete, and how to show it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

from ._errors import CleanupConfigError
from ._records import ImageRecord

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


class ImageGroup:
    """An immutable run of ImageRecords with its count and total size.

    It indexes, slices, iterates and has a ``len()`` like a tuple. It is deliberately not a
    ``collections.abc.Sequence``, whose ``count(value)`` method would clash with ``count``.
    """

    __slots__ = ("_records", "size_bytes")

    def __init__(self, records: Sequence[ImageRecord]) -> None:
        self._records = tuple(records)
        self.size_bytes = sum(record.size_bytes for record in self._records)

    @overload
    def __getitem__(self, index: int) -> ImageRecord: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[ImageRecord, ...]: ...
    def __getitem__(self, index: int | slice) -> ImageRecord | tuple[ImageRecord, ...]:
        return self._records[index]

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ImageRecord]:
        return iter(self._records)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageGroup) and self._records == other._records

    def __hash__(self) -> int:
        return hash(self._records)

    def __repr__(self) -> str:
        return f"ImageGroup({len(self)} tags, {self.size_bytes} bytes)"

    @property
    def count(self) -> int:
        return len(self._records)

    def tags(self) -> list[str]:
        return [record.tag for record in self._records]

    def first_tags(self, n: int) -> list[str]:
        """The first ``n`` tags in the group's order (all of them if there are fewer)."""
        return [record.tag for record in self._records[: max(n, 0)]]


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    """What a cleanup keeps and deletes; ``keep`` and ``delete`` partition the scanned tags.

    ``keep`` is newest first; ``delete`` is oldest first, the order in which ``batches()``
    hands the tags to DeleteImage. Both orders break pushed_at ties by tag, so a plan depends
    only on the set of records listed.
    """

    keep: ImageGroup
    delete: ImageGroup

    @property
    def scanned(self) -> int:
        return len(self.keep) + len(self.delete)

    def batches(self, batch_size: int) -> Iterator[list[str]]:
        """The tags to delete, ``batch_size`` per DeleteImage call."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise CleanupConfigError("batch_size", f"must be a positive integer, got {batch_size!r}")
        tags = self.delete.tags()
        for start in range(0, len(tags), batch_size):
            yield tags[start : start + batch_size]

    def render_table(self, first: int = 5) -> str:
        """A small text table: tags and bytes kept and deleted, with the first tags of each."""
        rows = [("", "tags", "size", "first tags")]
        for label, group in (("keep", self.keep), ("delete", self.delete)):
            rows.append((label, str(group.count), format_bytes(group.size_bytes), _tag_list(group, first)))
        total = self.keep.size_bytes + self.delete.size_bytes
        rows.append(("total", str(self.scanned), format_bytes(total), ""))
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        lines = [
            f"{label:<{widths[0]}}  {count:>{widths[1]}}  {size:>{widths[2]}}  {tags}".rstrip()
            for label, count, size, tags in rows
        ]
        return "\n".join(lines)


def _tag_list(group: ImageGroup, first: int) -> str:
    if not group:
        return "-"
    shown = ", ".join(group.first_tags(first))
    rest = group.count - min(first, group.count)
    return f"{shown}, ... (+{rest} more)" if rest > 0 else shown


def format_bytes(size: int) -> str:
    """Bytes in IEC units with one decimal: ``512 B``, ``1.5 KiB``, ``13.0 GiB``."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in _UNITS[:-1]:
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_UNITS[-1]}"
