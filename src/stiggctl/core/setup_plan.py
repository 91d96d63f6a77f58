"""The decisions of `stiggctl setup`, from what was asked and fetched: pure, no I/O.

Which applications to offer and the mode each suggests, which Management API scopes are
missing (and the fix), how plans are shown, what the Active Users feature is when setup
creates it, and which values make up the saved profile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from stiggctl.core.action_settings import DEFAULT_EVENT_NAME, DEFAULT_STIGG_API_URL, Mode
from stiggctl.core.doctor import (
    ACTION_CLIENT_SCOPE,
    SCOPE_NEEDS,
    ScopeNeed,
    extra_action_scopes,
    grant_fix,
    missing_scopes,
    scope_needs,
)
from stiggctl.errors import ErrorCode, StiggctlError

# Auth0's app_type of machine-to-machine applications: they never sign a person in.
M2M_APP_TYPE = "non_interactive"
ALL_APPLICATIONS = "*"

# Auth0's organization behaviour of an application → which logins the Action meters.
_MODE_FOR_USAGE: dict[str, Mode] = {"deny": Mode.B2C, "require": Mode.B2B, "allow": Mode.BOTH}
_USAGE_MEANS = {
    "deny": "individuals only",
    "require": "organizations only",
    "allow": "individuals and organizations",
}
MODE_MEANS: dict[Mode, str] = {
    Mode.B2C: "individuals: each user is a Stigg customer",
    Mode.B2B: "organizations: each organization is a Stigg customer, its users are metered",
    Mode.BOTH: "both: a login into an organization is B2B, any other login B2C",
}


def preselected_mode(organization_usage: str | None) -> Mode:
    """The mode that fits an application's organization behaviour.

    Auth0's default behaviour is `deny` (no organizations); an unknown one gets `both`,
    which handles whatever kind of login happens.
    """
    return _MODE_FOR_USAGE.get(organization_usage or "deny", Mode.BOTH)


# ---- applications ------------------------------------------------------------------------


class ClientLike(Protocol):
    client_id: str
    name: str | None
    app_type: str | None
    organization_usage: str | None


@dataclass(frozen=True)
class ApplicationChoice:
    client_id: str
    name: str
    app_type: str
    organization_usage: str

    @property
    def mode(self) -> Mode:
        return preselected_mode(self.organization_usage)

    @property
    def usage_means(self) -> str:
        return _USAGE_MEANS.get(self.organization_usage, self.organization_usage)


def application_choices(clients: Iterable[ClientLike]) -> list[ApplicationChoice]:
    """The applications people sign in to: every client but the machine-to-machine ones."""
    return [
        ApplicationChoice(
            client_id=client.client_id,
            name=client.name or client.client_id,
            app_type=client.app_type or "unknown",
            organization_usage=client.organization_usage or "deny",
        )
        for client in clients
        if client.app_type != M2M_APP_TYPE
    ]


# ---- scopes ------------------------------------------------------------------------------


def needed_scopes(
    mode: Mode | None, *, action_has_own_client: bool = False
) -> tuple[ScopeNeed, ...]:
    """What stiggctl's client needs now: without a mode yet, the scope only organizations
    need waits (and with the Action's own client, that client holds it instead)."""
    if mode is None:
        return SCOPE_NEEDS
    return scope_needs(mode, action_has_own_client=action_has_own_client)


def missing_scopes_error(
    granted: Collection[str], needs: Iterable[ScopeNeed], client_id: str
) -> StiggctlError | None:
    """An authorization error (exit 4) naming every missing scope and the fix, or None."""
    missing = missing_scopes(granted, needs)
    if not missing:
        return None
    names = [" or ".join(need.any_of) for need in missing]
    uses = "; ".join(
        f"{name} for {need.used_for}" for name, need in zip(names, missing, strict=True)
    )
    return StiggctlError(
        ErrorCode.PERMISSION_DENIED,
        f"The M2M application {client_id} lacks Management API scopes: {', '.join(names)} "
        f"({uses}).",
        "Grant them to the M2M application under APIs > Auth0 Management API > Machine To "
        f"Machine Applications in the Auth0 dashboard (expand {client_id}, tick "
        f"{', '.join(names)}, Update), then run `stiggctl setup` again.",
        details={"missing_scopes": names},
    )


def action_client_scopes_error(granted: Collection[str], client_id: str) -> StiggctlError | None:
    """An authorization error (exit 4) when the Action's client lacks its one scope."""
    if ACTION_CLIENT_SCOPE in granted:
        return None
    return StiggctlError(
        ErrorCode.PERMISSION_DENIED,
        f"The Action's M2M application {client_id} lacks the Management API scope "
        f"{ACTION_CLIENT_SCOPE} (the Action marking organizations as provisioned).",
        grant_fix(client_id, [ACTION_CLIENT_SCOPE])
        + " Then run `stiggctl setup` again (or --action-client-id none to let the Action "
        "hold stiggctl's client).",
        details={"missing_scopes": [ACTION_CLIENT_SCOPE]},
    )


def extra_scopes_warning(granted: Collection[str], client_id: str) -> str | None:
    """A warning when the Action's client carries more than it needs (least privilege)."""
    extra = extra_action_scopes(granted)
    if not extra:
        return None
    return (
        f"The Action's M2M application {client_id} also carries {', '.join(extra)}: it needs "
        f"only {ACTION_CLIENT_SCOPE}. Untick the others in the Auth0 dashboard (Applications > "
        "APIs > Auth0 Management API > Machine To Machine Applications)."
    )


# ---- plans -------------------------------------------------------------------------------


class EntitlementLike(Protocol):
    usage_limit: float | None
    has_unlimited_usage: bool | None


class PlanLike(Protocol):
    ref_id: str
    display_name: str | None

    def entitlement_for(self, feature_ref_id: str) -> EntitlementLike | None: ...


@dataclass(frozen=True)
class PlanChoice:
    ref_id: str
    name: str
    active_users_limit: str  # "3", "unlimited", or "none" when the plan lacks the feature
    entitled: bool


def plan_choices(plans: Iterable[PlanLike], feature_id: str) -> list[PlanChoice]:
    choices = []
    for plan in plans:
        entitlement = plan.entitlement_for(feature_id)
        choices.append(
            PlanChoice(
                ref_id=plan.ref_id,
                name=plan.display_name or plan.ref_id,
                active_users_limit=_limit_label(entitlement),
                entitled=entitlement is not None,
            )
        )
    return choices


def _limit_label(entitlement: EntitlementLike | None) -> str:
    if entitlement is None:
        return "none"
    if entitlement.has_unlimited_usage or entitlement.usage_limit is None:
        return "unlimited"
    return f"{entitlement.usage_limit:g}"


def unentitled_plan_warning(role: str, plan_id: str, feature_id: str) -> str:
    # Stigg grants nothing for a feature a plan lacks: the Action then refuses every new
    # active user of an organization on it, and sets no limit for individuals.
    effect = (
        "every new active user of an organization on it will be refused"
        if role == "organizations"
        else "individuals on it get no Active Users limit"
    )
    return (
        f"Plan {plan_id} has no {feature_id} entitlement: {effect}. Add {feature_id} to the "
        "plan's entitlements in the Stigg app, with the monthly limit you sell (or unlimited)."
    )


# ---- the Active Users feature ------------------------------------------------------------


@dataclass(frozen=True)
class FeatureDefinition:
    """The metered feature that counts each user once per usage period.

    NUMBER with an Incremental meter: UNIQUE over the `user_id` dimension of the events the
    Action reports (`user-login`). The monthly reset lives on each plan's entitlement.
    """

    ref_id: str
    display_name: str = "Active Users"
    feature_type: str = "NUMBER"
    meter_type: str = "Incremental"
    units: str = "active user"
    units_plural: str = "active users"
    description: str = "Users who logged in during the usage period"
    event_name: str = DEFAULT_EVENT_NAME
    counted_field: str = "user_id"


def feature_warning(
    feature_id: str, feature_type: str | None, meter_type: str | None
) -> str | None:
    """Why an existing feature cannot count active users, or None when it can."""
    if feature_type in (None, "NUMBER") and meter_type not in ("None",):
        return None
    return (
        f"Feature {feature_id} is not metered (type {feature_type}, meter {meter_type}): it "
        "cannot count active users. Use a NUMBER feature with an Incremental meter counting "
        "unique user_id (`--feature` with a new id creates one)."
    )


# ---- the profile -------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupAnswers:
    """Every answer of the wizard, validated; exactly one of domain or tenant+region."""

    auth0_client_id: str
    application_id: str
    mode: Mode
    active_users_feature: str
    stigg_api_url: str = DEFAULT_STIGG_API_URL
    auth0_domain: str | None = None
    auth0_tenant: str | None = None
    auth0_region: str | None = None
    b2c_plan: str | None = None
    b2b_plan: str | None = None
    action_client_id: str | None = None  # None: the Action holds stiggctl's client


def profile_values(existing: Mapping[str, Any], answers: SetupAnswers) -> dict[str, Any]:
    """The profile to save: the existing one (its other settings kept) with the answers.

    What the answers make meaningless goes: the tenant and region when a domain is given
    (and the reverse), the plan of a kind of login the mode does not handle, the Action's
    client when it holds stiggctl's (or the mode never calls the Management API), and a
    Stigg URL equal to the default (so the profile follows the default).
    """
    values = dict(existing)
    for name in (
        "auth0_domain",
        "auth0_tenant",
        "auth0_region",
        "b2c_plan",
        "b2b_plan",
        "action_client_id",
    ):
        values.pop(name, None)
    if answers.auth0_domain:
        values["auth0_domain"] = answers.auth0_domain
    else:
        values["auth0_tenant"] = answers.auth0_tenant
        values["auth0_region"] = answers.auth0_region
    values["auth0_client_id"] = answers.auth0_client_id
    values["action_client_id"] = answers.action_client_id
    if answers.stigg_api_url == DEFAULT_STIGG_API_URL:
        values.pop("stigg_api_url", None)
    else:
        values["stigg_api_url"] = answers.stigg_api_url
    values["application_id"] = answers.application_id
    values["mode"] = answers.mode.value
    if answers.mode.handles_individuals:
        values["b2c_plan"] = answers.b2c_plan
    if answers.mode.handles_organizations:
        values["b2b_plan"] = answers.b2b_plan
    values["active_users_feature"] = answers.active_users_feature
    return {name: value for name, value in values.items() if value is not None}


def is_domain(answer: str) -> bool:
    """Whether a "domain or tenant" answer is a domain (or base URL) rather than a tenant name."""
    return "." in answer or "://" in answer
