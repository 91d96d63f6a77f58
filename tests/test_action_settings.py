from __future__ import annotations

import dataclasses

import pytest

from stiggctl.core.action_settings import (
    ActionSettings,
    FailPolicy,
    Mode,
    organization_key,
)
from stiggctl.errors import ErrorCode, StiggctlError

BASE = {
    "mode": "both",
    "application_id": "app-1",
    "b2c_plan_id": "plan-individual",
    "b2b_plan_id": "plan-team",
    "auth0_domain": "acme.eu.auth0.com",
}


def settings(**overrides) -> ActionSettings:
    return ActionSettings(**{**BASE, **overrides})


def problem(**overrides) -> str:
    with pytest.raises(StiggctlError) as caught:
        settings(**overrides)
    assert caught.value.code is ErrorCode.CONFIG_ERROR
    return caught.value.message


def test_defaults_and_coerced_enums():
    s = settings()
    assert s.mode is Mode.BOTH
    assert s.fail_policy is FailPolicy.OPEN
    assert (s.active_users_feature_id, s.stigg_api_url, s.event_name, s.deny_message) == (
        "feature-active-users",
        "https://api.stigg.io/graphql",
        "user-login",
        "Access Denied",
    )
    assert (s.call_timeout_ms, s.budget_ms, s.revalidate_after_ms) == (3000, 8000, 86_400_000)
    assert settings(fail_policy="closed").fail_policy is FailPolicy.CLOSED


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings().mode = Mode.B2C  # type: ignore[misc]


@pytest.mark.parametrize(
    ("domain", "base", "audience"),
    [
        ("acme.eu.auth0.com", "https://acme.eu.auth0.com", "https://acme.eu.auth0.com/api/v2/"),
        ("acme.auth0.com/", "https://acme.auth0.com", "https://acme.auth0.com/api/v2/"),
        ("https://login.acme.com/", "https://login.acme.com", "https://login.acme.com/api/v2/"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765", "http://127.0.0.1:8765/api/v2/"),
    ],
)
def test_auth0_base_url_uses_a_scheme_as_given_else_https(domain, base, audience):
    s = settings(auth0_domain=domain)
    assert (s.auth0_base_url, s.management_audience) == (base, audience)


def test_secret_names_follow_the_mode():
    both = ("STIGG_API_KEY", "AUTH0_M2M_CLIENT_ID", "AUTH0_M2M_CLIENT_SECRET")
    assert settings().secret_names == both
    assert settings(mode="b2b", b2c_plan_id=None).secret_names == both
    assert settings(mode="b2c", b2b_plan_id=None, auth0_domain="").secret_names == (
        "STIGG_API_KEY",
    )


def test_empty_or_star_application_id_means_every_application():
    assert settings(application_id="").handles_all_applications is True
    assert settings(application_id="*").handles_all_applications is True
    assert settings().handles_all_applications is False


def test_organization_key():
    assert organization_key("{orgId}:last_login", "org_1") == "org_1:last_login"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mode": "teams"}, "Invalid Action settings: mode 'teams' is not one of b2c, b2b, both."),
        (
            {"fail_policy": "maybe"},
            "Invalid Action settings: fail policy 'maybe' is not one of open, closed.",
        ),
        (
            {"b2c_plan_id": None},
            "Invalid Action settings: mode both needs the plan id for individuals (B2C).",
        ),
        (
            {"mode": "b2b", "b2b_plan_id": ""},
            "Invalid Action settings: mode b2b needs the plan id for organizations (B2B).",
        ),
        (
            {"auth0_domain": ""},
            "Invalid Action settings: the Auth0 domain is needed to update organization metadata.",
        ),
        (
            {"auth0_domain": "acme eu"},
            "Invalid Action settings: Auth0 domain 'acme eu' is neither a domain nor a URL.",
        ),
        (
            {"stigg_api_url": "api.stigg.io/graphql"},
            "Invalid Action settings: Stigg API URL 'api.stigg.io/graphql' is not an http(s) URL.",
        ),
        ({"deny_message": "  "}, "Invalid Action settings: the deny message is empty."),
        (
            {"user_provisioned_key": "stigg.provisioned"},
            "Invalid Action settings: the user provisioned key 'stigg.provisioned' must be "
            "non-empty, without '.' or '$'.",
        ),
        (
            {"last_login_key": "last_login"},
            "Invalid Action settings: the last login key must contain {orgId} exactly once.",
        ),
        (
            {"period_end_key": "{orgId}:last_login"},
            "Invalid Action settings: the last login and period end keys must differ.",
        ),
        (
            {"call_timeout_ms": 9_000},
            "Invalid Action settings: timeouts must satisfy 1 <= per call (9000 ms) <= budget "
            "(8000 ms) <= 15000 ms.",
        ),
        (
            {"budget_ms": 19_000},
            "Invalid Action settings: timeouts must satisfy 1 <= per call (3000 ms) <= budget "
            "(19000 ms) <= 15000 ms.",
        ),
        (
            {"revalidate_after_ms": 2 * 86_400_000},
            "Invalid Action settings: the returning-user shortcut must be re-validated at least "
            "daily.",
        ),
    ],
)
def test_invalid_settings_are_refused_with_the_reason(overrides, message):
    assert problem(**overrides) == message


def test_every_problem_is_named_at_once():
    assert problem(b2c_plan_id=None, deny_message="") == (
        "Invalid Action settings: mode both needs the plan id for individuals (B2C); "
        "the deny message is empty."
    )


def test_b2c_mode_needs_no_auth0_domain():
    s = settings(mode="b2c", b2b_plan_id=None, auth0_domain="")
    assert s.auth0_base_url == ""
