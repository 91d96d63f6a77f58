"""Actions in the Auth0 emulator: builds, deploys, versions, rollback, bindings, limits."""

from __future__ import annotations

import sys
import types

import pytest

from stiggctl.sandbox.auth0.seed import ROLES_ACTION_NAME
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request
from tests.contracts import auth0_openapi
from tests.test_sandbox_auth0_support import (
    BROKEN_CODE,
    GOOD_CODE,
    Api,
    Contract,
    api_error,
    make_emulator,
    mint_token,
)

POST_LOGIN = [{"id": "post-login", "version": "v3"}]


def new_action(api: Api, name: str = "Stigg MAU", code: str = GOOD_CODE, **extra) -> dict:
    body = {"name": name, "supported_triggers": POST_LOGIN, "code": code, **extra}
    response = api.post("/actions/actions", body)
    assert response.status == 201, response.body
    return response.body


def built_and_deployed(api: Api, clock: Clock, name: str = "Stigg MAU") -> dict:
    action = new_action(api, name)
    clock.advance(0.6)
    assert api.post(f"/actions/actions/{action['id']}/deploy").status == 200
    clock.advance(0.3)
    return api.get(f"/actions/actions/{action['id']}").body


@pytest.fixture
def tenant():
    emu, clock = make_emulator()
    return emu, clock, Api(emu)


def test_build_moves_pending_building_built_with_the_clock(tenant):
    _, clock, api = tenant
    action = new_action(api, secrets=[{"name": "STIGG_API_KEY", "value": "sk-1"}])
    assert action["status"] == "pending"
    assert action["all_changes_deployed"] is False
    assert action["runtime"] == "node22"
    assert action["secrets"] == [
        {"name": "STIGG_API_KEY", "updated_at": "2023-11-14T22:13:20.000Z"}
    ]
    assert "deployed_version" not in action
    path = f"/actions/actions/{action['id']}"
    clock.advance(0.19)
    assert api.get(path).body["status"] == "pending"
    clock.advance(0.02)
    assert api.get(path).body["status"] == "building"
    clock.advance(0.38)
    assert api.get(path).body["status"] == "building"
    clock.advance(0.01)
    assert api.get(path).body["status"] == "built"


def test_failed_build_is_reported_and_cannot_be_deployed(tenant):
    _, clock, api = tenant
    action = new_action(api, code=BROKEN_CODE)
    clock.advance(0.6)
    assert api.get(f"/actions/actions/{action['id']}").body["status"] == "failed"
    response = api.post(f"/actions/actions/{action['id']}/deploy")
    assert response.status == 400
    assert response.body == api_error(
        400, "Bad Request", "A draft must be in the 'built' state before it can be deployed."
    )


def test_the_draft_reads_as_version_draft_with_its_build_errors(tenant):
    _, clock, api = tenant
    action = new_action(api, code=BROKEN_CODE)
    path = f"/actions/actions/{action['id']}/versions/draft"
    assert api.get(path).body["status"] == "pending"
    clock.advance(0.6)
    draft = api.get(path)
    assert draft.status == 200
    assert (draft.body["id"], draft.body["status"], draft.body["deployed"]) == (
        "draft",
        "failed",
        False,
    )
    assert draft.body["errors"] == [
        {
            "id": "build_failed",
            "msg": "SyntaxError: Unexpected end of input",
            "url": "https://auth0.com/docs/customize/actions/troubleshooting",
        }
    ]
    Contract(auth0_openapi()).check_response(
        "GET", "/actions/actions/{actionId}/versions/{id}", draft
    )
    assert api.post(f"{path}/deploy").status == 400  # a failed draft cannot be deployed


def test_deploying_version_draft_deploys_the_draft(tenant):
    _, clock, api = tenant
    action = new_action(api)
    clock.advance(0.6)
    deployed = api.post(f"/actions/actions/{action['id']}/versions/draft/deploy")
    assert deployed.status == 200
    assert deployed.body["number"] == 1
    clock.advance(0.3)
    assert api.get(f"/actions/actions/{action['id']}").body["deployed_version"]["number"] == 1


def test_deploy_before_the_build_finishes_is_refused(tenant):
    _, clock, api = tenant
    action = new_action(api)
    clock.advance(0.3)
    assert api.post(f"/actions/actions/{action['id']}/deploy").status == 400


def test_create_with_deploy_builds_a_version_that_can_fail_with_errors(tenant):
    _, clock, api = tenant
    action = new_action(api, code=BROKEN_CODE, deploy=True)
    clock.advance(1)
    versions = api.get(f"/actions/actions/{action['id']}/versions").body
    assert versions["total"] == 1
    version = versions["versions"][0]
    assert version["status"] == "failed"
    assert version["deployed"] is False
    assert version["errors"] == [
        {
            "id": "build_failed",
            "msg": "SyntaxError: Unexpected end of input",
            "url": "https://auth0.com/docs/customize/actions/troubleshooting",
        }
    ]
    assert "deployed_version" not in api.get(f"/actions/actions/{action['id']}").body


def test_create_with_deploy_of_good_code_goes_live_after_build_and_deploy(tenant):
    _, clock, api = tenant
    action = new_action(api, deploy=True)
    clock.advance(0.6 + 0.3)
    body = api.get(f"/actions/actions/{action['id']}").body
    assert body["deployed_version"]["number"] == 1
    assert body["all_changes_deployed"] is True


def test_deploy_answers_deployed_false_then_flips(tenant):
    _, clock, api = tenant
    action = new_action(api)
    clock.advance(0.6)
    deployed = api.post(f"/actions/actions/{action['id']}/deploy")
    assert deployed.status == 200  # live tenants answer 200; the spec says 202
    version = deployed.body
    assert (version["number"], version["deployed"], version["status"]) == (1, False, "built")
    assert version["action"]["id"] == action["id"]
    path = f"/actions/actions/{action['id']}"
    assert "deployed_version" not in api.get(path).body
    clock.advance(0.29)
    assert api.get(f"{path}/versions/{version['id']}").body["deployed"] is False
    clock.advance(0.01)
    body = api.get(path).body
    assert body["deployed_version"]["id"] == version["id"]
    assert body["deployed_version"]["deployed"] is True
    assert body["deployed_version"]["built_at"] == "2023-11-14T22:13:20.600Z"
    assert body["all_changes_deployed"] is True


def test_update_makes_a_new_draft_and_keeps_the_deployed_version(tenant):
    _, clock, api = tenant
    action = built_and_deployed(api, clock)
    path = f"/actions/actions/{action['id']}"
    updated = api.patch(path, {"code": GOOD_CODE + "// v2\n"})
    assert updated.status == 200
    assert updated.body["status"] == "pending"
    assert updated.body["all_changes_deployed"] is False
    assert updated.body["deployed_version"]["number"] == 1
    assert updated.body["deployed_version"]["code"] == GOOD_CODE
    clock.advance(0.6)
    second = api.post(f"{path}/deploy").body
    assert second["number"] == 2
    clock.advance(0.3)
    body = api.get(path).body
    assert body["deployed_version"]["number"] == 2
    assert body["all_changes_deployed"] is True


def test_versions_list_newest_first_and_get_one(tenant):
    _, clock, api = tenant
    action = built_and_deployed(api, clock)
    path = f"/actions/actions/{action['id']}"
    api.patch(path, {"code": GOOD_CODE + "// v2\n"})
    clock.advance(0.6)
    api.post(f"{path}/deploy")
    listed = api.get(f"{path}/versions").body
    assert [v["number"] for v in listed["versions"]] == [2, 1]
    assert (listed["total"], listed["per_page"]) == (2, 20)
    assert [v["deployed"] for v in listed["versions"]] == [False, True]  # 2 is still rolling out
    one = api.get(f"{path}/versions/{listed['versions'][1]['id']}")
    assert one.body["number"] == 1
    missing = api.get(f"{path}/versions/00000000-0000-0000-0000-000000000000")
    assert missing.status == 404
    assert missing.body == api_error(404, "Not Found", "That action version does not exist.")


@pytest.mark.parametrize("update_draft", [False, True])
def test_rollback_deploys_a_new_version_copying_the_old_one(tenant, update_draft):
    _, clock, api = tenant
    action = built_and_deployed(api, clock)
    path = f"/actions/actions/{action['id']}"
    first = api.get(f"{path}/versions").body["versions"][0]
    api.patch(path, {"code": "// second\n" + GOOD_CODE})
    clock.advance(0.6)
    api.post(f"{path}/deploy")
    clock.advance(0.3)
    body = {"update_draft": True} if update_draft else None
    rolled = api.post(f"{path}/versions/{first['id']}/deploy", body)
    assert rolled.status == 200
    assert (rolled.body["number"], rolled.body["code"]) == (3, GOOD_CODE)
    assert rolled.body["deployed"] is False
    clock.advance(0.3)
    current = api.get(path).body
    assert current["deployed_version"]["number"] == 3
    assert current["deployed_version"]["code"] == GOOD_CODE
    assert current["code"] == (GOOD_CODE if update_draft else "// second\n" + GOOD_CODE)
    assert current["all_changes_deployed"] is update_draft


def test_list_actions_filters_by_name_trigger_and_deployed(tenant):
    _, clock, api = tenant
    built_and_deployed(api, clock, "Deployed one")
    new_action(api, "Draft only")
    names = lambda **q: [a["name"] for a in api.get("/actions/actions", **q).body["actions"]]  # noqa: E731
    assert names() == [ROLES_ACTION_NAME, "Deployed one", "Draft only"]
    assert names(actionName="Draft only") == ["Draft only"]
    assert names(triggerId="post-login", deployed="true") == [ROLES_ACTION_NAME, "Deployed one"]
    assert names(deployed="false") == ["Draft only"]
    assert names(triggerId="credentials-exchange") == []
    assert names(installed="true") == []
    page = api.get("/actions/actions", per_page=2, page=1).body
    assert (page["total"], page["per_page"], [a["name"] for a in page["actions"]]) == (
        3,
        2,
        ["Draft only"],
    )


def test_secrets_are_never_returned_and_patch_replaces_the_list(tenant):
    emu, clock, api = tenant
    action = built_and_deployed(api, clock)
    path = f"/actions/actions/{action['id']}"
    api.patch(path, {"secrets": [{"name": "A", "value": "alpha"}, {"name": "B", "value": "beta"}]})
    clock.advance(1)
    replaced = api.patch(path, {"secrets": [{"name": "B"}, {"name": "C", "value": "gamma"}]})
    assert [s["name"] for s in replaced.body["secrets"]] == ["B", "C"]
    assert all(set(s) == {"name", "updated_at"} for s in replaced.body["secrets"])
    assert replaced.body["secrets"][0]["updated_at"] == "2023-11-14T22:13:20.900Z"
    assert replaced.body["secrets"][1]["updated_at"] == "2023-11-14T22:13:21.900Z"
    api.patch(
        "/actions/triggers/post-login/bindings",
        {"bindings": [{"ref": {"type": "action_id", "value": action["id"]}}]},
    )
    # B kept its value (sent without one), A is gone, C is new: the runtime gets the values.
    assert emu.post_login_actions()[0]["secrets"] == {"B": "beta", "C": "gamma"}
    duplicate = api.patch(
        path, {"secrets": [{"name": "X", "value": "1"}, {"name": "X", "value": "2"}]}
    )
    assert duplicate.status == 400


def test_bindings_append_keep_order_and_accept_every_ref_kind(tenant):
    emu, clock, api = tenant
    ours = built_and_deployed(api, clock, "Stigg MAU")
    other = built_and_deployed(api, clock, "Other")
    current = api.get("/actions/triggers/post-login/bindings").body
    assert current["total"] == 1
    existing = current["bindings"][0]
    assert existing["action"]["name"] == ROLES_ACTION_NAME
    body = {
        "bindings": [
            {"ref": {"type": "action_name", "value": "Other"}, "display_name": "other one"},
            {"ref": {"type": "binding_id", "value": existing["id"]}},
            {"ref": {"type": "action_id", "value": ours["id"]}, "display_name": "stigg"},
        ]
    }
    replaced = api.patch("/actions/triggers/post-login/bindings", body)
    assert replaced.status == 200
    assert [b["action"]["name"] for b in replaced.body["bindings"]] == [
        "Other",
        ROLES_ACTION_NAME,
        "Stigg MAU",
    ]
    assert [b["display_name"] for b in replaced.body["bindings"]] == [
        "other one",
        ROLES_ACTION_NAME,
        "stigg",
    ]
    assert replaced.body["bindings"][1]["id"] == existing["id"]
    assert replaced.body["bindings"][1]["created_at"] == existing["created_at"]
    read_back = api.get("/actions/triggers/post-login/bindings").body["bindings"]
    assert [b["id"] for b in read_back] == [b["id"] for b in replaced.body["bindings"]]
    assert [a["name"] for a in emu.post_login_actions()] == [
        "Other",
        ROLES_ACTION_NAME,
        "Stigg MAU",
    ]
    assert other["id"] == read_back[0]["action"]["id"]


def test_binding_an_action_not_yet_deployed_is_a_400(tenant):
    _, clock, api = tenant
    action = new_action(api)
    ref = {"bindings": [{"ref": {"type": "action_id", "value": action["id"]}}]}
    response = api.patch("/actions/triggers/post-login/bindings", ref)
    assert response.status == 400
    assert response.body == api_error(
        400,
        "Bad Request",
        "Trying to create a binding for an action that has not been deployed yet",
    )
    clock.advance(0.6)
    api.post(f"/actions/actions/{action['id']}/deploy")
    assert api.patch("/actions/triggers/post-login/bindings", ref).status == 400  # rolling out
    clock.advance(0.3)
    assert api.patch("/actions/triggers/post-login/bindings", ref).status == 200


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"type": "action_id", "value": "nope"}, "Action not found: nope"),
        ({"type": "action_name", "value": "nope"}, "Action not found: nope"),
        ({"type": "binding_id", "value": "nope"}, "Binding not found: nope"),
    ],
)
def test_binding_unknown_refs_is_a_400(tenant, ref, message):
    _, _, api = tenant
    response = api.patch("/actions/triggers/post-login/bindings", {"bindings": [{"ref": ref}]})
    assert (response.status, response.body["message"]) == (400, message)


def test_binding_the_same_action_twice_is_refused(tenant):
    _, clock, api = tenant
    action = built_and_deployed(api, clock)
    ref = {"ref": {"type": "action_id", "value": action["id"]}}
    response = api.patch("/actions/triggers/post-login/bindings", {"bindings": [ref, ref]})
    assert response.status == 400


def test_empty_binding_list_unbinds_everything(tenant):
    emu, _, api = tenant
    response = api.patch("/actions/triggers/post-login/bindings", {"bindings": []})
    assert response.body == {"bindings": []}
    assert emu.post_login_actions() == []


def test_triggers_list_and_unknown_trigger(tenant):
    _, _, api = tenant
    triggers = api.get("/actions/triggers").body["triggers"]
    current = [t for t in triggers if t["id"] == "post-login" and t["status"] == "CURRENT"]
    assert current[0]["version"] == "v3"
    assert current[0]["default_runtime"] == "node22"
    assert api.get("/actions/triggers/post-login/bindings").status == 200
    assert api.get("/actions/triggers/credentials-exchange/bindings").body["bindings"] == []
    assert api.get("/actions/triggers/nope/bindings").status == 400


def test_deleting_a_bound_action_is_a_409_unless_forced(tenant):
    emu, _, api = tenant
    bound = api.get("/actions/triggers/post-login/bindings").body["bindings"][0]["action"]
    path = f"/actions/actions/{bound['id']}"
    refused = api.delete(path)
    assert refused.status == 409
    assert refused.body == api_error(
        409, "Conflict", "Unable to delete an action bound to a trigger."
    )
    forced = api.delete(path, force="true")
    assert (forced.status, forced.body) == (204, None)
    assert api.get("/actions/triggers/post-login/bindings").body["bindings"] == []
    assert api.get(path).status == 404
    assert api.get(path).body == api_error(404, "Not Found", "That action does not exist.")
    assert emu.post_login_actions() == []


def test_deleting_an_unbound_action(tenant):
    _, _, api = tenant
    action = new_action(api)
    assert api.delete(f"/actions/actions/{action['id']}").status == 204
    assert api.delete(f"/actions/actions/{action['id']}").status == 404


def test_action_names_are_unique(tenant):
    _, _, api = tenant
    new_action(api, "Once")
    response = api.post("/actions/actions", {"name": "Once", "supported_triggers": POST_LOGIN})
    assert response.status == 409
    other = new_action(api, "Twice")
    assert api.patch(f"/actions/actions/{other['id']}", {"name": "Once"}).status == 409


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"name": "x", "supported_triggers": POST_LOGIN, "colour": "red"},
            "Payload validation error: 'Additional properties not allowed: colour'.",
        ),
        (
            {"name": 42, "supported_triggers": POST_LOGIN},
            "Payload validation error: 'Expected type string but found type integer' "
            "on property name.",
        ),
        (
            {"name": "x"},
            "Payload validation error: 'Missing required property: supported_triggers'.",
        ),
        (
            {"name": "x", "supported_triggers": []},
            "Payload validation error: 'Array is too short (0), minimum 1' "
            "on property supported_triggers.",
        ),
        (
            {"name": "x", "supported_triggers": [{"id": "post-logon", "version": "v3"}]},
            "Payload validation error: 'No enum match for: \"post-logon\"' "
            "on property supported_triggers[0].id.",
        ),
        (
            {
                "name": "x",
                "supported_triggers": POST_LOGIN,
                "secrets": [{"name": f"S{i}", "value": "v"} for i in range(31)],
            },
            "Payload validation error: 'Array is too long (31), maximum 30' on property secrets.",
        ),
        (
            {"name": "x", "supported_triggers": POST_LOGIN, "code": "x" * (100 * 1024 + 1)},
            "Payload validation error: 'String is too long (102401 chars), maximum 102400' "
            "on property code.",
        ),
        (
            {
                "name": "x",
                "supported_triggers": POST_LOGIN,
                "dependencies": [{"name": "lodash", "version": "4", "pinned": True}],
            },
            "Payload validation error: 'Additional properties not allowed: pinned' "
            "on property dependencies[0].",
        ),
    ],
)
def test_bodies_the_real_api_rejects_are_rejected_the_same_way(tenant, body, message):
    _, _, api = tenant
    contract = Contract(auth0_openapi())
    if "secrets" not in body and "code" not in body:  # limits are not in the contract
        assert contract.errors(contract.request_schema("POST", "/actions/actions"), body) != []
    response = api.post("/actions/actions", body)
    assert response.status == 400
    assert response.body == api_error(400, "Bad Request", message, "invalid_body")


def test_malformed_json_is_a_400(tenant):
    _, _, api = tenant
    response = api.call("POST", "/actions/actions", raw=b"{not json")
    assert response.body == api_error(400, "Bad Request", "Invalid request payload JSON format")


def test_unsupported_runtime_is_a_400(tenant):
    _, _, api = tenant
    response = api.post(
        "/actions/actions", {"name": "x", "supported_triggers": POST_LOGIN, "runtime": "node12"}
    )
    assert response.status == 400
    assert response.body["message"].startswith("Unsupported runtime: node12.")


def test_at_most_100_actions():
    emu, _ = make_emulator(seed="empty", build_seconds=0)
    api = Api(emu)
    for n in range(100):
        new_action(api, f"a{n}")
    response = api.post("/actions/actions", {"name": "a100", "supported_triggers": POST_LOGIN})
    assert response.status == 400
    assert response.body["message"] == "You have reached the limit of 100 actions for this tenant."


def test_at_most_50_versions():
    emu, _ = make_emulator(seed="empty", build_seconds=0)
    api = Api(emu)
    action = new_action(api)
    for _ in range(50):
        assert api.post(f"/actions/actions/{action['id']}/deploy").status == 200
    response = api.post(f"/actions/actions/{action['id']}/deploy")
    assert response.status == 400
    assert response.body["message"] == "You have reached the limit of 50 versions for this action."


def test_at_most_20_bindings_per_trigger():
    emu, _ = make_emulator(seed="empty", build_seconds=0)
    api = Api(emu)
    ids = []
    for n in range(21):
        action = new_action(api, f"a{n}")
        api.post(f"/actions/actions/{action['id']}/deploy")
        ids.append(action["id"])
    refs = [{"ref": {"type": "action_id", "value": i}} for i in ids]
    assert api.patch("/actions/triggers/post-login/bindings", {"bindings": refs[:20]}).status == 200
    response = api.patch("/actions/triggers/post-login/bindings", {"bindings": refs})
    assert response.status == 400
    assert response.body["message"] == (
        "Payload validation error: 'Array is too long (21), maximum 20' on property bindings."
    )


def test_checker_that_cannot_run_fails_the_build():
    def broken_checker(code: str) -> list[str]:
        raise RuntimeError("node not found")

    emu, _ = make_emulator(seed="empty", build_seconds=0, code_checker=broken_checker)
    api = Api(emu)
    action = new_action(api)
    assert api.get(f"/actions/actions/{action['id']}").body["status"] == "failed"
    deployed = api.post(f"/actions/actions/{action['id']}/deploy")
    assert deployed.status == 400


def test_default_checker_is_the_runtimes_check_code(monkeypatch):
    seen: list[str] = []
    fake_runtime = types.ModuleType("stiggctl.sandbox.runtime")

    def check_code(code: str) -> list[str]:
        seen.append(code)
        return ["no onExecutePostLogin export"]

    fake_runtime.check_code = check_code  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "stiggctl.sandbox.runtime", fake_runtime)
    emu, _ = make_emulator(seed="empty", build_seconds=0, code_checker=None)
    api = Api(emu)
    action = new_action(api, code="module.exports = {};")
    assert seen == ["module.exports = {};"]
    assert api.get(f"/actions/actions/{action['id']}").body["status"] == "failed"


def test_empty_bodies_are_read_as_empty_objects(tenant):
    _, _, api = tenant
    patched = api.call("PATCH", "/actions/triggers/post-login/bindings", raw=b"")
    assert (patched.status, patched.body) == (200, {"bindings": []})
    created = api.call("POST", "/actions/actions", raw=b"")
    assert created.body["message"] == "Payload validation error: 'Missing required property: name'."


def test_form_encoded_bodies_are_read_like_json(tenant):
    emu, _, _ = tenant
    headers = {
        "authorization": f"Bearer {mint_token(emu)}",
        "content-type": "application/x-www-form-urlencoded",
    }
    req = Request.build("POST", "/api/v2/actions/actions", headers, b"name=x")
    answer = emu.handle(req)
    # `name` was read from the form; a form cannot carry the triggers array.
    assert answer.body["message"] == (
        "Payload validation error: 'Missing required property: supported_triggers'."
    )
