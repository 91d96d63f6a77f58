"use strict";
// stiggctl post-login Action: provisions Stigg customers, meters monthly active users and denies
// a new active user over the limit. Rendered by `stiggctl deploy-action`; edits made in the Auth0
// dashboard are overwritten on the next deploy. Design: action_template/README.md in stiggctl.
// No npm dependencies: global fetch and node:crypto only.

const crypto = require("node:crypto");

// Every non-secret setting, rendered as one JSON literal. Secrets come from event.secrets.
const SETTINGS = __STIGGCTL_SETTINGS__;

// GraphQL documents sent to Stigg. Named GQL_* constants: the test suite extracts them from the
// rendered code and validates each against Stigg's published schema.
const GQL_PROVISION_CUSTOMER = `mutation StiggctlProvisionCustomer($input: ProvisionCustomerInput!) {
  provisionCustomer(input: $input) {
    customer {
      customerId
    }
  }
}`;

const GQL_ACTIVE_USERS_ENTITLEMENT = `query StiggctlActiveUsersEntitlement($query: FetchEntitlementQuery!) {
  entitlement(query: $query) {
    isGranted
    accessDeniedReason
    hasUnlimitedUsage
    hasSoftLimit
    usageLimit
    currentUsage
    resetPeriod
    usagePeriodAnchor
    usagePeriodStart
    usagePeriodEnd
  }
}`;

const GQL_REPORT_LOGIN_EVENT = `mutation StiggctlReportLoginEvent($events: UsageEventsReportInput!) {
  reportEvent(events: $events)
}`;

const HOUR_MS = 3600000;
const DAY_MS = 24 * HOUR_MS;
const ORG_METADATA_MAX_KEYS = 25; // Auth0 rejects an organization metadata map with more keys
const CACHE_MAX_TTL_MS = DAY_MS; // api.cache keeps an entry at most 24 h
const TOKEN_EXPIRY_MARGIN_MS = 5 * 60000; // never hand out a token about to expire
const LOG_LIMIT = 256; // Auth0 keeps 256 characters of an Action's console output
const CUSTOMER_NOT_FOUND = "CustomerNotFound"; // Stigg's ErrorCode and AccessDeniedReason

exports.onExecutePostLogin = async (event, api) => {
  const run = {
    now: Date.now(),
    // The budget runs on the monotonic clock: it bounds real waiting, whatever the wall clock says.
    deadline: performance.now() + SETTINGS.budgetMs,
    steps: new Set([1]), // the seed's steps taken in the current pass
    earlierSteps: [], // those of earlier passes, in order (see provisionAgain)
    calls: 0,
    notes: [],
    pending: [], // work running alongside the flow (M2M token, organization update)
    verdict: null,
    reason: null,
  };
  try {
    await handleLogin(event, api, run);
  } catch (err) {
    // An exception would fail the login outright: the fail policy decides instead.
    onFailure(api, run, "internal_error", `unexpected ${(err && err.name) || "error"}`, null);
  }
  await Promise.allSettled(run.pending);
  console.log(summary(run));
};

async function handleLogin(event, api, run) {
  const login = classifyLogin(event);
  if (login.skip) return allow(run, login.skip);

  run.steps.add(2);
  const { organization, customerId } = login;
  const appMetadata = event.user.app_metadata || {};
  const record = organization ? readLoginRecord(appMetadata, organization.id, run.now) : null;
  const marked = isMarked(
    organization
      ? (organization.metadata || {})[SETTINGS.keys.orgProvisioned]
      : appMetadata[SETTINGS.keys.userProvisioned],
  );

  if (!marked) {
    const orgMetadata = organization ? markedOrganizationMetadata(organization) : null;
    // The token request runs alongside provisioning: the organization update then costs one
    // round trip more, not two.
    const token = orgMetadata ? managementToken(event, api, run) : null;
    if (token) run.pending.push(token);
    const provision = await provisionCustomer(event, run, login);
    run.steps.add(3);
    if (provision.failure) return onFailure(api, run, "stigg_unavailable", provision.failure, record);
    if (!organization) {
      api.user.setAppMetadata(SETTINGS.keys.userProvisioned, true);
      run.steps.add(4);
    } else if (orgMetadata) {
      run.pending.push(updateOrganization(api, run, organization.id, orgMetadata, token));
    } else {
      run.notes.push("org metadata full: not marked");
    }
  }

  if (!organization) {
    run.steps.add(5);
    return allow(run, "individual_login");
  }
  if (record.counted) return allow(run, "counted_this_period");

  run.steps.add(6);
  let entitlement = await queryEntitlement(event, run, customerId);
  run.steps.add(7);
  if (entitlement.customerUnknown && marked) {
    // Marked as provisioned, yet Stigg has no such customer (deleted in Stigg, another Stigg
    // environment, a mark set by hand): without provisioning it now, it would never be metered.
    const provision = await provisionAgain(event, run, login);
    if (provision.failure) return onFailure(api, run, "stigg_unavailable", provision.failure, record);
    run.steps.add(6);
    entitlement = await queryEntitlement(event, run, customerId);
    run.steps.add(7);
  }
  if (entitlement.customerUnknown) {
    // Provisioned by this very login and still unknown: asking again would not end.
    const note = "stigg.entitlement: customer unknown after provisioning";
    return onFailure(api, run, "stigg_unavailable", note, record);
  }
  if (entitlement.failure) {
    return onFailure(api, run, "stigg_unavailable", entitlement.failure, record);
  }
  const period = usagePeriod(entitlement.value);
  if (!period) return onFailure(api, run, "stigg_unavailable", "no usage period", record);

  run.steps.add(8);
  const granted = grantsOneMore(entitlement.value);
  const activeThisPeriod = record.lastLogin !== null && record.lastLogin >= period.start;
  if (!granted && !activeThisPeriod) {
    return deny(api, run, "limit_reached", SETTINGS.denyMessage);
  }

  const report = await reportLogin(event, run, customerId, period);
  run.steps.add(10);
  // Recorded only once the login is counted: a later login must not skip a count that failed.
  if (report.failure) return onFailure(api, run, "stigg_unavailable", report.failure, record);
  // Counted in this period, so recorded inside it: a login that provisioned the customer began
  // a moment before the subscription (and its first period) did, and must not read as a login
  // of an earlier period (a new active user) once the limit is reached.
  const countedAt = Math.max(run.now, period.start);
  api.user.setAppMetadata(organizationKey(SETTINGS.keys.lastLogin, organization.id), countedAt);
  api.user.setAppMetadata(organizationKey(SETTINGS.keys.periodEnd, organization.id), period.end);
  run.steps.add(9);
  return allow(run, granted ? "granted" : "existing_active_user");
}

// The seed's steps 2 to 4 once more, for a customer marked as provisioned that Stigg does not
// know: the same provisioning call, a Duplicate answer counting as provisioned. The mark is
// already there (step 4 writes nothing). Two sequential round trips more (this call and the
// second entitlement query), only in this rare case. The steps of this second pass are logged
// after those of the first, so the log says honestly that steps 2, 6 and 7 were taken twice.
async function provisionAgain(event, run, login) {
  run.notes.push("customer unknown to Stigg: provisioning again");
  run.earlierSteps.push(...sortedSteps(run.steps));
  run.steps = new Set([2]);
  const provision = await provisionCustomer(event, run, login);
  run.steps.add(3);
  if (!provision.failure) run.steps.add(4);
  return provision;
}

// Which customer this login belongs to, or why the Action leaves it alone.
function classifyLogin(event) {
  const appId = SETTINGS.applicationId;
  if (appId && appId !== "*" && (event.client || {}).client_id !== appId) {
    return { skip: "application_not_handled" };
  }
  const organization = event.organization || null;
  const handled = organization ? ["b2b", "both"] : ["b2c", "both"];
  if (!handled.includes(SETTINGS.mode)) return { skip: "mode_not_handled" };
  return { organization, customerId: organization ? organization.id : event.user.user_id };
}

// What app_metadata says about this user in this organization: `knownActive` when the last
// counted login falls in a period that has not ended; `counted` (the zero-call shortcut) when
// that is also recent enough not to need re-validation.
function readLoginRecord(appMetadata, organizationId, now) {
  const lastLogin = finiteNumber(appMetadata[organizationKey(SETTINGS.keys.lastLogin, organizationId)]);
  const periodEnd = finiteNumber(appMetadata[organizationKey(SETTINGS.keys.periodEnd, organizationId)]);
  const knownActive = lastLogin !== null && periodEnd !== null && lastLogin <= now && now < periodEnd;
  return {
    lastLogin,
    knownActive,
    counted: knownActive && now - lastLogin < SETTINGS.revalidateAfterMs,
  };
}

function sortedSteps(steps) {
  return [...steps].sort((a, b) => a - b);
}

function isMarked(value) {
  return value === true || value === "true";
}

function finiteNumber(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function organizationKey(template, organizationId) {
  return template.split("{orgId}").join(organizationId);
}

// The organization's whole metadata map with the provisioned mark added (Auth0 replaces the map
// on PATCH), or null when the map is full and the mark cannot be added.
function markedOrganizationMetadata(organization) {
  const current = organization.metadata || {};
  const key = SETTINGS.keys.orgProvisioned;
  const present = Object.prototype.hasOwnProperty.call(current, key);
  if (!present && Object.keys(current).length >= ORG_METADATA_MAX_KEYS) return null;
  return { ...current, [key]: "true" };
}

function allow(run, reason) {
  run.verdict = "allow";
  run.reason = reason;
  run.steps.add(11);
}

function deny(api, run, reason, message) {
  api.access.deny(message);
  run.verdict = "deny";
  run.reason = reason;
}

// Stigg failed or was too slow. A user known to be active in the current period keeps access
// under either policy: the limit only ever stops new active users.
function onFailure(api, run, reason, note, record) {
  run.notes.push(note);
  if (record && record.knownActive) return allow(run, "known_active_user");
  if (SETTINGS.failPolicy === "closed") return deny(api, run, reason, SETTINGS.retryMessage);
  return allow(run, reason);
}

// One HTTP call under the per-call timeout and what is left of the budget. Never throws:
// returns { failure } or { status, ok, body }.
async function callJson(run, operation, url, init) {
  const remaining = Math.floor(Math.min(SETTINGS.callTimeoutMs, run.deadline - performance.now()));
  if (remaining < 1) return { failure: `${operation} skipped: budget spent` };
  run.calls += 1;
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(remaining) });
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    return { status: response.status, ok: response.ok, body };
  } catch (err) {
    const timedOut = err && (err.name === "TimeoutError" || err.name === "AbortError");
    return { failure: `${operation} ${timedOut ? "timed out" : "failed"}` };
  }
}

async function stigg(event, run, operation, query, variables) {
  const apiKey = (event.secrets || {})[SETTINGS.secrets.stiggApiKey];
  if (!apiKey) return { failure: `${operation}: secret ${SETTINGS.secrets.stiggApiKey} missing` };
  const response = await callJson(run, operation, SETTINGS.stiggApiUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": apiKey },
    body: JSON.stringify({ query, variables }),
  });
  if (response.failure) return response;
  const body = response.body || {};
  const errors = Array.isArray(body.errors) ? body.errors : [];
  if (errors.length) {
    const code = (errors[0] && errors[0].extensions && errors[0].extensions.code) || "error";
    return { failure: `${operation}: ${code}`, errors };
  }
  if (!response.ok || !body.data) return { failure: `${operation}: HTTP ${response.status}` };
  return { data: body.data };
}

async function provisionCustomer(event, run, { organization, customerId }) {
  const input = { customerId };
  const name = organization ? organization.display_name || organization.name : event.user.name;
  if (name) input.name = name;
  if (!organization && event.user.email) input.email = event.user.email;
  input.subscriptionParams = { planId: organization ? SETTINGS.b2bPlanId : SETTINGS.b2cPlanId };
  const result = await stigg(event, run, "stigg.provisionCustomer", GQL_PROVISION_CUSTOMER, { input });
  // A customer that already exists is provisioned: that is all this step needs to know.
  if (result.errors && result.errors.some(isDuplicateError)) return { created: false };
  return result.failure ? result : { created: true };
}

function isDuplicateError(error) {
  const code = error && error.extensions && error.extensions.code;
  return code === "DuplicatedEntityNotAllowed" || /duplicat/i.test(String(error && error.message));
}

// The Active Users entitlement: { value }, { customerUnknown: true } or { failure }.
async function queryEntitlement(event, run, customerId) {
  const result = await stigg(event, run, "stigg.entitlement", GQL_ACTIVE_USERS_ENTITLEMENT, {
    query: { customerId, featureId: SETTINGS.activeUsersFeatureId, options: { requestedUsage: 1 } },
  });
  // Stigg says "no such customer" in one of two ways: a GraphQL error, or an answer refusing
  // access for that reason (as its SDKs and the stiggctl sandbox do).
  if (result.errors && result.errors.some(isCustomerNotFoundError)) return { customerUnknown: true };
  if (result.failure) return result;
  const value = result.data.entitlement;
  if (!value) return { failure: "stigg.entitlement: empty answer" };
  return value.accessDeniedReason === CUSTOMER_NOT_FOUND ? { customerUnknown: true } : { value };
}

function isCustomerNotFoundError(error) {
  const code = String((error && error.extensions && error.extensions.code) || "");
  if (code === CUSTOMER_NOT_FOUND) return true;
  // Another entity not found (FeatureNotFound, ...) says nothing about the customer.
  if (/NotFound$/.test(code)) return false;
  return /\bcustomer\b.*\bnot found\b/i.test(String(error && error.message));
}

// Access for one more active user, as Stigg's SDKs compute it from an answer that was asked
// with requestedUsage 1.
function grantsOneMore(entitlement) {
  if (!entitlement.isGranted) return false;
  if (entitlement.hasUnlimitedUsage || entitlement.hasSoftLimit) return true;
  if (typeof entitlement.usageLimit !== "number") return true;
  return (entitlement.currentUsage || 0) + 1 <= entitlement.usageLimit;
}

// The current usage period in epoch ms. `usagePeriodStart` may be absent: it is then derived
// from the period's end and reset period. No period at all means usage never resets: it
// started at 0 and never ends (end null). Null when the start cannot be told.
function usagePeriod(entitlement) {
  const end = parseTime(entitlement.usagePeriodEnd);
  let start = parseTime(entitlement.usagePeriodStart);
  if (start === null && end !== null) {
    start = periodStartBefore(end, entitlement.resetPeriod, parseTime(entitlement.usagePeriodAnchor));
    if (start === null) return null;
  }
  return { start: start === null ? 0 : start, end };
}

function parseTime(value) {
  if (typeof value !== "string") return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function periodStartBefore(end, resetPeriod, anchor) {
  switch (resetPeriod) {
    case "HOUR":
      return end - HOUR_MS;
    case "DAY":
      return end - DAY_MS;
    case "WEEK":
      return end - 7 * DAY_MS;
    case "MONTH":
      return monthsBefore(end, 1, anchor);
    case "YEAR":
      return monthsBefore(end, 12, anchor);
    default:
      return null;
  }
}

// Calendar months back in UTC. A period anchored on the 29th to 31st ends early in a short
// month; the anchor's day says where the period really started.
function monthsBefore(endMs, months, anchorMs) {
  const end = new Date(endMs);
  const index = end.getUTCFullYear() * 12 + end.getUTCMonth() - months;
  const year = Math.floor(index / 12);
  const month = index - year * 12;
  const daysInMonth = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = anchorMs === null ? end.getUTCDate() : new Date(anchorMs).getUTCDate();
  return Date.UTC(
    year,
    month,
    Math.min(day, daysInMonth),
    end.getUTCHours(),
    end.getUTCMinutes(),
    end.getUTCSeconds(),
    end.getUTCMilliseconds(),
  );
}

async function reportLogin(event, run, customerId, period) {
  const userId = event.user.user_id;
  const usageEvent = {
    customerId,
    eventName: SETTINGS.eventName,
    idempotencyKey: idempotencyKey(customerId, userId, period.start),
    dimensions: { user_id: userId },
    // No timestamp: Stigg stamps the event on receipt. A login-time stamp can fall a few
    // milliseconds before the subscription that provisioning just created, outside its
    // first usage period, and the user would not be counted.
  };
  return stigg(event, run, "stigg.reportEvent", GQL_REPORT_LOGIN_EVENT, {
    events: { usageEvents: [usageEvent] },
  });
}

// One key per user, customer and period: every login and retry in a period is the same event,
// which Stigg deduplicates, so nothing is ever counted twice.
function idempotencyKey(customerId, userId, periodStart) {
  const material = JSON.stringify([SETTINGS.eventName, customerId, userId, periodStart]);
  return crypto.createHash("sha256").update(material).digest("hex");
}

// The Management API token, from api.cache when a live one is there. Resolves to null when
// none can be had (the organization then stays unmarked and the next login tries again).
async function managementToken(event, api, run) {
  const secrets = event.secrets || {};
  const clientId = secrets[SETTINGS.secrets.m2mClientId];
  const clientSecret = secrets[SETTINGS.secrets.m2mClientSecret];
  if (!clientId || !clientSecret) {
    run.notes.push("M2M secrets missing");
    return null;
  }
  const cached = cachedToken(api, clientId);
  if (cached) return cached;
  const response = await callJson(run, "auth0.oauthToken", `${SETTINGS.auth0BaseUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
      audience: SETTINGS.managementAudience,
    }),
  });
  const token = response.body && response.body.access_token;
  if (response.failure || !response.ok || typeof token !== "string") {
    run.notes.push(response.failure || `auth0.oauthToken: HTTP ${response.status}`);
    return null;
  }
  cacheToken(api, clientId, token, response.body.expires_in);
  return token;
}

function cachedToken(api, clientId) {
  const entry = api.cache && api.cache.get(SETTINGS.m2mTokenCacheKey);
  if (!entry || typeof entry.value !== "string") return null;
  try {
    const cached = JSON.parse(entry.value);
    // A token minted for another M2M client (the secrets changed) is not ours to use.
    return cached.clientId === clientId && typeof cached.accessToken === "string"
      ? cached.accessToken
      : null;
  } catch (_) {
    return null;
  }
}

function cacheToken(api, clientId, token, expiresIn) {
  if (!api.cache) return;
  const value = JSON.stringify({ clientId, accessToken: token });
  if (typeof expiresIn !== "number") {
    api.cache.set(SETTINGS.m2mTokenCacheKey, value); // the cache's default lifetime
    return;
  }
  const ttl = Math.min(expiresIn * 1000 - TOKEN_EXPIRY_MARGIN_MS, CACHE_MAX_TTL_MS);
  if (ttl > 0) api.cache.set(SETTINGS.m2mTokenCacheKey, value, { ttl });
}

async function updateOrganization(api, run, organizationId, metadata, tokenPromise) {
  const steps = run.steps; // the pass that started the update, whenever it ends
  const token = await tokenPromise;
  if (!token) return;
  const url = `${SETTINGS.auth0BaseUrl}/api/v2/organizations/${encodeURIComponent(organizationId)}`;
  const response = await callJson(run, "auth0.updateOrganization", url, {
    method: "PATCH",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ metadata }),
  });
  if (response.failure) {
    run.notes.push(response.failure);
    return;
  }
  if (response.status === 401 && api.cache && typeof api.cache.delete === "function") {
    // A revoked or expired token: the next login mints a fresh one.
    api.cache.delete(SETTINGS.m2mTokenCacheKey);
  }
  if (!response.ok) {
    run.notes.push(`auth0.updateOrganization: HTTP ${response.status}`);
    return;
  }
  steps.add(4);
}

// The one log line of an execution: verdict, reason, the seed's steps taken (pass by pass),
// calls made.
function summary(run) {
  const steps = [...run.earlierSteps, ...sortedSteps(run.steps)].join(",");
  const notes = run.notes.length ? ` notes=${run.notes.join("; ")}` : "";
  const line = `stiggctl ${SETTINGS.templateVersion} ${run.verdict} ${run.reason} steps=${steps} calls=${run.calls}${notes}`;
  return line.slice(0, LOG_LIMIT);
}
