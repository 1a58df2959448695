"use strict";
// The language-neutral forms shared with the Python tests (tests/interop/proto_spec.py):
//
// * schema: describeSchema() turns captured protobuf-es types into plain JSON (full names,
//   field numbers, names, JSON names, types, labels, oneofs, map key/value types, methods).
// * sample spec: a message as a plain JSON object keyed by proto field name, each value typed by
//   the schema: 64-bit integers as decimal strings, bytes as base64, enums as numbers, nested
//   messages as objects, repeated fields as arrays, maps as [key, value] pairs sorted by key,
//   a oneof as the one member field present. Unset fields are absent; a field with explicit
//   presence set to its zero value is present. Implicit-presence fields at their zero value are
//   absent (they are indistinguishable from unset on the wire).

const { LongType, MethodIdempotency, MethodKind, ScalarType, protoInt64 } = require("@bufbuild/protobuf");

const METHOD_KINDS = {
  [MethodKind.Unary]: "unary",
  [MethodKind.ServerStreaming]: "server_streaming",
  [MethodKind.ClientStreaming]: "client_streaming",
  [MethodKind.BiDiStreaming]: "bidi_streaming",
};

const IDEMPOTENCY = {
  [MethodIdempotency.NoSideEffects]: "no_side_effects",
  [MethodIdempotency.Idempotent]: "idempotent",
};

const INT64_TYPES = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64]);
const UINT64_TYPES = new Set([ScalarType.UINT64, ScalarType.FIXED64]);

function scalarName(scalarType) {
  return ScalarType[scalarType].toLowerCase();
}

function describeValue(info) {
  if (info.kind === "scalar") return { type: scalarName(info.T) };
  return { type: info.kind, type_name: info.T.typeName };
}

function describeField(field) {
  const out = {
    number: field.no,
    name: field.name,
    json_name: field.jsonName,
    label: field.repeated ? "repeated" : field.opt ? "optional" : "",
    oneof: field.oneof ? field.oneof.name : null,
  };
  if (field.kind === "map") {
    return { ...out, type: "map", map_key: scalarName(field.K), map_value: describeValue(field.V) };
  }
  return { ...out, ...describeValue(field) };
}

function describeSchema(services, messages, enums) {
  const schema = { services: {}, messages: {}, enums: {} };
  for (const service of services) {
    const methods = {};
    for (const method of Object.values(service.methods)) {
      methods[method.name] = {
        kind: METHOD_KINDS[method.kind],
        input: method.I.typeName,
        output: method.O.typeName,
        idempotency: IDEMPOTENCY[method.idempotency] ?? "",
      };
    }
    schema.services[service.typeName] = { methods };
  }
  for (const [name, type] of messages) {
    schema.messages[name] = { fields: type.fields.list().map(describeField).sort((a, b) => a.number - b.number) };
  }
  for (const [name, type] of enums) {
    schema.enums[name] = { values: type.values.map((v) => ({ number: v.no, name: v.name })) };
  }
  return schema;
}

// ---- spec -> protobuf-es message -------------------------------------------------------------

function scalarFromSpec(scalarType, longType, value) {
  if (INT64_TYPES.has(scalarType)) return longType === LongType.STRING ? value : protoInt64.parse(value);
  if (UINT64_TYPES.has(scalarType)) return longType === LongType.STRING ? value : protoInt64.uParse(value);
  if (scalarType === ScalarType.BYTES) return new Uint8Array(Buffer.from(value, "base64"));
  return value;
}

function valueFromSpec(info, value) {
  if (info.kind === "message") return messageFromSpec(info.T, value);
  if (info.kind === "enum") return value;
  return scalarFromSpec(info.T, info.L ?? LongType.BIGINT, value);
}

function mapKeyFromSpec(key) {
  return String(key);
}

function messageFromSpec(type, spec) {
  const message = new type();
  const known = new Set();
  for (const field of type.fields.list()) {
    known.add(field.name);
    if (!(field.name in spec)) continue;
    const value = spec[field.name];
    let converted;
    if (field.kind === "map") {
      converted = {};
      for (const [key, entry] of value) converted[mapKeyFromSpec(key)] = valueFromSpec(field.V, entry);
    } else if (field.repeated) {
      converted = value.map((entry) => valueFromSpec(field, entry));
    } else {
      converted = valueFromSpec(field, value);
    }
    if (field.oneof) {
      message[field.oneof.localName] = { case: field.localName, value: converted };
    } else {
      message[field.localName] = converted;
    }
  }
  const unknown = Object.keys(spec).filter((name) => !known.has(name));
  if (unknown.length) throw new Error(`${type.typeName} has no field(s) ${unknown.join(", ")}`);
  return message;
}

// ---- protobuf-es message -> spec -------------------------------------------------------------

function scalarToSpec(scalarType, value) {
  if (INT64_TYPES.has(scalarType) || UINT64_TYPES.has(scalarType)) return String(value);
  if (scalarType === ScalarType.BYTES) return Buffer.from(value).toString("base64");
  return value;
}

function valueToSpec(info, value) {
  if (info.kind === "message") return messageToSpec(value);
  if (info.kind === "enum") return value;
  return scalarToSpec(info.T, value);
}

function isZero(field, value) {
  if (field.kind === "enum") return value === 0;
  if (field.T === ScalarType.BYTES) return value.length === 0;
  if (INT64_TYPES.has(field.T) || UINT64_TYPES.has(field.T)) return String(value) === "0";
  return value === 0 || value === false || value === "";
}

function mapKeyToSpec(keyType, key) {
  if (keyType === ScalarType.BOOL) return key === "true";
  if (INT64_TYPES.has(keyType) || UINT64_TYPES.has(keyType)) return key;
  if (keyType === ScalarType.STRING) return key;
  return Number(key);
}

function compareKeys(a, b) {
  const [x, y] = [String(a[0]), String(b[0])];
  return x < y ? -1 : x > y ? 1 : 0;
}

function messageToSpec(message) {
  const type = message.getType();
  const spec = {};
  for (const field of type.fields.list()) {
    let value;
    if (field.oneof) {
      const selected = message[field.oneof.localName];
      if (selected.case !== field.localName) continue;
      value = selected.value;
    } else {
      value = message[field.localName];
    }
    if (value === undefined) continue;
    if (field.kind === "map") {
      const pairs = Object.entries(value).map(([k, v]) => [mapKeyToSpec(field.K, k), valueToSpec(field.V, v)]);
      if (pairs.length) spec[field.name] = pairs.sort(compareKeys);
    } else if (field.repeated) {
      if (value.length) spec[field.name] = value.map((entry) => valueToSpec(field, entry));
    } else if (field.kind === "message" || field.opt || field.oneof || !isZero(field, value)) {
      spec[field.name] = valueToSpec(field, value);
    }
  }
  return spec;
}

module.exports = { describeSchema, messageFromSpec, messageToSpec };
