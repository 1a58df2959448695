"""Argument checks run before any request is built: each error names the offending parameter."""

from __future__ import annotations

from collections.abc import Iterable

_INT32_MAX = 2**31 - 1


def require_text(name: str, value: object) -> str:
    """``value`` as a non-blank string (names, descriptions, error messages)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def require_id(name: str, value: object) -> str:
    """An identifier or tag: non-empty and free of whitespace (a templated id with a stray
    newline would otherwise come back as a puzzling ``not_found``)."""
    text = require_text(name, value)
    if any(ch.isspace() for ch in text):
        raise ValueError(f"{name} must not contain whitespace")
    return text


def optional_id(name: str, value: object) -> str | None:
    return None if value is None else require_id(name, value)


def valid_page_size(value: object) -> int | None:
    """A positive int32 page size, or None to let the server choose."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"page_size must be an int, got {type(value).__name__}")
    if not 0 < value <= _INT32_MAX:
        raise ValueError(f"page_size must be between 1 and {_INT32_MAX}, got {value}")
    return value


def valid_page_token(value: object) -> str | None:
    """An opaque cursor from a previous page; None and "" both mean the first page."""
    if value is None or value == "":
        return None
    return require_id("page_token", value)


def non_negative_int32(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 <= value <= _INT32_MAX:
        raise ValueError(f"{name} must be between 0 and {_INT32_MAX}, got {value}")
    return value


def id_list(name: str, values: Iterable[str]) -> list[str]:
    """A non-empty list of ids or tags; a bare string is refused (it would split into letters)."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a list of strings, not a single string")
    items = [require_id(f"{name}[{i}]", v) for i, v in enumerate(values)]
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def positive_seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value}")
    return float(value)
