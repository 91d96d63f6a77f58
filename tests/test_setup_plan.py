"""The pure decisions of `stiggctl setup`: mode preselection, the applications offered, the
missing scopes, plans as listed, the feature definition and the profile saved."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from stiggctl.core.action_settings import Mode
from stiggctl.core.doctor import ORGANIZATION_SCOPE, SCOPE_NEEDS
from stiggctl.core.setup_plan import (
    ApplicationChoice,
    FeatureDefinition,
    PlanChoice,
    SetupAnswers,
    action_client_scopes_error,
    application_choices,
    extra_scopes_warning,
    feature_warning,
    is_domain,
    missing_scopes_error,
    needed_scopes,
    plan_choices,
    preselected_mode,
    profile_values,
)
from stiggctl.errors import ErrorCode
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES


@pytest.mark.parametrize(
    ("usage", "mode"),
    [
        ("deny", Mode.B2C),
        ("require", Mode.B2B),
        ("allow", Mode.BOTH),
        (None, Mode.B2C),  # Auth0's default behaviour is deny
        ("something-new", Mode.BOTH),
    ],
)
def test_mode_preselected_from_organization_usage(usage, mode):
    assert preselected_mode(usage) is mode


@dataclass
class FakeClient:
    client_id: str
    name: str | None
    app_type: str | None
    organization_usage: str | None


def test_machine_to_machine_applications_are_not_offered():
    clients = [
        FakeClient("shop", "Shop", "regular_web", "deny"),
        FakeClient("m2m", "stiggctl", "non_interactive", None),
        FakeClient("portal", None, None, "require"),
    ]
    assert application_choices(clients) == [
        ApplicationChoice("shop", "Shop", "regular_web", "deny"),
        ApplicationChoice("portal", "portal", "unknown", "require"),
    ]
    assert [(c.mode, c.usage_means) for c in application_choices(clients)] == [
        (Mode.B2C, "individuals only"),
        (Mode.B2B, "organizations only"),
    ]


def test_the_organization_scope_waits_for_the_mode():
    assert needed_scopes(None) == SCOPE_NEEDS
    assert needed_scopes(Mode.B2C) == SCOPE_NEEDS
    assert needed_scopes(Mode.B2B) == (*SCOPE_NEEDS, ORGANIZATION_SCOPE)
    assert needed_scopes(Mode.BOTH) == (*SCOPE_NEEDS, ORGANIZATION_SCOPE)


def test_the_actions_own_client_takes_the_organization_scope_off_stiggctls():
    assert needed_scopes(Mode.B2B, action_has_own_client=True) == SCOPE_NEEDS
    assert needed_scopes(Mode.BOTH, action_has_own_client=True) == SCOPE_NEEDS


def test_the_actions_client_needs_update_organizations_and_nothing_more():
    assert action_client_scopes_error({"update:organizations"}, "act") is None
    error = action_client_scopes_error({"read:users"}, "act")
    assert error is not None
    assert (error.code, error.exit_code, error.details) == (
        ErrorCode.PERMISSION_DENIED,
        4,
        {"missing_scopes": ["update:organizations"]},
    )
    assert error.message == (
        "The Action's M2M application act lacks the Management API scope update:organizations "
        "(the Action marking organizations as provisioned)."
    )
    assert extra_scopes_warning({"update:organizations"}, "act") is None
    assert extra_scopes_warning({"update:organizations", "read:users", "create:actions"}, "a") == (
        "The Action's M2M application a also carries create:actions, read:users: it needs only "
        "update:organizations. Untick the others in the Auth0 dashboard (Applications > APIs > "
        "Auth0 Management API > Machine To Machine Applications)."
    )


def test_missing_scopes_are_named_with_their_use_and_the_fix():
    assert missing_scopes_error(STIGGCTL_SCOPES, needed_scopes(Mode.B2B), "m2m") is None
    granted = [s for s in STIGGCTL_SCOPES if s not in ("update:users", "update:users_app_metadata")]
    error = missing_scopes_error(granted, needed_scopes(Mode.B2C), "m2m")
    assert error is not None
    assert error.code is ErrorCode.PERMISSION_DENIED
    assert int(error.exit_code) == 4
    assert error.message == (
        "The M2M application m2m lacks Management API scopes: update:users or "
        "update:users_app_metadata (update:users or update:users_app_metadata for updating "
        "users' app_metadata)."
    )
    assert error.hint == (
        "Grant them to the M2M application under APIs > Auth0 Management API > Machine To "
        "Machine Applications in the Auth0 dashboard (expand m2m, tick update:users or "
        "update:users_app_metadata, Update), then run `stiggctl setup` again."
    )
    assert error.details == {"missing_scopes": ["update:users or update:users_app_metadata"]}


@dataclass
class FakeEntitlement:
    usage_limit: float | None
    has_unlimited_usage: bool | None


@dataclass
class FakePlan:
    ref_id: str
    display_name: str | None
    limits: dict[str, FakeEntitlement]

    def entitlement_for(self, feature_ref_id: str) -> FakeEntitlement | None:
        return self.limits.get(feature_ref_id)


def test_plans_show_their_active_users_limit():
    feature = "feature-active-users"
    plans = [
        FakePlan("plan-free", "Free", {feature: FakeEntitlement(3, False)}),
        FakePlan("plan-big", None, {feature: FakeEntitlement(None, True)}),
        FakePlan("plan-odd", "Odd", {feature: FakeEntitlement(2.5, False)}),
        FakePlan("plan-seats", "Seats", {"feature-seats": FakeEntitlement(5, False)}),
    ]
    assert plan_choices(plans, feature) == [
        PlanChoice("plan-free", "Free", "3", entitled=True),
        PlanChoice("plan-big", "plan-big", "unlimited", entitled=True),
        PlanChoice("plan-odd", "Odd", "2.5", entitled=True),
        PlanChoice("plan-seats", "Seats", "none", entitled=False),
    ]


def test_the_active_users_feature_counts_unique_users_of_login_events():
    definition = FeatureDefinition(ref_id="feature-active-users")
    assert (definition.feature_type, definition.meter_type) == ("NUMBER", "Incremental")
    assert (definition.event_name, definition.counted_field) == ("user-login", "user_id")
    assert definition.display_name == "Active Users"


def test_only_a_metered_feature_can_count_active_users():
    assert feature_warning("f", "NUMBER", "Incremental") is None
    assert feature_warning("f", None, None) is None
    assert feature_warning("f", "BOOLEAN", "None") == (
        "Feature f is not metered (type BOOLEAN, meter None): it cannot count active users. "
        "Use a NUMBER feature with an Incremental meter counting unique user_id (`--feature` "
        "with a new id creates one)."
    )


def answers(**changes) -> SetupAnswers:
    values = {
        "auth0_client_id": "m2m",
        "application_id": "app",
        "mode": Mode.B2B,
        "active_users_feature": "feature-active-users",
        "auth0_domain": "acme.eu.auth0.com",
        "b2b_plan": "plan-pro",
    }
    values.update(changes)
    return SetupAnswers(**values)


def test_profile_keeps_other_settings_and_drops_what_the_answers_make_stale():
    existing = {
        "auth0_tenant": "old",
        "auth0_region": "eu",
        "b2c_plan": "plan-free",
        "stigg_api_url": "http://127.0.0.1:1/graphql",
        "deny_message": "Over the limit",
    }
    assert profile_values(existing, answers()) == {
        "auth0_domain": "acme.eu.auth0.com",
        "auth0_client_id": "m2m",
        "application_id": "app",
        "mode": "b2b",
        "b2b_plan": "plan-pro",
        "active_users_feature": "feature-active-users",
        "deny_message": "Over the limit",
    }


def test_profile_keeps_the_actions_client_only_when_answered():
    existing = {"action_client_id": "act-old", "mode": "b2b"}
    assert profile_values(existing, answers(action_client_id="act-new"))["action_client_id"] == (
        "act-new"
    )
    # The Action holds stiggctl's client again (or the mode is b2c): the id goes.
    assert "action_client_id" not in profile_values(existing, answers())


def test_profile_with_a_tenant_and_both_plans():
    values = profile_values(
        {"auth0_domain": "old.us.auth0.com"},
        answers(
            auth0_domain=None,
            auth0_tenant="acme",
            auth0_region="eu",
            mode=Mode.BOTH,
            b2c_plan="plan-free",
            stigg_api_url="https://api.example.test/graphql",
        ),
    )
    assert values == {
        "auth0_tenant": "acme",
        "auth0_region": "eu",
        "auth0_client_id": "m2m",
        "stigg_api_url": "https://api.example.test/graphql",
        "application_id": "app",
        "mode": "both",
        "b2c_plan": "plan-free",
        "b2b_plan": "plan-pro",
        "active_users_feature": "feature-active-users",
    }


@pytest.mark.parametrize(
    ("answer", "domain"),
    [
        ("acme", False),
        ("acme.eu.auth0.com", True),
        ("http://127.0.0.1:8765", True),
        ("login.example.com", True),
    ],
)
def test_a_domain_is_told_from_a_tenant_name(answer, domain):
    assert is_domain(answer) is domain
