"""`stiggctl action`: the deployed post-login Action's status, rollback and removal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from stiggctl.app import AppContext
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.clients.auth0_models import Action

app = typer.Typer(
    help="Inspect, roll back or remove the post-login Action that deploy-action manages.",
    no_args_is_help=True,
)

_NAME_HELP = "Name of the action (default: the profile's action_name, STIGGCTL_ACTION_NAME)."


@app.command("status")
def status(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help=_NAME_HELP, metavar="NAME"),
) -> None:
    """Show the deployed version, the draft's build state and errors, the place in
    post-login, and any drift between what the profile renders and what is deployed.

    Examples:

      stiggctl action status

      stiggctl action status --json
    """
    data = _status(ctx.obj, name)
    ctx.obj.out.result(data, lambda console: _print_status(console, data))


@app.command("rollback")
def rollback(
    ctx: typer.Context,
    to: int | None = typer.Option(
        None, "--to", min=1, metavar="VERSION", help="Version number to go back to."
    ),
    timeout: float = typer.Option(
        300.0, "--timeout", min=1.0, help="Seconds to wait for the version to go live."
    ),
    name: str | None = typer.Option(None, "--name", help=_NAME_HELP, metavar="NAME"),
) -> None:
    """Deploy an earlier version again (default: the one before the live version). Auth0
    deploys it as a new version number; the draft is left as it is, so the next
    deploy-action brings the profile's rendering back.

    Examples:

      stiggctl action rollback

      stiggctl action rollback --to 3 --json
    """
    from stiggctl.commands.deploy.apply import sigterm_as_interrupt

    with sigterm_as_interrupt():
        data = _rollback(ctx.obj, name, to, timeout)
    if data["changed"]:
        human = (
            f"Rolled back {data['action_name']!r}: v{data['version']} (a copy of "
            f"v{data['rolled_back_to']}) is live instead of v{data['previous']}."
        )
    else:
        human = f"No changes: v{data['version']} of {data['action_name']!r} is already live."
    ctx.obj.out.result(data, human)


@app.command("remove")
def remove(
    ctx: typer.Context,
    name: str | None = typer.Option(None, "--name", help=_NAME_HELP, metavar="NAME"),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do not ask for confirmation (never asked without a terminal)."
    ),
) -> None:
    """Take the action out of post-login, then delete it. Every other binding stays, in
    its order. Removing an action that does not exist changes nothing.

    Examples:

      stiggctl action remove --yes

      stiggctl action remove --json --no-input
    """
    data = _remove(ctx.obj, name, yes)
    if data["removed"]:
        kept = ", ".join(repr(n) for n in data["bindings"]) or "none"
        human = f"Removed {data['action_name']!r}. Post-login now runs: {kept}."
    else:
        human = f"No changes: there is no action named {data['action_name']!r}."
    ctx.obj.out.result(data, human)


# ---- status ----------------------------------------------------------------------------------


def _status(app_ctx: AppContext, name_override: str | None) -> dict[str, Any]:
    from stiggctl.commands.deploy.tenant import (
        action_name,
        live_drift,
        profile_rendering,
        read_bindings,
    )
    from stiggctl.commands.deploy.wait import build_errors
    from stiggctl.errors import StiggctlError

    name = action_name(app_ctx, name_override)
    auth0 = app_ctx.auth0()
    with auth0:
        action = auth0.find_action(name)
        if action is None:
            return {"action_name": name, "exists": False, "action_id": None}
        bindings = read_bindings(auth0)
        draft_errors = build_errors(auth0, action.id) if action.status == "failed" else []

    live = action.deployed_version
    # The tenant's side is worth showing even when the profile cannot render, or when the
    # secrets are not at hand (then they are reported as unknown).
    try:
        rendered = profile_rendering(app_ctx)
    except StiggctlError as exc:
        drift_data: dict[str, Any] = {"state": "unknown", "message": exc.message}
    else:
        found, secrets_compared = live_drift(app_ctx, rendered, live)
        drift_data = found.to_dict()
        if not secrets_compared:
            drift_data["secrets"] = {n: "unknown" for n in rendered.secret_names}

    position = next((i for i, b in enumerate(bindings, start=1) if b.action_id == action.id), None)
    return {
        "action_name": name,
        "exists": True,
        "action_id": action.id,
        "runtime": action.runtime,
        "deployed_version": (
            {
                "number": live.number,
                "id": live.id,
                "status": live.status,
                "built_at": live.built_at,
                "build_errors": [e.msg or e.id for e in live.errors],
            }
            if live is not None
            else None
        ),
        "draft": {
            "status": action.status,
            "all_changes_deployed": action.all_changes_deployed,
            "build_errors": draft_errors,
        },
        "binding": {
            "bound": position is not None,
            "position": position,
            "total": len(bindings),
            "order": [b.display_name for b in bindings],
        },
        "drift": drift_data,
    }


def _print_status(console: Console, data: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    name = escape(repr(data["action_name"]))
    if not data["exists"]:
        console.print(f"There is no action named {name}. Deploy it: stiggctl deploy-action")
        return
    table = Table.grid(padding=(0, 2))
    live = data["deployed_version"]
    table.add_row("action", f"{name} ({data['action_id']}, {data['runtime']})")
    table.add_row("deployed", f"v{live['number']} ({live['status']})" if live else "nothing")
    draft = data["draft"]
    draft_text = str(draft["status"])
    draft_text += ", all changes deployed" if draft["all_changes_deployed"] else ", not deployed"
    table.add_row("draft", escape(draft_text))
    for error in draft["build_errors"]:
        table.add_row("", f"[red]build error:[/] {escape(str(error))}")
    binding = data["binding"]
    if binding["bound"]:
        order = " → ".join(escape(n) for n in binding["order"])
        where = f"position {binding['position']} of {binding['total']}: {order}"
    else:
        where = "[yellow]not bound[/]"
    table.add_row("post-login", where)
    drift_data = data["drift"]
    style = "green" if drift_data["state"] == "in_sync" else "yellow"
    table.add_row("drift", f"[{style}]{escape(drift_data['message'])}[/]")
    secrets = drift_data.get("secrets") or {}
    if secrets:
        table.add_row("secrets", ", ".join(f"{n} {s}" for n, s in secrets.items()))
    console.print(table)


# ---- rollback --------------------------------------------------------------------------------


def _rollback(
    app_ctx: AppContext, name_override: str | None, to: int | None, timeout: float
) -> dict[str, Any]:
    from stiggctl.commands.deploy.tenant import action_name, version_state
    from stiggctl.commands.deploy.wait import RERUN_HINT, Waiter, wait_until_live
    from stiggctl.core.deploy_plan import rollback_target
    from stiggctl.errors import ErrorCode, StiggctlError

    name = action_name(app_ctx, name_override)
    auth0 = app_ctx.auth0()
    with auth0:
        action = _require_action(auth0, name)
        live = action.deployed_version
        if live is None or live.number is None:
            raise StiggctlError(
                ErrorCode.NOT_FOUND,
                f"No version of {name!r} is deployed: there is nothing to roll back from.",
                "Deploy it first: stiggctl deploy-action.",
            )
        versions = [version_state(v) for v in auth0.list_action_versions(action.id)]
        try:
            target = rollback_target(versions, live.number, to)
        except ValueError as exc:
            raise StiggctlError(
                ErrorCode.INVALID_INPUT,
                f"Cannot roll back {name!r}: {exc}.",
                "See the versions with `stiggctl action status`, or in the Auth0 dashboard.",
            ) from None
        data: dict[str, Any] = {
            "action_id": action.id,
            "action_name": name,
            "previous": live.number,
            "rolled_back_to": target.number,
        }
        if target.number == live.number:
            return {**data, "version": live.number, "changed": False}
        try:
            version = auth0.deploy_action_version(action.id, target.id)
            waiter = Waiter.for_tenant(auth0.base_url, timeout)
            action = wait_until_live(auth0, waiter, app_ctx.out, action, version)
        except KeyboardInterrupt:
            raise StiggctlError(
                ErrorCode.INTERRUPTED, f"Interrupted while rolling back {name!r}.", RERUN_HINT
            ) from None
    return {**data, "version": version.number, "changed": True}


# ---- remove ----------------------------------------------------------------------------------


def _remove(app_ctx: AppContext, name_override: str | None, yes: bool) -> dict[str, Any]:
    from stiggctl.commands.deploy.bind import unbind
    from stiggctl.commands.deploy.tenant import action_name

    name = action_name(app_ctx, name_override)
    auth0 = app_ctx.auth0()
    with auth0:
        action = auth0.find_action(name)
        if action is None:
            return {
                "action_id": None,
                "action_name": name,
                "removed": False,
                "unbound": False,
                "bindings": None,  # not read: nothing of ours to take out
            }
        if app_ctx.can_prompt and not yes:
            typer.confirm(
                f"Unbind and delete the action {name!r} ({action.id})?", abort=True, err=True
            )
        outcome = unbind(auth0, action.id)
        auth0.delete_action(action.id)
    return {
        "action_id": action.id,
        "action_name": name,
        "removed": True,
        "unbound": outcome.written,
        "bindings": [b.display_name for b in outcome.bindings],
    }


def _require_action(auth0: Auth0Client, name: str) -> Action:
    from stiggctl.errors import ErrorCode, StiggctlError

    action = auth0.find_action(name)
    if action is None:
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            f"There is no post-login action named {name!r}.",
            "Deploy it with `stiggctl deploy-action`, or give its name with --name.",
        )
    return action
