"""`stiggctl setup`: the wizard that configures a profile, verifying every answer against
Auth0 and Stigg before anything is saved.

Each question takes its answer from its flag, else from its STIGGCTL_* twin (the variables
every command reads), else asks a person with a default: the profile's current value, or
what the tenant suggests. Without a person (--no-input, CI, no terminal) a default counts as
the answer and a question with none is an error naming its flag. Secrets are never flags.
Only Typer is imported at module level: start-up stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.clients.auth0_models import Client
    from stiggctl.clients.stigg import StiggClient
    from stiggctl.clients.stigg_models import Feature, Plan
    from stiggctl.commands.deploy.apply import DeployOutcome
    from stiggctl.config.credentials import CredentialStore
    from stiggctl.core.action_settings import Mode
    from stiggctl.core.doctor import ScopeNeed
    from stiggctl.core.setup_plan import ApplicationChoice
    from stiggctl.errors import StiggctlError
    from stiggctl.prompts import Option

T = TypeVar("T")
Check = Callable[[str], str]  # returns the value to keep, or raises ValueError saying why

# A person who mistypes a secret gets this many tries before setup gives up (exit 4).
SECRET_ATTEMPTS = 3
# The answer that leaves the Action holding stiggctl's own M2M client.
REUSE_STIGGCTL_CLIENT = "none"


def setup(
    ctx: typer.Context,
    domain: str | None = typer.Option(
        None,
        "--domain",
        metavar="DOMAIN",
        help="Auth0 tenant domain (acme.eu.auth0.com), or a base URL such as the sandbox's.",
    ),
    tenant: str | None = typer.Option(
        None, "--tenant", metavar="NAME", help="Auth0 tenant name (with --region, not --domain)."
    ),
    region: str | None = typer.Option(
        None, "--region", metavar="REGION", help="Auth0 region: us eu au jp uk ca us-legacy."
    ),
    client_id: str | None = typer.Option(
        None,
        "--client-id",
        metavar="CLIENT_ID",
        help="Client id of the M2M application that calls the Management API.",
    ),
    action_client_id: str | None = typer.Option(
        None,
        "--action-client-id",
        metavar="CLIENT_ID",
        help="Client id of the Action's own M2M application, with only update:organizations "
        "(b2b and both; its secret from STIGGCTL_ACTION_CLIENT_SECRET or a hidden prompt). "
        f"'{REUSE_STIGGCTL_CLIENT}': the Action holds the client of --client-id.",
    ),
    application: str | None = typer.Option(
        None,
        "--application",
        metavar="CLIENT_ID",
        help="Client id of the Auth0 application whose logins are metered ('*' for all).",
    ),
    mode: str | None = typer.Option(
        None,
        "--mode",
        metavar="b2c|b2b|both",
        help="Who the customers are (default: from the application's organization behaviour).",
    ),
    b2c_plan: str | None = typer.Option(
        None, "--b2c-plan", metavar="PLAN", help="Stigg plan new individuals start on."
    ),
    b2b_plan: str | None = typer.Option(
        None, "--b2b-plan", metavar="PLAN", help="Stigg plan new organizations start on."
    ),
    feature: str | None = typer.Option(
        None,
        "--feature",
        metavar="FEATURE",
        help="Id of the Active Users feature in Stigg (default feature-active-users).",
    ),
    create_feature: bool | None = typer.Option(
        None,
        "--create-feature/--no-create-feature",
        help="Create the Active Users feature when Stigg has none (default: yes).",
    ),
    stigg_api_url: str | None = typer.Option(
        None, "--stigg-api-url", metavar="URL", help="Stigg GraphQL endpoint (default Stigg's)."
    ),
    deploy: bool | None = typer.Option(
        None,
        "--deploy/--no-deploy",
        help="Deploy the Action once the profile is saved (default: ask; no with --no-input).",
    ),
) -> None:
    """Set up a profile: the Auth0 tenant and M2M credentials (a token is minted and its
    scopes checked), the Stigg API key (verified), the application, B2C / B2B / both, the
    initial plans, the Active Users feature (found or created); then save the profile and
    offer to deploy the Action. A rerun takes the profile's values as defaults.

    In b2b and both the Action updates organizations through the Management API: give it its
    own M2M application, with only update:organizations (--action-client-id), rather than
    stiggctl's, which carries every scope stiggctl needs.

    Every question has a flag, except the secrets: a flag would land in the shell history.
    Setup asks for them hidden and stores them in the OS keyring once Auth0 and Stigg
    accepted them. With --no-input, in CI or without a terminal they come from
    STIGGCTL_AUTH0_CLIENT_SECRET, STIGGCTL_STIGG_API_KEY (and STIGGCTL_ACTION_CLIENT_SECRET),
    and nothing is stored.

    Examples:

      stiggctl setup

      stiggctl setup --no-input --domain acme.eu.auth0.com --client-id M2M_ID \\
        --application APP_ID --b2b-plan plan-free --deploy
    """
    flags = SetupFlags(
        domain=domain,
        tenant=tenant,
        region=region,
        client_id=client_id,
        action_client_id=action_client_id,
        application=application,
        mode=mode,
        b2c_plan=b2c_plan,
        b2b_plan=b2b_plan,
        feature=feature,
        create_feature=create_feature,
        stigg_api_url=stigg_api_url,
        deploy=deploy,
    )
    result = SetupWizard(ctx.obj, flags).run()
    ctx.obj.out.result(result.to_dict(), result.render)


@dataclass(frozen=True)
class SetupFlags:
    domain: str | None = None
    tenant: str | None = None
    region: str | None = None
    client_id: str | None = None
    action_client_id: str | None = None
    application: str | None = None
    mode: str | None = None
    b2c_plan: str | None = None
    b2b_plan: str | None = None
    feature: str | None = None
    create_feature: bool | None = None
    stigg_api_url: str | None = None
    deploy: bool | None = None


@dataclass(frozen=True)
class VerifiedSecret:
    name: str
    value: str
    origin: str  # env, keyring (stored by an earlier run), prompt (typed in this run)

    def __repr__(self) -> str:
        return f"VerifiedSecret({self.name!r}, origin={self.origin!r})"


@dataclass
class SetupResult:
    profile: str
    path: str
    values: dict[str, Any]
    feature: dict[str, Any]
    secrets: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    deploy: DeployOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "file": self.path,
            "settings": self.values,
            "feature": self.feature,
            "secrets": self.secrets,
            "warnings": self.warnings,
            "deployed": self.deploy is not None,
            "deploy": self.deploy.to_dict() if self.deploy is not None else None,
        }

    def render(self, console: Console) -> None:
        from rich.markup import escape
        from rich.table import Table

        console.print(f"[green]✓[/] Profile {escape(repr(self.profile))} saved to {self.path}")
        table = Table.grid(padding=(0, 2))
        for name, value in self.values.items():
            table.add_row(f"  {name}", escape(str(value)))
        for name, where in self.secrets.items():
            table.add_row(f"  {name}", escape(where))
        console.print(table)
        state = "created" if self.feature["created"] else "found"
        console.print(f"Active Users feature: {escape(self.feature['id'])} ({state})")
        if self.deploy is None:
            console.print("Next: `stiggctl deploy-action` (`--dry-run` first shows the plan).")
            return
        from stiggctl.commands.deploy.report import render_outcome

        render_outcome(self.deploy)(console)


class SetupWizard:
    """One run of the wizard: asks, verifies, saves, and optionally deploys."""

    def __init__(self, app_ctx: AppContext, flags: SetupFlags) -> None:
        import os

        from stiggctl.config import profiles
        from stiggctl.config.settings import SETTING_NAMES, env_name
        from stiggctl.prompts import prompter_for

        self.app_ctx = app_ctx
        self.out = app_ctx.out
        self.flags = flags
        self.can_prompt = app_ctx.can_prompt
        self.prompter = prompter_for(self.out.err)
        # Raw values: one that is invalid is reported, or asked again, at its question.
        self.existing = profiles.read_profile(app_ctx.profile)
        self.env = {
            name: os.environ[env_name(name)]
            for name in SETTING_NAMES
            if os.environ.get(env_name(name))
        }
        self.warnings: list[str] = []
        self.auth0: Auth0Client | None = None
        self.tenant_clients: list[Client] = []

    def run(self) -> SetupResult:
        from contextlib import ExitStack

        from stiggctl.config import profiles
        from stiggctl.core.setup_plan import SetupAnswers, needed_scopes, profile_values

        # What needs no vendor to check it is checked before the first request.
        explicit_mode = self._explicit_mode()
        tenant = self._tenant()
        client_id = self._text(
            "auth0_client_id",
            self.flags.client_id,
            "--client-id",
            "Client id of the M2M application (Auth0 dashboard > Applications)",
            check=_non_empty,
        )
        stigg_url = self._stigg_url()
        base_url = _base_url(tenant)
        with ExitStack() as clients:
            auth0_secret = self._connect_auth0(base_url, client_id)
            clients.callback(self._close_auth0)
            # The organization scope waits: the Action's own client may be the one to hold it.
            self._require_scopes(needed_scopes(None), auth0_secret)
            stigg, stigg_key, plans = self._connect_stigg(stigg_url)
            clients.enter_context(stigg)
            application, chosen = self._application()
            mode = explicit_mode or self._mode(chosen, application)
            action_client_id, action_secret = self._action_client(base_url, client_id, mode)
            own_client = action_client_id is not None
            self._require_scopes(
                needed_scopes(mode, action_has_own_client=own_client), auth0_secret
            )
            feature_id = self._feature_id()
            b2c_plan, b2b_plan, unentitled = self._plans(plans, mode, feature_id)
            feature, created = self._feature(stigg, feature_id)
        for warning in unentitled:
            self._warn(warning)
        answers = SetupAnswers(
            auth0_client_id=client_id,
            action_client_id=action_client_id,
            application_id=application,
            mode=mode,
            active_users_feature=feature_id,
            stigg_api_url=stigg_url,
            auth0_domain=tenant.get("auth0_domain"),
            auth0_tenant=tenant.get("auth0_tenant"),
            auth0_region=tenant.get("auth0_region"),
            b2c_plan=b2c_plan,
            b2b_plan=b2b_plan,
        )
        values = profile_values(self.existing, answers)
        path = profiles.write_profile(self.app_ctx.profile, values)
        self.out.note(f"Saved profile {self.app_ctx.profile!r} to {path}.")
        secrets = [auth0_secret, stigg_key, *([action_secret] if action_secret else [])]
        where = self._store_secrets(secrets)
        self._warn_environment_overrides(values)
        result = SetupResult(
            profile=self.app_ctx.profile,
            path=str(path),
            values=values,
            feature={
                "id": feature.ref_id,
                "display_name": feature.display_name,
                "feature_type": feature.feature_type,
                "meter_type": feature.meter_type,
                "created": created,
            },
            secrets=where,
            warnings=self.warnings,
        )
        if self._wants_deploy():
            result.deploy = self._deploy(values, secrets)
        return result

    # -- Auth0 ---------------------------------------------------------------------------

    def _tenant(self) -> dict[str, str]:
        """{"auth0_domain": ...} or {"auth0_tenant": ..., "auth0_region": ...}."""
        from stiggctl.errors import ErrorCode, StiggctlError

        flags = self.flags
        if flags.domain and (flags.tenant or flags.region):
            raise StiggctlError(
                ErrorCode.USAGE_ERROR,
                "--domain and --tenant/--region exclude each other.",
                "Give the domain (acme.eu.auth0.com), or the tenant and its region.",
            )
        domain = self._explicit("auth0_domain", flags.domain, "--domain")
        tenant = self._explicit("auth0_tenant", flags.tenant, "--tenant")
        region = self._explicit("auth0_region", flags.region, "--region")
        # A flag beats the environment, whichever way it names the tenant.
        if flags.domain:
            tenant = region = None
        elif flags.tenant or flags.region:
            domain = None
        if domain is not None:
            return {"auth0_domain": self._checked(_setting("auth0_domain"), *domain)}
        if tenant is None and region is None:
            return self._asked_tenant()
        if tenant is not None:
            name = self._checked(_setting("auth0_tenant"), *tenant)
        else:
            name = self._text(
                "auth0_tenant",
                None,
                "--tenant",
                "Auth0 tenant name",
                check=_setting("auth0_tenant"),
            )
        return {"auth0_tenant": name, "auth0_region": self._region()}

    def _asked_tenant(self) -> dict[str, str]:
        from stiggctl.core.setup_plan import is_domain

        known_domain = self.existing.get("auth0_domain")
        known_tenant = self.existing.get("auth0_tenant")
        if self.can_prompt:

            def check(answer: str) -> str:
                answer = answer.strip()
                return _setting("auth0_domain" if is_domain(answer) else "auth0_tenant")(answer)

            answer = self.prompter.text(
                "auth0_domain",
                "Auth0 domain (acme.eu.auth0.com) or tenant name",
                default=known_domain or known_tenant,
                validate=check,
            )
            if is_domain(answer):
                return {"auth0_domain": answer}
            return {"auth0_tenant": answer, "auth0_region": self._region()}
        if known_domain:
            return {
                "auth0_domain": self._checked(_setting("auth0_domain"), *self._kept("auth0_domain"))
            }
        if known_tenant:
            name = self._checked(_setting("auth0_tenant"), *self._kept("auth0_tenant"))
            return {"auth0_tenant": name, "auth0_region": self._region()}
        raise self._missing("--domain (or --tenant and --region)", "auth0_domain")

    def _region(self) -> str:
        from stiggctl.config.settings import REGIONS
        from stiggctl.prompts import Option

        return self._choose(
            "auth0_region",
            self.flags.region,
            "--region",
            "Auth0 region of the tenant",
            [Option(region, ()) for region in REGIONS],
            headers=("region",),
            default=self.existing.get("auth0_region"),
            check=_setting("auth0_region"),
        )

    def _connect_auth0(self, base_url: str, client_id: str) -> VerifiedSecret:
        """Mint a Management API token with the client's secret: the secret, verified."""

        def mint(secret: str) -> Auth0Client:
            client = self._auth0_client(base_url, client_id, secret)
            try:
                with self.out.status(f"Minting a Management API token from {base_url}..."):
                    client.token_scopes()
            except BaseException:
                client.close()
                raise
            return client

        # A stored secret is the one of the client id it was stored with.
        keep = self.existing.get("auth0_client_id") == client_id
        self.auth0, secret = self._secret(
            "auth0_client_secret",
            f"Client secret of M2M application {client_id}",
            mint,
            keep_stored=keep,
        )
        self.out.note(
            f"Auth0: client {client_id} got a Management API token from {base_url} "
            f"({len(self.auth0.token_scopes())} scopes)."
        )
        return secret

    def _auth0_client(self, base_url: str, client_id: str, secret: str) -> Auth0Client:
        from stiggctl.clients.auth0 import Auth0Client

        # The same retry policy (and its notes on rate-limit waits) as every command.
        return Auth0Client(base_url, client_id, secret, **self.app_ctx.client_options())

    def _close_auth0(self) -> None:
        if self.auth0 is not None:
            self.auth0.close()

    def _require_scopes(self, needs: Sequence[ScopeNeed], secret: VerifiedSecret) -> None:
        """Every scope of `needs` granted; a person may grant them and have them checked again."""
        from stiggctl.core.setup_plan import missing_scopes_error

        assert self.auth0 is not None
        while True:
            client = self.auth0
            error = missing_scopes_error(client.token_scopes(), needs, client.client_id)
            if error is None:
                return
            if not self.can_prompt:
                raise error
            self.out.warn(error.message)
            self.out.note(error.hint or "")
            if not self.prompter.confirm(
                "recheck_scopes", "Check again once they are granted?", default=True
            ):
                raise error
            # A token's scopes are fixed when it is minted: checking again takes a new one.
            client.close()
            self.auth0 = self._auth0_client(client.base_url, client.client_id, secret.value)

    def _application(self) -> tuple[str, ApplicationChoice | None]:
        """The application's client id ('*' for all), and what the tenant says of it."""
        from stiggctl.core.setup_plan import ALL_APPLICATIONS, application_choices
        from stiggctl.errors import ErrorCode, StiggctlError
        from stiggctl.prompts import Option

        assert self.auth0 is not None
        with self.out.status("Listing the tenant's applications..."):
            self.tenant_clients = list(self.auth0.list_clients())
        choices = application_choices(self.tenant_clients)
        by_id = {choice.client_id: choice for choice in choices}
        explicit = self._explicit("application_id", self.flags.application, "--application")
        if not choices and explicit is None:
            raise StiggctlError(
                ErrorCode.NOT_FOUND,
                "The tenant has no application that people sign in to (only M2M ones).",
                "Create it in the Auth0 dashboard (Applications > Create Application), or "
                "pass --application '*' to handle the logins of every application.",
            )

        def check(answer: str) -> str:
            answer = answer.strip()
            if answer == ALL_APPLICATIONS or answer in by_id:
                return answer
            known = ", ".join(f"{c.client_id} ({c.name})" for c in choices) or "none"
            raise ValueError(
                f"the tenant has no application {answer!r} that people sign in to "
                f"(applications: {known}; '*' for all)"
            )

        options = [Option(c.client_id, (c.name, c.usage_means, c.mode.value)) for c in choices]
        options.append(Option(ALL_APPLICATIONS, ("every application", "", "both")))
        known = self.existing.get("application_id")
        application = self._choose(
            "application_id",
            self.flags.application,
            "--application",
            "Application whose logins are metered",
            options,
            headers=("client id", "name", "lets sign in", "mode"),
            default=known if known in by_id or known == ALL_APPLICATIONS else None,
            check=check,
        )
        return application, by_id.get(application)

    def _explicit_mode(self) -> Mode | None:
        from stiggctl.core.action_settings import Mode

        explicit = self._explicit("mode", self.flags.mode, "--mode")
        return Mode(self._checked(_setting("mode"), *explicit)) if explicit else None

    def _mode(self, chosen: ApplicationChoice | None, application: str) -> Mode:
        from stiggctl.core.action_settings import Mode
        from stiggctl.core.setup_plan import MODE_MEANS
        from stiggctl.prompts import Option

        known = self.existing.get("mode")
        # The profile's mode stays the default only for the application it was chosen for.
        if known in set(Mode) and self.existing.get("application_id") == application:
            default, why = Mode(known), f"the profile's mode for {application}"
        elif chosen is not None:
            default = chosen.mode
            why = (
                f"{chosen.name!r} lets {chosen.usage_means} sign in "
                f"(organization_usage {chosen.organization_usage})"
            )
        else:
            default, why = Mode.BOTH, "the logins of every application are handled"
        if not self.can_prompt:
            self.out.note(f"Mode {default.value}: {why}.")
            return default
        self.out.note(f"Suggested mode {default.value}: {why}.")
        answer = self.prompter.choice(
            "mode",
            "Who are the customers?",
            [Option(m.value, (MODE_MEANS[m],)) for m in Mode],
            headers=("mode", "meaning"),
            default=default.value,
        )
        return Mode(answer)

    def _action_client(
        self, base_url: str, stiggctl_client_id: str, mode: Mode
    ) -> tuple[str | None, VerifiedSecret | None]:
        """The Action's own M2M client and its secret, verified; (None, None) when the Action
        holds stiggctl's client."""
        from stiggctl.commands.deploy.tenant import action_secret_without_client
        from stiggctl.core.doctor import shared_client_warning

        if not mode.handles_organizations:
            if self.flags.action_client_id is not None:
                self._warn(
                    f"Mode {mode.value}: the Action never calls the Management API, so "
                    "--action-client-id is not used."
                )
            return None, None
        check = _action_client_id(stiggctl_client_id)
        explicit = self._explicit(
            "action_client_id", self.flags.action_client_id, "--action-client-id"
        )
        if explicit is not None:
            client_id = self._checked(check, *explicit) or None
        elif self.can_prompt:
            client_id = self._ask_action_client(stiggctl_client_id)
        elif "action_client_id" in self.existing:
            client_id = self._checked(check, *self._kept("action_client_id")) or None
        else:
            client_id = None
        if client_id is None:
            if self.app_ctx.credentials.in_environment("action_client_secret"):
                raise action_secret_without_client()
            self.out.note(shared_client_warning(stiggctl_client_id))
            return None, None
        return client_id, self._verify_action_client(base_url, client_id)

    def _ask_action_client(self, stiggctl_client_id: str) -> str | None:
        """A choice among the tenant's other M2M applications; Enter keeps the profile's."""
        from stiggctl.core.setup_plan import M2M_APP_TYPE
        from stiggctl.prompts import Option

        candidates = [
            client
            for client in self.tenant_clients
            if client.app_type == M2M_APP_TYPE and client.client_id != stiggctl_client_id
        ]
        if not candidates:
            # Nothing to choose from; the note that follows says how to make one.
            self.out.note("The tenant has no other M2M application to give the Action.")
            return None
        options = [Option(client.client_id, (client.name or "",)) for client in candidates]
        options.append(Option(REUSE_STIGGCTL_CLIENT, ("reuse stiggctl's client (every scope)",)))
        known = self.existing.get("action_client_id")
        if known in {client.client_id for client in candidates}:
            default, hint = known, f"Enter keeps {known}"
        else:
            default, hint = REUSE_STIGGCTL_CLIENT, "leave empty to reuse stiggctl's client"
        answer = self.prompter.choice(
            "action_client_id",
            f"M2M application of the Action, with only update:organizations ({hint})",
            options,
            headers=("client id", "name"),
            default=default,
        )
        return None if answer == REUSE_STIGGCTL_CLIENT else answer

    def _verify_action_client(self, base_url: str, client_id: str) -> VerifiedSecret:
        """Mint a token for the Action's client: the secret, verified, and the scope checked."""
        from stiggctl.core.doctor import action_client_token_fix
        from stiggctl.core.setup_plan import action_client_scopes_error, extra_scopes_warning
        from stiggctl.errors import StiggctlError

        def mint(secret: str) -> frozenset[str]:
            with self._auth0_client(base_url, client_id, secret) as client:
                try:
                    with self.out.status(f"Minting a token for the Action's client {client_id}..."):
                        return client.token_scopes()
                except StiggctlError as error:
                    error.hint = action_client_token_fix(error)
                    raise

        granted, secret = self._secret(
            "action_client_secret",
            f"Client secret of the Action's M2M application {client_id}",
            mint,
            keep_stored=self.existing.get("action_client_id") == client_id,
        )
        error = action_client_scopes_error(granted, client_id)
        if error is not None:
            raise error
        extra = extra_scopes_warning(granted, client_id)
        if extra is not None:
            self._warn(extra)
        self.out.note(
            f"Auth0: the Action's client {client_id} got a token with update:organizations."
        )
        return secret

    # -- Stigg ---------------------------------------------------------------------------

    def _stigg_url(self) -> str:
        from stiggctl.core.action_settings import DEFAULT_STIGG_API_URL

        explicit = self._explicit("stigg_api_url", self.flags.stigg_api_url, "--stigg-api-url")
        if explicit is not None:
            return self._checked(_setting("stigg_api_url"), *explicit)
        if "stigg_api_url" in self.existing:
            return self._checked(_setting("stigg_api_url"), *self._kept("stigg_api_url"))
        return DEFAULT_STIGG_API_URL

    def _connect_stigg(self, api_url: str) -> tuple[StiggClient, VerifiedSecret, list[Plan]]:
        """List the published plans with the API key: the key, verified, and the plans."""
        from stiggctl.clients.stigg import StiggClient

        def list_plans(api_key: str) -> tuple[StiggClient, list[Plan]]:
            client = StiggClient(api_url, api_key, **self.app_ctx.client_options())
            try:
                with self.out.status(f"Listing the plans of {api_url}..."):
                    return client, client.list_plans()
            except BaseException:
                client.close()
                raise

        (stigg, plans), key = self._secret(
            "stigg_api_key", "Stigg server API key (server-...)", list_plans, keep_stored=True
        )
        self.out.note(f"Stigg: {api_url} accepted the API key ({len(plans)} published plans).")
        return stigg, key, plans

    def _feature_id(self) -> str:
        from stiggctl.core.action_settings import DEFAULT_ACTIVE_USERS_FEATURE_ID

        return self._text(
            "active_users_feature",
            self.flags.feature,
            "--feature",
            "Id of the Active Users feature in Stigg",
            check=_ref_id,
            default=self.existing.get("active_users_feature") or DEFAULT_ACTIVE_USERS_FEATURE_ID,
        )

    def _plans(
        self, plans: Sequence[Plan], mode: Mode, feature_id: str
    ) -> tuple[str | None, str | None, list[str]]:
        """The initial plan of each kind of customer the mode handles (None for the other),
        and a warning for each plan chosen that sets no Active Users limit."""
        from stiggctl.core.setup_plan import plan_choices, unentitled_plan_warning
        from stiggctl.errors import ErrorCode, StiggctlError
        from stiggctl.prompts import Option

        choices = {choice.ref_id: choice for choice in plan_choices(plans, feature_id)}
        if not choices:
            raise StiggctlError(
                ErrorCode.NOT_FOUND,
                "The Stigg environment has no published plan to start customers on.",
                "Create and publish the plans in the Stigg app, then run `stiggctl setup` again.",
            )
        options = [Option(c.ref_id, (c.name, c.active_users_limit)) for c in choices.values()]

        def check(answer: str) -> str:
            answer = answer.strip()
            if answer not in choices:
                published = ", ".join(choices)
                raise ValueError(f"{answer!r} is not a published plan (published: {published})")
            return answer

        roles = []
        if mode.handles_individuals:
            roles.append(("b2c_plan", self.flags.b2c_plan, "--b2c-plan", "individuals"))
        if mode.handles_organizations:
            roles.append(("b2b_plan", self.flags.b2b_plan, "--b2b-plan", "organizations"))
        chosen: dict[str, str] = {}
        unentitled: list[str] = []
        for name, flag_value, flag_name, role in roles:
            known = self.existing.get(name)
            plan_id = self._choose(
                name,
                flag_value,
                flag_name,
                f"Initial plan for {role}",
                options,
                headers=("plan", "name", "Active Users limit"),
                default=known if known in choices else None,
                check=check,
            )
            chosen[name] = plan_id
            if not choices[plan_id].entitled:
                unentitled.append(unentitled_plan_warning(role, plan_id, feature_id))
        return chosen.get("b2c_plan"), chosen.get("b2b_plan"), unentitled

    def _feature(self, stigg: StiggClient, feature_id: str) -> tuple[Feature, bool]:
        """The Active Users feature, found or created; and whether this run created it."""
        from stiggctl.clients.stigg import unique_count_meter
        from stiggctl.core.setup_plan import FeatureDefinition, feature_warning
        from stiggctl.errors import ErrorCode, StiggctlError

        found = stigg.find_feature(feature_id)
        if found is not None:
            problem = feature_warning(feature_id, found.feature_type, found.meter_type)
            if problem:
                self._warn(problem)
            self.out.note(f"Stigg: found the Active Users feature {feature_id}.")
            return found, False
        create = self.flags.create_feature
        if create is None:
            create = not self.can_prompt or self.prompter.confirm(
                "create_feature",
                f"Stigg has no feature {feature_id}. Create it (counts each user once a period)?",
                default=True,
            )
        if not create:
            raise StiggctlError(
                ErrorCode.NOT_FOUND,
                f"Stigg has no feature {feature_id}.",
                "Run setup again with --create-feature, or give --feature with the id of your "
                "Active Users feature.",
            )
        definition = FeatureDefinition(ref_id=feature_id)
        try:
            created = stigg.create_feature(
                ref_id=definition.ref_id,
                display_name=definition.display_name,
                feature_type=definition.feature_type,
                meter_type=definition.meter_type,
                units=definition.units,
                units_plural=definition.units_plural,
                description=definition.description,
                meter=unique_count_meter(definition.event_name, definition.counted_field),
            )
        except StiggctlError as error:
            # Another run created it meanwhile: use that one.
            concurrent = (
                stigg.find_feature(feature_id) if error.code is ErrorCode.CONFLICT else None
            )
            if concurrent is None:
                raise
            return concurrent, False
        self.out.note(
            f"Stigg: created the feature {feature_id} ({definition.feature_type}, "
            f"{definition.meter_type}: unique {definition.counted_field} of "
            f"{definition.event_name} events)."
        )
        return created, True

    # -- secrets -------------------------------------------------------------------------

    def _secret(
        self, name: str, question: str, verify: Callable[[str], T], *, keep_stored: bool
    ) -> tuple[T, VerifiedSecret]:
        """The secret, verified by `verify`, and what `verify` returned.

        The environment wins and is never replaced by a prompt. A typed secret that the
        vendor rejects is asked again, up to SECRET_ATTEMPTS times.
        """
        from stiggctl.config.credentials import LABELS, SECRETS
        from stiggctl.errors import ErrorCode, StiggctlError

        stored = self._stored_secret(name)
        if stored is not None and (stored.origin == "env" or not self.can_prompt):
            return verify(stored.value), stored
        if not self.can_prompt:
            env_var = SECRETS[name]
            raise StiggctlError(
                ErrorCode.MISSING_CREDENTIAL,
                f"No {LABELS[name]}: setup cannot ask for it here ({self._why_no_prompt()}).",
                f"Set {env_var} in the environment (a secret is never a flag: it would land "
                "in the shell history).",
                details={"env": env_var},
            )
        keep = keep_stored and stored is not None
        attempts = 0
        while True:
            attempts += 1
            typed = self.prompter.secret(name, question, keep_existing=keep)
            secret = stored if typed is None else VerifiedSecret(name, typed, "prompt")
            assert secret is not None
            try:
                return verify(secret.value), secret
            except StiggctlError as error:
                if error.code is not ErrorCode.AUTHENTICATION_FAILED or attempts >= SECRET_ATTEMPTS:
                    raise
                # On stderr, as a warning: with --json, stdout holds only the final result.
                self.out.warn(f"{error.message} Try again.")
                keep = False

    def _stored_secret(self, name: str) -> VerifiedSecret | None:
        """The secret from the environment, else the keyring (when it may be read)."""
        from stiggctl.errors import ErrorCode, StiggctlError

        try:
            resolved = self.app_ctx.credentials.resolve(name)
        except StiggctlError as error:
            if error.code is not ErrorCode.KEYRING_UNAVAILABLE:
                raise
            self.out.warn(error.message)
            return None
        if resolved.secret is None:
            return None
        return VerifiedSecret(name, resolved.secret.reveal(), resolved.origin)

    def _store_secrets(self, secrets: Sequence[VerifiedSecret]) -> dict[str, str]:
        """Store each typed secret in the keyring, now that it worked; where each one lives."""
        from stiggctl.config.credentials import SECRETS
        from stiggctl.errors import ErrorCode, StiggctlError

        where: dict[str, str] = {}
        for secret in secrets:
            env_var = SECRETS[secret.name]
            if secret.origin == "env":
                where[secret.name] = f"environment ({env_var})"
                continue
            if secret.origin == "prompt":
                try:
                    self.app_ctx.credentials.store(secret.name, secret.value)
                except StiggctlError as error:
                    if error.code is not ErrorCode.KEYRING_UNAVAILABLE:
                        raise
                    self._warn(f"{error.message} Set {env_var} for the other commands.")
                    where[secret.name] = "not stored"
                    continue
            where[secret.name] = "keyring"
        return where

    # -- deploy --------------------------------------------------------------------------

    def _wants_deploy(self) -> bool:
        if self.flags.deploy is not None:
            return self.flags.deploy
        if not self.can_prompt:
            return False
        return self.prompter.confirm("deploy", "Deploy the Action now?", default=True)

    def _deploy(
        self, values: Mapping[str, Any], secrets: Sequence[VerifiedSecret]
    ) -> DeployOutcome:
        """deploy-action's own run, on exactly the values saved and the secrets verified
        (the environment could otherwise override a value just chosen by flag)."""
        from stiggctl.app import AppContext
        from stiggctl.commands.deploy.apply import DeployOptions, run_deploy, sigterm_as_interrupt

        app_ctx = self.app_ctx
        deploy_ctx = AppContext(
            profile=app_ctx.profile,
            json=app_ctx.json,
            no_input_requested=app_ctx.no_input_requested,
            verbose=app_ctx.verbose,
            setting_flags={**app_ctx.setting_flags, **values},
        )
        deploy_ctx.out = app_ctx.out
        deploy_ctx.credentials = _verified_credentials(app_ctx.profile, secrets)
        with sigterm_as_interrupt():
            return run_deploy(deploy_ctx, DeployOptions())

    # -- answering -----------------------------------------------------------------------

    def _explicit(
        self, name: str, flag_value: str | None, flag_name: str
    ) -> tuple[str, str] | None:
        """(value, where it came from): the flag, else its environment twin, else None."""
        if flag_value is not None:
            return flag_value, flag_name
        if name in self.env:
            return self.env[name], _env(name)
        return None

    def _kept(self, name: str) -> tuple[str, str]:
        return str(self.existing[name]), f"{name} of profile {self.app_ctx.profile!r}"

    def _checked(self, check: Check, value: str, where: str) -> str:
        from stiggctl.errors import ErrorCode, StiggctlError

        try:
            return check(value)
        except ValueError as exc:
            raise StiggctlError(
                ErrorCode.INVALID_INPUT,
                f"Invalid {where}: {exc}.",
                "Give a valid value (see `stiggctl setup --help`).",
            ) from None

    def _text(
        self,
        name: str,
        flag_value: str | None,
        flag_name: str,
        question: str,
        *,
        check: Check,
        default: str | None = None,
    ) -> str:
        explicit = self._explicit(name, flag_value, flag_name)
        if explicit is not None:
            return self._checked(check, *explicit)
        if default is None and name in self.existing:
            default = str(self.existing[name])
        if self.can_prompt:
            return self.prompter.text(name, question, default=default, validate=check)
        if default is not None:
            where = self._kept(name)[1] if name in self.existing else f"default {name}"
            return self._checked(check, default, where)
        raise self._missing(flag_name, name)

    def _choose(
        self,
        name: str,
        flag_value: str | None,
        flag_name: str,
        question: str,
        options: Sequence[Option],
        *,
        headers: Sequence[str],
        default: str | None,
        check: Check,
    ) -> str:
        explicit = self._explicit(name, flag_value, flag_name)
        if explicit is not None:
            return self._checked(check, *explicit)
        if self.can_prompt:
            return self.prompter.choice(name, question, options, headers=headers, default=default)
        if default is not None:
            return self._checked(check, default, self._kept(name)[1])
        raise self._missing(flag_name, name)

    def _missing(self, flags: str, setting: str) -> StiggctlError:
        from stiggctl.errors import ErrorCode, StiggctlError

        flag = flags.split(" ")[0]
        return StiggctlError(
            ErrorCode.USAGE_ERROR,
            f"Missing {flags}: setup cannot ask for it here ({self._why_no_prompt()}).",
            f"Pass {flag} (or set {_env(setting)}), or run `stiggctl setup` in a terminal.",
            details={"flag": flag, "env": _env(setting)},
        )

    def _why_no_prompt(self) -> str:
        from stiggctl.app import in_ci

        if self.app_ctx.no_input_requested:
            return "--no-input"
        if in_ci():
            return "CI is set"
        return "no terminal"

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self.out.warn(message)

    def _warn_environment_overrides(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if name in self.env and self.env[name] != str(value):
                self._warn(
                    f"{_env(name)} is set in the environment: it overrides the profile's "
                    f"{name} in every other command."
                )


def _env(name: str) -> str:
    from stiggctl.config.settings import env_name

    return env_name(name)


def _setting(name: str) -> Check:
    """The check of one setting by the profile settings' own validators."""

    def check(value: str) -> str:
        from pydantic import ValidationError

        from stiggctl.config.settings import Settings

        try:
            return str(getattr(Settings.model_validate({name: value}), name))
        except ValidationError as exc:
            for error in exc.errors():
                if error["loc"] and error["loc"][0] == name:
                    raise ValueError(str(error["msg"]).removeprefix("Value error, ")) from None
            raise

    return check


def _non_empty(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("it is empty")
    return value


def _action_client_id(stiggctl_client_id: str) -> Check:
    """The check of an Action client id; "" means the Action reuses stiggctl's client."""

    def check(value: str) -> str:
        value = value.strip()
        if value in ("", REUSE_STIGGCTL_CLIENT):
            return ""
        if value == stiggctl_client_id:
            raise ValueError(
                f"{value} is stiggctl's own client: give the Action another M2M application, "
                f"or '{REUSE_STIGGCTL_CLIENT}' to let it hold stiggctl's"
            )
        return _setting("action_client_id")(value)

    return check


def _ref_id(value: str) -> str:
    value = value.strip()
    if not value or any(ch.isspace() for ch in value):
        raise ValueError(f"{value!r} is not a Stigg id (no spaces, not empty)")
    return value


def _base_url(tenant: Mapping[str, str]) -> str:
    from stiggctl.config.settings import Settings

    # model_construct: the values are checked already, and (unlike Settings()) it reads no
    # environment variable that could name another tenant.
    url = Settings.model_construct(**tenant).auth0_base_url
    assert url is not None
    return url


def _verified_credentials(profile: str, secrets: Sequence[VerifiedSecret]) -> CredentialStore:
    """A credential store that answers with the secrets setup verified, keyring or not."""
    from stiggctl.config.credentials import CredentialStore, ResolvedSecret, Secret

    known = {secret.name: secret for secret in secrets}

    class VerifiedCredentials(CredentialStore):
        def resolve(self, name: str) -> ResolvedSecret:
            secret = known.get(name)
            if secret is None:
                return super().resolve(name)
            origin = "env" if secret.origin == "env" else "keyring"
            return ResolvedSecret(name, origin, Secret(secret.value))

    return VerifiedCredentials(profile, keyring_allowed=False)
