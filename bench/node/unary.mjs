// Unary latency and throughput of the official Depot Node SDK (@depot/sdk-node) against a
// Depot API server, typically the local emulator:
//
//   node bench/node/unary.mjs --url http://127.0.0.1:PORT --token T --project-id P \
//        [--calls 2000] [--concurrency 64] [--concurrent-calls N] [--warmup 50]
//
// Makes --warmup unmeasured calls, then --calls sequential ProjectService.GetProject calls,
// then --concurrent-calls (default: --calls) more with --concurrency in flight, all on the
// SDK's own client: the transport it builds at import time from DEPOT_API_URL (HTTP/2, h2c on
// http:// URLs). Prints one JSON object on stdout:
//   {"client", "sdk_version", "node_version",
//    "sequential": STATS, "concurrent": STATS}
//   STATS = {"calls", "in_flight", "median_us", "p90_us", "p99_us", "mean_us", "min_us",
//            "max_us", "wall_s", "throughput_rps"}
// Exits 1 (message on stderr) on bad arguments or on any failed call or wrong reply. The
// token is sent only in the Authorization header, never printed.

import { createRequire } from "node:module";
import { parseArgs } from "node:util";

function fail(message) {
  process.stderr.write(`unary.mjs: ${message}\n`);
  process.exit(1);
}

function count(options, name, fallback, min = 1) {
  const raw = options[name] ?? fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min) fail(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        url: { type: "string" },
        token: { type: "string" },
        "project-id": { type: "string" },
        calls: { type: "string" },
        concurrency: { type: "string" },
        "concurrent-calls": { type: "string" },
        warmup: { type: "string" },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail(err.message);
  }
  for (const name of ["url", "token", "project-id"]) {
    if (!parsed[name]) fail(`--${name} is required`);
  }
  let url;
  try {
    url = new URL(parsed.url);
  } catch {
    fail(`--url is not a URL: ${JSON.stringify(parsed.url)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`--url must be http:// or https://, got ${url.protocol}`);
  const calls = count(parsed, "calls", "2000");
  return {
    url: parsed.url.replace(/\/+$/, ""),
    token: parsed.token,
    projectId: parsed["project-id"],
    calls,
    concurrency: count(parsed, "concurrency", "64"),
    concurrentCalls: count(parsed, "concurrent-calls", String(calls)),
    warmup: count(parsed, "warmup", "50", 0),
  };
}

function percentile(sorted, p) {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

function stats(latenciesUs, wallNs, inFlight) {
  const sorted = Float64Array.from(latenciesUs).sort();
  const wallS = Number(wallNs) / 1e9;
  const round = (x) => Math.round(x * 10) / 10;
  return {
    calls: sorted.length,
    in_flight: inFlight,
    median_us: round(percentile(sorted, 50)),
    p90_us: round(percentile(sorted, 90)),
    p99_us: round(percentile(sorted, 99)),
    mean_us: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
    min_us: round(sorted[0]),
    max_us: round(sorted[sorted.length - 1]),
    wall_s: Math.round(wallS * 1e6) / 1e6,
    throughput_rps: round(sorted.length / wallS),
  };
}

async function main() {
  const options = parseOptions();
  // The SDK reads DEPOT_API_URL once, when it is imported.
  process.env.DEPOT_API_URL = options.url;
  const { depot } = await import("@depot/sdk-node");
  const sdkVersion = createRequire(import.meta.url)("@depot/sdk-node/package.json").version;
  const projects = depot.core.v1.ProjectService;
  const callOptions = { headers: { Authorization: `Bearer ${options.token}` } };

  const timedCall = async () => {
    const start = process.hrtime.bigint();
    const reply = await projects.getProject({ projectId: options.projectId }, callOptions);
    const elapsedUs = Number(process.hrtime.bigint() - start) / 1000;
    if (reply.project?.projectId !== options.projectId) {
      throw new Error(`GetProject returned project ${JSON.stringify(reply.project?.projectId)}, not the one asked for`);
    }
    return elapsedUs;
  };

  for (let i = 0; i < options.warmup; i++) await timedCall();

  const sequential = [];
  let start = process.hrtime.bigint();
  for (let i = 0; i < options.calls; i++) sequential.push(await timedCall());
  const sequentialWall = process.hrtime.bigint() - start;

  const concurrent = [];
  let issued = 0;
  const worker = async () => {
    while (issued < options.concurrentCalls) {
      issued++;
      concurrent.push(await timedCall());
    }
  };
  const inFlight = Math.min(options.concurrency, options.concurrentCalls);
  start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const concurrentWall = process.hrtime.bigint() - start;

  const result = {
    client: "@depot/sdk-node",
    sdk_version: sdkVersion,
    node_version: process.version,
    sequential: stats(sequential, sequentialWall, 1),
    concurrent: stats(concurrent, concurrentWall, inFlight),
  };
  // The SDK's HTTP/2 session would keep the process alive for its idle timeout.
  process.stdout.write(JSON.stringify(result) + "\n", () => process.exit(0));
}

main().catch((err) => fail(`call failed: ${err && err.message ? err.message : err}`));
