"""Actions: drafts that build, versions that deploy, and the ordered bindings of triggers.

Nothing runs in the background: every build and deploy state is computed from the injected
clock when it is read. A draft is `pending` for the first third of `build_seconds`, then
`building`, then `built` (or `failed` when the code checker reports errors). A deploy
answers at once with `deployed: false`; the version becomes the deployed one half a
`build_seconds` after it was requested (and built).
"""

from __future__ import annotations

from typing import Any

from stiggctl.sandbox.auth0.errors import ApiError, bad_request, not_found
from stiggctl.sandbox.auth0.routing import Call, Route
from stiggctl.sandbox.auth0.state import TIME_TOLERANCE, Tenant, iso
from stiggctl.sandbox.auth0.validation import (
    CREATE_ACTION,
    DEPLOY_VERSION,
    TRIGGER_IDS,
    UPDATE_ACTION,
    UPDATE_BINDINGS,
    query_bool,
    query_int,
    read_body,
)
from stiggctl.sandbox.http import Request, Response, json_response

MAX_ACTIONS = 100
MAX_VERSIONS = 50
DEFAULT_PER_PAGE = 20
RUNTIMES = ("node18", "node18-actions", "node22")
DEFAULT_RUNTIME = "node22"
DEFAULT_CODE = "exports.onExecutePostLogin = async (event, api) => {};\n"
ACTION_NOT_FOUND = "That action does not exist."
VERSION_NOT_FOUND = "That action version does not exist."
BUILD_ERROR_URL = "https://auth0.com/docs/customize/actions/troubleshooting"

POST_LOGIN_TRIGGERS = [
    {
        "id": "post-login",
        "version": "v3",
        "status": "CURRENT",
        "runtimes": list(RUNTIMES),
        "default_runtime": DEFAULT_RUNTIME,
        "compatible_triggers": [],
        "binding_policy": "trigger-bound",
    },
    {
        "id": "post-login",
        "version": "v2",
        "status": "DEPRECATED",
        "runtimes": ["node18"],
        "default_runtime": "node18",
        "compatible_triggers": [],
        "binding_policy": "trigger-bound",
    },
]
OTHER_TRIGGERS = [
    "credentials-exchange",
    "pre-user-registration",
    "post-user-registration",
    "post-change-password",
    "send-phone-message",
]

# ---- the build and deploy clocks -----------------------------------------------------------


def _build_status(tenant: Tenant, started: float, errors: list[str]) -> str:
    elapsed = tenant.elapsed_since(started)
    if elapsed >= tenant.build_seconds:
        return "failed" if errors else "built"
    if elapsed < tenant.build_seconds / 3:
        return "pending"
    return "building"


def _built_at(tenant: Tenant, started: float) -> float:
    return started + tenant.build_seconds


def _deploy_delay(tenant: Tenant) -> float:
    return tenant.build_seconds / 2


def _deployed_at(tenant: Tenant, version: dict[str, Any]) -> float | None:
    """When `version` became (or will become) live; None when it never will."""
    requested = version.get("deploy_requested_at")
    if requested is None or version["errors"]:
        return None
    return max(requested, _built_at(tenant, version["build_started_at"])) + _deploy_delay(tenant)


def deployed_version(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any] | None:
    """The version that runs now: the most recently deployed one whose deploy completed."""
    now = tenant.now()
    live = []
    for version in action["versions"]:
        when = _deployed_at(tenant, version)
        if when is not None and when <= now + TIME_TOLERANCE:
            live.append((when, version["number"], version))
    return max(live, key=lambda item: (item[0], item[1]))[2] if live else None


def draft_status(tenant: Tenant, action: dict[str, Any]) -> str:
    return _build_status(tenant, action["build_started_at"], action["build_errors"])


def _all_changes_deployed(tenant: Tenant, action: dict[str, Any]) -> bool:
    live = deployed_version(tenant, action)
    return live is not None and live["id"] == action.get("draft_version_id")


# ---- the API's views of actions and versions -----------------------------------------------


def _secrets_view(secrets: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"name": s["name"], "updated_at": s["updated_at"]} for s in secrets]


def action_base_view(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": action["id"],
        "name": action["name"],
        "supported_triggers": action["supported_triggers"],
        "created_at": action["created_at"],
        "updated_at": action["updated_at"],
        "all_changes_deployed": _all_changes_deployed(tenant, action),
    }


def version_view(tenant: Tenant, action: dict[str, Any], version: dict[str, Any]) -> dict:
    live = deployed_version(tenant, action)
    status = _build_status(tenant, version["build_started_at"], version["errors"])
    view: dict[str, Any] = {
        "id": version["id"],
        "action_id": action["id"],
        "code": version["code"],
        "dependencies": version["dependencies"],
        "deployed": live is not None and live["id"] == version["id"],
        "number": version["number"],
        "secrets": version["secrets"],
        "status": status,
        "created_at": version["created_at"],
        "updated_at": version["updated_at"],
        "runtime": version["runtime"],
        "supported_triggers": version["supported_triggers"],
        "action": action_base_view(tenant, action),
    }
    view.update(_build_outcome(tenant, status, version["build_started_at"], version["errors"]))
    return view


def _build_outcome(
    tenant: Tenant, status: str, started: float, errors: list[str]
) -> dict[str, Any]:
    """What a finished build adds to a version's view: when it was built, or why it failed."""
    if status == "built":
        return {"built_at": iso(_built_at(tenant, started))}
    if status == "failed":
        return {
            "errors": [
                {"id": "build_failed", "msg": message, "url": BUILD_ERROR_URL} for message in errors
            ]
        }
    return {}


def action_view(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": action["id"],
        "name": action["name"],
        "supported_triggers": action["supported_triggers"],
        "created_at": action["created_at"],
        "updated_at": action["updated_at"],
        "code": action["code"],
        "dependencies": action["dependencies"],
        "runtime": action["runtime"],
        "status": draft_status(tenant, action),
        "secrets": _secrets_view(action["secrets"]),
        "all_changes_deployed": _all_changes_deployed(tenant, action),
    }
    deployed = _deployed_version_view(tenant, action)
    if deployed is not None:
        view["deployed_version"] = deployed
    return view


def _deployed_version_view(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any] | None:
    """The version that runs now, as an action's `deployed_version` (without the action)."""
    live = deployed_version(tenant, action)
    if live is None:
        return None
    deployed = version_view(tenant, action, live)
    del deployed["action"]
    return deployed


def binding_view(tenant: Tenant, trigger_id: str, binding: dict[str, Any]) -> dict[str, Any]:
    action = tenant.data["actions"][binding["action_id"]]
    # Live tenants also send `current_version` here; the contract's Action schema has no
    # such field, and nothing in stiggctl reads it.
    action_summary = action_base_view(tenant, action)
    deployed = _deployed_version_view(tenant, action)
    if deployed is not None:
        action_summary["deployed_version"] = deployed
    return {
        "id": binding["id"],
        "trigger_id": trigger_id,
        "action": action_summary,
        "created_at": binding["created_at"],
        "updated_at": binding["updated_at"],
        "display_name": binding["display_name"],
    }


# ---- state changes (shared by the HTTP handlers and the seeds) -----------------------------


def _merge_secrets(
    tenant: Tenant, current: list[dict[str, Any]], requested: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The new secret list (replacing the old one whole); a secret sent without a value keeps
    its previous value."""
    names = [s["name"] for s in requested]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise bad_request(f"Duplicate secret names: {', '.join(duplicates)}")
    previous = {s["name"]: s for s in current}
    now = tenant.now_iso()
    merged = []
    for secret in requested:
        old = previous.get(secret["name"])
        if "value" not in secret and old is not None:
            merged.append(old)
        else:
            merged.append(
                {"name": secret["name"], "value": secret.get("value", ""), "updated_at": now}
            )
    return merged


def _check_runtime(runtime: str) -> None:
    if runtime not in RUNTIMES:
        raise bad_request(f"Unsupported runtime: {runtime}. Supported: {', '.join(RUNTIMES)}.")


def _name_taken(tenant: Tenant, name: str, except_id: str | None = None) -> bool:
    return any(a["name"] == name and a["id"] != except_id for a in tenant.data["actions"].values())


def _start_build(tenant: Tenant, action: dict[str, Any], *, check_code: bool = True) -> None:
    action["build_started_at"] = tenant.now()
    action["build_errors"] = tenant.check_code(action["code"]) if check_code else []
    action["draft_version_id"] = None


def create_action(
    tenant: Tenant, body: dict[str, Any], *, check_code: bool = True
) -> dict[str, Any]:
    if len(tenant.data["actions"]) >= MAX_ACTIONS:
        raise bad_request(f"You have reached the limit of {MAX_ACTIONS} actions for this tenant.")
    if _name_taken(tenant, body["name"]):
        raise ApiError(409, f"An action with the name '{body['name']}' already exists.")
    runtime = body.get("runtime", DEFAULT_RUNTIME)
    _check_runtime(runtime)
    now = tenant.now_iso()
    action: dict[str, Any] = {
        "id": tenant.new_uuid("action"),
        "name": body["name"],
        "supported_triggers": body["supported_triggers"],
        "created_at": now,
        "updated_at": now,
        "code": body.get("code", DEFAULT_CODE),
        "dependencies": body.get("dependencies", []),
        "runtime": runtime,
        "secrets": _merge_secrets(tenant, [], body.get("secrets", [])),
        "versions": [],
    }
    _start_build(tenant, action, check_code=check_code)
    tenant.data["actions"][action["id"]] = action
    if body.get("deploy"):
        _new_version(tenant, action, source=None)
    return action


def update_action(tenant: Tenant, action: dict[str, Any], body: dict[str, Any]) -> None:
    if "name" in body and _name_taken(tenant, body["name"], except_id=action["id"]):
        raise ApiError(409, f"An action with the name '{body['name']}' already exists.")
    if "runtime" in body:
        _check_runtime(body["runtime"])
    if "secrets" in body:
        action["secrets"] = _merge_secrets(tenant, action["secrets"], body["secrets"])
    for key in ("name", "supported_triggers", "code", "dependencies", "runtime"):
        if key in body:
            action[key] = body[key]
    action["updated_at"] = tenant.now_iso()
    _start_build(tenant, action)


def _new_version(
    tenant: Tenant, action: dict[str, Any], source: dict[str, Any] | None
) -> dict[str, Any]:
    """A version made from the draft (`source` None) or copied from an older version; its
    deploy is requested at once."""
    if len(action["versions"]) >= MAX_VERSIONS:
        raise bad_request(f"You have reached the limit of {MAX_VERSIONS} versions for this action.")
    origin = source if source is not None else action
    now = tenant.now()
    version = {
        "id": tenant.new_uuid("version"),
        "number": len(action["versions"]) + 1,
        "code": origin["code"],
        "dependencies": origin["dependencies"],
        "runtime": origin["runtime"],
        "supported_triggers": origin["supported_triggers"],
        "secrets": _secrets_view(action["secrets"]),
        "created_at": iso(now),
        "updated_at": iso(now),
        "build_started_at": origin["build_started_at"],
        "errors": list(origin["errors"] if source is not None else action["build_errors"]),
        "deploy_requested_at": now,
    }
    action["versions"].append(version)
    if source is None:
        action["draft_version_id"] = version["id"]
    return version


def deploy_draft(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any]:
    if draft_status(tenant, action) != "built":
        raise bad_request("A draft must be in the 'built' state before it can be deployed.")
    return _new_version(tenant, action, source=None)


def deploy_old_version(
    tenant: Tenant, action: dict[str, Any], version: dict[str, Any], update_draft: bool
) -> dict[str, Any]:
    status = _build_status(tenant, version["build_started_at"], version["errors"])
    if status != "built":
        raise bad_request("A version must be in the 'built' state before it can be deployed.")
    new = _new_version(tenant, action, source=version)
    if update_draft:
        for key in ("code", "dependencies", "runtime", "supported_triggers"):
            action[key] = version[key]
        action["build_started_at"] = version["build_started_at"]
        action["build_errors"] = []
        action["updated_at"] = tenant.now_iso()
        action["draft_version_id"] = new["id"]
    return new


def install_action(
    tenant: Tenant,
    name: str,
    code: str,
    *,
    secrets: dict[str, str] | None = None,
    runtime: str = DEFAULT_RUNTIME,
    deploy: bool = True,
    bind: bool = True,
) -> dict[str, Any]:
    """An action that has been in the tenant for a while: built (its code trusted, not
    checked), and optionally deployed and bound at the end of post-login. For seeds."""
    body = {
        "name": name,
        "code": code,
        "runtime": runtime,
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "secrets": [{"name": k, "value": v} for k, v in (secrets or {}).items()],
    }
    action = create_action(tenant, body, check_code=False)
    # Back-date the build (and the deploy) so that both are complete now.
    settled = tenant.now() - tenant.build_seconds - _deploy_delay(tenant)
    action["build_started_at"] = settled
    if deploy:
        version = _new_version(tenant, action, source=None)
        version["deploy_requested_at"] = settled + tenant.build_seconds
    if bind:
        current = tenant.data["bindings"].get("post-login", [])
        refs = [{"ref": {"type": "binding_id", "value": b["id"]}} for b in current]
        refs.append({"ref": {"type": "action_id", "value": action["id"]}, "display_name": name})
        replace_bindings(tenant, "post-login", refs)
    return action


def bound_triggers(tenant: Tenant, action_id: str) -> list[str]:
    return [
        trigger
        for trigger, bindings in tenant.data["bindings"].items()
        if any(b["action_id"] == action_id for b in bindings)
    ]


def replace_bindings(
    tenant: Tenant, trigger_id: str, requested: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    actions = tenant.data["actions"]
    current = tenant.data["bindings"].get(trigger_id, [])
    by_binding_id = {b["id"]: b for b in current}
    now = tenant.now_iso()
    result: list[dict[str, Any]] = []
    for item in requested:
        ref = item["ref"]
        kind, value = ref.get("type", "action_name"), ref.get("value", "")
        previous: dict[str, Any] | None = None
        if kind == "binding_id":
            previous = by_binding_id.get(value)
            if previous is None:
                raise bad_request(f"Binding not found: {value}")
            action = actions.get(previous["action_id"])
        elif kind == "action_id":
            action = actions.get(value)
        else:
            action = next((a for a in actions.values() if a["name"] == value), None)
        if action is None:
            raise bad_request(f"Action not found: {value}")
        if not any(t["id"] == trigger_id for t in action["supported_triggers"]):
            raise bad_request(f"The action '{action['name']}' does not support {trigger_id}.")
        if deployed_version(tenant, action) is None:
            raise bad_request(
                "Trying to create a binding for an action that has not been deployed yet"
            )
        if any(b["action_id"] == action["id"] for b in result):
            raise bad_request(f"The action '{action['name']}' is bound more than once.")
        if previous is None:
            previous = next((b for b in current if b["action_id"] == action["id"]), None)
        result.append(
            {
                "id": previous["id"] if previous else tenant.new_uuid("binding"),
                "action_id": action["id"],
                "display_name": item.get("display_name")
                or (previous["display_name"] if previous else action["name"]),
                "created_at": previous["created_at"] if previous else now,
                "updated_at": now,
            }
        )
    tenant.data["bindings"][trigger_id] = result
    return result


# ---- HTTP handlers -------------------------------------------------------------------------


def _action(call: Call, key: str = "id") -> dict[str, Any]:
    action = call.tenant.data["actions"].get(call.params[key])
    if action is None:
        raise not_found(ACTION_NOT_FOUND)
    return action


def _trigger(call: Call) -> str:
    trigger_id = call.params["triggerId"]
    if trigger_id not in TRIGGER_IDS:
        raise bad_request(f"Invalid trigger id: {trigger_id}")
    return trigger_id


def _paging(req: Request) -> tuple[int, int]:
    """`page` and `per_page` of the actions API (which has no 1000-record limit)."""
    page = query_int(req, "page", 0, minimum=0)
    return page, query_int(req, "per_page", DEFAULT_PER_PAGE, minimum=1, maximum=100)


def list_actions(call: Call) -> Response:
    tenant, req = call.tenant, call.req
    page, per_page = _paging(req)
    trigger_id, name = req.arg("triggerId"), req.arg("actionName")
    deployed_filter = query_bool(req, "deployed") if req.arg("deployed") else None
    # No marketplace integrations are installed in a sandbox tenant.
    installed = query_bool(req, "installed")
    selected = [
        a
        for a in tenant.data["actions"].values()
        if not installed
        and (trigger_id is None or any(t["id"] == trigger_id for t in a["supported_triggers"]))
        and (name is None or a["name"] == name)
        and (
            deployed_filter is None or (deployed_version(tenant, a) is not None) == deployed_filter
        )
    ]
    chosen = selected[page * per_page : (page + 1) * per_page]
    return json_response(
        {
            "actions": [action_view(tenant, a) for a in chosen],
            "total": len(selected),
            "per_page": per_page,
        }
    )


def post_action(call: Call) -> Response:
    body = read_body(call.req, CREATE_ACTION)
    action = create_action(call.tenant, body)
    return json_response(action_view(call.tenant, action), 201)


def get_action(call: Call) -> Response:
    return json_response(action_view(call.tenant, _action(call)))


def patch_action(call: Call) -> Response:
    body = read_body(call.req, UPDATE_ACTION)
    action = _action(call)
    update_action(call.tenant, action, body)
    return json_response(action_view(call.tenant, action))


def delete_action(call: Call) -> Response:
    tenant = call.tenant
    action = _action(call)
    bound = bound_triggers(tenant, action["id"])
    if bound and not query_bool(call.req, "force"):
        raise ApiError(409, "Unable to delete an action bound to a trigger.")
    for trigger in bound:
        tenant.data["bindings"][trigger] = [
            b for b in tenant.data["bindings"][trigger] if b["action_id"] != action["id"]
        ]
    del tenant.data["actions"][action["id"]]
    return Response(204)


def post_deploy_action(call: Call) -> Response:
    action = _action(call)
    version = deploy_draft(call.tenant, action)
    # Live tenants answer 200 (the published spec says 202).
    return json_response(version_view(call.tenant, action, version))


def list_versions(call: Call) -> Response:
    tenant = call.tenant
    action = _action(call, "actionId")
    page, per_page = _paging(call.req)
    newest_first = sorted(action["versions"], key=lambda v: v["number"], reverse=True)
    chosen = newest_first[page * per_page : (page + 1) * per_page]
    return json_response(
        {
            "versions": [version_view(tenant, action, v) for v in chosen],
            "total": len(newest_first),
            "per_page": per_page,
        }
    )


def _version(action: dict[str, Any], version_id: str) -> dict[str, Any]:
    version = next((v for v in action["versions"] if v["id"] == version_id), None)
    if version is None:
        raise not_found(VERSION_NOT_FOUND)
    return version


# Auth0's version routes take `draft` for the action's current draft: deploying
# `versions/draft` is the dashboard's "deploy draft", and reading it gives the draft's
# build status and errors, which the action object itself does not carry.
DRAFT_VERSION_ID = "draft"


def draft_view(tenant: Tenant, action: dict[str, Any]) -> dict[str, Any]:
    status = draft_status(tenant, action)
    view: dict[str, Any] = {
        "id": DRAFT_VERSION_ID,
        "action_id": action["id"],
        "code": action["code"],
        "dependencies": action["dependencies"],
        "deployed": False,
        "secrets": _secrets_view(action["secrets"]),
        "status": status,
        "created_at": action["updated_at"],
        "updated_at": action["updated_at"],
        "runtime": action["runtime"],
        "supported_triggers": action["supported_triggers"],
        "action": action_base_view(tenant, action),
    }
    view.update(_build_outcome(tenant, status, action["build_started_at"], action["build_errors"]))
    return view


def get_version(call: Call) -> Response:
    action = _action(call, "actionId")
    if call.params["id"] == DRAFT_VERSION_ID:
        return json_response(draft_view(call.tenant, action))
    return json_response(version_view(call.tenant, action, _version(action, call.params["id"])))


def post_deploy_version(call: Call) -> Response:
    body = read_body(call.req, DEPLOY_VERSION, allow_empty=True) or {}
    action = _action(call, "actionId")
    if call.params["id"] == DRAFT_VERSION_ID:
        return json_response(version_view(call.tenant, action, deploy_draft(call.tenant, action)))
    version = _version(action, call.params["id"])
    new = deploy_old_version(call.tenant, action, version, bool(body.get("update_draft")))
    return json_response(version_view(call.tenant, action, new))


def list_triggers(call: Call) -> Response:
    others = [
        {
            "id": trigger,
            "version": "v2",
            "status": "CURRENT",
            "runtimes": list(RUNTIMES),
            "default_runtime": DEFAULT_RUNTIME,
            "compatible_triggers": [],
            "binding_policy": "trigger-bound",
        }
        for trigger in OTHER_TRIGGERS
    ]
    return json_response({"triggers": POST_LOGIN_TRIGGERS + others})


def get_bindings(call: Call) -> Response:
    tenant = call.tenant
    trigger_id = _trigger(call)
    page, per_page = _paging(call.req)
    bindings = tenant.data["bindings"].get(trigger_id, [])
    chosen = bindings[page * per_page : (page + 1) * per_page]
    return json_response(
        {
            "bindings": [binding_view(tenant, trigger_id, b) for b in chosen],
            "total": len(bindings),
            "per_page": per_page,
        }
    )


def patch_bindings(call: Call) -> Response:
    tenant = call.tenant
    trigger_id = _trigger(call)
    body = read_body(call.req, UPDATE_BINDINGS)
    result = replace_bindings(tenant, trigger_id, body.get("bindings", []))
    return json_response({"bindings": [binding_view(tenant, trigger_id, b) for b in result]})


ROUTES = [
    Route("GET", "/actions/actions", ("read:actions",), list_actions),
    Route("POST", "/actions/actions", ("create:actions",), post_action),
    Route("GET", "/actions/actions/{actionId}/versions", ("read:actions",), list_versions),
    Route("GET", "/actions/actions/{actionId}/versions/{id}", ("read:actions",), get_version),
    Route(
        "POST",
        "/actions/actions/{actionId}/versions/{id}/deploy",
        ("create:actions",),
        post_deploy_version,
    ),
    Route("GET", "/actions/actions/{id}", ("read:actions",), get_action),
    Route("PATCH", "/actions/actions/{id}", ("update:actions",), patch_action),
    Route("DELETE", "/actions/actions/{id}", ("delete:actions",), delete_action),
    Route("POST", "/actions/actions/{id}/deploy", ("create:actions",), post_deploy_action),
    Route("GET", "/actions/triggers", ("read:actions",), list_triggers),
    Route("GET", "/actions/triggers/{triggerId}/bindings", ("read:actions",), get_bindings),
    Route("PATCH", "/actions/triggers/{triggerId}/bindings", ("update:actions",), patch_bindings),
]
