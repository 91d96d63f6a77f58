// Stigg's Node SDK (@stigg/node-server-sdk) pointed at the sandbox: what stiggctl's flows do,
// one call after the other. Prints one JSON object with what each call returned; the test
// (tests/test_sandbox_node_sdks.py) seeds the sandbox and asserts the exact values.
//
// Environment: STIGG_BASE_URI, STIGG_API_KEY, CUSTOMER_ID, PLAN_ID, EVENT_NAME, and the
// features METERED_FEATURE_ID (counted from events), CALCULATED_FEATURE_ID (usage reported
// with reportUsage), BOOLEAN_FEATURE_ID, NUMERIC_FEATURE_ID.
'use strict';

const { Stigg } = require('@stigg/node-server-sdk');

const env = process.env;

function iso(date) {
  return date instanceof Date ? date.toISOString() : date;
}

function metered(entitlement) {
  return {
    hasAccess: entitlement.hasAccess,
    accessDeniedReason: entitlement.accessDeniedReason ?? null,
    isFallback: entitlement.isFallback,
    currentUsage: entitlement.currentUsage,
    usageLimit: entitlement.usageLimit ?? null,
    requestedUsage: entitlement.requestedUsage,
    isUnlimited: entitlement.isUnlimited,
    resetPeriod: entitlement.resetPeriod ?? null,
    usagePeriodStart: iso(entitlement.usagePeriodStart) ?? null,
    usagePeriodEnd: iso(entitlement.usagePeriodEnd) ?? null,
  };
}

async function main() {
  const stigg = Stigg.initialize({
    apiKey: env.STIGG_API_KEY,
    baseUri: env.STIGG_BASE_URI,
    realtimeUpdatesEnabled: false,
    enableEdge: false,
  });
  await stigg.waitForInitialization();
  const customerId = env.CUSTOMER_ID;
  const result = {};

  const provisioned = await stigg.provisionCustomer({
    customerId,
    name: 'Node SDK customer',
    email: 'node-sdk@example.com',
    metadata: { source: 'node-sdk' },
    subscriptionParams: { planId: env.PLAN_ID },
  });
  result.provisioned = {
    customerId: provisioned.customer.id,
    name: provisioned.customer.name,
    email: provisioned.customer.email,
    metadata: provisioned.customer.metadata,
    subscriptionDecisionStrategy: provisioned.subscriptionDecisionStrategy,
    subscriptionPlanId: provisioned.subscription.planId,
    subscriptionStatus: provisioned.subscription.status,
    subscriptionCustomerId: provisioned.subscription.customerId,
  };

  // The same login reported twice (a retry) is counted once; another user's login counts.
  const logins = [
    ['login-user-1', 'user-1'],
    ['login-user-1', 'user-1'],
    ['login-user-2', 'user-2'],
  ];
  for (const [idempotencyKey, userId] of logins) {
    await stigg.reportEvent({
      customerId,
      eventName: env.EVENT_NAME,
      idempotencyKey,
      dimensions: { user_id: userId },
    });
  }

  const meteredFeature = { customerId, featureId: env.METERED_FEATURE_ID };
  result.meteredOneMore = metered(
    await stigg.getMeteredEntitlement({ ...meteredFeature, options: { requestedUsage: 1 } }),
  );
  result.meteredTwoMore = metered(
    await stigg.getMeteredEntitlement({ ...meteredFeature, options: { requestedUsage: 2 } }),
  );

  const usage = await stigg.reportUsage({
    customerId,
    featureId: env.CALCULATED_FEATURE_ID,
    value: 2,
  });
  result.reportedUsage = {
    customerId: usage.customerId,
    featureId: usage.featureId,
    currentUsage: usage.currentUsage,
    hasMeasurementId: typeof usage.measurementId === 'string' && usage.measurementId.length > 0,
  };
  result.calculated = metered(
    await stigg.getMeteredEntitlement({
      customerId,
      featureId: env.CALCULATED_FEATURE_ID,
      options: { requestedUsage: 3 },
    }),
  );

  const boolean = await stigg.getBooleanEntitlement({
    customerId,
    featureId: env.BOOLEAN_FEATURE_ID,
  });
  result.boolean = { hasAccess: boolean.hasAccess, isFallback: boolean.isFallback };
  const numeric = await stigg.getNumericEntitlement({
    customerId,
    featureId: env.NUMERIC_FEATURE_ID,
  });
  result.numeric = {
    hasAccess: numeric.hasAccess,
    isFallback: numeric.isFallback,
    value: numeric.value,
    isUnlimited: numeric.isUnlimited,
  };
  // Stigg answers an unknown customer's cachedEntitlements with an empty list (as for a
  // customer without subscriptions), which the SDK reads as CustomerNotFound.
  const missing = await stigg.getBooleanEntitlement({
    customerId: 'no-such-customer',
    featureId: env.BOOLEAN_FEATURE_ID,
  });
  result.unknownCustomer = {
    hasAccess: missing.hasAccess,
    accessDeniedReason: missing.accessDeniedReason ?? null,
  };

  const entitlements = await stigg.getEntitlements(customerId);
  result.entitlements = entitlements
    .map((e) => ({ featureId: e.feature.id, type: e.type, hasAccess: e.hasAccess }))
    .sort((a, b) => a.featureId.localeCompare(b.featureId));

  const customer = await stigg.getCustomer(customerId);
  result.customer = {
    id: customer.id,
    name: customer.name,
    email: customer.email,
    hasPaymentMethod: customer.hasPaymentMethod,
    subscriptions: customer.subscriptions.map((s) => ({
      planId: s.plan.id,
      planName: s.plan.displayName,
      status: s.status,
      pricingType: s.pricingType,
    })),
  };

  const products = await stigg.getProducts();
  result.products = products.map((p) => ({ id: p.id, displayName: p.displayName }));

  await stigg.close();
  return result;
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
