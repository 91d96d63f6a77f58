"""From a profile's settings to the Action's settings (what gets rendered and simulated)."""

from __future__ import annotations

from stiggctl.config.settings import Settings, env_name
from stiggctl.core.action_settings import ActionSettings
from stiggctl.errors import ErrorCode, StiggctlError


def _require(settings: Settings, name: str, why: str) -> str:
    value = getattr(settings, name)
    if not value:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"The profile has no {name}: {why}.",
            f"Set {env_name(name)} (or `stiggctl config set {name} VALUE`), "
            "or run `stiggctl setup`.",
        )
    return value


def action_settings(settings: Settings) -> ActionSettings:
    """The Action's settings for this profile; a clear error naming what is missing."""
    mode = _require(settings, "mode", "b2c, b2b or both decides which logins are handled")
    application_id = _require(
        settings, "application_id", "the Auth0 application whose logins are handled ('*' for all)"
    )
    b2c_plan = b2b_plan = None
    if mode in ("b2c", "both"):
        b2c_plan = _require(settings, "b2c_plan", "individuals are provisioned on this plan")
    if mode in ("b2b", "both"):
        b2b_plan = _require(settings, "b2b_plan", "organizations are provisioned on this plan")
    return ActionSettings(
        mode=mode,
        application_id=application_id,
        b2c_plan_id=b2c_plan,
        b2b_plan_id=b2b_plan,
        auth0_domain=settings.auth0_base_url or "",
        active_users_feature_id=settings.active_users_feature,
        stigg_api_url=settings.stigg_api_url,
        fail_policy=settings.fail_policy,
        deny_message=settings.deny_message,
    )
