"""`stiggctl setup`: the wizard that configures a profile."""

from __future__ import annotations

import typer


def setup(ctx: typer.Context) -> None:
    """Configure a profile (being built)."""
    from stiggctl.errors import ErrorCode, StiggctlError

    raise StiggctlError(ErrorCode.INTERNAL_ERROR, "setup is not available yet.")
