"""`stiggctl demo`: the whole story on the embedded sandbox, in one command.

A local Auth0 + Stigg starts on 127.0.0.1; stiggctl is set up against it, deploys the
post-login Action, logs an organization's users in until the plan's Active Users limit
refuses one, explains that refusal with simulate-login, and prints the MAU report. Nothing
outside a temporary folder is touched: not the user's profiles, not the keyring.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.sandbox.server import SandboxServer

DEMO_PROFILE = "demo"
DEMO_PLAN = "plan-free"


def demo(
    ctx: typer.Context,
    keep_running: bool = typer.Option(
        False,
        "--keep-running",
        help="Leave the sandbox running afterwards (until Ctrl-C), to try other commands.",
    ),
    info_file: Path | None = typer.Option(
        None,
        "--info-file",
        help="With --keep-running: write the sandbox's addresses and credentials here.",
    ),
    build_seconds: float = typer.Option(
        1.0, help="How long the sandbox takes to build the Action (Auth0: about 2 s)."
    ),
) -> None:
    """Run the whole integration end to end on a local sandbox of Auth0 and Stigg: no
    account, nothing to configure.

    It sets stiggctl up (as `stiggctl setup --no-input` would), deploys the post-login
    Action, logs users of one organization in until its plan's Active Users limit refuses
    one, explains that refusal (`simulate-login`) and prints the MAU report.

    Examples:

      stiggctl demo

      stiggctl demo --keep-running --info-file /tmp/sandbox.json

      stiggctl demo --json
    """
    from stiggctl.sandbox.server import SandboxOptions, SandboxServer

    app_ctx: AppContext = ctx.obj
    out = app_ctx.out
    story = Story(out.console, quiet=app_ctx.json)
    story.title()
    with _Workspace() as workspace:
        with out.status("Starting the sandbox..."):
            server = SandboxServer(
                SandboxOptions(build_seconds=build_seconds, action_client=True)
            ).start()
        try:
            workspace.point_at(server)
            demo_ctx = _demo_context(app_ctx)
            report = run_story(demo_ctx, server, story)
            out.result(report, lambda _console: None)  # the story has been told on the way
            if keep_running:
                _keep_running(app_ctx, server, workspace, info_file)
        finally:
            server.stop()


class Story:
    """The narration printed between the steps (nothing in --json mode)."""

    def __init__(self, console: Console, *, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.number = 0

    def title(self) -> None:
        self.say(
            "[bold]stiggctl demo[/]: Auth0 logins, Stigg customers and an Active Users "
            "limit, end to end on a local sandbox."
        )

    def step(self, title: str, command: str | None = None) -> None:
        self.number += 1
        self.say("")
        self.say(f"[bold cyan]{self.number}. {title}[/]")
        if command:
            self.say(f"[dim]$ {command}[/]")

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text, highlight=False)

    def show(self, render) -> None:
        if not self.quiet:
            render(self.console)


def run_story(app_ctx: AppContext, server: SandboxServer, story: Story) -> dict[str, Any]:
    """The demo's steps against a running sandbox; returns what --json prints."""
    from stiggctl.commands.deploy.apply import DeployOptions, run_deploy
    from stiggctl.commands.deploy.report import render_outcome
    from stiggctl.commands.setup import SetupFlags, SetupWizard
    from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID

    sandbox = server.sandbox
    organization = sandbox.auth0.get_org(ACME)
    members = sandbox.auth0.members(ACME)
    limit = _plan_limit(sandbox, DEMO_PLAN)

    story.step(
        "A sandbox tenant",
        f"stiggctl sandbox serve   # Auth0 and Stigg on {server.base_url}",
    )
    applications = [
        c for c in sandbox.auth0.list_clients() if c.get("app_type") != "non_interactive"
    ]
    story.say(
        f"Auth0: {len(applications)} applications, "
        f"{len(sandbox.auth0.list_orgs())} organizations, {len(sandbox.auth0.list_users())} "
        f"users; {organization['display_name']} has {len(members)} members. Stigg: plan "
        f"{DEMO_PLAN} allows {limit} active users a month."
    )

    story.step(
        "Set up stiggctl",
        f"stiggctl setup --no-input --application {BUSINESS_APP_ID} --mode b2b "
        f"--b2b-plan {DEMO_PLAN}",
    )
    setup = SetupWizard(
        app_ctx,
        SetupFlags(application=BUSINESS_APP_ID, mode="b2b", b2b_plan=DEMO_PLAN, deploy=False),
    ).run()
    story.show(setup.render)

    story.step("Deploy the post-login Action", "stiggctl deploy-action")
    deployed = run_deploy(app_ctx, DeployOptions())
    story.show(render_outcome(deployed))

    story.step(
        f"Members of {organization['display_name']} log in",
        f"stiggctl sandbox login --user USER --org {ACME}",
    )
    logins = _log_in_until_denied(sandbox, members, ACME, BUSINESS_APP_ID)
    story.show(lambda console: _render_logins(console, logins))
    denied = next((login for login in logins if not login["allowed"]), None)

    explanation = None
    if denied is not None:
        story.step(
            f"Why was {denied['user_id']} refused?",
            f"stiggctl simulate-login --user '{denied['user_id']}' --org {ACME}",
        )
        explanation = _explain(
            app_ctx, denied["user_id"], ACME, BUSINESS_APP_ID, int(sandbox.clock() * 1000), story
        )

    story.step("Active users per customer", "stiggctl mau report")
    mau = _mau_report(app_ctx, story)

    story.say("")
    story.say(
        "[bold]Next:[/] `stiggctl demo --keep-running` leaves the sandbox up to try any "
        "command against it; `stiggctl setup` configures a real tenant."
    )
    return {
        "sandbox": server.base_url,
        "setup": setup.to_dict(),
        "deploy": deployed.to_dict(),
        "logins": logins,
        "explanation": explanation,
        "mau": mau,
    }


def _plan_limit(sandbox, plan_ref_id: str) -> str:
    from stiggctl.sandbox.stigg import ACTIVE_USERS_FEATURE_ID

    plan = sandbox.stigg.plan(plan_ref_id)
    for entitlement in getattr(plan, "entitlements", ()):
        if entitlement.feature_ref_id == ACTIVE_USERS_FEATURE_ID:
            if entitlement.has_unlimited_usage:
                return "unlimited"
            return f"{entitlement.usage_limit:g}"
    return "no"


def _log_in_until_denied(sandbox, members: list[str], org_id: str, client_id: str) -> list[dict]:
    """Each member logs in once until one is refused; then the first comes back."""
    logins = []
    for user_id in members:
        logins.append(_login(sandbox, user_id, org_id, client_id))
        if not logins[-1]["allowed"]:
            break
    if logins:
        logins.append(_login(sandbox, logins[0]["user_id"], org_id, client_id, again=True))
    return logins


def _login(sandbox, user_id: str, org_id: str, client_id: str, *, again: bool = False) -> dict:
    import re

    from stiggctl.config.settings import DEFAULT_ACTION_NAME

    run = sandbox.login(user_id, org_id=org_id, client_id=client_id)
    action = next((a for a in run["actions"] if a["name"] == DEFAULT_ACTION_NAME), {})
    # The Action logs one line per login: "... steps=1,2,3,4,6,... calls=N".
    log = " ".join(action.get("console") or [])
    steps = re.search(r"steps=([\d,]+)", log)
    return {
        "user_id": user_id,
        "again": again,
        "allowed": run["allowed"],
        "reason": run.get("deny_reason"),
        "steps": [int(n) for n in steps.group(1).split(",")] if steps else [],
        "calls": len(action.get("http_calls", [])),
        "duration_ms": action.get("duration_ms"),
    }


def _render_logins(console: Console, logins: list[dict]) -> None:
    from rich.table import Table

    table = Table(box=None, header_style="bold underline", pad_edge=False)
    for column in ("user", "login", "calls", "action ms", "why"):
        table.add_column(column)
    for login in logins:
        verdict = "[green]allowed[/]" if login["allowed"] else "[bold red]denied[/]"
        user = login["user_id"] + (" (again)" if login["again"] else "")
        why = _why(login)
        table.add_row(user, verdict, str(login["calls"]), f"{login['duration_ms']:g}", why)
    console.print(table)


def _why(login: dict) -> str:
    if not login["allowed"]:
        return f"refused: {login['reason']!r}"
    if login["calls"] == 0:
        return "already counted this period: no call at all"
    if 3 in login["steps"]:
        return "first login of the organization: provisioned in Stigg, counted"
    return "a new active user, counted"


def _explain(
    app_ctx: AppContext, user_id: str, org_id: str, client_id: str, at_ms: int, story: Story
):
    from stiggctl.commands.simulate import render_simulation, run_simulation
    from stiggctl.core.simulation import LOGIN_PROTOCOL

    simulation = run_simulation(
        app_ctx,
        user_id=user_id,
        organization_id=org_id,
        client_id=client_id,
        protocol=LOGIN_PROTOCOL,
        at_ms=at_ms,
        at_given=False,
    )
    story.show(render_simulation(simulation))
    return simulation.to_dict()


def _mau_report(app_ctx: AppContext, story: Story) -> dict[str, Any]:
    from stiggctl.commands.mau import print_table, report_payload, report_rows
    from stiggctl.core.mau import ReportTotals

    feature_id = app_ctx.settings.active_users_feature
    totals = ReportTotals()
    with app_ctx.stigg() as stigg:
        rows = list(report_rows(stigg, stigg.iter_customers(), feature_id))
    for row in rows:
        totals.add(row)
    story.show(lambda console: print_table(console, rows, totals, feature_id, False))
    return report_payload(rows, totals, feature_id, None)


def _demo_context(app_ctx: AppContext) -> AppContext:
    from stiggctl.app import AppContext

    # Never prompts, never touches the keyring: the secrets are the sandbox's, in the
    # environment of this process only.
    return AppContext(
        profile=DEMO_PROFILE,
        json=app_ctx.json,
        no_input_requested=True,
        verbose=app_ctx.verbose,
    )


class _Workspace:
    """A temporary config folder and the sandbox's settings in this process's environment,
    both undone on exit, so the user's own profiles and variables are left as they were."""

    def __enter__(self) -> _Workspace:
        import os
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="stiggctl-demo-")
        self.config_dir = Path(self._dir.name) / "config"
        self._saved = {k: v for k, v in os.environ.items() if k.startswith("STIGGCTL_")}
        for name in self._saved:
            del os.environ[name]
        os.environ["STIGGCTL_CONFIG_DIR"] = str(self.config_dir)
        return self

    def point_at(self, server: SandboxServer) -> None:
        import os

        from stiggctl.commands.sandbox import sandbox_env

        self.env = {**sandbox_env(server.info()), "STIGGCTL_CONFIG_DIR": str(self.config_dir)}
        self.env.pop("STIGGCTL_APPLICATION_ID", None)  # setup chooses the application
        os.environ.update(self.env)

    def __exit__(self, *exc: object) -> None:
        import os

        for name in [k for k in os.environ if k.startswith("STIGGCTL_")]:
            del os.environ[name]
        os.environ.update(self._saved)
        self._dir.cleanup()


def _keep_running(
    app_ctx: AppContext, server: SandboxServer, workspace: _Workspace, info_file: Path | None
) -> None:
    import shlex
    import signal
    import threading

    from stiggctl.commands.sandbox import write_info_file

    stop = threading.Event()
    # Before saying "press Ctrl-C", so a signal that follows at once is handled.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if info_file is not None:
        write_info_file(info_file, server.info())
    env = {**workspace.env, "STIGGCTL_PROFILE": DEMO_PROFILE}
    console = app_ctx.out.err if app_ctx.json else app_ctx.out.console
    console.print("")
    console.print(f"The sandbox keeps running on {server.base_url}. In another shell:")
    for name, value in env.items():
        console.print(f"  export {name}={shlex.quote(value)}", highlight=False, markup=False)
    console.print("  stiggctl doctor; stiggctl mau report; stiggctl sandbox login --user ...")
    console.print("Press Ctrl-C to stop it.", style="dim")
    stop.wait()
    if info_file is not None:
        info_file.unlink(missing_ok=True)
