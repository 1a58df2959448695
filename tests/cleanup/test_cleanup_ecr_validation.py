"""ECR lifecycle-policy validation: every error names the JSON path of the offending value."""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from airflow_provider_depot.cleanup import CleanupConfigError, LifecyclePolicy, parse_lifecycle_policy


def valid_rule(priority: int = 1) -> dict:
    return {
        "rulePriority": priority,
        "description": "keep ten",
        "selection": {
            "tagStatus": "tagged",
            "tagPatternList": ["pr-*"],
            "countType": "imageCountMoreThan",
            "countNumber": 10,
        },
        "action": {"type": "expire"},
    }


def with_change(path: tuple, value: object, *, delete: bool = False) -> dict:
    document = {"rules": [valid_rule(1), valid_rule(2)]}
    target = document
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


SEL = ("rules", 1, "selection")

CASES = [
    # (document, expected path, words the message must contain)
    ({}, "lifecycle_policy.rules", "required"),
    ({"rules": []}, "lifecycle_policy.rules", "non-empty"),
    ({"rules": "x"}, "lifecycle_policy.rules", "non-empty"),
    ({"rules": [], "version": 2}, "lifecycle_policy.version", "not a known field"),
    (with_change(("rules", 1, "rulePriority"), 1), "lifecycle_policy.rules[1].rulePriority", "unique"),
    (with_change(("rules", 1, "rulePriority"), 0), "lifecycle_policy.rules[1].rulePriority", "positive"),
    (with_change(("rules", 1, "rulePriority"), "2"), "lifecycle_policy.rules[1].rulePriority", "positive"),
    (with_change(("rules", 1, "rulePriority"), True), "lifecycle_policy.rules[1].rulePriority", "positive"),
    (
        with_change(("rules", 1, "rulePriority"), None, delete=True),
        "lifecycle_policy.rules[1].rulePriority",
        "required",
    ),
    (with_change(("rules", 1, "priority"), 3), "lifecycle_policy.rules[1].priority", "not a known field"),
    (with_change(("rules", 1, "description"), 7), "lifecycle_policy.rules[1].description", "string"),
    (
        with_change(("rules", 1, "selection"), None, delete=True),
        "lifecycle_policy.rules[1].selection",
        "required",
    ),
    (with_change(("rules", 1, "selection"), []), "lifecycle_policy.rules[1].selection", "JSON object"),
    (
        with_change((*SEL, "tagStatus"), "untagged"),
        "lifecycle_policy.rules[1].selection.tagStatus",
        "always tagged",
    ),
    (
        with_change((*SEL, "tagStatus"), "TAGGED"),
        "lifecycle_policy.rules[1].selection.tagStatus",
        "'tagged' or 'any'",
    ),
    (
        with_change((*SEL, "tagPatternList"), None, delete=True),
        "lifecycle_policy.rules[1].selection",
        "tagPatternList or a tagPrefixList",
    ),
    (
        with_change((*SEL, "tagPrefixList"), ["pr"]),
        "lifecycle_policy.rules[1].selection.tagPrefixList",
        "cannot be combined",
    ),
    (
        with_change((*SEL, "tagPatternList"), []),
        "lifecycle_policy.rules[1].selection.tagPatternList",
        "non-empty list",
    ),
    (
        with_change((*SEL, "tagPatternList"), "pr-*"),
        "lifecycle_policy.rules[1].selection.tagPatternList",
        "non-empty list",
    ),
    (
        with_change((*SEL, "tagPatternList"), ["ok", ""]),
        "lifecycle_policy.rules[1].selection.tagPatternList[1]",
        "non-empty string",
    ),
    (
        with_change((*SEL, "tagPatternList"), ["a*b*c*d*e", "*a*b*c*d*e*"]),
        "lifecycle_policy.rules[1].selection.tagPatternList[1]",
        "at most 4",
    ),
    (
        with_change((*SEL, "countType"), "sinceImagePulled"),
        "lifecycle_policy.rules[1].selection.countType",
        "only when an image was pushed",
    ),
    (
        with_change((*SEL, "countType"), "count"),
        "lifecycle_policy.rules[1].selection.countType",
        "'imageCountMoreThan' or 'sinceImagePushed'",
    ),
    (
        with_change((*SEL, "countType"), "sinceImagePushed"),
        "lifecycle_policy.rules[1].selection.countUnit",
        "required",
    ),
    (with_change((*SEL, "countUnit"), "days"), "lifecycle_policy.rules[1].selection.countUnit", "omitted"),
    (with_change((*SEL, "countNumber"), 0), "lifecycle_policy.rules[1].selection.countNumber", "positive"),
    (with_change((*SEL, "countNumber"), 2.5), "lifecycle_policy.rules[1].selection.countNumber", "positive"),
    (
        with_change((*SEL, "countNumber"), None, delete=True),
        "lifecycle_policy.rules[1].selection.countNumber",
        "required",
    ),
    (
        with_change((*SEL, "storageClass"), "archive"),
        "lifecycle_policy.rules[1].selection.storageClass",
        "no archive",
    ),
    (
        with_change((*SEL, "tagPrefix"), ["pr"]),
        "lifecycle_policy.rules[1].selection.tagPrefix",
        "not a known field",
    ),
    (with_change(("rules", 1, "action"), None, delete=True), "lifecycle_policy.rules[1].action", "required"),
    (
        with_change(("rules", 1, "action", "type"), "delete"),
        "lifecycle_policy.rules[1].action.type",
        "'expire'",
    ),
    (
        with_change(("rules", 1, "action", "type"), "transition"),
        "lifecycle_policy.rules[1].action.type",
        "not supported",
    ),
    (
        with_change(("rules", 1, "action", "targetStorageClass"), "archive"),
        "lifecycle_policy.rules[1].action.targetStorageClass",
        "only valid",
    ),
]


@pytest.mark.parametrize(("document", "path", "words"), CASES, ids=[c[1] + ":" + c[2] for c in CASES])
def test_invalid_document_names_the_json_path(document, path, words):
    with pytest.raises(CleanupConfigError) as caught:
        parse_lifecycle_policy(document)
    assert caught.value.parameter == path
    assert str(caught.value).startswith(f"{path}: ")
    assert words in caught.value.problem


def test_since_image_pushed_needs_days_exactly():
    document = with_change((*SEL, "countType"), "sinceImagePushed")
    document["rules"][1]["selection"]["countUnit"] = "hours"
    with pytest.raises(CleanupConfigError, match="must be 'days'") as caught:
        parse_lifecycle_policy(document)
    assert caught.value.parameter == "lifecycle_policy.rules[1].selection.countUnit"
    document["rules"][1]["selection"]["countUnit"] = "days"
    assert parse_lifecycle_policy(document).rules[1].count_type == "sinceImagePushed"


def test_any_rule_must_have_the_highest_priority():
    any_rule = {
        "rulePriority": 1,
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 3},
        "action": {"type": "expire"},
    }
    with pytest.raises(CleanupConfigError, match="highest rulePriority") as caught:
        parse_lifecycle_policy({"rules": [valid_rule(5), any_rule]})
    assert caught.value.parameter == "lifecycle_policy.rules[1].rulePriority"
    # Highest priority: valid, and the rules come back sorted by priority.
    policy = parse_lifecycle_policy({"rules": [{**any_rule, "rulePriority": 9}, valid_rule(5)]})
    assert [rule.priority for rule in policy.rules] == [5, 9]
    assert [rule.index for rule in policy.rules] == [1, 0]


def test_any_rule_cannot_carry_tag_lists():
    any_rule = {
        "rulePriority": 1,
        "selection": {
            "tagStatus": "any",
            "tagPrefixList": ["x"],
            "countType": "imageCountMoreThan",
            "countNumber": 3,
        },
        "action": {"type": "expire"},
    }
    with pytest.raises(CleanupConfigError, match="omitted") as caught:
        parse_lifecycle_policy({"rules": [any_rule]})
    assert caught.value.parameter == "lifecycle_policy.rules[0].selection.tagPrefixList"


def test_four_wildcards_are_allowed():
    document = with_change((*SEL, "tagPatternList"), ["*test*1*2*3", "test*1*2*3*"])
    assert parse_lifecycle_policy(document).rules[1].tag_patterns == ("*test*1*2*3", "test*1*2*3*")


def test_json_text_is_accepted_and_bad_json_names_the_parameter():
    document = {"rules": [valid_rule(1), valid_rule(2)]}
    assert parse_lifecycle_policy(json.dumps(document)) == parse_lifecycle_policy(document)
    with pytest.raises(CleanupConfigError, match="not valid JSON") as caught:
        parse_lifecycle_policy('{"rules": [')
    assert caught.value.parameter == "lifecycle_policy"
    with pytest.raises(CleanupConfigError, match="JSON object, got array") as caught:
        parse_lifecycle_policy("[]")
    assert caught.value.parameter == "lifecycle_policy"


def test_standard_storage_class_is_accepted_and_input_is_not_mutated():
    document = with_change((*SEL, "storageClass"), "standard")
    before = copy.deepcopy(document)
    policy = parse_lifecycle_policy(document)
    assert document == before
    assert isinstance(policy, LifecyclePolicy)
    assert parse_lifecycle_policy(policy) is policy


def test_error_survives_pickling():
    with pytest.raises(CleanupConfigError) as caught:
        parse_lifecycle_policy({})
    clone = pickle.loads(pickle.dumps(caught.value))
    assert (clone.parameter, clone.problem, str(clone)) == (
        caught.value.parameter,
        caught.value.problem,
        str(caught.value),
    )
