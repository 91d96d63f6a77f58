"""`stiggctl doctor`: every check of the integration in one command, each with a fix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.core.action_settings import Mode
    from stiggctl.core.doctor import Check, DoctorReport
    from stiggctl.core.render import RenderedAction

_ACTION_CHECKS = (
    ("action_exists", "Action exists"),
    ("action_built", "Action built and deployed"),
    ("action_current", "Deployed version is the profile's rendering"),
    ("action_bound", "Action bound to post-login"),
)
_REDEPLOY = "Run `stiggctl deploy-action` (`--dry-run` first shows what it would change)."


def doctor(
    ctx: typer.Context,
    name: str | None = typer.Option(
        None, "--name", metavar="NAME", help="Name of the action (default: the profile's)."
    ),
) -> None:
    """Check the whole integration: credentials, token scopes, the Action's own M2M client
    (recommended in b2b and both), the application and the mode, the action (exists, built,
    deployed = what the profile renders, bound), the Active Users feature and the initial
    plans in Stigg. Exit 0 when healthy (warnings allowed), 3 when a check fails.

    Examples:

      stiggctl doctor

      stiggctl doctor --json --profile staging
    """
    from stiggctl.errors import ExitCode

    app_ctx = ctx.obj
    report = run_checks(app_ctx, name)
    data = {"profile": app_ctx.profile, **report.to_dict()}
    app_ctx.out.result(data, lambda console: _print_report(console, report))
    if not report.healthy:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def run_checks(app_ctx: AppContext, name_override: str | None) -> DoctorReport:
    from stiggctl.core.doctor import DoctorReport, skip

    checks: list[Check] = []
    mode, rendered, settings_loaded = _profile_check(app_ctx, checks)
    _auth0_checks(app_ctx, name_override, mode, rendered, checks)
    if settings_loaded:
        _stigg_checks(app_ctx, mode, checks)
    else:
        because = "the profile's settings do not load"
        checks.append(skip("stigg_credentials", "Stigg API key", because))
        checks.append(skip("stigg_feature", "Active Users feature", because))
    return DoctorReport(tuple(checks))


def _profile_check(
    app_ctx: AppContext, checks: list[Check]
) -> tuple[Mode | None, RenderedAction | None, bool]:
    """The mode and the rendering when the profile gives them, and whether it loaded."""
    from stiggctl.commands.deploy.tenant import profile_rendering
    from stiggctl.core.action_settings import Mode
    from stiggctl.core.doctor import fail, ok
    from stiggctl.errors import StiggctlError

    title = "Profile settings"
    try:
        settings = app_ctx.settings
    except StiggctlError as exc:
        checks.append(fail("profile", title, exc.message, exc.hint))
        return None, None, False
    mode = Mode(settings.mode) if settings.mode else None
    try:
        rendered = profile_rendering(app_ctx)
    except StiggctlError as exc:
        checks.append(fail("profile", title, exc.message, exc.hint))
        return mode, None, True
    plans = ", ".join(p for p in (settings.b2c_plan, settings.b2b_plan) if p)
    checks.append(
        ok(
            "profile",
            title,
            f"profile {app_ctx.profile!r}: mode {settings.mode}, plans {plans}, "
            f"template {rendered.template_version}",
        )
    )
    return mode, rendered, True


def _auth0_checks(
    app_ctx: AppContext,
    name_override: str | None,
    mode: Mode | None,
    rendered: RenderedAction | None,
    checks: list[Check],
) -> None:
    from contextlib import ExitStack

    from stiggctl.core.doctor import (
        ACTION_CLIENT_CHECK,
        action_client_has_own,
        fail,
        ok,
        scopes_check,
        skip,
    )
    from stiggctl.errors import StiggctlError

    later = [
        ("auth0_scopes", "Auth0 token scopes"),
        ACTION_CLIENT_CHECK,
        ("application", "Auth0 application"),
    ]
    with ExitStack() as closing:
        try:
            auth0 = closing.enter_context(app_ctx.auth0())
            granted = auth0.token_scopes()
        except StiggctlError as exc:
            checks.append(fail("auth0_credentials", "Auth0 credentials", exc.message, exc.hint))
            because = "no Management API token"
            checks.extend(skip(i, t, because) for i, t in (*later, *_ACTION_CHECKS))
            return
        checks.append(
            ok(
                "auth0_credentials",
                "Auth0 credentials",
                f"client {auth0.client_id} got a Management API token from {auth0.base_url}",
            )
        )
        own = action_client_has_own(app_ctx.settings.action_client_id, auth0.client_id)
        checks.append(scopes_check(granted, mode, auth0.client_id, action_has_own_client=own))
        checks.append(_action_client_check(app_ctx, auth0, mode))
        checks.append(_application_check(auth0, app_ctx, mode))
        _action_checks(auth0, app_ctx, name_override, rendered, checks)


def _action_client_check(app_ctx: AppContext, auth0: Auth0Client, mode: Mode | None) -> Check:
    """Mint a token for the Action's own M2M client, when it has one, and read its scopes."""
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.commands.deploy.tenant import action_secret_without_client
    from stiggctl.core.doctor import (
        ACTION_CLIENT_CHECK,
        action_client_check,
        action_client_has_own,
        action_client_token_fix,
        action_uses_management_api,
        fail,
    )
    from stiggctl.errors import StiggctlError

    action_client_id = app_ctx.settings.action_client_id
    check_id, title = ACTION_CLIENT_CHECK
    if not action_uses_management_api(mode):
        return action_client_check(mode, action_client_id, auth0.client_id)
    if not action_client_id and app_ctx.credentials.in_environment("action_client_secret"):
        orphan = action_secret_without_client()
        return fail(check_id, title, orphan.message, orphan.hint)
    if not action_client_has_own(action_client_id, auth0.client_id):
        return action_client_check(mode, action_client_id, auth0.client_id)
    assert action_client_id is not None
    try:
        secret = app_ctx.credentials.require("action_client_secret")
        with Auth0Client(
            auth0.base_url, action_client_id, secret.reveal(), **app_ctx.client_options()
        ) as client:
            granted = client.token_scopes()
    except StiggctlError as exc:
        return fail(check_id, title, exc.message, action_client_token_fix(exc))
    return action_client_check(mode, action_client_id, auth0.client_id, granted)


def _application_check(auth0: Auth0Client, app_ctx: AppContext, mode: Mode | None) -> Check:
    from stiggctl.core.doctor import application_check, fail
    from stiggctl.errors import ErrorCode, StiggctlError

    application_id = app_ctx.settings.application_id
    if not application_id or application_id == "*":
        return application_check(application_id, False, None, None, mode)
    try:
        client = auth0.get_client(application_id)
    except StiggctlError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            return fail("application", "Auth0 application", exc.message, exc.hint)
        return application_check(application_id, False, None, None, mode)
    return application_check(application_id, True, client.name, client.organization_usage, mode)


def _action_checks(
    auth0: Auth0Client,
    app_ctx: AppContext,
    name_override: str | None,
    rendered: RenderedAction | None,
    checks: list[Check],
) -> None:
    from stiggctl.commands.deploy.tenant import action_name, live_drift, read_bindings
    from stiggctl.commands.deploy.wait import build_errors
    from stiggctl.core.doctor import fail, ok, skip, warn
    from stiggctl.errors import StiggctlError

    name = action_name(app_ctx, name_override)
    (exists_id, exists), (built_id, built), (current_id, current), (bound_id, bound) = (
        _ACTION_CHECKS
    )
    try:
        action = auth0.find_action(name)
        bindings = read_bindings(auth0)
    except StiggctlError as exc:
        checks.append(fail(exists_id, exists, exc.message, exc.hint))
        checks.extend(skip(i, t, "the action could not be read") for i, t in _ACTION_CHECKS[1:])
        return
    if action is None:
        checks.append(fail(exists_id, exists, f"no post-login action named {name!r}", _REDEPLOY))
        checks.extend(skip(i, t, "there is no action") for i, t in _ACTION_CHECKS[1:])
        return
    checks.append(ok(exists_id, exists, f"{name!r} ({action.id})"))

    live = action.deployed_version
    if action.status == "failed":
        errors = build_errors(auth0, action.id)
        still = f"v{live.number} still runs" if live else "nothing is deployed"
        detail = f": {'; '.join(errors)}" if errors else ""
        checks.append(
            fail(
                built_id,
                built,
                f"the draft's last build failed{detail} ({still})",
                "Fix the cause, then " + _REDEPLOY,
            )
        )
    elif live is None:
        checks.append(fail(built_id, built, "no version is deployed", _REDEPLOY))
    elif action.status != "built":
        checks.append(
            warn(
                built_id,
                built,
                f"v{live.number} is deployed; the draft is {action.status} (a deploy under way?)",
                "Run `stiggctl doctor` again in a moment, or " + _REDEPLOY,
            )
        )
    else:
        checks.append(ok(built_id, built, f"v{live.number} deployed, the draft built"))

    if rendered is None:
        checks.append(skip(current_id, current, "the profile does not render the Action"))
    else:
        found, secrets_compared = live_drift(app_ctx, rendered, live)
        if not found.in_sync:
            checks.append(fail(current_id, current, found.message, _REDEPLOY))
        elif not secrets_compared:
            checks.append(
                warn(
                    current_id,
                    current,
                    "the code is the profile's rendering; the secrets were not compared "
                    "(their values are not available)",
                    f"Provide {' and '.join(_secret_variables(app_ctx, rendered))}.",
                )
            )
        else:
            checks.append(ok(current_id, current, found.message + ", secrets included"))

    places = [i for i, b in enumerate(bindings, start=1) if b.action_id == action.id]
    if len(places) == 1:
        message = f"position {places[0]} of {len(bindings)}"
        checks.append(ok(bound_id, bound, message))
    elif not places:
        checks.append(fail(bound_id, bound, "not bound: logins do not run the Action", _REDEPLOY))
    else:
        checks.append(
            fail(bound_id, bound, f"bound {len(places)} times (positions {places})", _REDEPLOY)
        )


def _secret_variables(app_ctx: AppContext, rendered: RenderedAction) -> list[str]:
    """The variables that hold the values of the Action's secrets for this profile."""
    from stiggctl.config.credentials import SECRETS
    from stiggctl.core.action_settings import M2M_CLIENT_SECRET_SECRET
    from stiggctl.core.doctor import action_client_has_own

    names = [SECRETS["stigg_api_key"]]
    if M2M_CLIENT_SECRET_SECRET in rendered.secret_names:
        settings = app_ctx.settings
        own = action_client_has_own(settings.action_client_id, settings.auth0_client_id)
        names.append(SECRETS["action_client_secret" if own else "auth0_client_secret"])
    return names


def _stigg_checks(app_ctx: AppContext, mode: Mode | None, checks: list[Check]) -> None:
    from stiggctl.core.doctor import PlanView, fail, ok, plan_checks, skip, warn
    from stiggctl.errors import StiggctlError

    settings = app_ctx.settings
    feature_id = settings.active_users_feature
    feature_title = "Active Users feature"
    try:
        stigg = app_ctx.stigg()
        with stigg:
            feature = stigg.find_feature(feature_id)
            plans = stigg.list_plans() if mode is not None else []
    except StiggctlError as exc:
        checks.append(fail("stigg_credentials", "Stigg API key", exc.message, exc.hint))
        checks.append(skip("stigg_feature", feature_title, "Stigg could not be read"))
        return
    checks.append(ok("stigg_credentials", "Stigg API key", f"accepted by {stigg.api_url}"))
    if feature is None:
        checks.append(
            fail(
                "stigg_feature",
                feature_title,
                f"no feature {feature_id} in the Stigg environment",
                "Run `stiggctl setup` (it creates the feature), or set "
                "STIGGCTL_ACTIVE_USERS_FEATURE to the id of your Active Users feature.",
            )
        )
    elif feature.feature_type not in (None, "NUMBER") or feature.meter_type in ("None",):
        checks.append(
            warn(
                "stigg_feature",
                feature_title,
                f"{feature_id} is not a metered feature (type {feature.feature_type}, "
                f"meter {feature.meter_type})",
                "Use a NUMBER feature with an Incremental meter counting unique user_id.",
            )
        )
    else:
        checks.append(ok("stigg_feature", feature_title, f"{feature_id} ({feature.display_name})"))
    if mode is None:
        return
    wanted: dict[str, str] = {}
    if mode.handles_individuals and settings.b2c_plan:
        wanted["individuals"] = settings.b2c_plan
    if mode.handles_organizations and settings.b2b_plan:
        wanted["organizations"] = settings.b2b_plan
    views = [
        PlanView(
            ref_id=plan.ref_id,
            display_name=plan.display_name,
            entitled_features=frozenset(e.feature.ref_id for e in plan.entitlements),
        )
        for plan in plans
    ]
    checks.extend(plan_checks(wanted, views, feature_id))


_MARKS = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]", "skip": "[dim]-[/]"}


def _print_report(console: Console, report: DoctorReport) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table.grid(padding=(0, 1))
    for check in report.checks:
        table.add_row(_MARKS[check.status.value], f"[bold]{escape(check.title)}[/]")
        table.add_row("", escape(check.message))
        if check.fix and check.status.value in ("warn", "fail"):
            table.add_row("", f"[dim]fix:[/] {escape(check.fix)}")
    console.print(table)
    counts = report.counts()
    summary = f"{counts['ok']} ok, {counts['warn']} warnings, {counts['fail']} failed"
    if counts["skip"]:
        summary += f", {counts['skip']} not checked"
    verdict = "[green]Healthy[/]" if report.healthy else "[red]Not healthy[/]"
    console.print(f"{verdict}: {summary}.")
