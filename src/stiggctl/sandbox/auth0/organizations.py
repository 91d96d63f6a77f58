"""Organizations and their members.

Unlike a user's metadata, an organization's `metadata` is REPLACED whole on PATCH (at most 25
keys, string values of at most 255 characters). Lists page by offset (first 1000 records) or
by checkpoint (`from`/`take`, with `next`).
"""

from __future__ import annotations

import copy
from typing import Any

from stiggctl.sandbox.auth0.errors import ApiError, bad_request, not_found
from stiggctl.sandbox.auth0.paging import offset_page, paged_list
from stiggctl.sandbox.auth0.routing import Call, Route
from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.auth0.users import get_user_record
from stiggctl.sandbox.auth0.validation import (
    ORGANIZATION_MEMBERS,
    UPDATE_ORGANIZATION,
    query_fields,
    read_body,
    select_fields,
)
from stiggctl.sandbox.http import Response, json_response

ORGANIZATION_NOT_FOUND = "No organization found by that id or name"
MEMBER_FIELDS = ("user_id", "email", "picture", "name")


def org_view(record: dict[str, Any]) -> dict[str, Any]:
    view = {"id": record["id"], "name": record["name"], "display_name": record["display_name"]}
    if record.get("branding"):
        view["branding"] = copy.deepcopy(record["branding"])
    if record.get("metadata"):
        view["metadata"] = dict(record["metadata"])
    return view


def get_org_record(tenant: Tenant, org_id: str) -> dict[str, Any]:
    record = tenant.data["organizations"].get(org_id)
    if record is None:
        raise not_found(ORGANIZATION_NOT_FOUND)
    return record


def new_org(
    tenant: Tenant,
    org_id: str,
    name: str,
    display_name: str,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": org_id,
        "name": name,
        "display_name": display_name,
        "metadata": dict(metadata or {}),
        "created_at": tenant.now_iso(),
        "seq": tenant.next_seq(),
    }


def _keyed_orgs(tenant: Tenant) -> list[tuple[int, dict[str, Any]]]:
    return sorted(
        ((o["seq"], o) for o in tenant.data["organizations"].values()), key=lambda x: x[0]
    )


def list_organizations(call: Call) -> Response:
    return paged_list(call.req, "organizations", _keyed_orgs(call.tenant), org_view)


def get_organization(call: Call) -> Response:
    return json_response(org_view(get_org_record(call.tenant, call.params["id"])))


def get_organization_by_name(call: Call) -> Response:
    name = call.params["name"]
    record = next(
        (o for o in call.tenant.data["organizations"].values() if o["name"] == name), None
    )
    if record is None:
        raise not_found(ORGANIZATION_NOT_FOUND)
    return json_response(org_view(record))


def update_organization(tenant: Tenant, record: dict[str, Any], body: dict[str, Any]) -> None:
    if "name" in body and any(
        o["name"] == body["name"] and o["id"] != record["id"]
        for o in tenant.data["organizations"].values()
    ):
        raise ApiError(409, "An organization with this name already exists.")
    if "metadata" in body:
        # Replaced whole: keys absent from the body are gone.
        record["metadata"] = {k: v for k, v in body["metadata"].items() if v is not None}
    for field in ("name", "display_name", "branding"):
        if field in body:
            record[field] = copy.deepcopy(body[field])


def patch_organization(call: Call) -> Response:
    body = read_body(call.req, UPDATE_ORGANIZATION)
    record = get_org_record(call.tenant, call.params["id"])
    update_organization(call.tenant, record, body)
    return json_response(org_view(record))


def member_view(tenant: Tenant, user_id: str) -> dict[str, Any]:
    user = tenant.data["users"].get(user_id, {})
    return {field: user[field] for field in MEMBER_FIELDS if field in user}


def list_members(call: Call) -> Response:
    tenant, req = call.tenant, call.req
    record = get_org_record(tenant, call.params["id"])
    members = tenant.data["members"].get(record["id"], {})
    keyed = sorted(((seq, user_id) for user_id, seq in members.items()), key=lambda x: x[0])
    fields, include = query_fields(req)

    def view(user_id: str) -> dict[str, Any]:
        member = member_view(tenant, user_id)
        if fields is not None and "roles" in fields and include:
            member["roles"] = []
        return select_fields(member, fields, include)

    return paged_list(req, "members", keyed, view)


def add_members(tenant: Tenant, org_id: str, user_ids: list[str]) -> None:
    unknown = [u for u in user_ids if u not in tenant.data["users"]]
    if unknown:
        raise bad_request(f"One or more users do not exist: {', '.join(unknown)}")
    members = tenant.data["members"].setdefault(org_id, {})
    for user_id in user_ids:
        if user_id not in members:
            members[user_id] = tenant.next_seq()


def post_members(call: Call) -> Response:
    body = read_body(call.req, ORGANIZATION_MEMBERS)
    record = get_org_record(call.tenant, call.params["id"])
    add_members(call.tenant, record["id"], body["members"])
    return Response(204)


def delete_members(call: Call) -> Response:
    body = read_body(call.req, ORGANIZATION_MEMBERS)
    record = get_org_record(call.tenant, call.params["id"])
    members = call.tenant.data["members"].get(record["id"], {})
    for user_id in body["members"]:
        members.pop(user_id, None)
    return Response(204)


def organizations_of(tenant: Tenant, user_id: str) -> list[dict[str, Any]]:
    return [
        org
        for _, org in _keyed_orgs(tenant)
        if user_id in tenant.data["members"].get(org["id"], {})
    ]


def list_user_organizations(call: Call) -> Response:
    record = get_user_record(call.tenant, call.params["id"])
    offset = offset_page(call.req)
    orgs = organizations_of(call.tenant, record["user_id"])
    views = [org_view(o) for o in offset.slice(orgs)]
    return json_response(offset.body("organizations", views, len(orgs)))


READ_ORGS = ("read:organizations", "read:organizations_summary")
ROUTES = [
    Route("GET", "/organizations", READ_ORGS, list_organizations),
    Route("GET", "/organizations/name/{name}", ("read:organizations",), get_organization_by_name),
    Route("GET", "/organizations/{id}", READ_ORGS, get_organization),
    Route("PATCH", "/organizations/{id}", ("update:organizations",), patch_organization),
    Route("GET", "/organizations/{id}/members", ("read:organization_members",), list_members),
    Route("POST", "/organizations/{id}/members", ("create:organization_members",), post_members),
    Route(
        "DELETE", "/organizations/{id}/members", ("delete:organization_members",), delete_members
    ),
    Route("GET", "/users/{id}/organizations", ("read:organizations",), list_user_organizations),
]
