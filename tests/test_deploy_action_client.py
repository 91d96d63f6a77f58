"""deploy-action and the Action's own M2M client: which credentials the Action holds, the
warning when it holds stiggctl's, switching between the two, and the secret's resolution
(environment first, the keyring only outside CI, never shown)."""

from __future__ import annotations

import pytest

from stiggctl.config import profiles
from stiggctl.config.credentials import CredentialStore
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID, CONSUMER_APP_ID, demo_user_id
from stiggctl.sandbox.server import M2M_CLIENT_ID
from tests.cli_helpers import run_cli
from tests.test_deploy_support import (
    ACTION_CLIENT_ID,
    ACTION_CLIENT_SECRET,
    ACTION_NAME,
    ORGANIZATION_SCOPE,
    SHARED_CLIENT_WARNING,
    add_action_client,
    clear_requests,
    cli_sandbox,
    deploy,
    live_secrets,
    requests_seen,
    use_action_client,
    writes_seen,
)

UPDATE = ("PATCH", "/api/v2/actions/actions/{id}", 200)
DEPLOY = ("POST", "/api/v2/actions/actions/{id}/deploy", 200)
WITHOUT_ORGANIZATION_SCOPE = [s for s in STIGGCTL_SCOPES if s != ORGANIZATION_SCOPE]


@pytest.fixture
def sandbox(monkeypatch):
    with cli_sandbox(monkeypatch) as server:
        yield server


def deployed(capsys) -> dict:
    result = deploy(capsys)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert ACTION_CLIENT_SECRET not in result.stdout + result.stderr
    return result.json()["data"]


def first_login_into_acme(server) -> dict:
    """Alice is the first of Acme's members to log in: the Action provisions Acme and marks
    it in the organization's metadata with the Management API token it mints."""
    login = server.sandbox.login(demo_user_id("alice"), org_id=ACME, client_id=BUSINESS_APP_ID)
    assert login["allowed"] is True
    return server.sandbox.auth0.get_org(ACME)["metadata"]


def one_line(text: str) -> str:
    return " ".join(text.split())


def test_the_action_holds_its_own_client_and_marks_a_new_organization_with_it(
    capsys, sandbox, monkeypatch
):
    use_action_client(monkeypatch, sandbox)
    # stiggctl's client no longer needs update:organizations: without it, only a token of
    # the Action's own client can mark the organization.
    sandbox.sandbox.auth0.set_grant(M2M_CLIENT_ID, WITHOUT_ORGANIZATION_SCOPE)
    data = deployed(capsys)
    assert data["action_client"] == {"client_id": ACTION_CLIENT_ID, "own": True}
    assert data["warnings"] == []
    info = sandbox.info()
    assert live_secrets(sandbox) == {
        "STIGG_API_KEY": info["stigg"]["api_key"],
        "AUTH0_M2M_CLIENT_ID": ACTION_CLIENT_ID,
        "AUTH0_M2M_CLIENT_SECRET": ACTION_CLIENT_SECRET,
    }
    assert first_login_into_acme(sandbox) == {
        "industry": "manufacturing",
        "region": "eu",
        "customer_provisioned": "true",
    }


def test_without_the_scope_on_stiggctls_client_a_shared_client_cannot_mark_it(capsys, sandbox):
    # The same tenant as above, but the Action holds stiggctl's client: its PATCH is refused.
    sandbox.sandbox.auth0.set_grant(M2M_CLIENT_ID, WITHOUT_ORGANIZATION_SCOPE)
    data = deployed(capsys)
    assert data["action_client"] == {"client_id": M2M_CLIENT_ID, "own": False}
    assert first_login_into_acme(sandbox) == {"industry": "manufacturing", "region": "eu"}


def test_holding_stiggctls_client_warns_in_human_output_and_in_json(capsys, sandbox):
    dry = deploy(capsys, "--dry-run")
    assert dry.exit_code == 0
    assert dry.json()["data"]["warnings"] == [SHARED_CLIENT_WARNING]
    assert dry.json()["data"]["action_client"] == {"client_id": M2M_CLIENT_ID, "own": False}
    human = run_cli(capsys, "deploy-action")
    assert human.exit_code == 0, human.stderr
    assert f"Warning: {SHARED_CLIENT_WARNING}" in one_line(human.stderr)
    assert human.stdout.startswith(f"Deployed '{ACTION_NAME}' v1")
    # Every run says it, while it holds.
    again = run_cli(capsys, "deploy-action")
    assert f"Warning: {SHARED_CLIENT_WARNING}" in one_line(again.stderr)
    assert one_line(again.stdout).startswith("No changes:")


def test_switching_to_the_actions_own_client_and_back_updates_the_action(
    capsys, sandbox, monkeypatch
):
    info = sandbox.info()
    deployed(capsys)
    assert live_secrets(sandbox)["AUTH0_M2M_CLIENT_ID"] == M2M_CLIENT_ID

    use_action_client(monkeypatch, sandbox)
    dry = deploy(capsys, "--dry-run").json()["data"]
    assert dry["secrets"] == {
        "AUTH0_M2M_CLIENT_ID": "changed",
        "AUTH0_M2M_CLIENT_SECRET": "changed",
        "STIGG_API_KEY": "unchanged",
    }
    assert dry["diff"] == ""
    clear_requests(sandbox)
    switched = deployed(capsys)
    assert [s["step"] for s in switched["steps"]] == ["update_secrets", "deploy"]
    assert (switched["version"], switched["action_client"]) == (
        2,
        {"client_id": ACTION_CLIENT_ID, "own": True},
    )
    assert writes_seen(sandbox) == [UPDATE, DEPLOY]
    assert live_secrets(sandbox) == {
        "STIGG_API_KEY": info["stigg"]["api_key"],
        "AUTH0_M2M_CLIENT_ID": ACTION_CLIENT_ID,
        "AUTH0_M2M_CLIENT_SECRET": ACTION_CLIENT_SECRET,
    }
    assert deployed(capsys)["changed"] is False

    # Back to stiggctl's client: the Action is updated again, and the warning returns.
    monkeypatch.delenv("STIGGCTL_ACTION_CLIENT_ID")
    monkeypatch.delenv("STIGGCTL_ACTION_CLIENT_SECRET")
    back = deployed(capsys)
    assert [s["step"] for s in back["steps"]] == ["update_secrets", "deploy"]
    assert back["warnings"] == [SHARED_CLIENT_WARNING]
    assert live_secrets(sandbox)["AUTH0_M2M_CLIENT_SECRET"] == info["auth0"]["client_secret"]


def test_a_rotated_action_client_secret_is_set_again(capsys, sandbox, monkeypatch):
    use_action_client(monkeypatch, sandbox)
    deployed(capsys)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", "action-client-secret-rotated")
    data = deployed(capsys)
    assert data["secrets"] == {
        "AUTH0_M2M_CLIENT_ID": "unchanged",
        "AUTH0_M2M_CLIENT_SECRET": "changed",
        "STIGG_API_KEY": "unchanged",
    }
    assert live_secrets(sandbox)["AUTH0_M2M_CLIENT_SECRET"] == "action-client-secret-rotated"


def test_individuals_only_need_no_m2m_client_and_get_no_warning(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_MODE", "b2c")
    monkeypatch.setenv("STIGGCTL_B2C_PLAN", "plan-free")
    monkeypatch.setenv("STIGGCTL_APPLICATION_ID", CONSUMER_APP_ID)
    result = deploy(capsys)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert (data["action_client"], data["warnings"]) == (None, [])
    assert data["secrets"] == {"STIGG_API_KEY": "added"}
    assert "Warning" not in result.stderr


def test_in_ci_the_secret_comes_from_the_environment_and_the_keyring_is_untouched(
    capsys, sandbox, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "true")
    use_action_client(monkeypatch, sandbox)
    data = deployed(capsys)
    assert data["action_client"] == {"client_id": ACTION_CLIENT_ID, "own": True}
    assert live_secrets(sandbox)["AUTH0_M2M_CLIENT_SECRET"] == ACTION_CLIENT_SECRET


def test_in_ci_a_named_client_without_its_secret_fails_instead_of_falling_back(
    capsys, sandbox, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "true")
    add_action_client(sandbox)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", ACTION_CLIENT_ID)
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 4
    assert result.json() == {
        "error": {
            "code": "missing_credential",
            "message": "No client secret of the Action's M2M application for profile 'default'.",
            "hint": "Set STIGGCTL_ACTION_CLIENT_SECRET. In CI or with --no-input the keyring "
            "is not read; run interactively to use the secret stored by `stiggctl setup`.",
            "details": {"env": "STIGGCTL_ACTION_CLIENT_SECRET"},
        }
    }
    # Nothing was asked of the tenant: the secrets are gathered before the first request.
    assert requests_seen(sandbox) == []


def test_a_secret_without_a_client_id_fails_instead_of_falling_back(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", ACTION_CLIENT_SECRET)
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 4
    error = result.json()["error"]
    assert (error["code"], error["details"]) == (
        "missing_credential",
        {"env": "STIGGCTL_ACTION_CLIENT_ID"},
    )
    assert error["message"] == (
        "STIGGCTL_ACTION_CLIENT_SECRET is set, but the profile names no action_client_id: "
        "the M2M application it belongs to is unknown."
    )
    assert ACTION_CLIENT_SECRET not in result.stdout + result.stderr
    assert requests_seen(sandbox) == []


def test_outside_ci_the_secret_stored_by_setup_is_read_from_the_keyring(
    capsys, sandbox, monkeypatch, memory_keyring
):
    add_action_client(sandbox)
    profiles.write_profile("default", {"action_client_id": ACTION_CLIENT_ID})
    CredentialStore("default", keyring_allowed=True).store(
        "action_client_secret", ACTION_CLIENT_SECRET
    )
    data = deployed(capsys)
    assert data["action_client"] == {"client_id": ACTION_CLIENT_ID, "own": True}
    assert live_secrets(sandbox)["AUTH0_M2M_CLIENT_SECRET"] == ACTION_CLIENT_SECRET
    assert ACTION_CLIENT_SECRET not in profiles.config_path().read_text()


def test_stiggctls_own_client_id_as_the_actions_is_no_client_of_its_own(
    capsys, sandbox, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", M2M_CLIENT_ID)
    data = deployed(capsys)
    assert data["action_client"] == {"client_id": M2M_CLIENT_ID, "own": False}
    assert data["warnings"] == [SHARED_CLIENT_WARNING]
    assert (
        live_secrets(sandbox)["AUTH0_M2M_CLIENT_SECRET"] == sandbox.info()["auth0"]["client_secret"]
    )
