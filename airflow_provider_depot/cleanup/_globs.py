"""Tag globs (fnmatch-style, case-sensitive) compiled once into a single regex."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from ._errors import CleanupConfigError


class TagGlobs:
    """A set of fnmatch-style patterns (``*``, ``?``, ``[seq]``, ``[!seq]``); a tag matches if
    any pattern matches all of it. Matching is case-sensitive on every platform.
    """

    __slots__ = ("_match", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._match = re.compile("|".join(fnmatch.translate(p) for p in patterns)).match

    def matches(self, tag: str) -> bool:
        return self._match(tag) is not None

    def __repr__(self) -> str:
        return f"TagGlobs({self.patterns!r})"


def compile_globs(value: str | Iterable[str] | None, *, parameter: str, allow_empty: bool) -> TagGlobs | None:
    """Validate an operator's glob parameter: None, one pattern, or an iterable of patterns.

    Returns None for None and for an allowed empty collection (nothing to match). A single string
    is one pattern, never a sequence of one-character patterns.
    """
    if value is None:
        return None
    patterns = (value,) if isinstance(value, str) else _as_patterns(value, parameter)
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str) or not pattern:
            where = parameter if isinstance(value, str) else f"{parameter}[{index}]"
            raise CleanupConfigError(where, f"must be a non-empty glob pattern string, got {pattern!r}")
    if not patterns:
        if allow_empty:
            return None
        raise CleanupConfigError(parameter, "is empty; pass None to select every tag")
    return TagGlobs(tuple(dict.fromkeys(patterns)))


def _as_patterns(value: object, parameter: str) -> tuple[str, ...]:
    if isinstance(value, (bytes, dict)) or not isinstance(value, Iterable):
        raise CleanupConfigError(
            parameter, f"must be a glob pattern or a list of glob patterns, got {type(value).__name__}"
        )
    return tuple(value)
