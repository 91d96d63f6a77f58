// Auth0's Node SDK (auth0, node-auth0 v4) pointed at the sandbox served over TLS (the SDK
// only speaks https://{domain}; NODE_EXTRA_CA_CERTS makes Node trust the sandbox's CA).
// What stiggctl's setup and deploy-action do, one call after the other. Prints one JSON
// object with what each call returned; tests/test_sandbox_node_sdks.py asserts the values.
//
// Environment: AUTH0_DOMAIN (host:port), AUTH0_CLIENT_ID, AUTH0_CLIENT_SECRET, USER_ID,
// MISSING_USER_ID, SANDBOX_URL (the control plane, to move the sandbox's clock past a
// build instead of waiting for it), BUILD_SECONDS.
'use strict';

const { AuthenticationClient, ManagementClient, ManagementApiError } = require('auth0');

const env = process.env;
const ACTION_CODE = `exports.onExecutePostLogin = async (event, api) => {
  api.user.setAppMetadata('node_sdk', 1);
};
`;

function apiError(error) {
  if (!(error instanceof ManagementApiError)) {
    throw error;
  }
  return {
    name: error.name,
    statusCode: error.statusCode,
    error: error.error,
    errorCode: error.errorCode ?? null,
    message: error.message,
  };
}

async function advanceSandboxClock(seconds) {
  const response = await fetch(`${env.SANDBOX_URL}/_sandbox/clock/advance`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seconds }),
  });
  if (!response.ok) {
    throw new Error(`advancing the sandbox clock: HTTP ${response.status}`);
  }
}

async function main() {
  const credentials = {
    domain: env.AUTH0_DOMAIN,
    clientId: env.AUTH0_CLIENT_ID,
    clientSecret: env.AUTH0_CLIENT_SECRET,
  };
  const result = {};

  const auth = new AuthenticationClient(credentials);
  const grant = await auth.oauth.clientCredentialsGrant({
    audience: `https://${env.AUTH0_DOMAIN}/api/v2/`,
  });
  result.token = {
    tokenType: grant.data.token_type,
    expiresIn: grant.data.expires_in,
    isJwt: grant.data.access_token.split('.').length === 3,
  };

  const management = new ManagementClient(credentials);
  const organizations = await management.organizations.getAll();
  result.organizations = organizations.data.map((o) => ({ id: o.id, displayName: o.display_name }));

  const user = await management.users.get({ id: env.USER_ID });
  result.user = { userId: user.data.user_id, email: user.data.email, name: user.data.name };
  try {
    await management.users.get({ id: env.MISSING_USER_ID });
    result.missingUser = 'found';
  } catch (error) {
    result.missingUser = apiError(error);
  }

  const created = await management.actions.create({
    name: 'Node SDK action',
    supported_triggers: [{ id: 'post-login', version: 'v3' }],
    code: ACTION_CODE,
    runtime: 'node22',
    secrets: [{ name: 'API_KEY', value: 'never-returned' }],
  });
  const actionId = created.data.id;
  result.created = {
    status: created.data.status,
    runtime: created.data.runtime,
    secrets: created.data.secrets.map((s) => s.name),
    secretValueReturned: JSON.stringify(created.data).includes('never-returned'),
  };
  await advanceSandboxClock(Number(env.BUILD_SECONDS));
  result.built = (await management.actions.get({ id: actionId })).data.status;

  const deployed = await management.actions.deploy({ id: actionId });
  result.deployed = { number: deployed.data.number, actionId: deployed.data.action.id };
  await advanceSandboxClock(Number(env.BUILD_SECONDS));
  const versions = await management.actions.getVersions({ actionId });
  result.versions = versions.data.versions.map((v) => ({ number: v.number, deployed: v.deployed }));

  // Bind at the end of post-login, keeping the bindings already there (as deploy-action does).
  const current = await management.actions.getTriggerBindings({ triggerId: 'post-login' });
  const kept = current.data.bindings.map((b) => ({
    ref: { type: 'binding_id', value: b.id },
    display_name: b.display_name,
  }));
  const added = { ref: { type: 'action_id', value: actionId }, display_name: 'Node SDK' };
  const updated = await management.actions.updateTriggerBindings(
    { triggerId: 'post-login' },
    { bindings: [...kept, added] },
  );
  result.boundNames = updated.data.bindings.map((b) => b.display_name);
  const listed = await management.actions.getTriggerBindings({ triggerId: 'post-login' });
  result.boundActions = listed.data.bindings.map((b) => b.action.name);

  try {
    await management.actions.delete({ id: actionId });
    result.deleteBound = 'deleted';
  } catch (error) {
    result.deleteBound = apiError(error);
  }
  return result;
}

main().then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error) => {
    process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
