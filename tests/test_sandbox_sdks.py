"""Auth0's official Python SDK (auth0-python) pointed at the sandbox: the answers parse into
the SDK's own models and the errors are the ones the SDK knows. (Stigg's SDK is exercised in
test_sandbox_stigg_sdk.py.)"""

from __future__ import annotations

import time

import pytest

from stiggctl.sandbox.auth0.seed import ACME
from stiggctl.sandbox.clock import Clock
from tests.sandbox_helpers import management_token, running_sandbox

auth0_client = pytest.importorskip("auth0.management.client", reason="auth0-python not installed")
auth0_errors = pytest.importorskip("auth0.management.core.api_error")

CODE = "exports.onExecutePostLogin = async (event, api) => { api.user.setAppMetadata('sdk', 1); };"


@pytest.fixture
def sdk():
    # Frozen at the present, so builds finish when the test advances the clock and the
    # x-ratelimit-reset headers the SDK reads stay realistic.
    with running_sandbox(clock=Clock(start=float(int(time.time()))), build_seconds=0.5) as server:
        info = server.info()["auth0"]
        token = management_token(server.base_url, info["client_id"], info["client_secret"])
        yield server, auth0_client.Auth0(base_url=f"{server.base_url}/api/v2", token=token)


def test_action_lifecycle_through_the_official_sdk(sdk):
    server, api = sdk
    created = api.actions.create(
        name="SDK action",
        supported_triggers=[{"id": "post-login", "version": "v3"}],
        code=CODE,
        runtime="node22",
        secrets=[{"name": "API_KEY", "value": "value-never-returned"}],
    )
    assert created.status == "pending"
    assert [s.name for s in created.secrets] == ["API_KEY"]
    server.sandbox.clock.advance(1)
    assert api.actions.get(created.id).status == "built"
    version = api.actions.deploy(created.id)
    assert version.number == 1
    server.sandbox.clock.advance(1)
    roles = next(iter(api.actions.list(action_name="Add roles claim")))
    bindings = api.actions.triggers.bindings.update_many(
        "post-login",
        bindings=[
            {"ref": {"type": "action_id", "value": roles.id}, "display_name": "Add roles claim"},
            {"ref": {"type": "action_name", "value": "SDK action"}, "display_name": "SDK"},
        ],
    )
    assert [b.display_name for b in bindings.bindings] == ["Add roles claim", "SDK"]
    listed = api.actions.triggers.bindings.list("post-login")
    assert [b.action.id for b in listed] == [roles.id, created.id]
    with pytest.raises(auth0_errors.ApiError) as info:
        # The SDK retries 409s by default; one answer is enough to check.
        api.actions.delete(created.id, request_options={"max_retries": 0})
    assert info.value.status_code == 409
    assert "bound to a trigger" in info.value.body["message"]
    versions = api.actions.versions.list(created.id)
    assert [v.number for v in versions] == [1]
    assert "value-never-returned" not in str(api.actions.get(created.id))


def test_users_organizations_clients_through_the_official_sdk(sdk):
    _server, api = sdk
    user = api.users.get("auth0|demo-alice")
    assert user.email == "alice@example.com"
    api.users.update("auth0|demo-alice", app_metadata={"plan": "pro", "nested": {"a": 1}})
    api.users.update("auth0|demo-alice", app_metadata={"nested": {"b": 2}})
    assert api.users.get("auth0|demo-alice").app_metadata == {"plan": "pro", "nested": {"b": 2}}
    org = api.organizations.get(ACME)
    assert org.metadata["industry"] == "manufacturing"
    api.organizations.update(ACME, metadata={"only": "this"})
    assert api.organizations.get(ACME).metadata == {"only": "this"}
    members = [m.user_id for m in api.organizations.members.list(ACME)]
    assert "auth0|demo-alice" in members
    names = [c.name for c in api.clients.list()]
    assert "Acme Business Portal" in names
    with pytest.raises(auth0_errors.ApiError) as info:
        api.users.get("auth0|nobody", request_options={"max_retries": 0})
    assert info.value.status_code == 404
    assert info.value.body["errorCode"] == "inexistent_user"
