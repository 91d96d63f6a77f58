"""Users: read, search, and update with Auth0's metadata rules.

`app_metadata` and `user_metadata` merge at the first level on PATCH (a key set to null is
deleted, `{}` clears the map, nested objects are replaced whole). `last_login`, `last_ip` and
`logins_count` are absent until the first login.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from stiggctl.sandbox.auth0.errors import ApiError, bad_request, not_found
from stiggctl.sandbox.auth0.paging import offset_page
from stiggctl.sandbox.auth0.routing import Call, Route
from stiggctl.sandbox.auth0.search import compile_query
from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.auth0.validation import (
    UPDATE_USER,
    query_fields,
    query_violation,
    read_body,
    select_fields,
)
from stiggctl.sandbox.http import Response, json_response

USER_NOT_FOUND = "The user does not exist."
MAX_PROFILE_BYTES = 10 * 1024
PROFILE_FIELDS = ("email", "name", "nickname", "given_name", "family_name", "picture", "username")


def user_view(record: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(record)


def get_user_record(tenant: Tenant, user_id: str) -> dict[str, Any]:
    record = tenant.data["users"].get(user_id)
    if record is None:
        raise not_found(USER_NOT_FOUND, "inexistent_user")
    return record


def check_metadata_keys(field: str, changes: dict[str, Any]) -> None:
    bad = sorted(k for k in changes if "." in k or "$" in k)
    if bad:
        raise bad_request(
            f'Payload validation error: \'{field} keys must not contain "." or "$": '
            f"{', '.join(bad)}'.",
            "invalid_body",
        )


def merge_metadata(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """First-level merge: a key set to None is deleted, nested objects are replaced whole."""
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_metadata_patch(record: dict[str, Any], field: str, patch: dict[str, Any]) -> None:
    check_metadata_keys(field, patch)
    record[field] = {} if patch == {} else merge_metadata(record.get(field, {}), patch)


def check_profile_size(record: dict[str, Any]) -> None:
    size = len(json.dumps([record.get("app_metadata"), record.get("user_metadata")]))
    if size > MAX_PROFILE_BYTES:
        raise bad_request(
            f"Payload validation error: 'User metadata is too large ({size} bytes), "
            f"maximum {MAX_PROFILE_BYTES}'.",
            "invalid_body",
        )


def _gravatar_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def new_user(
    tenant: Tenant,
    user_id: str,
    *,
    email: str,
    name: str | None = None,
    nickname: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
    app_metadata: dict[str, Any] | None = None,
    user_metadata: dict[str, Any] | None = None,
    created_at: str | None = None,
) -> dict[str, Any]:
    connection = tenant.data["connections"][0]
    provider, _, local_id = user_id.partition("|")
    created = created_at or tenant.now_iso()
    record: dict[str, Any] = {
        "user_id": user_id,
        "email": email,
        "email_verified": True,
        "name": name or email,
        "nickname": nickname or email.split("@")[0],
        "picture": f"https://s.gravatar.com/avatar/{_gravatar_hash(email)}?s=480&r=pg&d=mp",
        "created_at": created,
        "updated_at": created,
        "identities": [
            {
                "connection": connection["name"],
                "provider": provider or "auth0",
                "user_id": local_id or user_id,
                "isSocial": False,
            }
        ],
        "app_metadata": copy.deepcopy(app_metadata or {}),
        "user_metadata": copy.deepcopy(user_metadata or {}),
    }
    if given_name:
        record["given_name"] = given_name
    if family_name:
        record["family_name"] = family_name
    return record


def update_user(tenant: Tenant, record: dict[str, Any], body: dict[str, Any]) -> None:
    for field in ("app_metadata", "user_metadata"):
        if field in body:
            apply_metadata_patch(record, field, body[field])
    for field in PROFILE_FIELDS:
        if field in body:
            if body[field] is None:
                record.pop(field, None)
            else:
                record[field] = body[field]
    for flag in ("blocked", "email_verified"):
        if flag in body:
            record[flag] = body[flag]
    check_profile_size(record)
    record["updated_at"] = tenant.now_iso()


def _sort_key(spec: str):
    field, _, direction = spec.partition(":")
    if direction not in ("1", "-1") or not field:
        raise query_violation("sort", f"String does not match pattern: {spec}")

    def key(user: dict[str, Any]) -> tuple[bool, str]:
        value = user.get(field)
        return (value is None, json.dumps(value) if not isinstance(value, str) else value)

    return key, direction == "-1"


def list_users(call: Call) -> Response:
    req = call.req
    engine = req.arg("search_engine")
    if engine is not None and engine not in ("v2", "v3"):
        raise query_violation("search_engine", f'No enum match for: "{engine}"')
    page = offset_page(req, min_per_page=0)
    users = list(call.tenant.data["users"].values())
    if req.arg("connection"):
        users = [
            u
            for u in users
            if any(i["connection"] == req.arg("connection") for i in u["identities"])
        ]
    if req.arg("q"):
        predicate = compile_query(req.arg("q") or "")
        users = [u for u in users if predicate(u)]
    if req.arg("sort"):
        key, reverse = _sort_key(req.arg("sort") or "")
        users.sort(key=key, reverse=reverse)
    fields, include = query_fields(req)
    chosen = [select_fields(user_view(u), fields, include) for u in page.slice(users)]
    if not page.include_totals:
        return json_response(chosen)
    return json_response(
        {
            "start": page.start,
            "limit": page.per_page,
            "length": len(chosen),
            "total": len(users),
            "users": chosen,
        }
    )


def get_user(call: Call) -> Response:
    record = get_user_record(call.tenant, call.params["id"])
    fields, include = query_fields(call.req)
    return json_response(select_fields(user_view(record), fields, include))


def patch_user(call: Call) -> Response:
    body = read_body(call.req, UPDATE_USER)
    record = get_user_record(call.tenant, call.params["id"])
    if not body:
        raise ApiError(
            400,
            "Payload validation error: 'Too few properties defined (0), minimum 1'.",
            "invalid_body",
        )
    updated = copy.deepcopy(record)
    update_user(call.tenant, updated, body)
    call.tenant.data["users"][record["user_id"]] = updated
    return json_response(user_view(updated))


READ_USERS = ("read:users", "read:user_idp_tokens")
ROUTES = [
    Route("GET", "/users", READ_USERS, list_users),
    Route(
        "GET", "/users/{id}", ("read:users", "read:current_user", "read:user_idp_tokens"), get_user
    ),
    Route(
        "PATCH",
        "/users/{id}",
        ("update:users", "update:users_app_metadata", "update:current_user_metadata"),
        patch_user,
    ),
]
