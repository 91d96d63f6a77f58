"""How a deploy-action run reads to a person (the JSON is `DeployOutcome.to_dict`)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from stiggctl.commands.deploy.apply import DeployOutcome
from stiggctl.core.deploy_plan import SecretStatus, Step

_SECRET_STYLES = {
    SecretStatus.UNCHANGED: "dim",
    SecretStatus.CHANGED: "yellow",
    SecretStatus.ADDED: "green",
    SecretStatus.REMOVED: "red",
    SecretStatus.UNKNOWN: "yellow",
}


def render_outcome(outcome: DeployOutcome) -> Callable[[Console], None]:
    def render(console: Console) -> None:
        plan = outcome.plan
        name = escape(repr(plan.action_name))
        where = _where(outcome)
        if outcome.dry_run:
            live = f"v{outcome.version} live" if outcome.version else "nothing live"
            if not plan.changed:
                console.print(f"Dry run: no changes. {name} ({live}) {where}.")
                return
            console.print(f"Dry run: nothing was changed. Plan for {name} ({live}):")
            _steps(console, outcome, "•")
            _secrets(console, outcome)
            _diff(console, outcome)
            return
        if not plan.changed:
            console.print(f"No changes: {name} v{outcome.version} is live and {where}.")
            return
        if plan.has(Step.DEPLOY):
            console.print(f"Deployed {name} v{outcome.version}: {where}.")
        else:
            console.print(f"Updated {name}: v{outcome.version} is live and {where}.")
        _steps(console, outcome, "✓")

    return render


def _where(outcome: DeployOutcome) -> str:
    total = len(outcome.plan.bindings.after if outcome.dry_run else outcome.bindings)
    if outcome.position is None:
        return "not bound to post-login"
    verb = "to be bound" if outcome.dry_run and not outcome.bound else "bound"
    return f"{verb} to post-login at position {outcome.position} of {total}"


def _steps(console: Console, outcome: DeployOutcome, mark: str) -> None:
    table = Table.grid(padding=(0, 2))
    for step in outcome.plan.steps:
        table.add_row(f"  {mark}", step.step.value, escape(step.detail))
    console.print(table)


def _secrets(console: Console, outcome: DeployOutcome) -> None:
    if not outcome.plan.secrets:
        return
    parts = Text("Secrets: ")
    for index, (name, status) in enumerate(outcome.plan.secrets.items()):
        if index:
            parts.append(", ")
        parts.append(f"{name} ")
        parts.append(status.value, style=_SECRET_STYLES[status])
    console.print(parts)


def _diff(console: Console, outcome: DeployOutcome) -> None:
    plan = outcome.plan
    if plan.has(Step.CREATE):
        lines = sum(
            1 for line in plan.diff.splitlines() if line.startswith("+") and line[1:3] != "++"
        )
        console.print(f"Code: a new action of {lines} lines (--json shows the whole diff).")
        return
    if not plan.diff:
        console.print("Code: the deployed code is what the profile renders.")
        return
    text = Text()
    for line in plan.diff.splitlines():
        style = None
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("@@"):
            style = "cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        text.append(line + "\n", style=style)
    # Long lines stay whole: a wrapped diff line would read as two.
    console.print(text, end="", soft_wrap=True)
