"use strict";
// Calls Depot API methods with the official @depot/sdk-node, one JSON line per call on stdin,
// one JSON line per reply on stdout, in order; calls run one after the other.
//
// Request: {"id", "service": "depot.core.v1.ProjectService", "method": "GetProject",
//           "token", "request": <proto3 JSON>,            (unary, server streaming)
//           "requests": [<proto3 JSON>, ...],              (client streaming)
//           "take": N,                                    (server streaming: stop after N)
//           "timeout_ms": N, "transport": {"http_version": "1.1" | "2", "binary": bool}}
// Without "transport" the call goes through the SDK's own ready client, on the transport it
// built at load time from DEPOT_API_URL (HTTP/2, binary). With it, a client for the SDK's
// service definition on a connect-node transport of that kind, same DEPOT_API_URL.
// Any value {"$ref": "ID.path.to.field"} in a request or as the token is replaced by that field
// of an earlier reply's response (or messages.N...), so one batch can chain create -> get ->
// delete, or use the build token CreateBuild returned.
// Reply: {"id", "response": <proto3 JSON>} | {"id", "messages": [...]} (server streaming)
//        | {"id", "error": {"code": "not_found", "message", "details": [type names]}}
//        | {"id", "error": {"code": "script_error", "message"}} (a bad request line, not the server)

const readline = require("node:readline");
const { Code, ConnectError, createPromiseClient } = require("@connectrpc/connect");
const { createConnectTransport } = require("@connectrpc/connect-node");
const { MethodKind } = require("@bufbuild/protobuf");
const { loadSdk } = require("./sdk_capture.cjs");

const { depot, services } = loadSdk();
const replies = new Map();
const customClients = new Map();

function snakeCode(code) {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function describeError(err) {
  if (!(err instanceof ConnectError)) return { code: "script_error", message: String(err && err.stack ? err.stack : err) };
  const details = err.details.map((d) => d.type ?? d.getType().typeName);
  return { code: snakeCode(err.code), message: err.rawMessage, details };
}

function sdkClient(serviceName) {
  const [root, ...path] = serviceName.split(".");
  let node = root === "depot" ? depot : undefined;
  for (const part of path) node = node && node[part];
  if (!node) throw new Error(`the SDK exports no client for ${serviceName}`);
  return node;
}

function customClient(service, transport) {
  const key = `${service.typeName} ${transport.http_version} ${transport.binary}`;
  if (!customClients.has(key)) {
    const t = createConnectTransport({
      baseUrl: process.env.DEPOT_API_URL,
      httpVersion: transport.http_version,
      useBinaryFormat: transport.binary,
    });
    customClients.set(key, createPromiseClient(service, t));
  }
  return customClients.get(key);
}

function resolveRefs(value) {
  if (Array.isArray(value)) return value.map(resolveRefs);
  if (!value || typeof value !== "object") return value;
  if (typeof value.$ref === "string") {
    const [id, ...path] = value.$ref.split(".");
    let node = replies.get(id);
    for (const part of path) node = node == null ? undefined : node[part];
    if (node === undefined) throw new Error(`$ref ${value.$ref} resolves to nothing`);
    return node;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v)]));
}

async function call(req) {
  const service = services.find((s) => s.typeName === req.service);
  if (!service) throw new Error(`the SDK has no service ${req.service}`);
  const [localName, method] = Object.entries(service.methods).find(([, m]) => m.name === req.method) ?? [];
  if (!method) throw new Error(`${req.service} has no method ${req.method}`);
  const client = req.transport ? customClient(service, req.transport) : sdkClient(req.service);
  const options = { headers: { Authorization: `Bearer ${resolveRefs(req.token)}` }, timeoutMs: req.timeout_ms };
  const input = (json) => method.I.fromJson(resolveRefs(json ?? {}));
  switch (method.kind) {
    case MethodKind.Unary:
      return { response: (await client[localName](input(req.request), options)).toJson() };
    case MethodKind.ServerStreaming: {
      const messages = [];
      for await (const message of client[localName](input(req.request), options)) {
        messages.push(message.toJson());
        if (req.take && messages.length >= req.take) break;
      }
      return { messages };
    }
    case MethodKind.ClientStreaming: {
      async function* requests() {
        for (const json of req.requests ?? []) yield input(json);
      }
      return { response: (await client[localName](requests(), options)).toJson() };
    }
    default:
      throw new Error(`${req.service}/${req.method}: bidi streaming is not supported here`);
  }
}

async function main() {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    let reply;
    try {
      reply = { id: req.id, ...(await call(req)) };
      replies.set(req.id, reply.response ?? { messages: reply.messages });
    } catch (err) {
      reply = { id: req.id, error: describeError(err) };
    }
    process.stdout.write(JSON.stringify(reply) + "\n");
  }
  // The SDK's HTTP/2 sessions would keep the process alive for their idle timeout.
  process.stdout.write("", () => process.exit(0));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
