"""`stiggctl doctor`: the pure check evaluation, and the whole command against the sandbox."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import Mode
from stiggctl.core.doctor import (
    CheckStatus,
    DoctorReport,
    PlanView,
    application_check,
    plan_checks,
    scopes_check,
)
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import CONSUMER_APP_ID, WORKSPACE_APP_ID
from stiggctl.sandbox.server import M2M_CLIENT_ID
from tests.cli_helpers import run_cli
from tests.test_deploy_support import (
    ACTION_NAME,
    cli_sandbox,
    deploy,
    is_closed,
    track_auth0_clients,
)

ALL_CHECKS = [
    "profile",
    "auth0_credentials",
    "auth0_scopes",
    "action_client",
    "application",
    "action_exists",
    "action_built",
    "action_current",
    "action_bound",
    "stigg_credentials",
    "stigg_feature",
    "plan_organizations",
    "entitlement_organizations",
]


# ---- pure ------------------------------------------------------------------------------------


def test_scopes_name_the_missing_ones_with_their_use():
    assert scopes_check(STIGGCTL_SCOPES, Mode.B2B, "m2m").status is CheckStatus.OK
    granted = [s for s in STIGGCTL_SCOPES if s not in ("delete:actions", "update:organizations")]
    check = scopes_check(granted, Mode.B2B, "m2m")
    assert check.status is CheckStatus.FAIL
    assert check.message == (
        "missing scopes: delete:actions, update:organizations (delete:actions for action "
        "remove; update:organizations for the Action marking organizations as provisioned)"
    )
    assert check.fix is not None and "expand client m2m and tick delete:actions, " in check.fix
    # Individuals only: the Action never writes organization metadata.
    b2c = scopes_check([s for s in STIGGCTL_SCOPES if s != "update:organizations"], Mode.B2C, "m")
    assert b2c.status is CheckStatus.OK


def test_either_user_update_scope_suffices():
    without_one = [s for s in STIGGCTL_SCOPES if s != "update:users"]
    assert scopes_check(without_one, Mode.B2B, "m").status is CheckStatus.OK
    without_both = [s for s in without_one if s != "update:users_app_metadata"]
    assert scopes_check(without_both, Mode.B2B, "m").message.startswith(
        "missing scopes: update:users or update:users_app_metadata "
    )


@pytest.mark.parametrize(
    ("mode", "usage", "status"),
    [
        (Mode.B2C, "deny", CheckStatus.OK),
        (Mode.B2C, "allow", CheckStatus.WARN),
        (Mode.B2C, "require", CheckStatus.FAIL),
        (Mode.B2B, "require", CheckStatus.OK),
        (Mode.B2B, "allow", CheckStatus.WARN),
        (Mode.B2B, "deny", CheckStatus.FAIL),
        (Mode.BOTH, "allow", CheckStatus.OK),
        (Mode.BOTH, "deny", CheckStatus.WARN),
        (Mode.BOTH, "require", CheckStatus.WARN),
    ],
)
def test_organization_behaviour_fits_the_mode(mode, usage, status):
    check = application_check("app-1", True, "Shop", usage, mode)
    assert check.status is status
    assert check.message.startswith("'Shop' (app-1) lets ")
    assert (check.fix is None) == (status is CheckStatus.OK)


def test_application_missing_unset_or_all():
    assert application_check("app-1", False, None, None, Mode.B2B).message == (
        "no application app-1 in the tenant"
    )
    assert application_check(None, False, None, None, Mode.B2B).status is CheckStatus.FAIL
    assert application_check("*", False, None, None, Mode.B2B).status is CheckStatus.OK


def test_plans_published_and_entitled():
    plans = [
        PlanView("plan-free", "Free", frozenset({"feature-active-users"})),
        PlanView("plan-bare", "Bare", frozenset()),
    ]
    checks = plan_checks(
        {"individuals": "plan-bare", "organizations": "plan-gone"}, plans, "feature-active-users"
    )
    assert [(c.id, c.status.value) for c in checks] == [
        ("plan_individuals", "ok"),
        ("entitlement_individuals", "warn"),
        ("plan_organizations", "fail"),
    ]
    assert (
        checks[2].message == "plan-gone is not a published plan (published: plan-bare, plan-free)"
    )
    assert checks[1].message == (
        "plan-bare has no feature-active-users entitlement: it sets no Active Users limit"
    )


def test_report_is_healthy_unless_a_check_fails():
    warn_only = application_check("a", True, None, "allow", Mode.B2B)
    assert DoctorReport((warn_only,)).healthy is True
    failing = application_check("a", False, None, None, Mode.B2B)
    report = DoctorReport((warn_only, failing))
    assert report.healthy is False
    assert report.counts() == {"ok": 0, "warn": 1, "fail": 1, "skip": 0}


# ---- against the sandbox -----------------------------------------------------------------------


@pytest.fixture
def sandbox(monkeypatch):
    with cli_sandbox(monkeypatch) as server:
        yield server


def doctor(capsys):
    result = run_cli(capsys, "doctor", "--json")
    return result.exit_code, result.json()["data"]


def statuses(data: dict) -> dict[str, str]:
    return {check["id"]: check["status"] for check in data["checks"]}


def test_healthy_after_deploy_exits_0(capsys, sandbox):
    assert deploy(capsys).exit_code == 0
    code, data = doctor(capsys)
    assert code == 0
    assert (data["healthy"], data["profile"]) == (True, "default")
    # The sandbox's profile lets the Action hold stiggctl's client: a warning, not a failure.
    assert data["summary"] == {"ok": 12, "warn": 1, "fail": 0, "skip": 0}
    assert list(statuses(data)) == ALL_CHECKS
    messages = {c["id"]: c["message"] for c in data["checks"]}
    assert messages["action_bound"] == "position 2 of 2"
    assert messages["action_built"] == "v1 deployed, the draft built"
    assert messages["action_current"] == (
        "the deployed code is what the profile renders, secrets included"
    )
    human = run_cli(capsys, "doctor")
    assert human.exit_code == 0
    assert human.stdout.splitlines()[-1] == "Healthy: 12 ok, 1 warnings, 0 failed."


def test_before_deploy_the_action_checks_fail_with_the_fix(capsys, sandbox):
    code, data = doctor(capsys)
    assert code == 3
    assert data["healthy"] is False
    assert {k: v for k, v in statuses(data).items() if v != "ok"} == {
        "action_client": "warn",
        "action_exists": "fail",
        "action_built": "skip",
        "action_current": "skip",
        "action_bound": "skip",
    }
    exists = next(c for c in data["checks"] if c["id"] == "action_exists")
    assert exists["message"] == f"no post-login action named '{ACTION_NAME}'"
    assert exists["fix"].startswith("Run `stiggctl deploy-action`")


def test_drift_and_a_missing_binding_fail(capsys, sandbox, monkeypatch):
    deploy(capsys)
    from stiggctl.clients.auth0_models import BindingUpdate
    from tests.test_deploy_support import management

    with management(sandbox) as auth0:
        auth0.replace_bindings([BindingUpdate.keeping(auth0.get_bindings()[0])])
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    code, data = doctor(capsys)
    assert code == 3
    failed = {c["id"]: c["message"] for c in data["checks"] if c["status"] == "fail"}
    assert failed == {
        "action_current": "the deployed settings differ from the profile's rendering",
        "action_bound": "not bound: logins do not run the Action",
    }


def test_missing_scopes_are_named(capsys, sandbox):
    deploy(capsys)
    granted = [s for s in STIGGCTL_SCOPES if s not in ("read:organization_members",)]
    sandbox.sandbox.auth0.set_grant(M2M_CLIENT_ID, granted)
    code, data = doctor(capsys)
    assert code == 3
    scopes = next(c for c in data["checks"] if c["id"] == "auth0_scopes")
    assert scopes["status"] == "fail"
    assert scopes["message"] == (
        "missing scopes: read:organization_members "
        "(read:organization_members for the MAU report, reconciled with Auth0)"
    )


def test_an_application_that_forbids_the_modes_logins_fails(capsys, sandbox, monkeypatch):
    deploy(capsys)
    monkeypatch.setenv("STIGGCTL_APPLICATION_ID", CONSUMER_APP_ID)
    code, data = doctor(capsys)
    assert code == 3
    application = next(c for c in data["checks"] if c["id"] == "application")
    assert application["status"] == "fail"
    assert application["message"] == (
        f"'Acme Shop (consumers)' ({CONSUMER_APP_ID}) lets individuals only (no organizations) "
        "sign in (organization_usage deny); mode b2b: no login this mode meters can happen"
    )
    assert application["fix"].startswith("Set mode b2c (STIGGCTL_MODE)")


def test_a_mixed_application_only_warns_and_stays_healthy(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_APPLICATION_ID", WORKSPACE_APP_ID)
    deploy(capsys)
    code, data = doctor(capsys)
    assert code == 0
    assert {k: v for k, v in statuses(data).items() if v != "ok"} == {
        "action_client": "warn",
        "application": "warn",
    }


def test_bad_credentials_fail_and_skip_what_depends_on_them(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", "sekret-auth0-x7")
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-sekret-stigg-x7")
    result = run_cli(capsys, "doctor", "--json")
    code, data = result.exit_code, result.json()["data"]
    assert "sekret" not in result.stdout + result.stderr
    assert code == 3
    assert statuses(data) == {
        "profile": "ok",
        "auth0_credentials": "fail",
        "auth0_scopes": "skip",
        "action_client": "skip",
        "application": "skip",
        "action_exists": "skip",
        "action_built": "skip",
        "action_current": "skip",
        "action_bound": "skip",
        "stigg_credentials": "fail",
        "stigg_feature": "skip",
    }
    auth0 = next(c for c in data["checks"] if c["id"] == "auth0_credentials")
    assert auth0["message"].startswith(
        f"Auth0 rejected the client credentials of client {M2M_CLIENT_ID}"
    )


def test_a_rejected_secret_leaves_no_client_open(capsys, sandbox, monkeypatch):
    clients = track_auth0_clients(monkeypatch)
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", "wrong")
    assert run_cli(capsys, "doctor", "--json").exit_code == 3
    assert [is_closed(client) for client in clients] == [True]


def test_stigg_feature_and_plans(capsys, sandbox, monkeypatch):
    sandbox.sandbox.stigg.add_plan("plan-bare", product_ref_id="product-saas")
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-bare")
    monkeypatch.setenv("STIGGCTL_ACTIVE_USERS_FEATURE", "feature-seats")
    deploy(capsys)
    code, data = doctor(capsys)
    assert code == 3
    problems = {c["id"]: (c["status"], c["message"]) for c in data["checks"] if c["status"] != "ok"}
    del problems["action_client"]  # a warning: see tests/test_doctor_action_client.py
    assert problems == {
        "stigg_feature": ("fail", "no feature feature-seats in the Stigg environment"),
        "entitlement_organizations": (
            "warn",
            "plan-bare has no feature-seats entitlement: new active users of organizations on "
            "it are refused",
        ),
    }


def test_an_unpublished_plan_fails(capsys, sandbox, monkeypatch):
    sandbox.sandbox.stigg.add_plan("plan-draft", product_ref_id="product-saas", status="DRAFT")
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-draft")
    deploy(capsys)
    code, data = doctor(capsys)
    assert code == 3
    plan = next(c for c in data["checks"] if c["id"] == "plan_organizations")
    assert plan["status"] == "fail"
    assert plan["message"].startswith("plan-draft is not a published plan (published: ")


def test_an_incomplete_profile_fails_its_check_and_the_drift_check_is_skipped(
    capsys, sandbox, monkeypatch
):
    deploy(capsys)
    monkeypatch.delenv("STIGGCTL_B2B_PLAN")
    code, data = doctor(capsys)
    assert code == 3
    assert statuses(data)["action_current"] == "skip"
    assert statuses(data)["action_bound"] == "ok"
    profile = next(c for c in data["checks"] if c["id"] == "profile")
    assert profile["status"] == "fail"
    assert profile["message"].startswith("The profile has no b2b_plan")
    assert "STIGGCTL_B2B_PLAN" in profile["fix"]


def test_settings_that_do_not_load_fail_and_skip_the_rest(capsys, sandbox, monkeypatch):
    monkeypatch.setenv("STIGGCTL_MODE", "b2x")
    code, data = doctor(capsys)
    assert code == 3
    assert statuses(data) == {
        "profile": "fail",
        "auth0_credentials": "fail",
        "auth0_scopes": "skip",
        "action_client": "skip",
        "application": "skip",
        "action_exists": "skip",
        "action_built": "skip",
        "action_current": "skip",
        "action_bound": "skip",
        "stigg_credentials": "skip",
        "stigg_feature": "skip",
    }
    profile = data["checks"][0]
    assert profile["message"] == (
        "Invalid setting STIGGCTL_MODE: 'b2x' is not a mode: one of b2c, b2b, both."
    )
