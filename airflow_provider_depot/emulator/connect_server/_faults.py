"""Fault injection rules: which calls misbehave, and how.

A rule matches calls by procedure glob and fires on every Nth match or with a seeded probability.
When it fires, the Connect app (``_app.py``) acts it out. ``FaultRule.from_dict`` is the schema of
the ``--faults`` file and of ``POST /_emulator/faults``::

    {"method": "depot.core.v1.ProjectService/Get*",  # fnmatch glob, also tried on "ProjectService/Get..."
     "action": "error",            # error|http|delay|drop_before|drop_after|truncate|no_end_stream
     "every": 3,                   # fire on matches 3, 6, 9, ... (default 1: every match)
     "probability": 0.2, "seed": 7,  # instead of "every": fire with this seeded probability
     "skip_first": 0,              # matches to let through before counting
     "times": null,                # stop after firing this many times
     "delay_ms": 0,                # wait before acting (the whole action for "delay")
     "code": "unavailable", "message": "injected fault", "retry_after": null,   # error (and http)
     "status": 502, "body": "<html>...</html>", "content_type": "text/html",  # http
     "keep_messages": 0}           # truncate / no_end_stream: whole messages sent before the cut

Actions: ``error`` replies with a Connect error; ``http`` with a raw status and a non-Connect
body; ``delay`` only waits; ``drop_before`` drops the connection without running the call;
``drop_after`` runs the call (its effects stay) and drops the connection before any reply byte
(a client sees EOF before a reply, or a reset when its own bytes were still unread; on HTTP/2
every stream of the connection goes with it);
``truncate`` sends part of the reply and ends the body; ``no_end_stream`` ends a stream without
its end-of-stream envelope (on a unary call it does nothing).
"""

from __future__ import annotations

import fnmatch
import itertools
import random
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from airflow_provider_depot.connect._codes import Code

Action = Literal["error", "http", "delay", "drop_before", "drop_after", "truncate", "no_end_stream"]
ACTIONS: tuple[Action, ...] = (
    "error",
    "http",
    "delay",
    "drop_before",
    "drop_after",
    "truncate",
    "no_end_stream",
)
_DEFAULT_HTML = "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


@dataclass
class FaultRule:
    """One rule; see the module docstring for the meaning of each field."""

    action: Action
    method: str = "*"
    every: int | None = None
    probability: float | None = None
    seed: int = 0
    skip_first: int = 0
    times: int | None = None
    delay_ms: int = 0
    code: Code = Code.UNAVAILABLE
    message: str = "injected fault"
    retry_after: float | None = None
    status: int = 502
    body: str = _DEFAULT_HTML
    content_type: str = "text/html; charset=utf-8"
    keep_messages: int = 0
    id: str = ""
    matched: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        if not isinstance(self.method, str) or not self.method:
            raise ValueError(f"method must be a non-empty glob, got {self.method!r}")
        if self.every is not None and self.probability is not None:
            raise ValueError("every and probability are exclusive: give one of them")
        if self.every is not None and (not isinstance(self.every, int) or self.every < 1):
            raise ValueError(f"every must be a positive integer, got {self.every!r}")
        if self.probability is not None and not (
            isinstance(self.probability, (int, float)) and 0 < self.probability <= 1
        ):
            raise ValueError(f"probability must be in (0, 1], got {self.probability!r}")
        for name in ("skip_first", "delay_ms", "keep_messages"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            raise ValueError(f"times must be a positive integer, got {self.times!r}")
        if not isinstance(self.status, int) or not 200 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status in 200..599, got {self.status!r}")
        if self.retry_after is not None and (
            not isinstance(self.retry_after, (int, float)) or self.retry_after < 0
        ):
            raise ValueError(
                f"retry_after must be a non-negative number of seconds, got {self.retry_after!r}"
            )
        self._rng.seed(self.seed)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        if not isinstance(data, Mapping):
            raise ValueError(f"a fault rule must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__) - {"matched", "fired", "_rng"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule field(s): {', '.join(sorted(unknown))}")
        if "action" not in data:
            raise ValueError("a fault rule needs an action")
        values = dict(data)
        if "code" in values:
            code = Code.from_wire(values["code"])
            if code is None:
                raise ValueError(f"code must be a Connect code name, got {values['code']!r}")
            values["code"] = code
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "action": self.action,
            "every": self.every,
            "probability": self.probability,
            "seed": self.seed,
            "skip_first": self.skip_first,
            "times": self.times,
            "delay_ms": self.delay_ms,
            "code": self.code.value,
            "message": self.message,
            "retry_after": self.retry_after,
            "status": self.status,
            "body": self.body,
            "content_type": self.content_type,
            "keep_messages": self.keep_messages,
            "matched": self.matched,
            "fired": self.fired,
        }

    def matches(self, procedure: str, short: str) -> bool:
        return fnmatch.fnmatchcase(procedure, self.method) or fnmatch.fnmatchcase(short, self.method)

    def _count_and_decide(self, *, may_fire: bool) -> bool:
        self.matched += 1
        if not may_fire:
            return False
        position = self.matched - self.skip_first
        if position <= 0 or (self.times is not None and self.fired >= self.times):
            return False
        if self.probability is not None:
            fire = self._rng.random() < self.probability
        else:
            fire = position % (self.every or 1) == 0
        if fire:
            self.fired += 1
        return fire


class FaultPlan:
    """The active rules, in order. Thread-safe: the admin endpoint and tests edit it live."""

    def __init__(self, rules: Iterable[FaultRule] = ()) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self.add(rules)

    def add(self, rules: Iterable[FaultRule]) -> list[str]:
        """Append rules; returns the ids given to them."""
        ids = []
        with self._lock:
            for rule in rules:
                if not rule.id:
                    rule.id = f"fault-{next(self._ids)}"
                self._rules.append(rule)
                ids.append(rule.id)
        return ids

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            return len(self._rules) != before

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_dict() for r in self._rules]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def decide(self, procedure: str, short: str) -> FaultRule | None:
        """Count this call against every matching rule; the first rule that fires, if any."""
        if not self._rules:
            return None
        chosen: FaultRule | None = None
        with self._lock:
            for rule in self._rules:
                if rule.matches(procedure, short) and rule._count_and_decide(may_fire=chosen is None):
                    chosen = rule
        return chosen


def rules_from_json(data: object) -> list[FaultRule]:
    """Rules from a parsed ``--faults`` file or admin body: one rule, a list, or ``{"rules": [...]}``."""
    if isinstance(data, Mapping) and "rules" in data:
        data = data["rules"]
    if isinstance(data, Mapping):
        data = [data]
    if not isinstance(data, list):
        raise ValueError('faults must be a rule object, a list of rules or {"rules": [...]}')
    return [FaultRule.from_dict(cast(Mapping[str, Any], item)) for item in data]
