"use strict";
// Baseline for bench/login_path.py: the call pattern of Stigg's earlier public post-login action
// (written for Auth0's B2B SaaS starter), as ../shared/reference/stigg.md describes it. Not
// shipped, only measured side by side with action_template/post-login.js in the sandbox.
//
// - Every organization login: one entitlement query, then one reportEvent, in sequence.
// - A first organization login (no `customer_provisioned` mark) first provisions the customer,
//   then requests a Management API token, then updates the organization: all in sequence, and
//   the token is never cached (the SDK's ManagementClient fetched one per execution).
// - The period start is the next reset date minus one month (hard-coded monthly); the event's
//   idempotency key hashes user, organization, event name and the current time, so every login
//   is a new event.
//
// The original used the npm packages `auth0` and `@stigg/node-server-sdk`; this one has plain
// fetch instead, so the SDKs' start-up cost (loading, the SDK's own initialisation) is NOT
// counted: the comparison measures the network pattern alone. Any failed call throws, which fails
// the login: the benchmark then stops, so a baseline that silently did less is never measured.
// Settings come from event.secrets under the earlier action's names, plus STIGG_API_URL (the SDK's
// base URI) for the sandbox.

const crypto = require("node:crypto");

const DENY_MESSAGE = "Organization has exceeded the MAU limit, please contact your administrator.";
const EVENT_NAME = "user-login";

const GQL_PROVISION_CUSTOMER = `mutation BaselineProvisionCustomer($input: ProvisionCustomerInput!) {
  provisionCustomer(input: $input) {
    customer {
      customerId
    }
  }
}`;

const GQL_GET_ENTITLEMENT = `query BaselineGetEntitlement($query: FetchEntitlementQuery!) {
  entitlement(query: $query) {
    isGranted
    accessDeniedReason
    hasUnlimitedUsage
    hasSoftLimit
    usageLimit
    currentUsage
    requestedUsage
    nextResetDate
  }
}`;

const GQL_REPORT_EVENT = `mutation BaselineReportEvent($events: UsageEventsReportInput!) {
  reportEvent(events: $events)
}`;

exports.onExecutePostLogin = async (event, api) => {
  const organization = event.organization;
  if (!organization) return; // the B2B starter's actions handled organization logins only
  const secrets = event.secrets;

  if ((organization.metadata || {}).customer_provisioned !== "true") {
    await stigg(secrets, GQL_PROVISION_CUSTOMER, {
      input: {
        customerId: organization.id,
        name: organization.display_name || organization.name,
        subscriptionParams: { planId: secrets.STIGG_BUSINESS_PLAN_ID },
      },
    });
    const token = await managementToken(secrets);
    // The whole map, so the sandbox's organization keeps its other keys; the timing is the same.
    await callJson(`${auth0BaseUrl(secrets)}/api/v2/organizations/${encodeURIComponent(organization.id)}`, {
      method: "PATCH",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ metadata: { ...organization.metadata, customer_provisioned: "true" } }),
    });
  }

  const { entitlement } = await stigg(secrets, GQL_GET_ENTITLEMENT, {
    query: {
      customerId: organization.id,
      featureId: secrets.STIGG_ACTIVE_USERS_FEATURE_ID,
      options: { requestedUsage: 1 },
    },
  });
  const lastLoginKey = `${organization.id}:last_login`;
  const lastLogin = (event.user.app_metadata || {})[lastLoginKey];
  if (!hasAccess(entitlement) && !(lastLogin >= periodStart(entitlement))) {
    api.access.deny(DENY_MESSAGE);
    return;
  }

  const now = Date.now();
  await stigg(secrets, GQL_REPORT_EVENT, {
    events: {
      usageEvents: [
        {
          customerId: organization.id,
          eventName: EVENT_NAME,
          idempotencyKey: crypto
            .createHash("sha256")
            .update(`${event.user.user_id}:${organization.id}:${EVENT_NAME}:${now}`)
            .digest("hex"),
          dimensions: { user_id: event.user.user_id },
        },
      ],
    },
  });
  api.user.setAppMetadata(lastLoginKey, now);
};

function hasAccess(entitlement) {
  if (!entitlement.isGranted) return false;
  if (entitlement.hasUnlimitedUsage || entitlement.hasSoftLimit) return true;
  return entitlement.currentUsage + entitlement.requestedUsage <= entitlement.usageLimit;
}

function periodStart(entitlement) {
  if (!entitlement.nextResetDate) return 0;
  const start = new Date(entitlement.nextResetDate);
  start.setUTCMonth(start.getUTCMonth() - 1);
  return start.getTime();
}

function auth0BaseUrl(secrets) {
  // The sandbox's domain carries its scheme; a tenant domain does not.
  return /^https?:\/\//.test(secrets.DOMAIN) ? secrets.DOMAIN : `https://${secrets.DOMAIN}`;
}

async function managementToken(secrets) {
  const base = auth0BaseUrl(secrets);
  const body = await callJson(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "client_credentials",
      client_id: secrets.CLIENT_ID,
      client_secret: secrets.CLIENT_SECRET,
      audience: `${base}/api/v2/`,
    }),
  });
  return body.access_token;
}

async function stigg(secrets, query, variables) {
  const body = await callJson(secrets.STIGG_API_URL, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": secrets.STIGG_API_KEY },
    body: JSON.stringify({ query, variables }),
  });
  if (body.errors && body.errors.length) throw new Error(`Stigg answered: ${body.errors[0].message}`);
  return body.data;
}

async function callJson(url, init) {
  const response = await fetch(url, init);
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method} ${new URL(url).pathname}: HTTP ${response.status}`);
  return text ? JSON.parse(text) : {};
}
