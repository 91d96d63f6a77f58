"""`stiggctl deploy-action`: render the post-login Action from the profile, create or update
it with its secrets, wait for the build, deploy, and bind it in post-login; idempotent.

Split by phase: tenant.py reads, core/deploy_plan.py decides, apply.py writes (with wait.py
and bind.py), report.py prints. Only Typer is imported here: start-up stays light.
"""

from __future__ import annotations

import enum

import typer


class BindPosition(enum.StrEnum):
    KEEP = "keep"
    END = "end"
    START = "start"


POSITION_HELP = (
    "Where the action runs in post-login: keep (where it is; appended when not bound), "
    "end or start. Other actions keep their order."
)
TIMEOUT_HELP = "Seconds to wait, in all, for the build and for the deploy to go live."
NAME_HELP = "Name of the action (default: the profile's action_name, STIGGCTL_ACTION_NAME)."


def deploy_action(
    ctx: typer.Context,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan and the code diff; change nothing."
    ),
    position: BindPosition = typer.Option(
        BindPosition.KEEP, "--position", case_sensitive=False, help=POSITION_HELP
    ),
    timeout: float = typer.Option(300.0, "--timeout", min=1.0, help=TIMEOUT_HELP),
    name: str | None = typer.Option(None, "--name", help=NAME_HELP, metavar="NAME"),
) -> None:
    """Deploy the post-login Action: render it from the profile, create or update it with
    its secrets, wait for the build, deploy it, and bind it in post-login (other actions
    keep their place). A run with nothing to change writes nothing and says so.

    Never prompts: made for CI. An interrupted run is completed by the next one; the live
    version keeps running until the new one is built.

    Examples:

      stiggctl deploy-action --dry-run

      stiggctl deploy-action --json --timeout 120

      stiggctl deploy-action --position end
    """
    from stiggctl.commands.deploy.apply import DeployOptions, run_deploy, sigterm_as_interrupt
    from stiggctl.commands.deploy.report import render_outcome

    options = DeployOptions(name=name, position=position.value, timeout=timeout, dry_run=dry_run)
    with sigterm_as_interrupt():
        outcome = run_deploy(ctx.obj, options)
    ctx.obj.out.result(outcome.to_dict(), render_outcome(outcome))
