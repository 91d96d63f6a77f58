"use strict";
// Recording harness for the rendered post-login Action.
//
//   node run_action.js RENDERED_CODE.js < job.json > result.json
//
// Loads the rendered code, runs exports.onExecutePostLogin once with an `event` and an `api`
// faithful to Auth0's (deny, setAppMetadata collected, api.cache with Auth0's limits), and a
// global `fetch` stub that answers Stigg's GraphQL and Auth0's token and organization
// endpoints from the job's state, injects faults and latency, and records every call with
// its start and end. Round trips: calls that overlap in time count as one; the result gives
// each call the length of the longest chain of calls that had ended before it started.
//
// Job (JSON): now_ms, event, cache {key: {value, expires_at}}, latency_ms,
//   faults {operation: {kind: "timeout"|"http"|"graphql"|"network"|"customer_not_found",
//     status?, code?, message?, calls?: [1-based calls of the operation it applies to; all]}},
//   stigg {url, api_key, feature_id, customers [ids], entitlement {...} | null,
//     unknown_customer?: "graphql_error" (default) | "access_denied"},
//   auth0 {base_url, audience, client_id, client_secret, access_token, expires_in}.
// An entitlement query for a customer Stigg does not have is answered with a GraphQL error
// CustomerNotFound, or (unknown_customer "access_denied") as Stigg's SDKs and the sandbox say
// it: isGranted false, accessDeniedReason CustomerNotFound. The fault "customer_not_found"
// answers so even for an existing customer (as if it was created in between).

const fs = require("node:fs");
const path = require("node:path");

const CACHE_MAX_ENTRIES = 20;
const CACHE_MAX_KEY_BYTES = 64;
const CACHE_MAX_VALUE_BYTES = 4096;
const CACHE_MAX_TOTAL_BYTES = 8192;
const CACHE_DEFAULT_TTL_MS = 15 * 60000;
const CACHE_MAX_TTL_MS = 24 * 3600000;

async function main() {
  const job = JSON.parse(fs.readFileSync(0, "utf8"));
  const codePath = path.resolve(process.argv[2]);
  Date.now = () => job.now_ms; // the login's time; budgets use performance.now()

  const recorder = new Recorder(job);
  globalThis.fetch = (url, init) => recorder.fetch(String(url), init || {});
  const logs = [];
  console.log = (...args) => logs.push(args.map(String).join(" "));

  const cache = new ActionCache(job.cache || {}, job.now_ms);
  const denials = [];
  const appMetadataWrites = [];
  const api = {
    access: {
      deny(reason) {
        denials.push(reason);
        return api;
      },
    },
    user: {
      setAppMetadata(key, value) {
        appMetadataWrites.push([key, value === undefined ? null : value]);
        return api;
      },
      setUserMetadata() {
        throw new Error("the Action must not write user_metadata");
      },
    },
    cache: cache.api(),
  };

  let error = null;
  // AbortSignal.timeout's timer does not keep Node alive; a real socket would, the stub's
  // hanging answer does not: hold the event loop open while the Action runs.
  const keepAlive = setInterval(() => {}, 60000);
  const started = performance.now();
  try {
    const action = require(codePath);
    await action.onExecutePostLogin(structuredClone(job.event), api);
  } catch (err) {
    error = `${err && err.name}: ${err && err.message}`;
  }
  const wallMs = performance.now() - started;
  clearInterval(keepAlive);

  const appMetadata = {};
  for (const [key, value] of appMetadataWrites) appMetadata[key] = value;
  process.stdout.write(
    JSON.stringify({
      error,
      verdict: denials.length ? "deny" : "allow",
      deny_messages: denials,
      logs,
      app_metadata: appMetadata,
      app_metadata_writes: appMetadataWrites,
      calls: recorder.finishedCalls(),
      round_trips: recorder.roundTrips(),
      wall_ms: wallMs,
      cache: cache.entries,
      cache_operations: cache.operations,
      stigg_customers: [...recorder.customers],
    }),
  );
}

class Recorder {
  constructor(job) {
    this.job = job;
    this.sequence = 0; // logical clock: start and end of every call, in order
    this.calls = [];
    this.callsPerOperation = {};
    this.customers = new Set(job.stigg.customers || []);
  }

  async fetch(url, init) {
    const call = {
      operation: "unknown",
      method: (init.method || "GET").toUpperCase(),
      url,
      headers: lowerCaseKeys(init.headers || {}),
      request: parseJson(init.body),
      start: ++this.sequence,
      end: null,
      status: null,
      outcome: null,
    };
    call.operation = this.operationOf(call);
    this.calls.push(call);
    const nth = (this.callsPerOperation[call.operation] || 0) + 1;
    this.callsPerOperation[call.operation] = nth;
    try {
      const fault = faultFor((this.job.faults || {})[call.operation], nth);
      if (fault && fault.kind === "timeout") await waitForAbort(init.signal);
      await delay(this.job.latency_ms || 0, init.signal);
      if (fault && fault.kind === "network") throw new TypeError("fetch failed");
      const [status, body] = fault ? this.faultAnswer(fault, call) : this.answer(call);
      call.status = status;
      call.outcome = "answered";
      call.response = body;
      return new Response(JSON.stringify(body), {
        status,
        headers: { "content-type": "application/json" },
      });
    } catch (err) {
      call.outcome = err.name;
      throw err;
    } finally {
      call.end = ++this.sequence;
    }
  }

  operationOf(call) {
    const { stigg, auth0 } = this.job;
    if (call.url === stigg.url && call.method === "POST") {
      const query = (call.request && call.request.query) || "";
      for (const field of ["provisionCustomer", "entitlement", "reportEvent"]) {
        if (new RegExp(`\\b${field}\\s*\\(`).test(query)) return `stigg.${field}`;
      }
      return "stigg.unknown";
    }
    if (call.url === `${auth0.base_url}/oauth/token` && call.method === "POST") {
      return "auth0.oauthToken";
    }
    if (call.url.startsWith(`${auth0.base_url}/api/v2/organizations/`) && call.method === "PATCH") {
      return "auth0.updateOrganization";
    }
    return "unknown";
  }

  answer(call) {
    const { stigg, auth0 } = this.job;
    if (call.operation.startsWith("stigg.")) {
      if (call.headers["x-api-key"] !== stigg.api_key) return [401, { errors: [{ message: "Unauthorized" }] }];
      return [200, this.stiggAnswer(call.operation, call.request.variables || {})];
    }
    if (call.operation === "auth0.oauthToken") {
      const body = call.request || {};
      if (body.client_id !== auth0.client_id || body.client_secret !== auth0.client_secret) {
        return [401, { error: "access_denied", error_description: "Unauthorized" }];
      }
      if (body.grant_type !== "client_credentials" || body.audience !== auth0.audience) {
        return [400, { error: "invalid_request", error_description: "bad grant or audience" }];
      }
      return [200, { access_token: auth0.access_token, token_type: "Bearer", expires_in: auth0.expires_in }];
    }
    if (call.operation === "auth0.updateOrganization") {
      if (call.headers.authorization !== `Bearer ${auth0.access_token}`) {
        return [401, { statusCode: 401, error: "Unauthorized", message: "Invalid token" }];
      }
      const id = decodeURIComponent(call.url.slice(`${auth0.base_url}/api/v2/organizations/`.length));
      return [200, { id, name: id, metadata: (call.request || {}).metadata }];
    }
    return [404, { statusCode: 404, error: "Not Found", message: "no such endpoint in the harness" }];
  }

  stiggAnswer(operation, variables) {
    const { stigg } = this.job;
    if (operation === "stigg.provisionCustomer") {
      const id = variables.input && variables.input.customerId;
      if (this.customers.has(id)) {
        return {
          data: null,
          errors: [{ message: "Duplicated entity not allowed", extensions: { code: "DuplicatedEntityNotAllowed" } }],
        };
      }
      this.customers.add(id);
      return { data: { provisionCustomer: { customer: { customerId: id } } } };
    }
    if (operation === "stigg.entitlement") {
      const query = variables.query || {};
      if (!this.customers.has(query.customerId)) return this.unknownCustomerAnswer(query);
      if (query.featureId !== stigg.feature_id || !stigg.entitlement) {
        return { data: null, errors: [{ message: "Feature not found", extensions: { code: "FeatureNotFound" } }] };
      }
      const requestedUsage = query.options && query.options.requestedUsage;
      return { data: { entitlement: { ...stigg.entitlement, requestedUsage } } };
    }
    if (operation === "stigg.reportEvent") return { data: { reportEvent: null } };
    return { data: null, errors: [{ message: "Unknown operation" }] };
  }

  unknownCustomerAnswer(query) {
    if (this.job.stigg.unknown_customer === "access_denied") {
      const entitlement = {
        isGranted: false,
        accessDeniedReason: "CustomerNotFound",
        hasUnlimitedUsage: false,
        hasSoftLimit: false,
        usageLimit: null,
        currentUsage: 0,
        resetPeriod: null,
        usagePeriodAnchor: null,
        usagePeriodStart: null,
        usagePeriodEnd: null,
        requestedUsage: query.options && query.options.requestedUsage,
      };
      return { data: { entitlement } };
    }
    return { data: null, errors: [{ message: "Customer not found", extensions: { code: "CustomerNotFound" } }] };
  }

  faultAnswer(fault, call) {
    if (fault.kind === "customer_not_found") {
      return [200, this.unknownCustomerAnswer((call.request.variables || {}).query || {})];
    }
    return faultAnswer(fault);
  }

  finishedCalls() {
    const finished = [...this.calls].sort((a, b) => a.start - b.start);
    for (const call of finished) {
      const before = finished.filter((other) => other.end !== null && other.end < call.start);
      call.round_trip = 1 + Math.max(0, ...before.map((other) => other.round_trip));
    }
    return finished;
  }

  roundTrips() {
    return Math.max(0, ...this.calls.map((call) => call.round_trip || 0));
  }
}

function faultFor(fault, nth) {
  if (!fault) return null;
  return !fault.calls || fault.calls.includes(nth) ? fault : null;
}

function faultAnswer(fault) {
  if (fault.kind === "http") {
    return [fault.status || 503, { errors: [{ message: fault.message || "Service Unavailable" }] }];
  }
  if (fault.kind === "graphql") {
    const error = { message: fault.message || "Internal error", extensions: { code: fault.code || "InternalError" } };
    return [200, { data: null, errors: [error] }];
  }
  throw new Error(`unknown fault kind ${fault.kind}`);
}

// api.cache with Auth0's limits: keys <= 64 bytes, string values <= 4 KB, 20 entries, 8 KB
// in all, lifetime 15 min by default and at most 24 h.
class ActionCache {
  constructor(initial, now) {
    this.now = now;
    this.entries = {};
    this.operations = [];
    for (const [key, entry] of Object.entries(initial)) {
      this.entries[key] = { value: entry.value, expires_at: entry.expires_at || now + CACHE_DEFAULT_TTL_MS };
    }
  }

  api() {
    return {
      get: (key) => {
        this.operations.push(["get", key]);
        const entry = this.entries[key];
        return entry && entry.expires_at > this.now ? { ...entry } : undefined;
      },
      set: (key, value, options) => {
        this.operations.push(["set", key, options || null]);
        return this.set(key, value, options || {});
      },
      delete: (key) => {
        this.operations.push(["delete", key]);
        delete this.entries[key];
        return { type: "success" };
      },
    };
  }

  set(key, value, options) {
    if (Buffer.byteLength(key) > CACHE_MAX_KEY_BYTES) return { type: "error", code: "KEY_TOO_LONG" };
    if (typeof value !== "string") return { type: "error", code: "INVALID_VALUE" };
    if (Buffer.byteLength(value) > CACHE_MAX_VALUE_BYTES) return { type: "error", code: "VALUE_TOO_LARGE" };
    const others = Object.entries(this.entries).filter(([other]) => other !== key);
    if (others.length >= CACHE_MAX_ENTRIES) return { type: "error", code: "TOO_MANY_ENTRIES" };
    const total = others.reduce((sum, [k, e]) => sum + Buffer.byteLength(k) + Buffer.byteLength(e.value), 0);
    if (total + Buffer.byteLength(key) + Buffer.byteLength(value) > CACHE_MAX_TOTAL_BYTES) {
      return { type: "error", code: "CACHE_FULL" };
    }
    let lifetime = CACHE_DEFAULT_TTL_MS;
    if (typeof options.ttl === "number") lifetime = options.ttl;
    if (typeof options.expires_at === "number") lifetime = options.expires_at - this.now;
    this.entries[key] = { value, expires_at: this.now + Math.min(lifetime, CACHE_MAX_TTL_MS) };
    return { type: "success" };
  }
}

function waitForAbort(signal) {
  return new Promise((_, reject) => {
    if (!signal) return; // no timeout given: hangs, as a dead server would
    if (signal.aborted) return reject(signal.reason);
    signal.addEventListener("abort", () => reject(signal.reason), { once: true });
  });
}

function delay(ms, signal) {
  if (!ms) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          reject(signal.reason);
        },
        { once: true },
      );
    }
  });
}

function parseJson(body) {
  if (typeof body !== "string") return null;
  try {
    return JSON.parse(body);
  } catch (_) {
    return null;
  }
}

function lowerCaseKeys(headers) {
  const out = {};
  for (const [key, value] of Object.entries(headers)) out[key.toLowerCase()] = value;
  return out;
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack}\n`);
  process.exit(2);
});
