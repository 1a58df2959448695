"use strict";
// One Node process for a whole batch of interop requests: JSON lines on stdin, one JSON line
// per request on stdout, in order. Each request is {"id", "op", ...}; each reply is {"id", ...}
// or {"id", "error"}. Ops:
//   describe                       -> {schema, sdk_version}
//   encode  {type, spec}           -> {spec, binary, json, json_proto_names}
//   decode  {type, spec, binary, json: [..]}
//                                  -> {binary_equal, spec_from_binary, json_equal: [..],
//                                      spec_from_json: [..], reencoded}
//   reencode {type, binary}        -> {binary}   (fromBinary then toBinary; unknown fields kept)
// Binary payloads are base64. Specs are described in spec_codec.cjs.

const readline = require("node:readline");
const { loadSdk, reachableTypes } = require("./sdk_capture.cjs");
const { describeSchema, messageFromSpec, messageToSpec } = require("./spec_codec.cjs");

const { services, sdkVersion } = loadSdk();
const { messages, enums } = reachableTypes(services);

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));

function messageType(name) {
  const type = messages.get(name);
  if (!type) throw new Error(`the SDK has no message type ${name}`);
  return type;
}

const OPS = {
  describe() {
    return { schema: describeSchema(services, messages, enums), sdk_version: sdkVersion };
  },
  encode({ type, spec }) {
    const message = messageFromSpec(messageType(type), spec);
    return {
      spec: messageToSpec(message),
      binary: b64(message.toBinary()),
      json: message.toJsonString(),
      json_proto_names: message.toJsonString({ useProtoFieldName: true }),
    };
  },
  decode({ type, spec, binary, json }) {
    const T = messageType(type);
    const expected = messageFromSpec(T, spec);
    const fromBinary = T.fromBinary(unb64(binary));
    // A float field is a float32, but protobuf-es keeps a JSON number as the double it parsed
    // until it encodes (Python writes float32's shortest digits, e.g. -118763.86 for
    // -118763.859375): compare what a decoded JSON message holds on the wire.
    const fromJson = json.map((text) => T.fromBinary(T.fromJsonString(text).toBinary()));
    return {
      binary_equal: T.equals(expected, fromBinary),
      spec_from_binary: messageToSpec(fromBinary),
      json_equal: fromJson.map((m) => T.equals(expected, m)),
      spec_from_json: fromJson.map(messageToSpec),
      reencoded: b64(fromBinary.toBinary()),
    };
  },
  reencode({ type, binary }) {
    return { binary: b64(messageType(type).fromBinary(unb64(binary)).toBinary()) };
  },
};

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const request = JSON.parse(line);
    let reply;
    try {
      const op = OPS[request.op];
      if (!op) throw new Error(`unknown op ${JSON.stringify(request.op)}`);
      reply = { id: request.id, ...op(request) };
    } catch (err) {
      reply = { id: request.id, error: String(err && err.stack ? err.stack : err) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
