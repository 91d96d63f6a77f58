"""`stiggctl simulate-login`: explain a login with the Action's own logic, writing nothing.

Reads the user, the organization and (only when the decision needs them) Stigg's answers,
then runs `decide_login`, the Action's twin. Every Stigg call is a read: provisioning is
answered by looking the customer up, the entitlement by the same query the Action sends
(requestedUsage 1 only asks). Nothing is provisioned, reported or written to Auth0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.clients.auth0_models import Organization, User
    from stiggctl.clients.stigg import StiggClient
    from stiggctl.clients.stigg_models import Plan
    from stiggctl.core.action_settings import ActionSettings
    from stiggctl.core.login import LoginContext, LoginDecision, StiggQuery
    from stiggctl.core.simulation import Simulation, StiggAnswer
    from stiggctl.errors import StiggctlError

_AT_HELP = "Simulate the login at this time (ISO 8601, UTC unless an offset is given); default now."


def _check_time(value: str | None) -> str | None:
    from stiggctl.core.login import parse_time

    if value is not None and parse_time(value) is None:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time such as 2025-03-14T09:30:00Z")
    return value


def simulate_login(
    ctx: typer.Context,
    user: str = typer.Option(
        ..., "--user", metavar="USER_ID", help="The Auth0 user id (auth0|...)."
    ),
    org: str | None = typer.Option(
        None, "--org", metavar="ORG_ID", help="Log into this organization (B2B)."
    ),
    client: str | None = typer.Option(
        None,
        "--client",
        metavar="CLIENT_ID",
        help="The application logged into (default: the profile's application_id).",
    ),
    refresh: bool = typer.Option(
        False, "--refresh", help="A refresh-token exchange instead of an interactive login."
    ),
    at: str | None = typer.Option(
        None, "--at", metavar="ISO-TIME", callback=_check_time, help=_AT_HELP
    ),
) -> None:
    """Explain a login: run the deployed Action's decision locally on the real user,
    organization and Stigg data, and print the inputs, each of the eleven steps, the
    verdict and the side effects a real login would cause, without causing any (reads
    only). Exit 0 when the login would be allowed, 3 when it would be denied.

    Examples:

      stiggctl simulate-login --user 'auth0|64f0c2' --org org_acme

      stiggctl simulate-login --user 'auth0|64f0c2' --json

      stiggctl simulate-login --user 'auth0|64f0c2' --org org_acme --refresh --at 2025-03-31T23:00Z
    """
    from stiggctl.core.login import REFRESH_TOKEN_PROTOCOL, parse_time
    from stiggctl.core.simulation import LOGIN_PROTOCOL
    from stiggctl.errors import ExitCode

    app_ctx: AppContext = ctx.obj
    at_ms = parse_time(at) if at is not None else _now_ms(app_ctx)
    assert at_ms is not None  # _check_time refused anything else
    simulation = run_simulation(
        app_ctx,
        user_id=user,
        organization_id=org,
        client_id=client,
        protocol=REFRESH_TOKEN_PROTOCOL if refresh else LOGIN_PROTOCOL,
        at_ms=at_ms,
        at_given=at is not None,
    )
    app_ctx.out.result(simulation.to_dict(), render_simulation(simulation))
    if not simulation.allowed:
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def _now_ms(app_ctx: AppContext) -> int:
    """Now, as the tenant sees it: a sandbox's clock may have been moved forward
    (`sandbox advance-clock`), and the simulation must decide in the sandbox's period."""
    import time
    from urllib.parse import urlsplit

    base = app_ctx.settings.auth0_base_url
    if base and urlsplit(base).hostname in ("127.0.0.1", "localhost", "::1"):
        import httpx

        try:
            answer = httpx.get(f"{base}/_sandbox/clock", timeout=2.0)
            if answer.status_code == 200:
                return int(float(answer.json()["now"]) * 1000)
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            pass  # not a sandbox after all: the machine's clock
    return int(time.time() * 1000)


def run_simulation(
    app_ctx: AppContext,
    *,
    user_id: str,
    organization_id: str | None,
    client_id: str | None,
    protocol: str,
    at_ms: int,
    at_given: bool,
) -> Simulation:
    """Read what the login would see, then decide as the Action would; writes nothing."""
    from stiggctl.config.action import action_settings
    from stiggctl.core.login import LoginContext, LoginOrganization, LoginUser
    from stiggctl.core.simulation import (
        Simulation,
        SimulationInputs,
        decide_with_answers,
        time_notes,
    )

    settings = action_settings(app_ctx.settings)
    client_id = client_id or settings.application_id or "*"
    out = app_ctx.out
    with out.status(f"Reading user {user_id} from Auth0...") as update, app_ctx.auth0() as auth0:
        user = _get_user(auth0, user_id)
        organization = None
        if organization_id is not None:
            update(f"Reading organization {organization_id} from Auth0...")
            organization = _get_organization(auth0, organization_id, user_id)
            memberships = [o.id for o in auth0.list_user_organizations(user_id)]
            if organization_id not in memberships:
                return Simulation(
                    user_id=user_id,
                    organization_id=organization_id,
                    client_id=client_id,
                    protocol=protocol,
                    at_ms=at_ms,
                    inputs=None,
                    decision=None,
                    member=False,
                    user_organizations=tuple(memberships),
                )
        context = LoginContext(
            user=LoginUser(
                user_id=user.user_id,
                email=user.email,
                name=user.name,
                app_metadata=user.app_metadata,
            ),
            organization=None
            if organization is None
            else LoginOrganization(
                id=organization.id,
                name=organization.name,
                display_name=organization.display_name,
                metadata=organization.metadata,
            ),
            client_id=client_id,
            protocol=protocol,
            now_ms=at_ms,
            # The worst case: a new organization's login also asks for a token.
            m2m_token_cached=False,
        )
        update("Reading what Stigg would answer...")
        with _StiggReader(app_ctx, context, settings) as reader:
            decision, answers = decide_with_answers(context, settings, reader)
    if reader.failure is not None:
        raise _stigg_unavailable(reader.failure, decision, settings)
    inputs = SimulationInputs.read(context, settings, answers)
    return Simulation(
        user_id=user_id,
        organization_id=organization_id,
        client_id=client_id,
        protocol=protocol,
        at_ms=at_ms,
        inputs=inputs,
        decision=decision,
        member=True if organization_id is not None else None,
        notes=tuple(time_notes(at_ms, at_given, inputs.entitlement)),
    )


def _get_user(auth0: Auth0Client, user_id: str) -> User:
    from stiggctl.errors import ErrorCode, StiggctlError

    try:
        return auth0.get_user(user_id)
    except StiggctlError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            f"Auth0 has no user {user_id} (tenant {auth0.base_url}).",
            "Give the user's full id, connection prefix included (auth0|..., google-oauth2|...): "
            "Auth0 dashboard > User Management > Users shows it.",
            status=exc.status,
        ) from None


def _get_organization(auth0: Auth0Client, organization_id: str, user_id: str) -> Organization:
    from stiggctl.errors import ErrorCode, StiggctlError

    try:
        return auth0.get_organization(organization_id)
    except StiggctlError as exc:
        if exc.code is not ErrorCode.NOT_FOUND:
            raise
        theirs = [o.id for o in auth0.list_user_organizations(user_id)]
        where = (
            f"User {user_id} belongs to {', '.join(theirs)}."
            if theirs
            else f"User {user_id} belongs to no organization: simulate without --org."
        )
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            f"Auth0 has no organization {organization_id} (tenant {auth0.base_url}).",
            f"Give the organization's id (org_...), not its name. {where}",
            status=exc.status,
        ) from None


class _StiggReader:
    """Answers the decision's Stigg questions with reads only; a Stigg failure is kept (to
    report after the decision has shown what the Action's fail policy would do)."""

    # Stigg slow or down: the Action would meet the same and apply its fail policy. Other
    # errors (stiggctl's own key or settings) say nothing about the Action, which has its own.
    _OUTAGES = frozenset({"network_error", "timeout", "api_error", "rate_limited"})

    def __init__(self, app_ctx: AppContext, context: LoginContext, settings: ActionSettings):
        org = context.organization
        self._app_ctx = app_ctx
        self._settings = settings
        self.customer_id = org.id if org is not None else context.user.user_id
        self.plan_id = settings.plan_id_for(organization=org is not None)
        self._now_ms = context.now_ms
        self._client: StiggClient | None = None
        self._new_customer_plan: Plan | None = None
        self.failure: tuple[StiggQuery, StiggctlError] | None = None

    def __enter__(self) -> _StiggReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._client is not None:
            self._client.close()

    def __call__(self, query: StiggQuery) -> StiggAnswer:
        from stiggctl.core.login import FailureKind, StiggFailure, StiggQuery
        from stiggctl.errors import ErrorCode, StiggctlError

        try:
            if query is StiggQuery.PROVISION:
                return self._provision_outcome()
            return self._entitlement()
        except StiggctlError as exc:
            if exc.code.value not in self._OUTAGES:
                raise
            self.failure = (query, exc)
            kind = FailureKind.TIMEOUT if exc.code is ErrorCode.TIMEOUT else FailureKind.ERROR
            return StiggFailure(kind, exc.message)

    def _stigg(self) -> StiggClient:
        # Made on first use: a returning user's simulation needs no Stigg key at all.
        if self._client is None:
            self._client = self._app_ctx.stigg()
        return self._client

    def _provision_outcome(self) -> StiggAnswer:
        """What provisionCustomer would answer: Duplicate when the customer exists."""
        from stiggctl.core.login import FailureKind, ProvisionOutcome, StiggFailure

        stigg = self._stigg()
        if stigg.get_customer(self.customer_id) is not None:
            return ProvisionOutcome.DUPLICATE
        plan = next((p for p in stigg.list_plans() if p.ref_id == self.plan_id), None)
        if plan is None:
            return StiggFailure(
                FailureKind.ERROR,
                f"plan {self.plan_id} is not a published plan of Stigg: provisioning would fail",
            )
        self._new_customer_plan = plan
        return ProvisionOutcome.CREATED

    def _entitlement(self) -> StiggAnswer:
        from stiggctl.core.login import EntitlementAnswer, is_customer_not_found_error
        from stiggctl.core.simulation import PlanAllowance, new_customer_entitlement
        from stiggctl.errors import StiggctlError

        feature_id = self._settings.active_users_feature_id
        plan = self._new_customer_plan
        if plan is not None:
            # The customer does not exist yet: answer as Stigg would once the login created it.
            granted = plan.entitlement_for(feature_id)
            allowance = (
                None
                if granted is None
                else PlanAllowance(
                    usage_limit=granted.usage_limit,
                    has_unlimited_usage=bool(granted.has_unlimited_usage),
                    has_soft_limit=bool(granted.has_soft_limit),
                    reset_period=granted.reset_period,
                )
            )
            return new_customer_entitlement(allowance, self._now_ms)
        try:
            entitlement = self._stigg().get_entitlement(
                self.customer_id, feature_id, requested_usage=1
            )
        except StiggctlError as exc:
            # Stigg may say "no such customer" with an error: the Action provisions it then.
            if is_customer_not_found_error(exc.details.get("graphql_code"), exc.message):
                return EntitlementAnswer.customer_not_found()
            raise
        return EntitlementAnswer.from_graphql(entitlement.model_dump(by_alias=True, mode="json"))


def _stigg_unavailable(
    failure: tuple[StiggQuery, StiggctlError], decision: LoginDecision, settings: ActionSettings
) -> StiggctlError:
    """Stigg could not be read: the usual error, saying what the Action's policy would do."""
    from stiggctl.core.login import Verdict
    from stiggctl.errors import StiggctlError

    query, error = failure
    if decision.verdict is Verdict.DENY:
        outcome = f"deny it with {decision.effects.deny_message!r}"
    else:
        outcome = "let it continue"
    reason = decision.reason.value if decision.reason else "unknown"
    action = (
        f"During a real login the Action would meet the same failure and {outcome} "
        f"({reason}, fail-{settings.fail_policy.value} policy)."
    )
    details = {
        **error.details,
        "stigg_query": query.value,
        "action_would": {
            "verdict": decision.verdict.value if decision.verdict else None,
            "reason": reason,
            "message": decision.effects.deny_message,
            "fail_policy": settings.fail_policy.value,
        },
    }
    hint = f"{error.hint} {action}" if error.hint else action
    return StiggctlError(error.code, error.message, hint, status=error.status, details=details)


# -- human output ----------------------------------------------------------------------------


def render_simulation(simulation: Simulation) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        from rich.markup import escape

        from stiggctl.core.login import REFRESH_TOKEN_PROTOCOL

        into = (
            f" into {simulation.organization_id}" if simulation.organization_id is not None else ""
        )
        refresh = simulation.protocol == REFRESH_TOKEN_PROTOCOL
        kind = "refresh-token exchange" if refresh else "login"
        console.print(
            f"[bold]Simulated {kind}[/] of {escape(simulation.user_id)}{escape(into)} through "
            f"application {escape(simulation.client_id)} at {_time(simulation.at_ms)}"
        )
        console.print("[dim]Read-only: nothing was provisioned, reported or written.[/]")
        if simulation.decision is None:
            _render_not_a_member(console, simulation)
            return
        _render_inputs(console, simulation)
        _render_steps(console, simulation.decision)
        _render_verdict(console, simulation)
        _render_effects(console, simulation.decision)
        for note in simulation.notes:
            console.print(f"[dim]Note: {escape(note)}[/]")

    return render


def _time(ms: int) -> str:
    from stiggctl.core.login import format_time

    return format_time(ms)


def _render_not_a_member(console: Console, simulation: Simulation) -> None:
    from rich.markup import escape

    theirs = ", ".join(simulation.user_organizations) or "none"
    console.print()
    console.print(
        f"[bold red]DENY[/] by Auth0 (not_a_member): {escape(simulation.message or '')}",
    )
    console.print(
        f"User {escape(simulation.user_id)} is not a member of organization "
        f"{escape(simulation.organization_id or '')} (their organizations: {escape(theirs)}). "
        "Auth0 refuses such a login (access_denied) before any Action runs, so the Action "
        "decides nothing and nothing is metered. Add the user to the organization (or let "
        "its connection assign membership on login), or simulate with one of theirs."
    )


def _render_inputs(console: Console, simulation: Simulation) -> None:
    import json

    from rich.markup import escape
    from rich.table import Table

    from stiggctl.core.simulation import describe_entitlement, describe_time

    inputs = simulation.inputs
    assert inputs is not None
    table = Table.grid(padding=(0, 2))
    table.add_row("  customer", escape(f"{inputs.customer_id} ({inputs.customer_kind})"))
    mark = inputs.provisioned_mark
    where = "organization metadata" if mark.where == "organization_metadata" else "app_metadata"
    value = "not set" if mark.value is None else json.dumps(mark.value)
    table.add_row("  provisioned mark", escape(f"{where} {mark.key} = {value}"))
    if inputs.last_login is not None and inputs.period_end is not None:
        for label, entry in (("last login", inputs.last_login), ("period end", inputs.period_end)):
            shown = "not recorded" if entry.value is None else describe_time(entry.value)
            table.add_row(f"  {label}", escape(f"app_metadata {entry.key} = {shown}"))
    if inputs.customer_in_stigg is not None:
        exists = "exists" if inputs.customer_in_stigg else "does not exist yet"
        if inputs.customer_in_stigg is False and mark.value in (True, "true"):
            exists = "does not exist, although marked as provisioned: the login provisions it"
        table.add_row("  Stigg customer", exists)
    if inputs.entitlement is not None:
        line = describe_entitlement(inputs.entitlement)
        if inputs.entitlement_estimated_from_plan:
            line += (
                f" (estimated: the customer would be created on plan "
                f"{inputs.entitlement_estimated_from_plan} by this login)"
            )
        table.add_row("  entitlement", escape(line))
    elif simulation.decision is not None and not simulation.decision.calls:
        table.add_row("  entitlement", "not needed: the login makes no Stigg call")
    if inputs.customer_kind == "organization":
        table.add_row(
            "  M2M token",
            "assumed not cached in the Action (the worst case: provisioning an organization "
            "then adds a token request)",
        )
    console.print()
    console.print("[bold]Inputs[/]")
    console.print(table)


def _render_steps(console: Console, decision: LoginDecision) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right")
    for step in decision.steps:
        table.add_row(f"  {step.number}.", escape(step.text))
    console.print()
    console.print("[bold]Steps[/] (the seed's eleven, as the Action takes them)")
    console.print(table)


def _render_verdict(console: Console, simulation: Simulation) -> None:
    from rich.markup import escape

    console.print()
    reason = escape(simulation.reason or "")
    if simulation.allowed:
        console.print(f"[bold green]ALLOW[/] ({reason})")
    else:
        message = escape(repr(simulation.message))
        console.print(f"[bold red]DENY[/] ({reason}): the user sees {message}")


def _render_effects(console: Console, decision: LoginDecision) -> None:
    from rich.markup import escape
    from rich.table import Table

    from stiggctl.core.simulation import round_trip_graph, side_effects

    console.print()
    effects = side_effects(decision)
    if effects:
        console.print("[bold]A real login would[/]")
        table = Table.grid(padding=(0, 1))
        for line in effects:
            table.add_row("  •", escape(line))
        console.print(table)
    else:
        console.print("[bold]A real login would[/] write nothing: no provisioning, no event.")
    calls = len(decision.calls)
    trips = decision.round_trips
    console.print(
        f"[bold]Calls[/] {calls} in {trips} sequential round trip{'s' if trips != 1 else ''}: "
        f"{escape(round_trip_graph(decision.calls))}"
    )
