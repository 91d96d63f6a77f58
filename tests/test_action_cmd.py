"""`stiggctl action status / rollback / remove` against the sandbox over real HTTP."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import TEMPLATE_VERSION
from tests.cli_helpers import run_cli
from tests.test_deploy_support import (
    ACTION_NAME,
    B2B_SECRETS,
    ROLES,
    clear_requests,
    cli_sandbox,
    deploy,
    deployed_code,
    management,
    tenant_view,
    writes_seen,
)

AUDIT = "Audit log"
AUDIT_CODE = "exports.onExecutePostLogin = async () => {};\n"


@pytest.fixture
def sandbox(monkeypatch):
    with cli_sandbox(monkeypatch) as server:
        yield server


def action(capsys, *args: str):
    return run_cli(capsys, "action", *args, "--json")


def deploy_ok(capsys) -> dict:
    result = deploy(capsys)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()["data"]


def test_status_of_a_tenant_without_the_action(capsys, sandbox):
    result = action(capsys, "status")
    assert result.exit_code == 0
    assert result.json() == {
        "data": {"action_name": ACTION_NAME, "exists": False, "action_id": None}
    }


def test_status_of_a_deployed_action(capsys, sandbox):
    deployed = deploy_ok(capsys)
    result = action(capsys, "status")
    assert result.exit_code == 0
    data = result.json()["data"]
    live = data.pop("deployed_version")
    assert (live["number"], live["status"], live["build_errors"]) == (1, "built", [])
    assert data == {
        "action_name": ACTION_NAME,
        "exists": True,
        "action_id": deployed["action_id"],
        "runtime": "node22",
        "draft": {"status": "built", "all_changes_deployed": True, "build_errors": []},
        "binding": {"bound": True, "position": 2, "total": 2, "order": [ROLES, ACTION_NAME]},
        "drift": {
            "state": "in_sync",
            "message": "the deployed code is what the profile renders",
            "deployed_template": TEMPLATE_VERSION,
            "rendered_template": TEMPLATE_VERSION,
            "secrets": dict.fromkeys(B2B_SECRETS, "unchanged"),
        },
    }
    human = run_cli(capsys, "action", "status")
    lines = [" ".join(line.split()) for line in human.stdout.splitlines()]
    assert "deployed v1 (built)" in lines
    assert f"post-login position 2 of 2: {ROLES} → {ACTION_NAME}" in lines
    assert "drift the deployed code is what the profile renders" in lines


def test_status_shows_drift_of_settings_and_of_secrets(capsys, sandbox, monkeypatch):
    deploy_ok(capsys)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-rotated")
    drift = action(capsys, "status").json()["data"]["drift"]
    assert (drift["state"], drift["message"]) == (
        "code_differs",
        "the deployed settings differ from the profile's rendering",
    )
    assert drift["secrets"] == {
        "AUTH0_M2M_CLIENT_ID": "unchanged",
        "AUTH0_M2M_CLIENT_SECRET": "unchanged",
        "STIGG_API_KEY": "changed",
    }
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-free")
    drift = action(capsys, "status").json()["data"]["drift"]
    assert (drift["state"], drift["message"]) == (
        "secrets_differ",
        "secrets not as in the profile: STIGG_API_KEY",
    )


def test_status_still_reports_the_tenant_when_the_profile_cannot_render(
    capsys, sandbox, monkeypatch
):
    deploy_ok(capsys)
    monkeypatch.delenv("STIGGCTL_B2B_PLAN")
    data = action(capsys, "status").json()["data"]
    assert data["drift"]["state"] == "unknown"
    assert "b2b_plan" in data["drift"]["message"]
    assert data["binding"]["position"] == 2


def test_rollback_deploys_the_previous_version_as_a_new_one(capsys, sandbox, monkeypatch):
    deploy_ok(capsys)
    v1_code = deployed_code(sandbox)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    assert deploy_ok(capsys)["version"] == 2
    v2_code = deployed_code(sandbox)

    clear_requests(sandbox)
    result = action(capsys, "rollback")
    assert result.exit_code == 0
    data = result.json()["data"]
    assert data == {
        "action_id": data["action_id"],
        "action_name": ACTION_NAME,
        "previous": 2,
        "rolled_back_to": 1,
        "version": 3,
        "changed": True,
    }
    assert writes_seen(sandbox) == [
        ("POST", "/api/v2/actions/actions/{id}/versions/{id}/deploy", 200)
    ]
    assert deployed_code(sandbox) == v1_code
    view = tenant_view(sandbox)
    assert (view["action"]["deployed"], view["action"]["versions"]) == (3, [1, 2, 3])
    assert view["bindings"] == [ROLES, ACTION_NAME]
    assert action(capsys, "status").json()["data"]["drift"]["state"] == "code_differs"

    forward = action(capsys, "rollback", "--to", "2").json()["data"]
    assert (forward["version"], forward["rolled_back_to"], forward["previous"]) == (4, 2, 3)
    assert deployed_code(sandbox) == v2_code
    # The profile's rendering is live again: nothing for deploy-action to do.
    assert deploy(capsys).json()["data"]["steps"] == []


def test_after_a_rollback_deploy_action_brings_the_profile_back(capsys, sandbox, monkeypatch):
    deploy_ok(capsys)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    deploy_ok(capsys)
    action(capsys, "rollback")
    data = deploy_ok(capsys)
    assert data["steps"] == [
        {"step": "deploy", "detail": "deploy the built draft (v3 stays live until then)"}
    ]
    assert data["version"] == 4
    assert '"b2bPlanId": "plan-pro"' in deployed_code(sandbox)


def test_a_rollback_to_the_profiles_rendering_leaves_only_the_draft_to_update(
    capsys, sandbox, monkeypatch
):
    deploy_ok(capsys)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    deploy_ok(capsys)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-free")
    assert action(capsys, "rollback").json()["data"]["version"] == 3
    clear_requests(sandbox)
    data = deploy_ok(capsys)
    # v3 already runs the profile's rendering: no new version, the draft is brought back.
    assert data["steps"] == [{"step": "update_code", "detail": "settings changed (same template)"}]
    assert data["version"] == 3
    assert writes_seen(sandbox) == [("PATCH", "/api/v2/actions/actions/{id}", 200)]
    assert deploy_ok(capsys)["steps"] == []
    assert tenant_view(sandbox)["action"]["versions"] == [1, 2, 3]


def test_rollback_to_the_live_version_changes_nothing(capsys, sandbox):
    deploy_ok(capsys)
    clear_requests(sandbox)
    result = action(capsys, "rollback", "--to", "1")
    assert result.exit_code == 0
    assert result.json()["data"]["changed"] is False
    assert writes_seen(sandbox) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [],
            f"Cannot roll back '{ACTION_NAME}': no built version comes before the live version 1.",
        ),
        (["--to", "7"], f"Cannot roll back '{ACTION_NAME}': there is no version 7 (versions: 1)."),
    ],
)
def test_rollback_without_a_version_to_go_to_fails(capsys, sandbox, args, message):
    deploy_ok(capsys)
    result = action(capsys, "rollback", *args)
    assert result.exit_code == 1
    error = result.json()["error"]
    assert (error["code"], error["message"]) == ("invalid_input", message)


def test_rollback_of_a_missing_action_fails(capsys, sandbox):
    result = action(capsys, "rollback")
    assert result.exit_code == 1
    assert result.json()["error"]["code"] == "not_found"


def test_remove_unbinds_then_deletes_and_keeps_the_others_in_order(capsys, sandbox):
    deployed = deploy_ok(capsys)
    sandbox.sandbox.auth0.add_action(AUDIT, AUDIT_CODE)
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME, AUDIT]
    clear_requests(sandbox)
    result = action(capsys, "remove")
    assert result.exit_code == 0
    assert result.json() == {
        "data": {
            "action_id": deployed["action_id"],
            "action_name": ACTION_NAME,
            "removed": True,
            "unbound": True,
            "bindings": [ROLES, AUDIT],
        }
    }
    assert writes_seen(sandbox) == [
        ("PATCH", "/api/v2/actions/triggers/post-login/bindings", 200),
        ("DELETE", "/api/v2/actions/actions/{id}", 204),
    ]
    assert tenant_view(sandbox) == {"bindings": [ROLES, AUDIT], "action": None}
    with management(sandbox) as auth0:
        assert [a.name for a in auth0.list_actions()] == [ROLES, AUDIT]

    again = action(capsys, "remove")
    assert again.exit_code == 0
    assert again.json()["data"] == {
        "action_id": None,
        "action_name": ACTION_NAME,
        "removed": False,
        "unbound": False,
        "bindings": None,
    }


def test_remove_of_an_unbound_action_only_deletes_it(capsys, sandbox):
    deploy_ok(capsys)
    with management(sandbox) as auth0:
        from stiggctl.clients.auth0_models import BindingUpdate

        auth0.replace_bindings([BindingUpdate.keeping(auth0.get_bindings()[0])])
    clear_requests(sandbox)
    data = action(capsys, "remove").json()["data"]
    assert (data["removed"], data["unbound"], data["bindings"]) == (True, False, [ROLES])
    assert writes_seen(sandbox) == [("DELETE", "/api/v2/actions/actions/{id}", 204)]


def test_remove_in_human_mode_says_what_runs_now(capsys, sandbox):
    deploy_ok(capsys)
    result = run_cli(capsys, "action", "remove", "--yes")
    assert result.exit_code == 0
    assert " ".join(result.stdout.split()) == (
        f"Removed '{ACTION_NAME}'. Post-login now runs: '{ROLES}'."
    )
