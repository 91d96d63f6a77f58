"""doctor and the Action's M2M client: its own client checked by minting a token (ok, too
many scopes, the one scope missing, rejected, no secret), a warning when the Action holds
stiggctl's client, and stiggctl's client freed from update:organizations."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import Mode
from stiggctl.core.doctor import CheckStatus, action_client_check, scopes_check
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import CONSUMER_APP_ID
from stiggctl.sandbox.server import M2M_CLIENT_ID
from tests.cli_helpers import run_cli
from tests.test_deploy_support import (
    ACTION_CLIENT_ID,
    ACTION_CLIENT_SECRET,
    ORGANIZATION_SCOPE,
    cli_sandbox,
    deploy,
    is_closed,
    track_auth0_clients,
    use_action_client,
)

OWN_CLIENT_FIX = (
    "Give the Action its own M2M application: in the Auth0 dashboard create a Machine to "
    "Machine application authorized for the Auth0 Management API with only "
    "update:organizations, then run `stiggctl setup --action-client-id CLIENT_ID` (or set "
    "STIGGCTL_ACTION_CLIENT_ID and STIGGCTL_ACTION_CLIENT_SECRET) and `stiggctl deploy-action`."
)
WITHOUT_ORGANIZATION_SCOPE = [s for s in STIGGCTL_SCOPES if s != ORGANIZATION_SCOPE]


# ---- pure ------------------------------------------------------------------------------------


def test_an_own_client_with_only_its_scope_is_ok():
    check = action_client_check(Mode.B2B, "act", "m2m", frozenset({ORGANIZATION_SCOPE}))
    assert (check.id, check.status, check.message, check.fix) == (
        "action_client",
        CheckStatus.OK,
        "client act got a token carrying only update:organizations",
        None,
    )


def test_an_own_client_with_more_scopes_warns_naming_them():
    granted = frozenset({ORGANIZATION_SCOPE, "read:users", "delete:actions"})
    check = action_client_check(Mode.BOTH, "act", "m2m", granted)
    assert check.status is CheckStatus.WARN
    assert check.message == (
        "client act carries more than the Action needs: delete:actions, read:users"
    )
    assert check.fix == (
        "Untick delete:actions, read:users for client act under Applications > APIs > Auth0 "
        "Management API > Machine To Machine Applications in the Auth0 dashboard."
    )


def test_an_own_client_without_its_scope_fails_with_the_fix():
    check = action_client_check(Mode.B2B, "act", "m2m", frozenset({"read:users"}))
    assert check.status is CheckStatus.FAIL
    assert check.message == (
        "client act lacks update:organizations: the Action cannot mark organizations as provisioned"
    )
    assert check.fix == (
        "In the Auth0 dashboard open Applications > APIs > Auth0 Management API > Machine To "
        "Machine Applications, expand client act and tick update:organizations."
    )


@pytest.mark.parametrize(("mode", "configured"), [(Mode.B2B, None), (Mode.BOTH, "m2m")])
def test_holding_stiggctls_client_warns_in_modes_with_organizations(mode, configured):
    check = action_client_check(mode, configured, "m2m")
    assert check.status is CheckStatus.WARN
    assert check.message.startswith(
        "the Action holds stiggctl's own M2M credentials (client m2m), which carry every "
        "scope stiggctl needs"
    )
    assert check.fix == OWN_CLIENT_FIX


def test_individuals_only_need_no_client():
    assert action_client_check(Mode.B2C, None, "m2m").message == (
        "not needed: in mode b2c the Action does not call the Management API"
    )
    assert action_client_check(Mode.B2C, "act", "m2m").status is CheckStatus.OK


def test_stiggctls_client_needs_the_organization_scope_only_for_a_shared_action_client():
    shared = scopes_check(WITHOUT_ORGANIZATION_SCOPE, Mode.B2B, "m2m")
    assert shared.status is CheckStatus.FAIL
    assert shared.message.startswith("missing scopes: update:organizations ")
    own = scopes_check(WITHOUT_ORGANIZATION_SCOPE, Mode.B2B, "m2m", action_has_own_client=True)
    assert own.status is CheckStatus.OK


# ---- against the sandbox -----------------------------------------------------------------------


@pytest.fixture
def sandbox(monkeypatch):
    with cli_sandbox(monkeypatch) as server:
        yield server


def doctor(capsys) -> tuple[int, dict, str]:
    result = run_cli(capsys, "doctor", "--json")
    assert ACTION_CLIENT_SECRET not in result.stdout + result.stderr
    return result.exit_code, result.json()["data"], result.stdout + result.stderr


def check_of(data: dict, check_id: str = "action_client") -> dict:
    return next(c for c in data["checks"] if c["id"] == check_id)


def test_healthy_with_the_actions_own_client_and_no_warning(capsys, sandbox, monkeypatch):
    use_action_client(monkeypatch, sandbox)
    sandbox.sandbox.auth0.set_grant(M2M_CLIENT_ID, WITHOUT_ORGANIZATION_SCOPE)
    assert deploy(capsys).exit_code == 0
    code, data, _ = doctor(capsys)
    assert code == 0
    assert data["summary"] == {"ok": 13, "warn": 0, "fail": 0, "skip": 0}
    assert check_of(data) == {
        "id": "action_client",
        "title": "Action's M2M client",
        "status": "ok",
        "message": f"client {ACTION_CLIENT_ID} got a token carrying only update:organizations",
        "fix": None,
    }
    assert check_of(data, "auth0_scopes")["status"] == "ok"
    # The drift check compared the secrets the Action holds: the Action client's.
    assert check_of(data, "action_current")["message"] == (
        "the deployed code is what the profile renders, secrets included"
    )


def test_warns_when_the_action_holds_stiggctls_client(capsys, sandbox):
    assert deploy(capsys).exit_code == 0
    code, data, _ = doctor(capsys)
    assert code == 0
    assert data["healthy"] is True
    assert check_of(data) == {
        "id": "action_client",
        "title": "Action's M2M client",
        "status": "warn",
        "message": f"the Action holds stiggctl's own M2M credentials (client {M2M_CLIENT_ID}), "
        "which carry every scope stiggctl needs",
        "fix": OWN_CLIENT_FIX,
    }


def test_fails_when_the_actions_client_lacks_the_scope(capsys, sandbox, monkeypatch):
    use_action_client(monkeypatch, sandbox, scopes=("read:users",))
    code, data, _ = doctor(capsys)
    assert code == 3
    check = check_of(data)
    assert (check["status"], check["message"]) == (
        "fail",
        f"client {ACTION_CLIENT_ID} lacks update:organizations: the Action cannot mark "
        "organizations as provisioned",
    )
    assert f"expand client {ACTION_CLIENT_ID} and tick update:organizations." in check["fix"]


def test_warns_when_the_actions_client_carries_more_than_it_needs(capsys, sandbox, monkeypatch):
    use_action_client(monkeypatch, sandbox, scopes=(ORGANIZATION_SCOPE, "read:users"))
    assert deploy(capsys).exit_code == 0
    code, data, _ = doctor(capsys)
    assert (code, data["summary"]) == (0, {"ok": 12, "warn": 1, "fail": 0, "skip": 0})
    assert check_of(data)["status"] == "warn"
    assert check_of(data)["message"] == (
        f"client {ACTION_CLIENT_ID} carries more than the Action needs: read:users"
    )


def test_fails_when_auth0_rejects_the_actions_secret_and_closes_its_client(
    capsys, sandbox, monkeypatch
):
    use_action_client(monkeypatch, sandbox)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", "action-sekret-wrong-x9")
    clients = track_auth0_clients(monkeypatch)
    code, data, output = doctor(capsys)
    assert code == 3
    assert "action-sekret-wrong-x9" not in output
    check = check_of(data)
    assert check["status"] == "fail"
    assert check["message"].startswith(
        f"Auth0 rejected the client credentials of client {ACTION_CLIENT_ID}"
    )
    assert check["fix"] == (
        "Check the client id and secret of the Action's M2M application "
        "(STIGGCTL_ACTION_CLIENT_ID / STIGGCTL_ACTION_CLIENT_SECRET, or `stiggctl setup`)."
    )
    assert [c.client_id for c in clients] == [M2M_CLIENT_ID, ACTION_CLIENT_ID]
    assert all(is_closed(client) for client in clients)


def test_fails_naming_the_variable_when_its_secret_is_missing_in_ci(
    capsys, sandbox, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "true")
    use_action_client(monkeypatch, sandbox)
    assert deploy(capsys).exit_code == 0
    monkeypatch.delenv("STIGGCTL_ACTION_CLIENT_SECRET")
    tokens = sandbox.sandbox.auth0.tokens_issued
    code, data, _ = doctor(capsys)
    assert code == 3
    check = check_of(data)
    assert (check["status"], check["message"]) == (
        "fail",
        "No client secret of the Action's M2M application for profile 'default'.",
    )
    assert check["fix"].startswith("Set STIGGCTL_ACTION_CLIENT_SECRET.")
    # stiggctl's token only: no token was asked for the Action's client.
    assert sandbox.sandbox.auth0.tokens_issued - tokens == 1
    assert check_of(data, "action_current")["status"] == "warn"
    assert check_of(data, "action_current")["fix"] == (
        "Provide STIGGCTL_STIGG_API_KEY and STIGGCTL_ACTION_CLIENT_SECRET."
    )


def test_individuals_only_need_no_client_and_get_no_warning(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_MODE", "b2c")
    monkeypatch.setenv("STIGGCTL_B2C_PLAN", "plan-free")
    monkeypatch.setenv("STIGGCTL_APPLICATION_ID", CONSUMER_APP_ID)
    assert deploy(capsys).exit_code == 0
    code, data, _ = doctor(capsys)
    assert (code, data["summary"]["warn"]) == (0, 0)
    assert check_of(data)["status"] == "ok"
    assert check_of(data)["message"] == (
        "not needed: in mode b2c the Action does not call the Management API"
    )


def test_fails_when_a_secret_names_no_client(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", ACTION_CLIENT_SECRET)
    code, data, _ = doctor(capsys)
    assert code == 3
    check = check_of(data)
    assert (check["status"], check["message"]) == (
        "fail",
        "STIGGCTL_ACTION_CLIENT_SECRET is set, but the profile names no action_client_id: "
        "the M2M application it belongs to is unknown.",
    )
    assert check["fix"].startswith("Set STIGGCTL_ACTION_CLIENT_ID to the client id")
