"""deploy-action against the sandbox over real HTTP, in process: create, no-op, update,
dry run, secrets, failed builds, binding order, rate limits and server errors."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import TEMPLATE_VERSION
from stiggctl.core.render import RenderedAction
from stiggctl.sandbox.auth0.seed import BUSINESS_APP_ID, demo_user_id
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from stiggctl.sandbox.server import M2M_CLIENT_ID
from tests.cli_helpers import run_cli
from tests.test_deploy_support import (
    ACTION_NAME,
    B2B_SECRETS,
    ROLES,
    SHARED_CLIENT_WARNING,
    clear_requests,
    cli_sandbox,
    deploy,
    deployed_body,
    is_closed,
    live_secrets,
    management,
    on_request,
    record_retry_waits,
    requests_seen,
    tenant_view,
    track_auth0_clients,
    writes_seen,
)

TOKEN = ("POST", "/oauth/token", 200)
FIND = ("GET", "/api/v2/actions/actions", 200)
BINDINGS = ("GET", "/api/v2/actions/triggers/post-login/bindings", 200)
GET_ACTION = ("GET", "/api/v2/actions/actions/{id}", 200)
CREATE = ("POST", "/api/v2/actions/actions", 201)
UPDATE = ("PATCH", "/api/v2/actions/actions/{id}", 200)
DEPLOY = ("POST", "/api/v2/actions/actions/{id}/deploy", 200)
WRITE_BINDINGS = ("PATCH", "/api/v2/actions/triggers/post-login/bindings", 200)


@pytest.fixture
def sandbox(monkeypatch):
    with cli_sandbox(monkeypatch) as server:
        yield server


def first_deploy(capsys, sandbox) -> dict:
    result = deploy(capsys)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.json()["data"]


def test_first_deploy_creates_deploys_and_binds_at_the_end(capsys, sandbox):
    clear_requests(sandbox)
    data = first_deploy(capsys, sandbox)
    assert writes_seen(sandbox) == [CREATE, DEPLOY, WRITE_BINDINGS]
    assert requests_seen(sandbox)[-2:] == [WRITE_BINDINGS, BINDINGS]  # read back after writing
    with management(sandbox) as auth0:
        action = auth0.find_action(ACTION_NAME)
    assert data == {
        "action_id": action.id,
        "action_name": ACTION_NAME,
        "version": 1,
        "changed": True,
        "bound": True,
        "position": 2,
        "steps": [
            {
                "step": "create",
                "detail": f"create '{ACTION_NAME}' (node22, template {TEMPLATE_VERSION}) "
                "with secrets AUTH0_M2M_CLIENT_ID, AUTH0_M2M_CLIENT_SECRET, STIGG_API_KEY",
            },
            {"step": "deploy", "detail": "deploy it as version 1"},
            {"step": "bind", "detail": "bind to post-login at position 2 of 2"},
        ],
        "secrets": dict.fromkeys(B2B_SECRETS, "added"),
        "dry_run": False,
        "action_client": {"client_id": M2M_CLIENT_ID, "own": False},
        "warnings": [SHARED_CLIENT_WARNING],
    }
    assert tenant_view(sandbox) == {
        "bindings": [ROLES, ACTION_NAME],
        "action": {
            "status": "built",
            "runtime": "node22",
            "secrets": B2B_SECRETS,
            "all_changes_deployed": True,
            "deployed": 1,
            "versions": [1],
        },
    }
    info = sandbox.info()
    assert live_secrets(sandbox) == {
        "STIGG_API_KEY": info["stigg"]["api_key"],
        "AUTH0_M2M_CLIENT_ID": info["auth0"]["client_id"],
        "AUTH0_M2M_CLIENT_SECRET": info["auth0"]["client_secret"],
    }


def test_the_deployed_action_runs_logins_with_its_secrets(capsys, sandbox):
    first_deploy(capsys, sandbox)
    login = sandbox.sandbox.login(
        demo_user_id("alice"), org_id="org_acme000000000001", client_id=BUSINESS_APP_ID
    )
    assert login["allowed"] is True
    assert [(a["name"], a["status"]) for a in login["actions"]] == [
        (ROLES, "ok"),
        (ACTION_NAME, "ok"),
    ]
    # Provisioning needed the Stigg key, the organization update the M2M pair.
    assert [c["status"] for c in login["actions"][1]["http_calls"]] == [200, 200, 200, 200, 200]


def test_second_run_writes_nothing_and_says_no_changes(capsys, sandbox):
    first = first_deploy(capsys, sandbox)
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 0
    assert result.json() == {
        "data": {
            "action_id": first["action_id"],
            "action_name": ACTION_NAME,
            "version": 1,
            "changed": False,
            "bound": True,
            "position": 2,
            "steps": [],
            "secrets": dict.fromkeys(B2B_SECRETS, "unchanged"),
            "dry_run": False,
            "action_client": {"client_id": M2M_CLIENT_ID, "own": False},
            "warnings": [SHARED_CLIENT_WARNING],
        }
    }
    assert requests_seen(sandbox) == [TOKEN, FIND, BINDINGS]
    human = run_cli(capsys, "deploy-action")
    assert human.exit_code == 0
    assert " ".join(human.stdout.split()) == (
        f"No changes: '{ACTION_NAME}' v1 is live and bound to post-login at position 2 of 2."
    )


def test_changed_settings_update_the_draft_and_deploy_version_2(capsys, sandbox, monkeypatch):
    first_deploy(capsys, sandbox)
    with management(sandbox) as auth0:
        secrets_before = auth0.find_action(ACTION_NAME).secrets
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 0
    data = result.json()["data"]
    assert (data["version"], data["changed"], data["position"]) == (2, True, 2)
    assert data["steps"] == [
        {"step": "update_code", "detail": "settings changed (same template)"},
        {"step": "deploy", "detail": "deploy the built draft (v1 stays live until then)"},
    ]
    # The code alone changed: the secrets were not sent, so Auth0 kept them as they were.
    assert writes_seen(sandbox) == [UPDATE, DEPLOY]
    with management(sandbox) as auth0:
        assert auth0.find_action(ACTION_NAME).secrets == secrets_before
    assert '"b2bPlanId": "plan-pro"' in deployed_body(sandbox)
    assert tenant_view(sandbox)["action"]["versions"] == [1, 2]
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME]


def test_a_changed_secret_is_detected_without_reading_it_and_set_in_full(
    capsys, sandbox, monkeypatch
):
    first_deploy(capsys, sandbox)
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-rotated-key")
    dry = deploy(capsys, "--dry-run").json()["data"]
    assert dry["secrets"] == {
        "AUTH0_M2M_CLIENT_ID": "unchanged",
        "AUTH0_M2M_CLIENT_SECRET": "unchanged",
        "STIGG_API_KEY": "changed",
    }
    assert dry["diff"] == ""
    assert "server-rotated-key" not in dry["steps"][0]["detail"]
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 0
    assert [s["step"] for s in result.json()["data"]["steps"]] == ["update_secrets", "deploy"]
    assert writes_seen(sandbox) == [UPDATE, DEPLOY]
    secrets = live_secrets(sandbox)
    assert secrets["STIGG_API_KEY"] == "server-rotated-key"
    assert secrets["AUTH0_M2M_CLIENT_ID"] == sandbox.info()["auth0"]["client_id"]
    assert "server-rotated-key" not in result.stdout + result.stderr
    assert deploy(capsys).json()["data"]["changed"] is False


def test_dry_run_of_an_empty_tenant_plans_everything_and_writes_nothing(capsys, sandbox):
    clear_requests(sandbox)
    result = deploy(capsys, "--dry-run")
    assert result.exit_code == 0
    data = result.json()["data"]
    assert (data["dry_run"], data["changed"], data["action_id"], data["version"]) == (
        True,
        True,
        None,
        None,
    )
    assert (data["bound"], data["position"]) == (False, 2)
    assert [s["step"] for s in data["steps"]] == ["create", "deploy", "bind"]
    assert data["diff"].startswith("--- /dev/null\n+++ rendered\n")
    assert requests_seen(sandbox) == [TOKEN, FIND, BINDINGS]
    assert tenant_view(sandbox) == {"bindings": [ROLES], "action": None}


def test_dry_run_shows_the_diff_against_the_deployed_version(capsys, sandbox, monkeypatch):
    first_deploy(capsys, sandbox)
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    clear_requests(sandbox)
    data = deploy(capsys, "--dry-run").json()["data"]
    assert [s["step"] for s in data["steps"]] == ["update_code", "deploy"]
    assert data["diff"].startswith("--- deployed v1\n+++ rendered\n")
    changed = [line for line in data["diff"].splitlines() if line[:1] in "+-"][2:]
    assert changed[-2:] == ['-  "b2bPlanId": "plan-free",', '+  "b2bPlanId": "plan-pro",']
    assert writes_seen(sandbox) == []
    human = run_cli(capsys, "deploy-action", "--dry-run")
    assert human.exit_code == 0
    assert human.stdout.startswith(f"Dry run: nothing was changed. Plan for '{ACTION_NAME}' (v1")
    assert '+  "b2bPlanId": "plan-pro",' in human.stdout
    assert "STIGG_API_KEY unchanged" in " ".join(human.stdout.split())
    assert tenant_view(sandbox)["action"]["versions"] == [1]


def test_a_failed_build_exits_1_and_leaves_the_live_version(capsys, sandbox, monkeypatch):
    first_deploy(capsys, sandbox)
    from stiggctl.commands.deploy import apply

    good = apply.profile_rendering

    def broken(app_ctx) -> RenderedAction:
        rendered = good(app_ctx)
        code = rendered.code.replace("exports.onExecutePostLogin", "exports.onSomethingElse")
        return RenderedAction(code, rendered.fingerprint, TEMPLATE_VERSION, rendered.secret_names)

    monkeypatch.setattr(apply, "profile_rendering", broken)
    result = deploy(capsys)
    assert result.exit_code == 1
    error = result.json()["error"]
    assert error["code"] == "build_failed"
    # The build errors are read from the draft (version id `draft`), as Auth0 reports them.
    assert error["message"] == (
        f"The build of '{ACTION_NAME}' failed: The code does not export an onExecutePostLogin "
        "function (exports.onExecutePostLogin = async (event, api) => { ... }) (v1 stays live)."
    )
    view = tenant_view(sandbox)
    assert view["action"]["status"] == "failed"
    assert (view["action"]["deployed"], view["action"]["versions"]) == (1, [1])
    assert view["bindings"] == [ROLES, ACTION_NAME]
    assert "onExecutePostLogin" in deployed_body(sandbox)

    monkeypatch.setattr(apply, "profile_rendering", good)
    fixed = deploy(capsys).json()["data"]
    # The broken code's body no longer matches its header: it reads as edited by hand. What
    # runs (v1) is already the profile's rendering: only the draft is put right.
    assert fixed["steps"] == [
        {"step": "update_code", "detail": "replace code edited outside stiggctl"}
    ]
    assert fixed["version"] == 1
    assert deploy(capsys).json()["data"]["changed"] is False
    assert tenant_view(sandbox)["action"]["versions"] == [1]


def test_bindings_before_and_after_ours_keep_their_order(capsys, sandbox, monkeypatch):
    first_deploy(capsys, sandbox)
    sandbox.sandbox.auth0.add_action("Audit log", "exports.onExecutePostLogin = async () => {};\n")
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME, "Audit log"]

    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    clear_requests(sandbox)
    kept = deploy(capsys).json()["data"]
    assert (kept["version"], kept["position"]) == (2, 2)
    assert WRITE_BINDINGS not in writes_seen(sandbox)
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME, "Audit log"]

    moved = deploy(capsys, "--position", "end").json()["data"]
    assert moved["steps"] == [
        {"step": "bind", "detail": "move in post-login from position 2 to 3 of 3"}
    ]
    assert tenant_view(sandbox)["bindings"] == [ROLES, "Audit log", ACTION_NAME]

    human = run_cli(capsys, "deploy-action", "--position", "start")
    assert human.exit_code == 0
    assert " ".join(human.stdout.split()) == (
        f"Updated '{ACTION_NAME}': v2 is live and bound to post-login at position 1 of 3. "
        "✓ bind move in post-login from position 3 to 1 of 3"
    )
    first = deploy(capsys, "--position", "start").json()["data"]
    assert (first["changed"], first["position"], first["version"]) == (False, 1, 2)
    assert tenant_view(sandbox)["bindings"] == [ACTION_NAME, ROLES, "Audit log"]


def test_an_unbound_action_is_bound_again_without_a_new_version(capsys, sandbox):
    first_deploy(capsys, sandbox)
    with management(sandbox) as auth0:
        from stiggctl.clients.auth0_models import BindingUpdate

        roles = auth0.get_bindings()[0]
        auth0.replace_bindings([BindingUpdate.keeping(roles)])
    clear_requests(sandbox)
    data = deploy(capsys).json()["data"]
    assert data["steps"] == [{"step": "bind", "detail": "bind to post-login at position 2 of 2"}]
    assert writes_seen(sandbox) == [WRITE_BINDINGS]
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME]


def test_rate_limits_are_waited_out_as_auth0_asks(capsys, sandbox, monkeypatch):
    waits = record_retry_waits(monkeypatch)
    sandbox.sandbox.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(route="/api/v2/actions", burst_429=2, retry_after=3),
                FaultRule(route="/api/v2/actions/triggers", method="PATCH", fail_next=1),
            ]
        )
    )
    clear_requests(sandbox)
    data = first_deploy(capsys, sandbox)
    assert (data["version"], data["position"]) == (1, 2)
    statuses = [status for _method, _path, status in requests_seen(sandbox)]
    assert statuses[:4] == [200, 429, 429, 200]
    assert statuses.count(503) == 1
    # Retry-After: 3 twice, then backoff for the 503 (jitter fixed at half of 0.5 s).
    assert waits == [3.0, 3.0, 0.25]
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME]


def test_a_server_error_mid_way_is_completed_by_the_next_run(capsys, sandbox, monkeypatch):
    waits = record_retry_waits(monkeypatch)
    # The deploy is a POST: a 500 may have been acted on, so it is not retried.
    sandbox.sandbox.faults.replace(
        FaultPlan(
            rules=[
                FaultRule(route="/api/v2/actions/actions/", method="POST", fail_next=1, status=500)
            ]
        )
    )
    failed = deploy(capsys)
    assert failed.exit_code == 1
    assert failed.json()["error"]["code"] == "api_error"
    assert waits == []
    view = tenant_view(sandbox)
    assert (view["action"]["status"], view["action"]["deployed"]) == ("built", None)
    assert view["bindings"] == [ROLES]

    clear_requests(sandbox)
    data = first_deploy(capsys, sandbox)
    assert [s["step"] for s in data["steps"]] == ["deploy", "bind"]
    assert (data["version"], data["position"]) == (1, 2)
    assert writes_seen(sandbox) == [DEPLOY, WRITE_BINDINGS]
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME]


def test_a_run_that_lost_the_create_race_joins_the_other(capsys, sandbox, monkeypatch):
    first_deploy(capsys, sandbox)
    from stiggctl.clients.auth0 import Auth0Client

    real_find = Auth0Client.find_action
    looks: list[str] = []

    def find_late(self, name, **kwargs):
        # The first look happens before the other run's create: the action is not there yet.
        looks.append(name)
        return None if len(looks) == 1 else real_find(self, name, **kwargs)

    monkeypatch.setattr(Auth0Client, "find_action", find_late)
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 0, result.stdout
    data = result.json()["data"]
    assert (data["changed"], data["steps"], data["version"]) == (False, [], 1)
    assert writes_seen(sandbox) == [("POST", "/api/v2/actions/actions", 409)]
    assert tenant_view(sandbox)["bindings"] == [ROLES, ACTION_NAME]


def test_a_profile_that_cannot_render_fails_before_any_request(capsys, sandbox, monkeypatch):
    monkeypatch.delenv("STIGGCTL_B2B_PLAN")
    clear_requests(sandbox)
    result = deploy(capsys)
    assert result.exit_code == 1
    assert result.json()["error"]["code"] == "config_error"
    assert "b2b_plan" in result.json()["error"]["message"]
    assert requests_seen(sandbox) == []


def test_a_missing_secret_exits_4_and_leaves_no_client_open(capsys, sandbox, monkeypatch):
    clients = track_auth0_clients(monkeypatch)
    monkeypatch.delenv("STIGGCTL_STIGG_API_KEY")
    monkeypatch.setenv("CI", "true")
    result = deploy(capsys)
    assert result.exit_code == 4
    assert result.json()["error"]["details"] == {"env": "STIGGCTL_STIGG_API_KEY"}
    assert [is_closed(client) for client in clients] == [True]


def test_timeout_ends_the_wait_and_the_next_run_completes(capsys, monkeypatch):
    # A frozen clock: the build only finishes when the test moves time forward.
    with cli_sandbox(monkeypatch, clock=Clock(start=1_800_000_000.0)) as server:
        result = deploy(capsys, "--timeout", "1")
        assert result.exit_code == 1
        error = result.json()["error"]
        assert (error["code"], error["message"]) == (
            "timeout",
            f"The build of '{ACTION_NAME}' was still pending after 1s (--timeout).",
        )
        assert tenant_view(server)["bindings"] == [ROLES]

        clock = server.sandbox.clock
        clock.advance(1.0)

        def is_deploy(method: str, path: str) -> bool:
            return method == "POST" and path.endswith("/deploy")

        with on_request(server, is_deploy, lambda: clock.advance(1.0)):
            data = deploy(capsys).json()["data"]
        assert [s["step"] for s in data["steps"]] == ["deploy", "bind"]
        assert tenant_view(server)["bindings"] == [ROLES, ACTION_NAME]
