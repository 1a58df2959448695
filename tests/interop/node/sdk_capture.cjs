"use strict";
// Loads the official @depot/sdk-node bundle and captures the service definitions it passes to
// createPromiseClient of @connectrpc/connect while it loads. The bundle exports only ready
// clients, so this is the only way to reach its service and message types.
//
// The CommonJS exports of @connectrpc/connect are non-configurable getters, so the function
// cannot be replaced in place: instead the bundle's own `require("@connectrpc/connect")` is
// answered with an object that inherits everything from the real module but overrides
// createPromiseClient. Only the SDK bundle sees that object.

const Module = require("node:module");

const SDK = "@depot/sdk-node";
const CONNECT = "@connectrpc/connect";

let loaded;

function exportedClients(node, path, out) {
  for (const [key, value] of Object.entries(node)) {
    const here = [...path, key];
    if (value && typeof value === "object" && !Object.values(value).some((v) => typeof v === "function")) {
      exportedClients(value, here, out);
    } else {
      out.push(here.join("."));
    }
  }
  return out;
}

/**
 * Loads the SDK once. Returns {depot, services, sdkVersion}: `depot` is the SDK's export (ready
 * clients on the transport it built from DEPOT_API_URL at load time), `services` the captured
 * ServiceType objects in the order the bundle created them.
 */
function loadSdk() {
  if (loaded) return loaded;
  const sdkPath = require.resolve(SDK);
  if (require.cache[sdkPath]) {
    throw new Error(`${SDK} was loaded before sdk_capture could intercept createPromiseClient`);
  }
  const realConnect = require(CONNECT);
  const services = [];
  const connectForSdk = Object.create(realConnect, {
    createPromiseClient: {
      value(service, transport) {
        services.push(service);
        return realConnect.createPromiseClient(service, transport);
      },
    },
  });
  const originalRequire = Module.prototype.require;
  Module.prototype.require = function requireForSdk(id) {
    if (id === CONNECT && this.filename === sdkPath) return connectForSdk;
    return originalRequire.apply(this, arguments);
  };
  let sdk;
  try {
    sdk = require(SDK);
  } finally {
    Module.prototype.require = originalRequire;
  }
  const clients = exportedClients(sdk.depot, [], []);
  if (services.length === 0 || services.length !== clients.length) {
    throw new Error(
      `captured ${services.length} service definitions but the SDK exports ${clients.length} clients ` +
        `(${clients.join(", ")}): the bundle no longer builds its clients through createPromiseClient`,
    );
  }
  const sdkVersion = require(`${SDK}/package.json`).version;
  loaded = { depot: sdk.depot, services, sdkVersion };
  return loaded;
}

/**
 * Every message type and enum type reachable from the services' method inputs and outputs
 * through MessageType.fields, as two Maps keyed by full name.
 */
function reachableTypes(services) {
  const messages = new Map();
  const enums = new Map();
  const visitMessage = (type) => {
    if (messages.has(type.typeName)) return;
    messages.set(type.typeName, type);
    for (const field of type.fields.list()) {
      const target = field.kind === "map" ? field.V : field;
      if (target.kind === "message") visitMessage(target.T);
      if (target.kind === "enum") enums.set(target.T.typeName, target.T);
    }
  };
  for (const service of services) {
    for (const method of Object.values(service.methods)) {
      visitMessage(method.I);
      visitMessage(method.O);
    }
  }
  return { messages, enums };
}

module.exports = { loadSdk, reachableTypes };
