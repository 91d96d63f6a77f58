"""Applications (clients) and the grants that let a client call the Management API."""

from __future__ import annotations

import copy
from typing import Any

from stiggctl.sandbox.auth0.errors import not_found
from stiggctl.sandbox.auth0.paging import offset_page
from stiggctl.sandbox.auth0.routing import Call, Route
from stiggctl.sandbox.auth0.state import Tenant, secret_digest
from stiggctl.sandbox.auth0.validation import query_bool, query_fields, select_fields
from stiggctl.sandbox.http import Response, json_response

CLIENT_NOT_FOUND = "The client does not exist"
ORGANIZATION_USAGES = ("deny", "allow", "require")
# The scopes stiggctl's M2M client needs (see the reference's scope table).
STIGGCTL_SCOPES = (
    "read:actions",
    "create:actions",
    "update:actions",
    "delete:actions",
    "read:clients",
    "read:users",
    "update:users",
    "update:users_app_metadata",
    "read:organizations",
    "update:organizations",
    "read:organization_members",
)

_GRANT_TYPES = {
    "non_interactive": ["client_credentials"],
    "spa": ["authorization_code", "implicit", "refresh_token"],
    "regular_web": ["authorization_code", "implicit", "refresh_token", "client_credentials"],
    "native": ["authorization_code", "implicit", "refresh_token"],
}


def new_client(
    client_id: str,
    name: str,
    app_type: str,
    *,
    organization_usage: str = "deny",
    organization_require_behavior: str = "no_prompt",
    client_secret: str | None = None,
    client_metadata: dict[str, str] | None = None,
    callbacks: list[str] | None = None,
) -> dict[str, Any]:
    if organization_usage not in ORGANIZATION_USAGES:
        raise ValueError(f"organization_usage must be one of {ORGANIZATION_USAGES}")
    record: dict[str, Any] = {
        "client_id": client_id,
        "name": name,
        "description": "",
        "app_type": app_type,
        "is_first_party": True,
        "oidc_conformant": True,
        "global": False,
        "callbacks": list(callbacks or []),
        "allowed_logout_urls": [],
        "grant_types": list(_GRANT_TYPES.get(app_type, ["authorization_code"])),
        "client_metadata": dict(client_metadata or {}),
        "jwt_configuration": {
            "alg": "RS256",
            "lifetime_in_seconds": 36000,
            "secret_encoded": False,
        },
        "token_endpoint_auth_method": "none" if app_type == "spa" else "client_secret_post",
        "sso_disabled": False,
        "cross_origin_authentication": False,
        "custom_login_page_on": True,
    }
    if app_type != "non_interactive":
        record["organization_usage"] = organization_usage
        record["organization_require_behavior"] = organization_require_behavior
    if client_secret is not None:
        record["secret_sha256"] = secret_digest(client_secret)
    return record


def client_view(tenant: Tenant, record: dict[str, Any]) -> dict[str, Any]:
    # The secret is never answered (live tenants do, with read:client_keys; the sandbox keeps
    # only a digest so that no snapshot or response can leak it).
    view = {k: copy.deepcopy(v) for k, v in record.items() if k != "secret_sha256"}
    view["tenant"] = tenant.name
    return view


def list_clients(call: Call) -> Response:
    tenant, req = call.tenant, call.req
    page = offset_page(req, min_per_page=0, limited=False)
    clients = list(tenant.data["clients"].values())
    if req.arg("app_type"):
        wanted = set((req.arg("app_type") or "").split(","))
        clients = [c for c in clients if c["app_type"] in wanted]
    if req.arg("is_first_party"):
        first_party = query_bool(req, "is_first_party")
        clients = [c for c in clients if c["is_first_party"] == first_party]
    if req.arg("is_global"):
        is_global = query_bool(req, "is_global")
        clients = [c for c in clients if c["global"] == is_global]
    fields, include = query_fields(req)
    views = [select_fields(client_view(tenant, c), fields, include) for c in page.slice(clients)]
    return json_response(page.body("clients", views, len(clients)))


def get_client(call: Call) -> Response:
    record = call.tenant.data["clients"].get(call.params["id"])
    if record is None:
        raise not_found(CLIENT_NOT_FOUND, "inexistent_client")
    fields, include = query_fields(call.req)
    return json_response(select_fields(client_view(call.tenant, record), fields, include))


READ_CLIENTS = (
    "read:clients",
    "read:client_keys",
    "read:client_credentials",
    "read:client_summary",
)
ROUTES = [
    Route("GET", "/clients", READ_CLIENTS, list_clients),
    Route("GET", "/clients/{id}", READ_CLIENTS, get_client),
]
