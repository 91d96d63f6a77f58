'use strict';
// Runs Auth0 post-login actions the way Auth0's Node runtime does, for the stiggctl sandbox.
//
// Input: one JSON document on stdin (see runner.py). Output: one message per line on stdout,
// each line starting with the run's nonce, so that nothing an action prints (or a process it
// starts) can pass for a result. Messages are written synchronously as things happen, so a
// run killed at its deadline still reports everything up to that moment.
//
// Only what Node 20 has: the deployed action runs on Auth0's node22, the sandbox on any 20+.

const fs = require('node:fs');
const vm = require('node:vm');
const { Console } = require('node:console');
const { Writable } = require('node:stream');
const { isBuiltin } = require('node:module');
const { performance } = require('node:perf_hooks');
const util = require('node:util');
const crypto = require('node:crypto');

const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const NONCE = input.nonce;
const realFetch = globalThis.fetch;
const RealDate = Date;
// The actions share this realm: keep our own references to what the result channel uses,
// so an action that replaces a global cannot garble the results.
const stringify = JSON.stringify;
const parse = JSON.parse;
const writeSync = fs.writeSync;
const toBytes = Buffer.from.bind(Buffer);

// Sandbox limits of the api.cache (Auth0's documented limits), mirrored in cache.py.
const CACHE_KEY_MAX_BYTES = 64;
const CACHE_VALUE_MAX_BYTES = 4096;
const CACHE_TOTAL_MAX_BYTES = 8192;
const CACHE_MAX_ENTRIES = 20;
const CACHE_DEFAULT_TTL_MS = 15 * 60 * 1000;
const CACHE_MAX_TTL_MS = 24 * 60 * 60 * 1000;

// The sandbox keeps full console lines (Auth0 keeps 256 characters per action); this cap
// only protects the sandbox from an action printing in a loop.
const CONSOLE_MAX_CHARS = 64 * 1024;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function writeAll(text) {
  const bytes = toBytes(text, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (err) {
      // stdout may be a non-blocking pipe: wait for the reader instead of losing a message.
      if (err.code !== 'EAGAIN') throw err;
      Atomics.wait(sleepCell, 0, 0, 1);
    }
  }
}

function emit(message) {
  writeAll(`${NONCE}${stringify(message)}\n`);
}

function jsonSafe(value) {
  if (value === undefined) return null;
  try {
    const text = stringify(value);
    return text === undefined ? null : parse(text);
  } catch {
    return util.inspect(value, { depth: 4, breakLength: Infinity });
  }
}

function elapsedMs(since) {
  return Math.round((performance.now() - since) * 10) / 10;
}

// Time in the actions follows the sandbox clock (which tests freeze and `stiggctl sandbox`
// can move forward), advancing in real time from the moment the run started.
function installSandboxDate(startMs) {
  const startedAt = performance.now();
  const now = () => Math.floor(startMs + (performance.now() - startedAt));
  function SandboxDate(...args) {
    if (!new.target) return new RealDate(now()).toString();
    return Reflect.construct(RealDate, args.length ? args : [now()], new.target);
  }
  Object.setPrototypeOf(SandboxDate, RealDate);
  SandboxDate.prototype = RealDate.prototype;
  SandboxDate.now = now;
  globalThis.Date = SandboxDate;
}

// A view of the trigger's cache for one run. The answers follow the same rules as
// ActionCache in cache.py; every change is also reported so Python can apply it to the
// shared cache (which other logins may have changed meanwhile).
class CacheView {
  constructor(entries, nowMs) {
    this.entries = new Map(Object.entries(entries || {}));
    this.nowMs = nowMs;
  }

  purge() {
    for (const [key, record] of this.entries) {
      if (record.expires_at <= this.nowMs) this.entries.delete(key);
    }
  }

  get(key) {
    this.purge();
    const record = this.entries.get(String(key));
    return record ? { value: record.value, expires_at: record.expires_at } : undefined;
  }

  expiry(options) {
    const { ttl, expires_at: expiresAt } = options || {};
    const candidates = [];
    if (ttl !== undefined && ttl !== null) {
      if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl < 0) return null;
      candidates.push(this.nowMs + ttl);
    }
    if (expiresAt !== undefined && expiresAt !== null) {
      if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) return null;
      candidates.push(expiresAt);
    }
    if (candidates.length === 0) candidates.push(this.nowMs + CACHE_DEFAULT_TTL_MS);
    return Math.floor(Math.min(...candidates, this.nowMs + CACHE_MAX_TTL_MS));
  }

  set(key, value, options) {
    key = String(key);
    if (typeof value !== 'string') return { type: 'error', code: 'FailedToSetCacheRecord' };
    const keyBytes = Buffer.byteLength(key, 'utf8');
    const valueBytes = Buffer.byteLength(value, 'utf8');
    if (keyBytes > CACHE_KEY_MAX_BYTES) return { type: 'error', code: 'CacheKeySizeExceeded' };
    if (valueBytes > CACHE_VALUE_MAX_BYTES) {
      return { type: 'error', code: 'CacheValueSizeExceeded' };
    }
    const expiresAt = this.expiry(options);
    if (expiresAt === null) return { type: 'error', code: 'InvalidExpiry' };
    if (expiresAt <= this.nowMs) return { type: 'error', code: 'ItemAlreadyExpired' };
    this.purge();
    let otherBytes = 0;
    for (const [otherKey, record] of this.entries) {
      if (otherKey !== key) {
        otherBytes += Buffer.byteLength(otherKey, 'utf8') + Buffer.byteLength(record.value, 'utf8');
      }
    }
    const isNew = !this.entries.has(key);
    if (
      (isNew && this.entries.size >= CACHE_MAX_ENTRIES) ||
      otherBytes + keyBytes + valueBytes > CACHE_TOTAL_MAX_BYTES
    ) {
      return { type: 'error', code: 'CacheSizeExceeded' };
    }
    this.entries.set(key, { value, expires_at: expiresAt });
    emit({ t: 'cache', op: 'set', key, value, expires_at: expiresAt });
    return { type: 'success', record: { value, expires_at: expiresAt } };
  }

  delete(key) {
    key = String(key);
    this.purge();
    if (!this.entries.has(key)) return { type: 'error', code: 'CacheKeyDoesNotExist' };
    this.entries.delete(key);
    emit({ t: 'cache', op: 'delete', key });
    return { type: 'success' };
  }
}

function base64url(data) {
  return Buffer.from(data).toString('base64url');
}

function makeApi(index, state, cache, event) {
  const api = {};
  // A call made after the handler finished (by work it left running) is reported as late
  // and has no effect on the login.
  const record = (method, args, result) => {
    const message = { t: 'api', i: index, method, args: args.map(jsonSafe) };
    if (result !== undefined) message.result = result;
    if (state.closed) message.late = true;
    emit(message);
  };
  // Calls the sandbox cannot carry out (MFA, redirects, sessions) are recorded and return
  // `api` for chaining, as Auth0's do.
  const recorded = (method) => (...args) => {
    record(method, args);
    return api;
  };
  const setMetadata = (method, kind) => (key, value) => {
    record(method, [String(key), value]);
    state.metadata.push([kind, String(key), jsonSafe(value)]);
    return api;
  };
  api.access = {
    deny(reason) {
      record('access.deny', [reason]);
      if (state.denyReason === null) state.denyReason = String(reason);
      return api;
    },
  };
  api.accessToken = {
    setCustomClaim: recorded('accessToken.setCustomClaim'),
    addScope: recorded('accessToken.addScope'),
    removeScope: recorded('accessToken.removeScope'),
  };
  api.idToken = { setCustomClaim: recorded('idToken.setCustomClaim') };
  api.user = {
    setAppMetadata: setMetadata('user.setAppMetadata', 'app_metadata'),
    setUserMetadata: setMetadata('user.setUserMetadata', 'user_metadata'),
  };
  api.cache = {
    get(key) {
      const found = cache.get(key);
      record('cache.get', [key], found ? 'hit' : 'miss');
      return found;
    },
    set(key, value, options) {
      const result = cache.set(key, value, options);
      // Never the value: actions cache credentials (the Management API token) here.
      record('cache.set', [key], result.type === 'success' ? 'success' : result.code);
      return result;
    },
    delete(key) {
      const result = cache.delete(key);
      record('cache.delete', [key], result.type === 'success' ? 'success' : result.code);
      return result;
    },
  };
  api.redirect = {
    sendUserTo: recorded('redirect.sendUserTo'),
    encodeToken({ secret, payload = {}, expiresInSeconds = 900 } = {}) {
      record('redirect.encodeToken', [{ payload, expiresInSeconds }]);
      const issuedAt = Math.floor(Date.now() / 1000);
      const claims = {
        ...payload,
        iss: event.request?.hostname,
        sub: event.user?.user_id,
        iat: issuedAt,
        exp: issuedAt + expiresInSeconds,
      };
      const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
      const body = base64url(JSON.stringify(claims));
      const signature = crypto
        .createHmac('sha256', String(secret))
        .update(`${header}.${body}`)
        .digest('base64url');
      return `${header}.${body}.${signature}`;
    },
    validateToken() {
      throw new Error('api.redirect.validateToken is only available in onContinuePostLogin');
    },
  };
  api.multifactor = { enable: recorded('multifactor.enable') };
  api.authentication = {
    challengeWith: recorded('authentication.challengeWith'),
    challengeWithAny: recorded('authentication.challengeWithAny'),
    enrollWith: recorded('authentication.enrollWith'),
    enrollWithAny: recorded('authentication.enrollWithAny'),
    recordMethod: recorded('authentication.recordMethod'),
    setPrimaryUser: recorded('authentication.setPrimaryUser'),
  };
  api.samlResponse = { setAttribute: recorded('samlResponse.setAttribute') };
  api.session = { revoke: recorded('session.revoke') };
  api.refreshToken = { revoke: recorded('refreshToken.revoke') };
  api.prompt = { render: recorded('prompt.render') };
  api.rules = {
    wasExecuted(ruleId) {
      record('rules.wasExecuted', [ruleId]);
      return false;
    },
  };
  return api;
}

// A stream for the action's Console: each write (one console call) becomes one line.
function makeConsoleSink(index) {
  let kept = 0;
  let dropped = false;
  return new Writable({
    decodeStrings: false,
    write(chunk, encoding, done) {
      const text = String(chunk).replace(/\n$/, '');
      if (!dropped) {
        kept += text.length;
        dropped = kept > CONSOLE_MAX_CHARS;
        const line = dropped ? '[console output beyond this point dropped]' : text;
        emit({ t: 'log', i: index, line });
      }
      done();
    },
  });
}

function makeFetch(index) {
  let calls = 0;
  return async function fetch(resource, init) {
    const call = calls++;
    const isRequest = typeof Request !== 'undefined' && resource instanceof Request;
    const url = isRequest ? resource.url : String(resource instanceof URL ? resource.href : resource);
    const method = String(init?.method ?? (isRequest ? resource.method : 'GET')).toUpperCase();
    emit({ t: 'http', i: index, call, method, url });
    const startedAt = performance.now();
    try {
      const response = await realFetch(resource, init);
      emit({ t: 'http_end', i: index, call, status: response.status, ms: elapsedMs(startedAt) });
      return response;
    } catch (err) {
      emit({ t: 'http_end', i: index, call, error: describeFetchError(err), ms: elapsedMs(startedAt) });
      throw err;
    }
  };
}

function describeFetchError(err) {
  const cause = err?.cause;
  const detail = cause ? ` (${cause.code || cause.name || 'cause'}: ${cause.message})` : '';
  return `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}${detail}`;
}

function actionFilename(name, index) {
  const safe = String(name).replace(/[^A-Za-z0-9._-]+/g, '_') || `action-${index + 1}`;
  return `${safe}.js`;
}

function describeError(err, filename) {
  if (!(err instanceof Error)) return `Uncaught ${util.inspect(err, { breakLength: Infinity })}`;
  const text = `${err.name}: ${err.message}`;
  const stack = String(err.stack || '');
  if (err instanceof SyntaxError && stack.startsWith(`${filename}:`)) {
    const line = stack.slice(filename.length + 1).match(/^(\d+)/);
    if (line) return `${text} (line ${line[1]})`;
  }
  const escaped = filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const frame = stack.match(new RegExp(`${escaped}:(\\d+):(\\d+)`));
  return frame ? `${text} (line ${frame[1]}, column ${frame[2]})` : text;
}

function actionRequire(name) {
  if (typeof name === 'string' && isBuiltin(name)) return require(name);
  const err = new Error(
    `Cannot find module '${name}': actions in the sandbox can require Node.js built-in modules only`,
  );
  err.code = 'MODULE_NOT_FOUND';
  throw err;
}

// Compiles and evaluates an action's module in a scope of its own; returns its exports.
function loadModule(code, filename, consoleObject, fetchFunction) {
  const factory = vm.compileFunction(
    code,
    ['exports', 'require', 'module', '__filename', '__dirname', 'console', 'fetch'],
    { filename },
  );
  const module = { exports: {} };
  factory.call(
    module.exports,
    module.exports,
    actionRequire,
    module,
    `/action/${filename}`,
    '/action',
    consoleObject,
    fetchFunction,
  );
  return module.exports;
}

function describeMissingHandler(exported) {
  const handler = exported?.onExecutePostLogin;
  if (handler === undefined) {
    return (
      'The code does not export an onExecutePostLogin function ' +
      '(exports.onExecutePostLogin = async (event, api) => { ... })'
    );
  }
  return `exports.onExecutePostLogin is ${handler === null ? 'null' : `a ${typeof handler}`}, not a function`;
}

// Errors thrown outside the handler's promise chain (a timer, an unhandled rejection) fail
// the action that is running, as they would crash Auth0's execution of it.
let failRunningAction = null;
function onStrayError(err) {
  if (failRunningAction) failRunningAction(err);
}
process.on('uncaughtException', onStrayError);
process.on('unhandledRejection', onStrayError);

let currentSink = null;
function interceptStream(stream) {
  stream.write = (chunk, encoding, callback) => {
    if (currentSink) currentSink.write(String(chunk));
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
}

async function runAction(index, spec, baseEvent, cache) {
  const filename = actionFilename(spec.name, index);
  const sink = makeConsoleSink(index);
  const actionConsole = new Console({ stdout: sink, stderr: sink, colorMode: false });
  const actionFetch = makeFetch(index);
  currentSink = sink;
  globalThis.fetch = actionFetch;
  const state = { denyReason: null, metadata: [], closed: false };
  const startedAt = performance.now();
  const strayError = new Promise((_, reject) => {
    failRunningAction = reject;
  });
  strayError.catch(() => {});
  let outcome;
  let keepAlive;
  try {
    const exported = loadModule(spec.code, filename, actionConsole, actionFetch);
    if (typeof exported?.onExecutePostLogin !== 'function') {
      throw new Error(describeMissingHandler(exported));
    }
    const event = structuredClone(baseEvent);
    event.secrets = { ...(spec.secrets || {}) };
    const api = makeApi(index, state, cache, event);
    // Node would exit once nothing is left to do, even with the handler's promise pending;
    // Auth0 waits for it until the deadline, so keep the process alive meanwhile.
    keepAlive = setInterval(() => {}, 60_000);
    await Promise.race([exported.onExecutePostLogin(event, api), strayError]);
    // One turn of the event loop, so a rejection the action left unhandled is its own.
    await Promise.race([new Promise((resolve) => setImmediate(resolve)), strayError]);
    outcome = state.denyReason === null
      ? { status: 'ok' }
      : { status: 'denied', deny_reason: state.denyReason };
  } catch (err) {
    outcome = { status: 'error', error: describeError(err, filename) };
  }
  clearInterval(keepAlive);
  state.closed = true;
  failRunningAction = null;
  if (outcome.status !== 'error') applyMetadata(baseEvent, state.metadata);
  emit({ t: 'end', i: index, ms: elapsedMs(startedAt), ...outcome });
  return outcome.status;
}

// Later actions see the metadata that earlier ones set, as in Auth0.
function applyMetadata(event, updates) {
  if (updates.length === 0) return;
  event.user = event.user || {};
  for (const [kind, key, value] of updates) {
    const metadata = (event.user[kind] = event.user[kind] || {});
    if (value === null) delete metadata[key];
    else metadata[key] = value;
  }
}

async function runLogin() {
  installSandboxDate(input.now_ms);
  const cache = new CacheView(input.cache, input.now_ms);
  const baseEvent = input.event || {};
  for (let index = 0; index < input.actions.length; index++) {
    emit({ t: 'start', i: index });
    const status = await runAction(index, input.actions[index], baseEvent, cache);
    if (status !== 'ok') break;
  }
  emit({ t: 'done' });
}

// The build check evaluates the module's top-level code, so it must not reach the network.
function blockNetwork() {
  // A plain function, so that `new Worker(...)` meets the same refusal.
  function refuse() {
    throw new Error('Network access is not allowed while the code is being checked');
  }
  globalThis.fetch = async () => refuse();
  require('node:net').Socket.prototype.connect = refuse;
  const dgram = require('node:dgram');
  dgram.Socket.prototype.send = refuse;
  dgram.Socket.prototype.connect = refuse;
  const dns = require('node:dns');
  for (const target of [dns, dns.promises, dns.Resolver.prototype, dns.promises.Resolver.prototype]) {
    for (const name of Object.getOwnPropertyNames(target)) {
      if (/^(lookup|resolve|reverse)/.test(name) && typeof target[name] === 'function') {
        target[name] = refuse;
      }
    }
  }
  // Another process or thread would not see these patches: refuse to start one.
  const childProcess = require('node:child_process');
  for (const name of Object.keys(childProcess)) {
    if (typeof childProcess[name] === 'function' && name !== 'ChildProcess') {
      childProcess[name] = refuse;
    }
  }
  childProcess.ChildProcess.prototype.spawn = refuse;
  require('node:worker_threads').Worker = refuse;
}

function checkCode() {
  blockNetwork();
  const filename = 'action.js';
  const sink = new Writable({ write: (chunk, encoding, done) => done() });
  currentSink = sink;
  const errors = [];
  try {
    const exported = loadModule(
      input.code,
      filename,
      new Console({ stdout: sink, stderr: sink }),
      globalThis.fetch,
    );
    if (typeof exported?.onExecutePostLogin !== 'function') {
      errors.push(describeMissingHandler(exported));
    }
  } catch (err) {
    const text = describeError(err, filename);
    errors.push(err instanceof SyntaxError ? text : `The module's top-level code failed: ${text}`);
  }
  emit({ t: 'check', errors });
}

interceptStream(process.stdout);
interceptStream(process.stderr);
emit({ t: 'ready' });

(input.mode === 'check' ? Promise.resolve().then(checkCode) : runLogin())
  .catch((err) => emit({ t: 'fatal', error: String(err?.stack || err) }))
  .finally(endNow);

// Every message is already in the pipe (written synchronously). Leftover timers, keep-alive
// sockets and child processes that hold stdout must not keep the run open, and a normal
// exit would wait ~100 ms for V8's background compilation of fetch's WebAssembly parser:
// end at once, with the process group (runner.py makes this process its leader).
function endNow() {
  if (process.platform !== 'win32') {
    try {
      process.kill(-process.pid, 'SIGKILL');
    } catch {
      // not a group leader (started by hand): ending this process is enough
    }
  }
  process.kill(process.pid, 'SIGKILL');
}
