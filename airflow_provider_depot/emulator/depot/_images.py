"""A project's registry images, stored column-wise so that 100k of them load in well under a second.

Images are kept in push order (a ``seq`` per image) as parallel lists; no per-image object or
protobuf message exists until a page is listed. Listing is newest push first. Re-pushing a tag
replaces its image; deleting tags leaves tombstones that are compacted away once they outnumber
the live images (seqs, and so page tokens, survive compaction).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageRecord:
    tag: str
    digest: str
    pushed_at_us: int
    size_bytes: int
    seq: int


class ProjectImages:
    __slots__ = ("_alive", "_by_tag", "_dead", "_digests", "_pushed_us", "_seqs", "_sizes", "_tags")

    def __init__(self) -> None:
        self._tags: list[str] = []
        self._digests: list[str] = []
        self._pushed_us: list[int] = []
        self._sizes: list[int] = []
        self._seqs: list[int] = []
        self._alive = bytearray()
        self._by_tag: dict[str, int] = {}  # tag -> seq of its live image
        self._dead = 0

    def __len__(self) -> int:
        return len(self._by_tag)

    def extend(
        self,
        tags: Sequence[str],
        digests: Sequence[str],
        pushed_at_us: Sequence[int],
        sizes: Sequence[int],
        first_seq: int,
    ) -> int:
        """Add images (in ``pushed_at`` order) with seqs from ``first_seq``; returns the next free seq.

        A tag that is already present, or repeated in the batch, keeps only its last push.
        """
        count = len(tags)
        if not (len(digests) == len(pushed_at_us) == len(sizes) == count):
            raise ValueError("tags, digests, pushed_at and sizes must have the same length")
        if first_seq <= (self._seqs[-1] if self._seqs else -1):
            raise ValueError("first_seq must be above every stored seq")
        if any(pushed_at_us[i] > pushed_at_us[i + 1] for i in range(count - 1)):
            order = sorted(range(count), key=pushed_at_us.__getitem__)
            tags = [tags[i] for i in order]
            digests = [digests[i] for i in order]
            pushed_at_us = [pushed_at_us[i] for i in order]
            sizes = [sizes[i] for i in order]
        self._tags.extend(tags)
        self._digests.extend(digests)
        self._pushed_us.extend(pushed_at_us)
        self._sizes.extend(sizes)
        self._seqs.extend(range(first_seq, first_seq + count))
        self._alive.extend(b"\x01" * count)
        by_tag = self._by_tag
        for offset, tag in enumerate(tags):
            previous = by_tag.get(tag)
            if previous is not None:
                self._kill(self._position(previous))
            by_tag[tag] = first_seq + offset
        self._maybe_compact()
        return first_seq + count

    def load_columns(
        self,
        tags: Sequence[str],
        digests: Sequence[str],
        pushed_at_us: Sequence[int],
        sizes: Sequence[int],
        seqs: Sequence[int],
    ) -> None:
        """Restore images saved by ``columns()`` (seqs ascending, tags unique) into an empty store."""
        if self._seqs:
            raise ValueError("load_columns needs an empty store")
        if any(seqs[i] >= seqs[i + 1] for i in range(len(seqs) - 1)):
            raise ValueError("seqs must be strictly ascending")
        if not (len(tags) == len(digests) == len(pushed_at_us) == len(sizes) == len(seqs)):
            raise ValueError("tags, digests, pushed_at, sizes and seqs must have the same length")
        self._tags, self._digests = list(tags), list(digests)
        self._pushed_us, self._sizes, self._seqs = list(pushed_at_us), list(sizes), list(seqs)
        self._alive = bytearray(b"\x01" * len(tags))
        self._by_tag = dict(zip(self._tags, self._seqs, strict=True))
        if len(self._by_tag) != len(tags):
            raise ValueError("tags must be unique")

    def delete(self, tags: Sequence[str]) -> list[str]:
        """Remove the images of ``tags``; returns the tags that existed."""
        removed = []
        for tag in tags:
            seq = self._by_tag.pop(tag, None)
            if seq is not None:
                self._kill(self._position(seq))
                removed.append(tag)
        self._maybe_compact()
        return removed

    def get(self, tag: str) -> ImageRecord | None:
        seq = self._by_tag.get(tag)
        return None if seq is None else self._record(self._position(seq))

    def page(self, after_seq: int | None, size: int) -> tuple[list[ImageRecord], int | None]:
        """Up to ``size`` images older than ``after_seq`` (newest first) and the next cursor."""
        position = len(self._seqs) if after_seq is None else bisect.bisect_left(self._seqs, after_seq)
        position -= 1
        records: list[ImageRecord] = []
        alive = self._alive
        while position >= 0 and len(records) < size:
            if alive[position]:
                records.append(self._record(position))
            position -= 1
        while position >= 0 and not alive[position]:
            position -= 1
        return records, (records[-1].seq if records and position >= 0 else None)

    def columns(self) -> dict[str, list[str] | list[int]]:
        """The live images, oldest push first, column-wise (the state file's form)."""
        self._compact()
        return {
            "tag": list(self._tags),
            "digest": list(self._digests),
            "pushed_at_us": list(self._pushed_us),
            "size_bytes": list(self._sizes),
            "seq": list(self._seqs),
        }

    def total_bytes(self) -> int:
        return sum(size for size, alive in zip(self._sizes, self._alive, strict=True) if alive)

    def _position(self, seq: int) -> int:
        return bisect.bisect_left(self._seqs, seq)

    def _record(self, position: int) -> ImageRecord:
        return ImageRecord(
            self._tags[position],
            self._digests[position],
            self._pushed_us[position],
            self._sizes[position],
            self._seqs[position],
        )

    def _kill(self, position: int) -> None:
        if self._alive[position]:
            self._alive[position] = 0
            self._dead += 1

    def _maybe_compact(self) -> None:
        if self._dead > 1024 and self._dead > len(self._by_tag):
            self._compact()

    def _compact(self) -> None:
        if not self._dead:
            return
        keep = [i for i, alive in enumerate(self._alive) if alive]
        self._tags = [self._tags[i] for i in keep]
        self._digests = [self._digests[i] for i in keep]
        self._pushed_us = [self._pushed_us[i] for i in keep]
        self._sizes = [self._sizes[i] for i in keep]
        self._seqs = [self._seqs[i] for i in keep]
        self._alive = bytearray(b"\x01" * len(keep))
        self._dead = 0
