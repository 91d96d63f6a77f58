"""The Auth0 emulator against Auth0's own contract: every route and scope it serves is in
the OpenAPI subset, every answer to a call stiggctl makes validates against the response
schema, and every request body these tests send validates against the request schema."""

from __future__ import annotations

from typing import Any

import pytest

from stiggctl.sandbox.auth0.emulator import ROUTES
from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID
from stiggctl.sandbox.http import Response
from tests.contracts import auth0_openapi
from tests.test_sandbox_auth0_support import (
    BROKEN_CODE,
    GOOD_CODE,
    M2M_ID,
    Api,
    Contract,
    make_emulator,
    user_path,
)

ALICE = "auth0|demo-alice"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(auth0_openapi())


class CheckedApi:
    """Calls the emulator and validates each request body and each answer on the way."""

    def __init__(self, api: Api, contract: Contract) -> None:
        self.api = api
        self.contract = contract
        self.checked: list[str] = []

    def __call__(
        self,
        method: str,
        template: str,
        path: str,
        body: Any = None,
        *,
        status: int = 200,
        query: dict[str, Any] | None = None,
    ) -> Response:
        if body is not None:
            self.contract.check_request(method, template, body)
        response = self.api.call(method, path, body, query=query)
        assert response.status == status, response.body
        # Error bodies have no schema in the contract (their shape is tested elsewhere).
        if response.body is not None and response.status < 300:
            self.contract.check_response(method, template, response)
        self.checked.append(f"{method} {template}")
        return response


@pytest.fixture
def world(contract):
    emu, clock = make_emulator()
    return CheckedApi(Api(emu), contract), clock, emu


def test_every_route_is_in_the_contract_with_its_scopes(contract):
    paths = contract.spec["paths"]
    for route in ROUTES:
        assert route.template in paths, route.template
        operation = paths[route.template].get(route.method.lower())
        assert operation is not None, f"{route.method} {route.template}"
        scopes = next(
            s["oAuth2ClientCredentials"]
            for s in operation["security"]
            if "oAuth2ClientCredentials" in s
        )
        assert route.scopes == tuple(scopes), f"{route.method} {route.template}"


def test_action_lifecycle_answers_match_the_contract(world):
    call, clock, _ = world
    create = {
        "name": "Stigg MAU",
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "code": GOOD_CODE,
        "runtime": "node22",
        "dependencies": [],
        "secrets": [{"name": "STIGG_API_KEY", "value": "k"}],
    }
    action = call("POST", "/actions/actions", "/actions/actions", create, status=201).body
    one = "/actions/actions/{id}"
    path = f"/actions/actions/{action['id']}"
    call("GET", one, path)
    clock.advance(0.3)
    call("GET", one, path)
    clock.advance(0.3)
    first = call("POST", "/actions/actions/{id}/deploy", f"{path}/deploy").body
    clock.advance(0.3)
    call("GET", one, path)  # with deployed_version
    call("GET", "/actions/actions", "/actions/actions", query={"actionName": "Stigg MAU"})
    call(
        "GET",
        "/actions/actions",
        "/actions/actions",
        query={"triggerId": "post-login", "deployed": "true"},
    )
    call(
        "PATCH",
        one,
        path,
        {"code": GOOD_CODE + "//2\n", "secrets": [{"name": "STIGG_API_KEY", "value": "k2"}]},
    )
    clock.advance(0.6)
    call("POST", "/actions/actions/{id}/deploy", f"{path}/deploy")
    versions = "/actions/actions/{actionId}/versions"
    call("GET", versions, f"{path}/versions")
    call("GET", versions + "/{id}", f"{path}/versions/{first['id']}")
    rollback = versions + "/{id}/deploy"
    call("POST", rollback, f"{path}/versions/{first['id']}/deploy", {"update_draft": True})
    call("POST", rollback, f"{path}/versions/{first['id']}/deploy")
    clock.advance(0.3)
    bindings = "/actions/triggers/{triggerId}/bindings"
    current = call("GET", bindings, "/actions/triggers/post-login/bindings").body["bindings"]
    refs = [
        {
            "ref": {"type": "action_id", "value": b["action"]["id"]},
            "display_name": b["display_name"],
        }
        for b in current
    ]
    refs.append({"ref": {"type": "action_name", "value": "Stigg MAU"}, "display_name": "Stigg MAU"})
    call("PATCH", bindings, "/actions/triggers/post-login/bindings", {"bindings": refs})
    call("GET", bindings, "/actions/triggers/post-login/bindings")
    call("GET", "/actions/triggers", "/actions/triggers")
    call("DELETE", one, path, status=409)
    call("DELETE", one, path, status=204, query={"force": "true"})


def test_failed_version_answers_match_the_contract(world):
    call, clock, _ = world
    body = {
        "name": "Broken",
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "code": BROKEN_CODE,
        "deploy": True,
    }
    action = call("POST", "/actions/actions", "/actions/actions", body, status=201).body
    clock.advance(1)
    listed = call(
        "GET", "/actions/actions/{actionId}/versions", f"/actions/actions/{action['id']}/versions"
    )
    assert listed.body["versions"][0]["errors"][0]["msg"] == "SyntaxError: Unexpected end of input"


def test_directory_answers_match_the_contract(world, contract):
    call, clock, _ = world
    call("GET", "/clients", "/clients")
    call("GET", "/clients", "/clients", query={"include_totals": "true", "per_page": 50, "page": 0})
    call("GET", "/clients/{id}", f"/clients/{BUSINESS_APP_ID}")
    call("GET", "/users", "/users", query={"per_page": 5})
    call("GET", "/users", "/users", query={"include_totals": "true", "q": "email:*@example.com"})
    call("GET", "/users/{id}", user_path(ALICE))
    call(
        "PATCH",
        "/users/{id}",
        user_path(ALICE),
        {"app_metadata": {"stigg": {"provisioned": True}, "old": None}},
    )
    call("GET", "/users/{id}/organizations", f"{user_path(ALICE)}/organizations")
    call(
        "GET",
        "/users/{id}/organizations",
        f"{user_path(ALICE)}/organizations",
        query={"include_totals": "true"},
    )

    export = {
        "format": "json",
        "fields": [{"name": "user_id"}, {"name": "app_metadata"}],
        "limit": 1000,
    }
    job = call("POST", "/jobs/users-exports", "/jobs/users-exports", export).body
    call("GET", "/jobs/{id}", f"/jobs/{job['id']}")
    clock.advance(0.6)
    assert "location" in call("GET", "/jobs/{id}", f"/jobs/{job['id']}").body

    offset = call("GET", "/organizations", "/organizations", query={"include_totals": "true"})
    assert (
        contract.errors(
            contract.component("ListOrganizationsOffsetPaginatedResponseContent"), offset.body
        )
        == []
    )
    checkpoint = call("GET", "/organizations", "/organizations", query={"take": 3})
    last = call(
        "GET",
        "/organizations",
        "/organizations",
        query={"take": 3, "from": checkpoint.body["next"]},
    )
    for page in (checkpoint.body, last.body):
        assert (
            contract.errors(contract.component("ListOrganizationsPaginatedResponseContent"), page)
            == []
        )
    call("GET", "/organizations", "/organizations")
    call("GET", "/organizations/{id}", f"/organizations/{ACME}")
    call("GET", "/organizations/name/{name}", "/organizations/name/acme")
    call(
        "PATCH",
        "/organizations/{id}",
        f"/organizations/{ACME}",
        {"metadata": {"stigg_customer": "org_acme", "region": "eu"}},
    )

    members = "/organizations/{id}/members"
    page = call("GET", members, f"/organizations/{ACME}/members", query={"take": 5})
    assert (
        contract.errors(
            contract.component("ListOrganizationMembersPaginatedResponseContent"), page.body
        )
        == []
    )
    totals = call(
        "GET", members, f"/organizations/{ACME}/members", query={"include_totals": "true"}
    )
    assert (
        contract.errors(
            contract.component("ListOrganizationMembersOffsetPaginatedResponseContent"), totals.body
        )
        == []
    )


def test_member_additions_match_the_contract(contract):
    emu, _ = make_emulator()
    emu.set_grant(M2M_ID, ["create:organization_members"])
    call = CheckedApi(Api(emu), contract)
    call(
        "POST",
        "/organizations/{id}/members",
        f"/organizations/{ACME}/members",
        {"members": ["auth0|demo-mallory"]},
        status=204,
    )


def test_the_contract_also_rejects_what_the_emulator_rejects(contract):
    emu, _ = make_emulator()
    api = Api(emu)
    cases = [
        (
            "PATCH",
            "/organizations/{id}",
            f"/organizations/{ACME}",
            {"metadata": {f"k{i}": "v" for i in range(26)}},
        ),
        ("PATCH", "/organizations/{id}", f"/organizations/{ACME}", {"metadata": {"k": "x" * 256}}),
        ("PATCH", "/organizations/{id}", f"/organizations/{ACME}", {"meta": {}}),
        ("POST", "/jobs/users-exports", "/jobs/users-exports", {"format": "ndjson"}),
        ("POST", "/jobs/users-exports", "/jobs/users-exports", {"fields": [{"field": "user_id"}]}),
        (
            "POST",
            "/actions/actions/{actionId}/versions/{id}/deploy",
            "/actions/actions/x/versions/y/deploy",
            {"draft": True},
        ),
        (
            "PATCH",
            "/actions/triggers/{triggerId}/bindings",
            "/actions/triggers/post-login/bindings",
            {"bindings": [{"display_name": "x"}]},
        ),
        ("PATCH", "/actions/actions/{id}", "/actions/actions/x", {"code": 1}),
    ]
    for method, template, path, body in cases:
        assert contract.errors(contract.request_schema(method, template), body) != [], body
        response = api.call(method, path, body)
        assert response.status == 400, (body, response.body)
        assert response.body["errorCode"] == "invalid_body"
