"""The tenants the sandbox starts with.

`seed_demo`: applications of each organization behaviour, stiggctl's M2M client with a grant
carrying every scope stiggctl needs, four organizations with metadata, a dozen users (seven in
Acme), and an unrelated action already deployed and bound to post-login, the way a real tenant
looks before stiggctl arrives. `seed_empty`: the same without the action. Ids are fixed so
that docs, demos and tests can name them.
"""

from __future__ import annotations

from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.emulator import Auth0Emulator

# Applications: one per organization behaviour (see the setup wizard's B2C/B2B preselection).
CONSUMER_APP_ID = "sbxConsumerApp000000000000000001"  # organization_usage deny  → B2C
BUSINESS_APP_ID = "sbxBusinessPortal000000000000001"  # organization_usage require → B2B
WORKSPACE_APP_ID = "sbxWorkspaceApp00000000000000001"  # organization_usage allow → both

ACME = "org_acme000000000001"
GLOBEX = "org_globex0000000001"
INITECH = "org_initech000000001"
UMBRELLA = "org_umbrella00000001"

ROLES_ACTION_NAME = "Add roles claim"
ROLES_ACTION_CODE = """\
/**
 * Adds the user's roles to the ID and access tokens.
 */
exports.onExecutePostLogin = async (event, api) => {
  const namespace = 'https://example.com';
  const roles = (event.authorization && event.authorization.roles) || [];
  api.idToken.setCustomClaim(`${namespace}/roles`, roles);
  api.accessToken.setCustomClaim(`${namespace}/roles`, roles);
};
"""

_APPLICATIONS = (
    (CONSUMER_APP_ID, "Acme Shop (consumers)", "regular_web", "deny"),
    (BUSINESS_APP_ID, "Acme Business Portal", "regular_web", "require"),
    (WORKSPACE_APP_ID, "Acme Workspace", "spa", "allow"),
)

_ORGANIZATIONS = (
    (ACME, "acme", "Acme Corp", {"industry": "manufacturing", "region": "eu"}),
    (GLOBEX, "globex", "Globex Corporation", {"industry": "energy", "region": "us"}),
    (INITECH, "initech", "Initech", {"industry": "software", "region": "us"}),
    (UMBRELLA, "umbrella", "Umbrella Health", {"industry": "healthcare", "region": "jp"}),
)

# (first name, organization or None for an individual)
_USERS = (
    ("alice", ACME),
    ("bob", ACME),
    ("carol", ACME),
    ("dave", ACME),
    ("erin", ACME),
    ("frank", ACME),
    ("grace", ACME),
    ("heidi", GLOBEX),
    ("ivan", GLOBEX),
    ("judy", INITECH),
    ("mallory", None),
    ("niaj", None),
)


def demo_user_id(first_name: str) -> str:
    return f"auth0|demo-{first_name}"


# The Action's own M2M client holds only what the Action needs (organization metadata).
ACTION_CLIENT_SCOPES = ("update:organizations",)


def seed_empty(
    emu: Auth0Emulator,
    *,
    m2m_client_id: str,
    m2m_client_secret: str,
    action_client_id: str | None = None,
    action_client_secret: str | None = None,
) -> None:
    """Applications, the M2M client (and the Action's, when given), organizations and
    users; no actions."""
    for client_id, name, app_type, usage in _APPLICATIONS:
        emu.add_client(
            client_id,
            name,
            app_type,
            organization_usage=usage,
            client_secret=None if app_type == "spa" else f"{client_id}-secret",
            callbacks=["http://localhost:3000/callback"],
        )
    emu.add_client(
        m2m_client_id,
        "stiggctl",
        "non_interactive",
        client_secret=m2m_client_secret,
        grant_scopes=STIGGCTL_SCOPES,
    )
    if action_client_id is not None:
        emu.add_client(
            action_client_id,
            "stiggctl Action",
            "non_interactive",
            client_secret=action_client_secret,
            grant_scopes=ACTION_CLIENT_SCOPES,
        )
    for org_id, name, display_name, metadata in _ORGANIZATIONS:
        emu.add_org(name, display_name, org_id=org_id, metadata=metadata)
    for first_name, org_id in _USERS:
        user_id = demo_user_id(first_name)
        emu.add_user(
            user_id,
            email=f"{first_name}@example.com",
            name=f"{first_name.capitalize()} Example",
            given_name=first_name.capitalize(),
            family_name="Example",
        )
        if org_id is not None:
            emu.add_member(org_id, user_id)


def seed_demo(
    emu: Auth0Emulator,
    *,
    m2m_client_id: str,
    m2m_client_secret: str,
    action_client_id: str | None = None,
    action_client_secret: str | None = None,
) -> None:
    """`seed_empty` plus an unrelated action built, deployed and bound to post-login."""
    seed_empty(
        emu,
        m2m_client_id=m2m_client_id,
        m2m_client_secret=m2m_client_secret,
        action_client_id=action_client_id,
        action_client_secret=action_client_secret,
    )
    emu.add_action(ROLES_ACTION_NAME, ROLES_ACTION_CODE)
