"""Every message type of the official Node SDK, encoded by one side and decoded by the other.

For each message type both sides know, fully populated samples (proto_spec.sample_spec, over
the fields both declare alike) go through one Node process in a single JSON-lines batch:

* Node builds the sample, encodes it as binary and as proto3 JSON (JSON names and proto field
  names); Python decodes each and compares with the message it builds from the same spec.
* Python encodes its own message the same ways; Node decodes each, compares with its own build
  of the spec (``MessageType.equals``) and reports what it decoded as a spec; Python decodes
  Node's re-encoding of the binary.
* Messages where our protos declare more than the SDK (newer fields): Python's fully populated
  binary goes through Node's decode/encode; the unknown fields must come back intact.

Comparison is semantic (decode, then compare), never byte for byte: proto3 JSON differs in
form between implementations (int64 as strings, enum names, RFC 3339 timestamps).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from node_env import INTEROP_BATCH_SCRIPT, NodeTools, run_node_jsonl
from proto_schema import Schema, common_schema, describe_ours
from proto_spec import Spec, message_from_spec, message_to_spec, sample_spec, spec_diff, variant_count

pytestmark = pytest.mark.node


@dataclass
class Sample:
    type: str
    variant: int
    spec: Spec
    message: Message  # Python's build of spec

    @property
    def label(self) -> str:
        return f"{self.type}#{self.variant}"


@dataclass
class Batch:
    samples: list[Sample]
    encoded: dict[str, dict[str, Any]] = field(default_factory=dict)  # Node's encode replies
    decoded: dict[str, dict[str, Any]] = field(default_factory=dict)  # Node's decode replies
    extensions: list[Sample] = field(default_factory=list)  # samples with fields the SDK lacks
    reencoded: dict[str, dict[str, Any]] = field(default_factory=dict)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _python_json(message: Message) -> list[str]:
    return [
        json_format.MessageToJson(message),
        json_format.MessageToJson(message, preserving_proto_field_name=True),
    ]


def _samples(schema: Schema, names: list[str]) -> list[Sample]:
    samples = []
    for name in names:
        for variant in range(variant_count(schema, name)):
            spec = sample_spec(schema, name, variant)
            samples.append(Sample(name, variant, spec, message_from_spec(name, spec)))
    return samples


@pytest.fixture(scope="module")
def common(sdk_schema: Schema) -> Schema:
    return common_schema(sdk_schema, describe_ours())


@pytest.fixture(scope="module")
def batch(interop_node: NodeTools, common: Schema) -> Batch:
    ours = describe_ours()
    result = Batch(_samples(common, sorted(common["messages"])))
    extended = [n for n in sorted(common["messages"]) if ours["messages"][n] != common["messages"][n]]
    result.extensions = _samples(ours, extended)
    requests: list[dict[str, Any]] = []
    for s in result.samples:
        requests.append({"id": f"encode {s.label}", "op": "encode", "type": s.type, "spec": s.spec})
        requests.append(
            {
                "id": f"decode {s.label}",
                "op": "decode",
                "type": s.type,
                "spec": s.spec,
                "binary": _b64(s.message.SerializeToString()),
                "json": _python_json(s.message),
            }
        )
    for s in result.extensions:
        requests.append(
            {
                "id": f"reencode {s.label}",
                "op": "reencode",
                "type": s.type,
                "binary": _b64(s.message.SerializeToString()),
            }
        )
    for reply in run_node_jsonl(interop_node, INTEROP_BATCH_SCRIPT, requests):
        op, label = reply["id"].split(" ", 1)
        {"encode": result.encoded, "decode": result.decoded, "reencode": result.reencoded}[op][label] = reply
    return result


def _check(
    samples: list[Sample],
    replies: dict[str, dict[str, Any]],
    check: Callable[[Sample, dict[str, Any]], list[str]],
) -> list[str]:
    problems = []
    for s in samples:
        reply = replies[s.label]
        if "error" in reply:
            problems.append(f"{s.label}: Node failed: {reply['error'].splitlines()[0]}")
        else:
            problems += [f"{s.label}: {p}" for p in check(s, reply)]
    return problems


def _differs(what: str, expected: Spec, got: Spec) -> list[str]:
    """The spec differences, or (same specs, yet the messages differ) a line saying so."""
    lines = spec_diff(expected, got) or ["equal as specs, but the messages differ (MessageType.equals)"]
    return [f"{what}: {line}" for line in lines]


def _compare(s: Sample, what: str, decoded: Message) -> list[str]:
    return [] if decoded == s.message else _differs(what, s.spec, message_to_spec(decoded))


def _fail_if(problems: list[str], title: str) -> None:
    assert not problems, f"{title} ({len(problems)}):\n  " + "\n  ".join(problems)


def test_samples_cover_every_sdk_message_field_and_oneof_member(
    sdk_schema: Schema, common: Schema, batch: Batch
) -> None:
    assert set(common["messages"]) == set(sdk_schema["messages"]), "the SDK has messages we lack"
    problems = []
    for name, message in sdk_schema["messages"].items():
        used = set().union(*(s.spec for s in batch.samples if s.type == name))
        missing = [f["name"] for f in message["fields"] if f["name"] not in used]
        if missing:
            problems.append(f"{name}: no sample sets {missing}")
    _fail_if(problems, "fields never populated")
    assert any(s.type == "depot.core.v1.TrustPolicy" and "circleci" in s.spec for s in batch.samples)


def test_python_builds_the_samples_as_specified(batch: Batch) -> None:
    problems = [
        f"{s.label}: {line}" for s in batch.samples for line in spec_diff(s.spec, message_to_spec(s.message))
    ]
    _fail_if(problems, "Python's build differs from the spec")


def test_node_builds_the_samples_as_specified(batch: Batch) -> None:
    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        return spec_diff(s.spec, reply["spec"])

    _fail_if(_check(batch.samples, batch.encoded, check), "Node's build differs from the spec")


def test_node_binary_decodes_in_python(batch: Batch) -> None:
    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        decoded = type(s.message).FromString(base64.b64decode(reply["binary"]))
        return _compare(s, "binary from Node", decoded)

    _fail_if(_check(batch.samples, batch.encoded, check), "Python decodes Node's binary differently")


def test_node_json_decodes_in_python(batch: Batch) -> None:
    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        problems = []
        for key in ("json", "json_proto_names"):
            try:
                decoded = json_format.Parse(reply[key], type(s.message)())
            except json_format.ParseError as err:
                problems.append(f"{key} from Node does not parse: {err}\n    {reply[key]}")
                continue
            problems += _compare(s, f"{key} from Node", decoded)
        return problems

    _fail_if(_check(batch.samples, batch.encoded, check), "Python decodes Node's JSON differently")


def test_python_binary_decodes_in_node(batch: Batch) -> None:
    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        problems = []
        if not reply["binary_equal"] or reply["spec_from_binary"] != s.spec:
            problems += _differs("Node's decoding of Python's binary", s.spec, reply["spec_from_binary"])
        reencoded = type(s.message).FromString(base64.b64decode(reply["reencoded"]))
        return problems + _compare(s, "Node's re-encoding of Python's binary", reencoded)

    _fail_if(_check(batch.samples, batch.decoded, check), "Node decodes Python's binary differently")


def test_python_json_decodes_in_node(batch: Batch) -> None:
    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        problems = []
        forms = ("JSON names", "proto field names")
        for form, equal, got in zip(forms, reply["json_equal"], reply["spec_from_json"], strict=True):
            if not equal or got != s.spec:
                problems += _differs(f"Node's decoding of Python's JSON ({form})", s.spec, got)
        return problems

    _fail_if(_check(batch.samples, batch.decoded, check), "Node decodes Python's JSON differently")


def test_fields_newer_than_the_sdk_survive_it(batch: Batch) -> None:
    assert batch.extensions, "no message of ours declares more than the SDK"

    def check(s: Sample, reply: dict[str, Any]) -> list[str]:
        decoded = type(s.message).FromString(base64.b64decode(reply["binary"]))
        return _compare(s, "unknown fields after Node's decode/encode", decoded)

    _fail_if(_check(batch.extensions, batch.reencoded, check), "the SDK loses fields it does not know")
