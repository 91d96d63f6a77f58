"""The checks of `stiggctl doctor`, evaluated from what was fetched: pure, no I/O.

Each check says ok, warn, fail or skip (a check that an earlier failure made impossible),
what it found, and for anything but ok a fix the user can apply. The integration is healthy
when no check fails; warnings do not fail it.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stiggctl.core.action_settings import Mode
from stiggctl.errors import ErrorCode, StiggctlError


class CheckStatus(enum.StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    status: CheckStatus
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
        }


def ok(id: str, title: str, message: str) -> Check:
    return Check(id, title, CheckStatus.OK, message)


def warn(id: str, title: str, message: str, fix: str) -> Check:
    return Check(id, title, CheckStatus.WARN, message, fix)


def fail(id: str, title: str, message: str, fix: str | None) -> Check:
    return Check(id, title, CheckStatus.FAIL, message, fix)


def skip(id: str, title: str, because: str) -> Check:
    return Check(id, title, CheckStatus.SKIP, f"not checked: {because}")


@dataclass(frozen=True)
class DoctorReport:
    checks: tuple[Check, ...]

    @property
    def healthy(self) -> bool:
        return all(c.status is not CheckStatus.FAIL for c in self.checks)

    def counts(self) -> dict[str, int]:
        return {s.value: sum(1 for c in self.checks if c.status is s) for s in CheckStatus}

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "summary": self.counts(),
            "checks": [c.to_dict() for c in self.checks],
        }


# ---- Auth0 token scopes --------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeNeed:
    any_of: tuple[str, ...]  # one of these suffices
    used_for: str


SCOPE_NEEDS: tuple[ScopeNeed, ...] = (
    ScopeNeed(("read:actions",), "reading the action, its versions and post-login"),
    ScopeNeed(("create:actions",), "creating and deploying the action, rollback"),
    ScopeNeed(("update:actions",), "updating the draft and the post-login bindings"),
    ScopeNeed(("delete:actions",), "action remove"),
    ScopeNeed(("read:clients",), "finding the application"),
    ScopeNeed(("read:users",), "simulate-login and the MAU report"),
    ScopeNeed(("update:users", "update:users_app_metadata"), "updating users' app_metadata"),
    ScopeNeed(("read:organizations",), "simulate-login and the MAU report"),
    ScopeNeed(("read:organization_members",), "the MAU report, reconciled with Auth0"),
)
# The Action writes organization metadata with the M2M credentials it holds: its own client's
# when it has one (`action_client_id`), else stiggctl's, which then needs this scope too.
ACTION_CLIENT_SCOPE = "update:organizations"
ORGANIZATION_SCOPE = ScopeNeed(
    (ACTION_CLIENT_SCOPE,), "the Action marking organizations as provisioned"
)
OWN_ACTION_CLIENT_FIX = (
    "Give the Action its own M2M application: in the Auth0 dashboard create a Machine to "
    f"Machine application authorized for the Auth0 Management API with only {ACTION_CLIENT_SCOPE}, "
    "then run `stiggctl setup --action-client-id CLIENT_ID` (or set STIGGCTL_ACTION_CLIENT_ID "
    "and STIGGCTL_ACTION_CLIENT_SECRET) and `stiggctl deploy-action`."
)


def scope_needs(mode: Mode | None, *, action_has_own_client: bool = False) -> tuple[ScopeNeed, ...]:
    """What stiggctl's own client needs for `mode` (None: not known yet, assume organizations)."""
    if action_has_own_client or (mode is not None and not mode.handles_organizations):
        return SCOPE_NEEDS
    return (*SCOPE_NEEDS, ORGANIZATION_SCOPE)


def missing_scopes(granted: Collection[str], needs: Iterable[ScopeNeed]) -> list[ScopeNeed]:
    return [need for need in needs if not any(scope in granted for scope in need.any_of)]


def scopes_check(
    granted: Collection[str],
    mode: Mode | None,
    client_id: str,
    *,
    action_has_own_client: bool = False,
) -> Check:
    title = "Auth0 token scopes"
    needs = scope_needs(mode, action_has_own_client=action_has_own_client)
    missing = missing_scopes(granted, needs)
    if not missing:
        return ok("auth0_scopes", title, "the M2M token carries every scope stiggctl needs")
    names = [" or ".join(need.any_of) for need in missing]
    uses = "; ".join(f"{' or '.join(n.any_of)} for {n.used_for}" for n in missing)
    return fail(
        "auth0_scopes",
        title,
        f"missing scopes: {', '.join(names)} ({uses})",
        grant_fix(client_id, names),
    )


def grant_fix(client_id: str, scopes: Sequence[str]) -> str:
    """Where in the Auth0 dashboard a client is granted `scopes`."""
    return (
        "In the Auth0 dashboard open Applications > APIs > Auth0 Management API > Machine To "
        f"Machine Applications, expand client {client_id} and tick {', '.join(scopes)}."
    )


# ---- the Action's M2M client ---------------------------------------------------------------

ACTION_CLIENT_CHECK = ("action_client", "Action's M2M client")


def action_uses_management_api(mode: Mode | None) -> bool:
    return mode is None or mode.handles_organizations


def action_client_has_own(action_client_id: str | None, stiggctl_client_id: str | None) -> bool:
    """Whether the Action holds credentials of its own (the same id as stiggctl's is not)."""
    return bool(action_client_id) and action_client_id != stiggctl_client_id


def shared_client_warning(stiggctl_client_id: str) -> str:
    """What deploy-action and setup say when the Action holds stiggctl's credentials."""
    return (
        f"The Action holds stiggctl's own M2M credentials (client {stiggctl_client_id}), which "
        f"carry every scope stiggctl needs; it needs only {ACTION_CLIENT_SCOPE}. "
        + OWN_ACTION_CLIENT_FIX
    )


def extra_action_scopes(granted: Collection[str]) -> list[str]:
    """The scopes of the Action's client beyond the one it needs, sorted."""
    return sorted(set(granted) - {ACTION_CLIENT_SCOPE})


def action_client_token_fix(error: StiggctlError) -> str | None:
    """The fix for a token refused to the Action's client (the Auth0 client's own hints name
    stiggctl's settings and scopes)."""
    if error.code is ErrorCode.AUTHENTICATION_FAILED:
        return (
            "Check the client id and secret of the Action's M2M application "
            "(STIGGCTL_ACTION_CLIENT_ID / STIGGCTL_ACTION_CLIENT_SECRET, or `stiggctl setup`)."
        )
    if error.code is ErrorCode.PERMISSION_DENIED:
        return (
            "Authorize the Action's M2M application for the Auth0 Management API: in the Auth0 "
            "dashboard open Applications > APIs > Auth0 Management API > Machine To Machine "
            f"Applications, switch it on and tick only {ACTION_CLIENT_SCOPE}."
        )
    return error.hint


def action_client_check(
    mode: Mode | None,
    action_client_id: str | None,
    stiggctl_client_id: str,
    granted: Collection[str] | None = None,
) -> Check:
    """The M2M client the Action holds, from the scopes of a token minted for it (`granted`,
    only needed when the Action has its own client)."""
    check_id, title = ACTION_CLIENT_CHECK
    if not action_uses_management_api(mode):
        assert mode is not None
        unused = f" ({action_client_id} is configured but unused)" if action_client_id else ""
        return ok(
            check_id,
            title,
            f"not needed: in mode {mode.value} the Action does not call the Management API"
            + unused,
        )
    if not action_client_has_own(action_client_id, stiggctl_client_id):
        same = " (action_client_id is stiggctl's own client id)" if action_client_id else ""
        return warn(
            check_id,
            title,
            f"the Action holds stiggctl's own M2M credentials (client {stiggctl_client_id}), "
            f"which carry every scope stiggctl needs{same}",
            OWN_ACTION_CLIENT_FIX,
        )
    assert action_client_id is not None and granted is not None
    if ACTION_CLIENT_SCOPE not in granted:
        return fail(
            check_id,
            title,
            f"client {action_client_id} lacks {ACTION_CLIENT_SCOPE}: the Action cannot mark "
            "organizations as provisioned",
            grant_fix(action_client_id, [ACTION_CLIENT_SCOPE]),
        )
    extra = extra_action_scopes(granted)
    if extra:
        return warn(
            check_id,
            title,
            f"client {action_client_id} carries more than the Action needs: {', '.join(extra)}",
            f"Untick {', '.join(extra)} for client {action_client_id} under Applications > APIs > "
            "Auth0 Management API > Machine To Machine Applications in the Auth0 dashboard.",
        )
    return ok(
        check_id,
        title,
        f"client {action_client_id} got a token carrying only {ACTION_CLIENT_SCOPE}",
    )


# ---- the application -----------------------------------------------------------------------

# What each mode needs of the application's organization behaviour (`organization_usage`):
# logins of individuals (deny or allow) and/or logins into an organization (allow or require).
_USAGE_FIT: dict[Mode, dict[str, CheckStatus]] = {
    Mode.B2C: {"deny": CheckStatus.OK, "allow": CheckStatus.WARN, "require": CheckStatus.FAIL},
    Mode.B2B: {"require": CheckStatus.OK, "allow": CheckStatus.WARN, "deny": CheckStatus.FAIL},
    Mode.BOTH: {"allow": CheckStatus.OK, "deny": CheckStatus.WARN, "require": CheckStatus.WARN},
}
_USAGE_MEANS = {
    "deny": "individuals only (no organizations)",
    "allow": "individuals and organizations",
    "require": "organizations only",
}
_MODE_FOR_USAGE = {"deny": "b2c", "allow": "both", "require": "b2b"}


def application_check(
    application_id: str | None,
    found: bool,
    name: str | None,
    organization_usage: str | None,
    mode: Mode | None,
) -> Check:
    check_id, title = "application", "Auth0 application"
    if not application_id:
        return fail(
            check_id,
            title,
            "the profile names no application",
            "Set STIGGCTL_APPLICATION_ID to the application's client id ('*' for all).",
        )
    if application_id == "*":
        return ok(check_id, title, "the Action handles the logins of every application")
    if not found:
        return fail(
            check_id,
            title,
            f"no application {application_id} in the tenant",
            "Set STIGGCTL_APPLICATION_ID to the client id of an application of this tenant.",
        )
    label = f"{name!r} ({application_id})" if name else application_id
    usage = organization_usage or "deny"
    if mode is None:
        return ok(check_id, title, f"{label} exists")
    fit = _USAGE_FIT[mode].get(usage, CheckStatus.WARN)
    means = _USAGE_MEANS.get(usage, usage)
    message = f"{label} lets {means} sign in (organization_usage {usage}); mode {mode.value}"
    if fit is CheckStatus.OK:
        return ok(check_id, title, message)
    fix = (
        f"Set mode {_MODE_FOR_USAGE.get(usage, 'both')} (STIGGCTL_MODE), or change the "
        "application's organization behaviour in the Auth0 dashboard (Applications > "
        f"{name or application_id} > Organizations)."
    )
    if fit is CheckStatus.WARN:
        if mode is Mode.BOTH:
            message += ": one kind of login never happens"
        else:
            message += ": the other kind of login is let through, unmetered"
        return warn(check_id, title, message, fix)
    return fail(check_id, title, message + ": no login this mode meters can happen", fix)


# ---- Stigg ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanView:
    ref_id: str
    display_name: str | None
    entitled_features: frozenset[str]


def plan_checks(
    wanted: Mapping[str, str], published: Sequence[PlanView], feature_id: str
) -> list[Check]:
    """Each initial plan (role -> plan id) published, and entitling to Active Users."""
    by_id = {plan.ref_id: plan for plan in published}
    checks: list[Check] = []
    for role, plan_id in wanted.items():
        plan = by_id.get(plan_id)
        title = f"Stigg plan for {role}"
        if plan is None:
            known = ", ".join(sorted(by_id)) or "none"
            checks.append(
                fail(
                    f"plan_{role}",
                    title,
                    f"{plan_id} is not a published plan (published: {known})",
                    f"Publish {plan_id} in the Stigg app, or choose a published plan "
                    f"(STIGGCTL_{'B2C' if role == 'individuals' else 'B2B'}_PLAN).",
                )
            )
            continue
        checks.append(ok(f"plan_{role}", title, f"{plan_id} is published"))
        entitlement_title = f"Active Users limit of {plan_id}"
        if feature_id in plan.entitled_features:
            checks.append(
                ok(f"entitlement_{role}", entitlement_title, f"{plan_id} entitles {feature_id}")
            )
        else:
            # Stigg grants nothing for a feature the plan lacks: the Action then refuses
            # every new active user of an organization on that plan.
            effect = (
                "new active users of organizations on it are refused"
                if role == "organizations"
                else "it sets no Active Users limit"
            )
            checks.append(
                warn(
                    f"entitlement_{role}",
                    entitlement_title,
                    f"{plan_id} has no {feature_id} entitlement: {effect}",
                    f"Add {feature_id} to the plan's entitlements in the Stigg app, with the "
                    "monthly limit you sell (or unlimited).",
                )
            )
    return checks
