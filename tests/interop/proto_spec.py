"""Sample specs: language-neutral descriptions of fully populated messages, built deterministically.

A spec is the form tests/interop/node/spec_codec.cjs reads and writes: a JSON object keyed by
proto field name; 64-bit integers as decimal strings, bytes as base64, enums as numbers,
messages as objects, repeated fields as lists, maps as [key, value] pairs sorted by key, a oneof
as its one member present. Unset fields are absent; a field with explicit presence set to its
zero value is present. Both languages build their own message from the same spec and turn
decoded messages back into specs, so results compare field by field.

Samples come from a neutral schema (proto_schema.py), so a sample holds only the fields that
schema knows: the common schema gives samples both sides can build.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from proto_schema import Schema

Spec = dict[str, Any]

TIMESTAMP = "google.protobuf.Timestamp"
MAX_DEPTH = 4  # recursive types stop populating their message fields below this depth

_INT32 = {"int32", "sint32", "sfixed32"}
_UINT32 = {"uint32", "fixed32"}
_INT64 = {"int64", "sint64", "sfixed64"}
_UINT64 = {"uint64", "fixed64"}
_FLOATS = {"float", "double"}


def _number(*parts: object) -> int:
    """A deterministic 64-bit number for a place in a sample (stable across runs and machines)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _scalar(kind: str, seed: int, idx: int, *, extreme: bool) -> Any:
    """A non-zero value of a scalar kind. Signed numbers alternate in sign by ``idx``; ``extreme``
    gives the type's limits instead (the most negative or the largest value)."""
    negative = idx % 2 == 0
    if kind == "string":
        return f's{seed % 1000}-{idx} é漢字🚀 "q" \\ \t\n'
    if kind == "bytes":
        return base64.b64encode(b"\x00\xff" + seed.to_bytes(8, "big")).decode()
    if kind == "bool":
        return negative
    if kind in _INT32 | _INT64:
        bits = 31 if kind in _INT32 else 63
        if extreme:
            value = -(2**bits) if negative else 2**bits - 1
        else:
            value = -(seed % 2**bits) - 1 if negative else seed % (2**bits - 1) + 1
        return value if kind in _INT32 else str(value)
    if kind in _UINT32 | _UINT64:
        bits = 32 if kind in _UINT32 else 64
        value = 2**bits - 1 if extreme else seed % (2**bits - 1) + 1
        return value if kind in _UINT32 else str(value)
    sign = -1 if negative else 1
    if kind == "float":  # exactly representable in float32: a 23-bit integer over 2**6
        value = sign * ((seed % 2**23) + 1) / 64
        assert struct.unpack("<f", struct.pack("<f", value))[0] == value
        return value
    if kind == "double":
        return sign * ((seed % 10**15) + 1) / 1000
    raise ValueError(f"no sample for scalar kind {kind!r}")


def _zero(kind: str) -> Any:
    return {"string": "", "bytes": "", "bool": False}.get(kind, "0" if kind in _INT64 | _UINT64 else 0)


def _timestamp(seed: int, variant: int) -> Spec:
    """Within RFC 3339's range; nanos with 0, 3, 6 and 9 significant digits; variant 1 before 1970."""
    seconds = -1_234_567_890 + seed % 1000 if variant == 1 else 1_600_000_000 + seed % 10**8
    nanos = [0, 123_000_000, 456_789_000, seed % 10**9][variant % 4]
    spec: Spec = {"seconds": str(seconds)}
    if nanos:
        spec["nanos"] = nanos
    return spec


def variant_count(schema: Schema, name: str) -> int:
    """Samples per message: at least two, and enough to select each member of its largest oneof."""
    oneofs: dict[str, int] = {}
    for field in schema["messages"][name]["fields"]:
        if field["oneof"]:
            oneofs[field["oneof"]] = oneofs.get(field["oneof"], 0) + 1
    return max(2, *oneofs.values()) if oneofs else 2


def _value(
    schema: Schema, info: dict[str, Any], where: tuple[object, ...], variant: int, idx: int, depth: int
) -> Any:
    seed = _number(*where, variant, idx)
    if info["type"] == "message":
        return sample_spec(schema, info["type_name"], variant + idx, depth + 1)
    if info["type"] == "enum":
        values = [v["number"] for v in schema["enums"][info["type_name"]]["values"] if v["number"] != 0]
        return values[(variant + idx + seed) % len(values)] if values else 0
    return _scalar(info["type"], seed, idx, extreme=variant == 1)


def sample_spec(schema: Schema, name: str, variant: int, depth: int = 0) -> Spec:
    """A fully populated sample of message ``name``: every field set, two entries in each repeated
    field and map, the ``variant``-th member of each oneof, explicit-presence scalars set to their
    zero value in variant 1 (presence must survive) and to other values otherwise."""
    if name == TIMESTAMP:  # its JSON form only holds years 1 to 9999
        return _timestamp(_number(name, depth), variant)
    spec: Spec = {}
    fields = schema["messages"][name]["fields"]
    members: dict[str, list[str]] = {}
    for field in fields:
        if field["oneof"]:
            members.setdefault(field["oneof"], []).append(field["name"])
    for field in fields:
        oneof = field["oneof"]
        if oneof and members[oneof][variant % len(members[oneof])] != field["name"]:
            continue
        if depth >= MAX_DEPTH and "message" in (field["type"], field.get("map_value", {}).get("type")):
            continue
        where = (name, field["number"])
        if field["type"] == "map":
            pairs = [
                [
                    _map_key(field["map_key"], idx),
                    _value(schema, field["map_value"], where, variant, idx, depth),
                ]
                for idx in range(2)
            ]
            spec[field["name"]] = sorted(pairs, key=lambda pair: _key_order(pair[0]))
        elif field["label"] == "repeated":
            spec[field["name"]] = [_value(schema, field, where, variant, idx, depth) for idx in range(2)]
        elif field["label"] == "optional" and variant == 1 and field["type"] != "message":
            spec[field["name"]] = 0 if field["type"] == "enum" else _zero(field["type"])
        else:
            spec[field["name"]] = _value(schema, field, where, variant, 0, depth)
    return spec


def _map_key(kind: str, idx: int) -> Any:
    if kind == "string":
        return f"k{idx}-é漢🚀"
    if kind == "bool":
        return idx == 0
    value = [-5, 7][idx] if kind in _INT32 | _INT64 else [5, 2**32 - 1][idx]
    return str(value) if kind in _INT64 | _UINT64 else value


def _key_order(key: Any) -> str:
    """Map pairs sort by the key's text, as spec_codec.cjs sorts them (JavaScript's String(key))."""
    return ("true" if key else "false") if isinstance(key, bool) else str(key)


# ---- spec <-> Python message -----------------------------------------------------------------


def message_class(name: str) -> type[Message]:
    return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(name))


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _scalar_from_spec(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64decode(value)
    if field.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
        return int(value)
    return value


def _fill(message: Message, spec: Spec) -> Message:
    fields = message.DESCRIPTOR.fields_by_name
    unknown = sorted(set(spec) - set(fields))
    if unknown:
        raise KeyError(f"{message.DESCRIPTOR.full_name} has no field(s) {', '.join(unknown)}")
    for name, value in spec.items():
        field = fields[name]
        if _is_map(field):
            key_field, value_field = (field.message_type.fields_by_name[k] for k in ("key", "value"))
            container = getattr(message, name)
            for key, entry in value:
                map_key = _scalar_from_spec(key_field, key)
                if value_field.message_type is not None:
                    _fill(container[map_key], entry)
                else:
                    container[map_key] = _scalar_from_spec(value_field, entry)
        elif field.is_repeated:
            container = getattr(message, name)
            for entry in value:
                if field.message_type is not None:
                    _fill(container.add(), entry)
                else:
                    container.append(_scalar_from_spec(field, entry))
        elif field.message_type is not None:
            sub = getattr(message, name)
            sub.SetInParent()
            _fill(sub, value)
        else:
            setattr(message, name, _scalar_from_spec(field, value))
    return message


def message_from_spec(name: str, spec: Spec) -> Message:
    return _fill(message_class(name)(), spec)


def _scalar_to_spec(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode()
    if field.cpp_type in (FieldDescriptor.CPPTYPE_INT64, FieldDescriptor.CPPTYPE_UINT64):
        return str(value)
    return value


def _entry_to_spec(field: FieldDescriptor, value: Any) -> Any:
    return message_to_spec(value) if field.message_type is not None else _scalar_to_spec(field, value)


def message_to_spec(message: Message) -> Spec:
    spec: Spec = {}
    for field, value in message.ListFields():
        if _is_map(field):
            key_field, value_field = (field.message_type.fields_by_name[k] for k in ("key", "value"))
            pairs = [
                [_scalar_to_spec(key_field, k), _entry_to_spec(value_field, v)] for k, v in value.items()
            ]
            spec[field.name] = sorted(pairs, key=lambda pair: _key_order(pair[0]))
        elif field.is_repeated:
            spec[field.name] = [_entry_to_spec(field, entry) for entry in value]
        else:
            spec[field.name] = _entry_to_spec(field, value)
    return spec


def spec_diff(expected: Any, got: Any, path: str = "") -> list[str]:
    """Readable differences between two specs: one ``path: expected X, got Y`` line per place."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(expected.keys() | got.keys()):
            where = f"{path}.{key}" if path else key
            if key not in got:
                out.append(f"{where}: expected {expected[key]!r}, missing")
            elif key not in expected:
                out.append(f"{where}: unexpected {got[key]!r}")
            else:
                out += spec_diff(expected[key], got[key], where)
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        pairs = enumerate(zip(expected, got, strict=True))
        return [line for i, (e, g) in pairs for line in spec_diff(e, g, f"{path}[{i}]")]
    return [] if expected == got else [f"{path or '(message)'}: expected {expected!r}, got {got!r}"]
