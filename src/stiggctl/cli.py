"""Wires every command into one Typer app, and nothing else.

Command modules are imported here, so they import only Typer at module level; whatever a
command needs (httpx, pydantic, keyring) is imported inside the command function.
"""

from __future__ import annotations

import typer

from stiggctl import __version__
from stiggctl.app import AppContext
from stiggctl.commands import action as action_cmd
from stiggctl.commands import config as config_cmd
from stiggctl.commands import demo as demo_cmd
from stiggctl.commands import deploy as deploy_cmd
from stiggctl.commands import doctor as doctor_cmd
from stiggctl.commands import mau as mau_cmd
from stiggctl.commands import sandbox as sandbox_cmd
from stiggctl.commands import setup as setup_cmd
from stiggctl.commands import simulate as simulate_cmd

_current: AppContext | None = None

app = typer.Typer(
    name="stiggctl",
    help=(
        "Auth0 + Stigg as code: provision customers on login, meter monthly active users, "
        "refuse new active users over the limit.\n\n"
        "Global options (--profile, --json, --no-input, --verbose) may be given anywhere "
        "on the command line."
    ),
    epilog=(
        "Exit codes: 0 ok, 1 error, 2 usage error, 3 a check or a (simulated) login failed, "
        "4 authentication or authorization failed, 130 interrupted."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def current_context() -> AppContext | None:
    """The AppContext of this run, once the global options have been parsed."""
    return _current


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"stiggctl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: str = typer.Option(
        "default", "--profile", envvar="STIGGCTL_PROFILE", help="Profile to use.", metavar="NAME"
    ),
    json_output: bool = typer.Option(
        False, "--json", envvar="STIGGCTL_JSON", help="Print one JSON document on stdout."
    ),
    no_input: bool = typer.Option(
        False,
        "--no-input",
        envvar="STIGGCTL_NO_INPUT",
        help="Never prompt (also in effect when CI is set or there is no terminal).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show details and tracebacks."),
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    global _current
    _current = AppContext(
        profile=profile, json=json_output, no_input_requested=no_input, verbose=verbose
    )
    ctx.obj = _current


app.command("demo", short_help="The whole story end to end on a local sandbox (no account).")(
    demo_cmd.demo
)
app.command("setup", short_help="The wizard: configure and verify a profile.")(setup_cmd.setup)
app.command("deploy-action", short_help="Render, build, deploy and bind the post-login Action.")(
    deploy_cmd.deploy_action
)
app.add_typer(action_cmd.app, name="action")
app.command("doctor", short_help="Check the whole integration; exit 3 on a problem.")(
    doctor_cmd.doctor
)
app.command(
    "simulate-login", short_help="Explain a login with the Action's own logic, writing nothing."
)(simulate_cmd.simulate_login)
app.add_typer(mau_cmd.app, name="mau")
app.add_typer(config_cmd.app, name="config")
app.add_typer(sandbox_cmd.app, name="sandbox")
