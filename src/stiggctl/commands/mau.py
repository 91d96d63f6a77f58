"""`stiggctl mau`: monthly active users per customer."""

from __future__ import annotations

import typer

app = typer.Typer(help="Monthly active users per customer.", no_args_is_help=True)


@app.command("report")
def report(ctx: typer.Context) -> None:
    """Active users per customer this period (being built)."""
    from stiggctl.errors import ErrorCode, StiggctlError

    raise StiggctlError(ErrorCode.INTERNAL_ERROR, "mau report is not available yet.")
