"""A profile's settings become the Action's settings, or a clear error names what is missing."""

from __future__ import annotations

import pytest

from stiggctl.config.action import action_settings
from stiggctl.config.settings import load_settings
from stiggctl.errors import ErrorCode, StiggctlError


def _settings(monkeypatch, **values):
    for name, value in values.items():
        monkeypatch.setenv(f"STIGGCTL_{name.upper()}", value)
    return load_settings().settings


def test_b2b_profile(monkeypatch):
    settings = _settings(
        monkeypatch,
        mode="b2b",
        application_id="app1",
        b2b_plan="plan-free",
        auth0_tenant="acme",
        auth0_region="eu",
        deny_message="Over the limit",
        fail_policy="closed",
    )
    result = action_settings(settings)
    assert result.mode.value == "b2b"
    assert result.b2b_plan_id == "plan-free"
    assert result.b2c_plan_id is None
    assert result.auth0_base_url == "https://acme.eu.auth0.com"
    assert result.deny_message == "Over the limit"
    assert result.fail_policy.value == "closed"
    assert result.active_users_feature_id == "feature-active-users"


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({}, "STIGGCTL_MODE"),
        ({"mode": "b2c"}, "STIGGCTL_APPLICATION_ID"),
        ({"mode": "b2c", "application_id": "*"}, "STIGGCTL_B2C_PLAN"),
        ({"mode": "both", "application_id": "*", "b2c_plan": "p"}, "STIGGCTL_B2B_PLAN"),
    ],
)
def test_missing_settings_are_named(monkeypatch, values, missing):
    with pytest.raises(StiggctlError) as info:
        action_settings(_settings(monkeypatch, **values))
    assert info.value.code is ErrorCode.CONFIG_ERROR
    assert missing in info.value.hint
