"""`stiggctl simulate-login`: explain a login with the Action's own logic, writing nothing."""

from __future__ import annotations

import typer


def simulate_login(ctx: typer.Context) -> None:
    """Run the deployed Action's decision locally for one login (being built)."""
    from stiggctl.errors import ErrorCode, StiggctlError

    raise StiggctlError(ErrorCode.INTERNAL_ERROR, "simulate-login is not available yet.")
