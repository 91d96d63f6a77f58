"""What a login needs from the tenant: the bound actions, the `event`, and its effects.

The runtime (another module) runs the actions in Node.js; these functions give it what Auth0
would (the post-login bindings in order with the deployed code and the current secrets, and
the `event` as Auth0 builds it) and apply what the actions asked for once the flow ends.
"""

from __future__ import annotations

import copy
from typing import Any

from stiggctl.sandbox.auth0.actions import deployed_version
from stiggctl.sandbox.auth0.errors import ApiError, SandboxError
from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.auth0.users import check_metadata_keys, merge_metadata, user_view

# Fields Auth0 keeps off `event.user`: the count is in `event.stats.logins_count`.
HIDDEN_USER_FIELDS = ("last_login", "logins_count", "last_ip")
REQUESTED_SCOPES = ["openid", "profile", "email"]


def post_login_actions(tenant: Tenant) -> list[dict[str, Any]]:
    actions = []
    for binding in tenant.data["bindings"].get("post-login", []):
        action = tenant.data["actions"].get(binding["action_id"])
        live = deployed_version(tenant, action) if action else None
        if action is None or live is None:
            continue
        actions.append(
            {
                "id": action["id"],
                "name": action["name"],
                "code": live["code"],
                "secrets": {s["name"]: s["value"] for s in action["secrets"]},
                "runtime": live["runtime"],
                "version": live["number"],
            }
        )
    return actions


def _choose_client(tenant: Tenant, client_id: str | None, org_id: str | None) -> dict[str, Any]:
    clients = tenant.data["clients"]
    if client_id is not None:
        client = clients.get(client_id)
        if client is None:
            raise SandboxError(404, f"Unknown application (client): {client_id}")
    else:
        usable = ("allow", "require") if org_id else ("deny", "allow")
        client = next((c for c in clients.values() if c.get("organization_usage") in usable), None)
        if client is None:
            kind = "organization" if org_id else "individual"
            raise SandboxError(404, f"No application accepts {kind} logins in this tenant.")
    if client["app_type"] == "non_interactive":
        raise SandboxError(
            400, f"{client['name']} is a machine-to-machine client: no user logs in to it."
        )
    usage = client.get("organization_usage", "deny")
    if org_id and usage == "deny":
        raise SandboxError(
            400,
            f"{client['name']} does not accept logins into an organization "
            "(organization_usage: deny).",
        )
    if not org_id and usage == "require":
        raise SandboxError(
            400,
            f"{client['name']} requires a login into an organization "
            "(organization_usage: require).",
        )
    return client


def build_post_login_event(
    tenant: Tenant,
    user_id: str,
    *,
    org_id: str | None = None,
    client_id: str | None = None,
    protocol: str = "oidc-basic-profile",
    ip: str = "127.0.0.1",
) -> dict[str, Any]:
    user = tenant.data["users"].get(user_id)
    if user is None:
        raise SandboxError(404, f"Unknown user: {user_id}")
    if user.get("blocked"):
        raise SandboxError(401, f"User {user_id} is blocked.")
    org = None
    if org_id is not None:
        org = tenant.data["organizations"].get(org_id)
        if org is None:
            raise SandboxError(404, f"Unknown organization: {org_id}")
        if user_id not in tenant.data["members"].get(org_id, {}):
            raise SandboxError(403, f"User {user_id} is not a member of organization {org_id}.")
    client = _choose_client(tenant, client_id, org_id)
    connection = tenant.data["connections"][0]
    now = tenant.now_iso()
    transaction_id = tenant.new_prefixed_id("txn")
    redirect_uri = (client.get("callbacks") or [f"{tenant.base_url}/callback"])[0]
    query: dict[str, Any] = {
        "client_id": client["client_id"],
        "response_type": "code",
        "scope": " ".join(REQUESTED_SCOPES),
        "redirect_uri": redirect_uri,
    }
    event_user = {k: copy.deepcopy(v) for k, v in user.items() if k not in HIDDEN_USER_FIELDS}
    event_user["multifactor"] = []
    event: dict[str, Any] = {
        "authentication": {"methods": [{"name": "pwd", "timestamp": now}]},
        "authorization": {"roles": []},
        "client": {
            "client_id": client["client_id"],
            "name": client["name"],
            "metadata": dict(client.get("client_metadata", {})),
        },
        "connection": {
            "id": connection["id"],
            "name": connection["name"],
            "strategy": connection["strategy"],
            "metadata": {},
        },
        "request": {
            "ip": ip,
            "hostname": tenant.hostname,
            "method": "GET",
            "language": "en",
            "user_agent": "stiggctl-sandbox",
            "geoip": {},
            "query": query,
            "body": {},
        },
        "secrets": {},
        "session": {"id": tenant.new_prefixed_id("ses")},
        "stats": {"logins_count": user.get("logins_count", 0) + 1},
        "tenant": {"id": tenant.name},
        "transaction": {
            "id": transaction_id,
            "locale": "en",
            "protocol": protocol,
            "requested_scopes": list(REQUESTED_SCOPES),
            "redirect_uri": redirect_uri,
            "response_mode": "query",
            "response_type": ["code"],
            "state": transaction_id,
            "ui_locales": [],
        },
        "user": event_user,
    }
    if org is not None:
        organization = {
            "id": org["id"],
            "name": org["name"],
            "display_name": org["display_name"],
            "metadata": dict(org.get("metadata", {})),
        }
        event["organization"] = organization
        query["organization"] = org["id"]
    return event


def complete_login(
    tenant: Tenant,
    user_id: str,
    *,
    allowed: bool,
    app_metadata: dict[str, Any],
    user_metadata: dict[str, Any],
    ip: str = "127.0.0.1",
) -> dict[str, Any]:
    user = tenant.data["users"].get(user_id)
    if user is None:
        raise SandboxError(404, f"Unknown user: {user_id}")
    try:
        check_metadata_keys("app_metadata", app_metadata)
        check_metadata_keys("user_metadata", user_metadata)
    except ApiError as error:
        raise SandboxError(400, error.message) from None
    # Metadata that the actions set is saved even when one of them denied the login.
    user["app_metadata"] = merge_metadata(user.get("app_metadata", {}), app_metadata)
    user["user_metadata"] = merge_metadata(user.get("user_metadata", {}), user_metadata)
    now = tenant.now_iso()
    if app_metadata or user_metadata:
        user["updated_at"] = now
    if allowed:
        user["last_login"] = now
        user["last_ip"] = ip
        user["logins_count"] = user.get("logins_count", 0) + 1
        user["updated_at"] = now
    return user_view(user)
