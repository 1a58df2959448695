"""Our generated descriptors in the neutral schema form, and its comparison with the SDK's.

The form is the one tests/interop/node/spec_codec.cjs ``describeSchema`` writes for the
official Node SDK: ``{"services": {name: {"methods": {...}}}, "messages": {name: {"fields":
[...]}}, "enums": {name: {"values": [...]}}}``. A field is ``{number, name, json_name, label
("repeated" | "optional" (proto3 optional) | ""), oneof (real oneof name or None), type
(scalar name | "message" | "enum" | "map"), type_name?, map_key?, map_value?}``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    FileDescriptor,
    ServiceDescriptor,
)

import airflow_provider_depot._proto as proto_root

Schema = dict[str, dict[str, Any]]

_TYPE_NAMES = descriptor_pb2.FieldDescriptorProto.Type
_IDEMPOTENCY = descriptor_pb2.MethodOptions.IdempotencyLevel


def our_files() -> list[FileDescriptor]:
    """The file descriptors of every generated module, plus the files they import."""
    files: dict[str, FileDescriptor] = {}

    def add(fd: FileDescriptor) -> None:
        if fd.name not in files:
            files[fd.name] = fd
            for dep in fd.dependencies:
                add(dep)

    for info in pkgutil.walk_packages(proto_root.__path__, proto_root.__name__ + "."):
        if info.name.endswith("_pb2"):
            add(importlib.import_module(info.name).DESCRIPTOR)
    return list(files.values())


def _all_messages(messages: Iterable[Descriptor]) -> Iterator[Descriptor]:
    for message in messages:
        if message.GetOptions().map_entry:
            continue
        yield message
        yield from _all_messages(message.nested_types)


def _all_enums(file: FileDescriptor) -> Iterator[EnumDescriptor]:
    yield from file.enum_types_by_name.values()
    for message in _all_messages(file.message_types_by_name.values()):
        yield from message.enum_types


def _value_type(field: FieldDescriptor) -> dict[str, str]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return {"type": "message", "type_name": field.message_type.full_name}
    if field.type == FieldDescriptor.TYPE_ENUM:
        return {"type": "enum", "type_name": field.enum_type.full_name}
    return {"type": _TYPE_NAMES.Name(field.type).removeprefix("TYPE_").lower()}


def _describe_field(field: FieldDescriptor, declared: descriptor_pb2.FieldDescriptorProto) -> dict[str, Any]:
    is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
    if is_map:
        label = ""
    elif field.is_repeated:
        label = "repeated"
    else:
        label = "optional" if declared.proto3_optional else ""
    out: dict[str, Any] = {
        "number": field.number,
        "name": field.name,
        "json_name": field.json_name,
        "label": label,
        "oneof": field.containing_oneof.name
        if field.containing_oneof and not declared.proto3_optional
        else None,
    }
    if is_map:
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return {**out, "type": "map", "map_key": _value_type(key)["type"], "map_value": _value_type(value)}
    return {**out, **_value_type(field)}


def describe_message(message: Descriptor) -> dict[str, Any]:
    declared = descriptor_pb2.DescriptorProto()
    message.CopyToProto(declared)
    by_number = {f.number: f for f in declared.field}
    fields = [_describe_field(f, by_number[f.number]) for f in message.fields]
    return {"fields": sorted(fields, key=lambda f: f["number"])}


def _describe_service(service: ServiceDescriptor) -> dict[str, Any]:
    methods = {}
    for method in service.methods:
        declared = descriptor_pb2.MethodDescriptorProto()
        method.CopyToProto(declared)
        if declared.client_streaming and declared.server_streaming:
            kind = "bidi_streaming"
        elif declared.client_streaming:
            kind = "client_streaming"
        elif declared.server_streaming:
            kind = "server_streaming"
        else:
            kind = "unary"
        level = method.GetOptions().idempotency_level
        methods[method.name] = {
            "kind": kind,
            "input": method.input_type.full_name,
            "output": method.output_type.full_name,
            "idempotency": ""
            if level == _IDEMPOTENCY.IDEMPOTENCY_UNKNOWN
            else _IDEMPOTENCY.Name(level).lower(),
        }
    return {"methods": methods}


def describe_ours() -> Schema:
    schema: Schema = {"services": {}, "messages": {}, "enums": {}}
    for file in our_files():
        for service in file.services_by_name.values():
            schema["services"][service.full_name] = _describe_service(service)
        for message in _all_messages(file.message_types_by_name.values()):
            schema["messages"][message.full_name] = describe_message(message)
        for enum in _all_enums(file):
            schema["enums"][enum.full_name] = {
                "values": [{"number": v.number, "name": v.name} for v in enum.values]
            }
    return schema


def common_schema(sdk: Schema, ours: Schema) -> Schema:
    """The part both agree on: messages both have, with only the fields both declare identically."""
    common: Schema = {"services": {}, "messages": {}, "enums": {}}
    for name in sdk["messages"].keys() & ours["messages"].keys():
        ours_fields = {f["number"]: f for f in ours["messages"][name]["fields"]}
        fields = [f for f in sdk["messages"][name]["fields"] if ours_fields.get(f["number"]) == f]
        common["messages"][name] = {"fields": fields}
    for name in sdk["enums"].keys() & ours["enums"].keys():
        ours_values = ours["enums"][name]["values"]
        common["enums"][name] = {"values": [v for v in sdk["enums"][name]["values"] if v in ours_values]}
    return common
