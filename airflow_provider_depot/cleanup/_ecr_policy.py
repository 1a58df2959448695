"""Amazon ECR lifecycle-policy documents: parsing, validation as ECR does it, and evaluation.

Depot's registry lists tags, so here an *image* is one tag (one ImageRecord), and a selection
matches it when:

- ``tagStatus: any``: always;
- ``tagPrefixList``: the tag starts with *every* prefix of the list;
- ``tagPatternList``: the tag matches *every* pattern (``*`` matches any run of characters,
  nothing else is special; at most 4 ``*`` per pattern, as in ECR).

"Every" is ECR's rule ("only the images with all specified tags are selected"); an ECR image
with several tags could satisfy ``["alpha*", "beta*"]`` through two tags, a single Depot tag only
if it matches both patterns. Put alternatives in separate rules.

Evaluation follows ECR's documented evaluator:

- every rule looks at *all* the images its selection matches, in push order, whatever other
  rules do: ``imageCountMoreThan N`` marks those beyond the N most recently pushed of them,
  ``sinceImagePushed N days`` marks those pushed more than N days before ``now``;
- an image belongs to the matching rule with the lowest ``rulePriority``, and only that rule's
  mark expires it; an image no rule selects is kept.

So a lower-priority rule still *counts* images a higher-priority rule claimed, but never expires
them (ECR's "Example A": the ``beta`` rule counts the two ``prod`` images and keeps only the
newest ``beta`` image, yet cannot expire the second ``prod`` one).

``tagStatus: untagged``, ``storageClass: archive``, ``sinceImagePulled``,
``sinceImageTransitioned`` and ``action: transition`` are refused: Depot registry images are
always tagged, and ListImages reports neither pull times nor storage classes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from ._durations import age_cutoff
from ._errors import CleanupConfigError
from ._records import ImageRecord

TagStatus = Literal["tagged", "any"]
CountType = Literal["imageCountMoreThan", "sinceImagePushed"]

MAX_WILDCARDS = 4

_POLICY_KEYS = frozenset({"rules"})
_RULE_KEYS = frozenset({"rulePriority", "description", "selection", "action"})
_SELECTION_KEYS = frozenset(
    {"tagStatus", "tagPatternList", "tagPrefixList", "countType", "countUnit", "countNumber", "storageClass"}
)
_ACTION_KEYS = frozenset({"type"})
_NO_PULL_TIMES = "is not supported: Depot's ListImages reports only when an image was pushed"
# timedelta cannot hold more days; an age that long expires nothing either way.
_MAX_DAYS = timedelta.max.days


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    """One validated rule. ``index`` is its position in the document (for messages)."""

    index: int
    priority: int
    description: str | None
    tag_status: TagStatus
    tag_patterns: tuple[str, ...]
    tag_prefixes: tuple[str, ...]
    count_type: CountType
    count_number: int
    _patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple(re.compile(_pattern_regex(p), re.DOTALL) for p in self.tag_patterns)
        object.__setattr__(self, "_patterns", compiled)

    def selects(self, tag: str) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_prefixes:
            return all(tag.startswith(prefix) for prefix in self.tag_prefixes)
        return all(pattern.fullmatch(tag) is not None for pattern in self._patterns)

    @property
    def max_age(self) -> timedelta:
        """For ``sinceImagePushed``: the age beyond which a selected image is marked."""
        return timedelta(days=min(self.count_number, _MAX_DAYS))


@dataclass(frozen=True, slots=True)
class LifecyclePolicy:
    """A validated ECR lifecycle policy; ``rules`` are sorted by ``rulePriority``."""

    rules: tuple[LifecycleRule, ...]

    def expired(self, newest_first: Sequence[ImageRecord], now: datetime) -> list[bool]:
        """For each record of a newest-first listing: does the policy expire it?"""
        rules = self.rules
        seen = [0] * len(rules)  # images each count rule has selected so far, newest first
        cutoffs = [age_cutoff(now, rule.max_age) for rule in rules]
        verdicts: list[bool] = []
        for record in newest_first:
            verdict: bool | None = None
            for position, rule in enumerate(rules):
                if rule.count_type == "sinceImagePushed":
                    if verdict is None and rule.selects(record.tag):
                        verdict = record.pushed_at < cutoffs[position]
                elif rule.selects(record.tag):
                    marked = seen[position] >= rule.count_number
                    seen[position] += 1
                    if verdict is None:
                        verdict = marked
            verdicts.append(bool(verdict))
        return verdicts


def parse_lifecycle_policy(
    document: LifecyclePolicy | Mapping[str, object] | str, *, parameter: str = "lifecycle_policy"
) -> LifecyclePolicy:
    """Validate an ECR lifecycle-policy document given as a dict or as its JSON text.

    Raises CleanupConfigError whose ``parameter`` is the JSON path of the offending value.
    """
    if isinstance(document, LifecyclePolicy):
        return document
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError as exc:
            raise CleanupConfigError(parameter, f"is not valid JSON: {exc}") from None
    policy = _mapping(document, parameter, _POLICY_KEYS)
    rules_path = f"{parameter}.rules"
    raw_rules = _required(policy, "rules", parameter)
    if not isinstance(raw_rules, (list, tuple)) or not raw_rules:
        raise CleanupConfigError(rules_path, "must be a non-empty list of rules")
    rules = [_rule(raw, index, f"{rules_path}[{index}]") for index, raw in enumerate(raw_rules)]
    _check_priorities(rules, rules_path)
    return LifecyclePolicy(tuple(sorted(rules, key=lambda rule: rule.priority)))


def _rule(raw: object, index: int, path: str) -> LifecycleRule:
    rule = _mapping(raw, path, _RULE_KEYS)
    priority = _positive_int(_required(rule, "rulePriority", path), f"{path}.rulePriority")
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        raise CleanupConfigError(f"{path}.description", f"must be a string, got {_kind(description)}")
    _action(_required(rule, "action", path), f"{path}.action")
    sel_path = f"{path}.selection"
    selection = _mapping(_required(rule, "selection", path), sel_path, _SELECTION_KEYS)
    tag_status = _tag_status(_required(selection, "tagStatus", sel_path), f"{sel_path}.tagStatus")
    patterns, prefixes = _tag_lists(selection, tag_status, sel_path)
    storage = selection.get("storageClass", "standard")
    if storage != "standard":
        problem = f"only 'standard' is supported (Depot has no archive), got {storage!r}"
        raise CleanupConfigError(f"{sel_path}.storageClass", problem)
    count_type = _count_type(_required(selection, "countType", sel_path), f"{sel_path}.countType")
    count_number = _positive_int(_required(selection, "countNumber", sel_path), f"{sel_path}.countNumber")
    _count_unit(selection, count_type, f"{sel_path}.countUnit")
    return LifecycleRule(
        index=index,
        priority=priority,
        description=description,
        tag_status=tag_status,
        tag_patterns=patterns,
        tag_prefixes=prefixes,
        count_type=count_type,
        count_number=count_number,
    )


def _check_priorities(rules: list[LifecycleRule], rules_path: str) -> None:
    first_with: dict[int, LifecycleRule] = {}
    for rule in rules:
        earlier = first_with.setdefault(rule.priority, rule)
        if earlier is not rule:
            raise CleanupConfigError(
                f"{rules_path}[{rule.index}].rulePriority",
                f"{rule.priority} is already the priority of rules[{earlier.index}]; "
                "priorities must be unique",
            )
    highest = max(rules, key=lambda rule: rule.priority)
    for rule in rules:
        if rule.tag_status == "any" and rule is not highest:
            raise CleanupConfigError(
                f"{rules_path}[{rule.index}].rulePriority",
                f"a rule with tagStatus 'any' must have the highest rulePriority, but {rule.priority} < "
                f"{highest.priority} (rules[{highest.index}])",
            )


def _tag_status(value: object, path: str) -> TagStatus:
    if value == "untagged":
        raise CleanupConfigError(
            path,
            "'untagged' cannot apply: Depot registry images are always tagged (each listed image is a "
            "tag), so use 'tagged' with tagPatternList/tagPrefixList, or 'any'",
        )
    if value == "tagged" or value == "any":
        return value
    raise CleanupConfigError(path, f"must be 'tagged' or 'any', got {value!r}")


def _tag_lists(
    selection: Mapping[str, object], tag_status: TagStatus, path: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    present = [key for key in ("tagPatternList", "tagPrefixList") if key in selection]
    if tag_status == "any":
        if present:
            raise CleanupConfigError(f"{path}.{present[0]}", "must be omitted when tagStatus is 'any'")
        return (), ()
    if not present:
        raise CleanupConfigError(path, "tagStatus 'tagged' needs a tagPatternList or a tagPrefixList")
    if len(present) == 2:
        problem = "cannot be combined with tagPatternList in one rule"
        raise CleanupConfigError(f"{path}.tagPrefixList", problem)
    key = present[0]
    strings = _strings(selection[key], f"{path}.{key}")
    if key == "tagPrefixList":
        return (), strings
    for position, pattern in enumerate(strings):
        if pattern.count("*") > MAX_WILDCARDS:
            raise CleanupConfigError(
                f"{path}.{key}[{position}]",
                f"{pattern!r} has {pattern.count('*')} wildcards; "
                f"ECR allows at most {MAX_WILDCARDS} per pattern",
            )
    return strings, ()


def _count_type(value: object, path: str) -> CountType:
    if value == "imageCountMoreThan" or value == "sinceImagePushed":
        return value
    if value in ("sinceImagePulled", "sinceImageTransitioned"):
        raise CleanupConfigError(path, f"{value!r} {_NO_PULL_TIMES}")
    raise CleanupConfigError(path, f"must be 'imageCountMoreThan' or 'sinceImagePushed', got {value!r}")


def _count_unit(selection: Mapping[str, object], count_type: CountType, path: str) -> None:
    if count_type == "sinceImagePushed":
        if "countUnit" not in selection:
            raise CleanupConfigError(path, "is required with countType 'sinceImagePushed' (use 'days')")
        if selection["countUnit"] != "days":
            raise CleanupConfigError(path, f"must be 'days', got {selection['countUnit']!r}")
    elif "countUnit" in selection:
        raise CleanupConfigError(path, f"must be omitted with countType {count_type!r}")


def _action(value: object, path: str) -> None:
    action = _mapping(value, path, _ACTION_KEYS | {"targetStorageClass"})
    action_type = _required(action, "type", path)
    if action_type == "transition":
        problem = "'transition' is not supported: Depot has no archive storage"
        raise CleanupConfigError(f"{path}.type", problem)
    if action_type != "expire":
        raise CleanupConfigError(f"{path}.type", f"must be 'expire', got {action_type!r}")
    if "targetStorageClass" in action:
        raise CleanupConfigError(f"{path}.targetStorageClass", "is only valid with action type 'transition'")


def _mapping(value: object, path: str, allowed: frozenset[str]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise CleanupConfigError(path, f"must be a JSON object, got {_kind(value)}")
    for key in value:
        if key not in allowed:
            problem = f"is not a known field (expected one of {sorted(allowed)})"
            raise CleanupConfigError(f"{path}.{key}", problem)
    return value


def _required(mapping: Mapping[str, object], key: str, path: str) -> object:
    if key not in mapping:
        raise CleanupConfigError(f"{path}.{key}", "is required")
    return mapping[key]


def _positive_int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CleanupConfigError(path, f"must be a positive integer, got {_kind(value)} {value!r}")
    if value < 1:
        raise CleanupConfigError(path, f"must be a positive integer, got {value}")
    return value


def _strings(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise CleanupConfigError(path, f"must be a non-empty list of strings, got {_kind(value)}")
    for position, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise CleanupConfigError(f"{path}[{position}]", f"must be a non-empty string, got {item!r}")
    return tuple(value)


def _pattern_regex(pattern: str) -> str:
    return ".*".join(re.escape(part) for part in pattern.split("*"))


_JSON_KINDS = {
    dict: "object",
    list: "array",
    tuple: "array",
    str: "string",
    bool: "boolean",
    type(None): "null",
}


def _kind(value: object) -> str:
    return _JSON_KINDS.get(type(value), type(value).__name__)
