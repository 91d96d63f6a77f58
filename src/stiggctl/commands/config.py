"""`stiggctl config`: show the effective settings and where each came from; edit a profile."""

from __future__ import annotations

import typer

app = typer.Typer(help="Show and edit the settings of a profile.", no_args_is_help=True)

_ENV_HELP = "Every setting NAME also reads STIGGCTL_NAME from the environment."


@app.command("show")
def show(ctx: typer.Context) -> None:
    """Print the effective settings of the profile and where each value came from
    (flag, env, file, keyring, default). Secrets are masked.

    Example: stiggctl config show --profile staging --json
    """
    from stiggctl.config.credentials import SECRETS
    from stiggctl.config.profiles import config_path
    from stiggctl.config.settings import SETTING_NAMES, env_name
    from stiggctl.errors import ErrorCode, StiggctlError

    app_ctx = ctx.obj
    loaded = app_ctx.loaded
    settings = loaded.settings
    rows: dict[str, dict[str, object]] = {}
    for name in SETTING_NAMES:
        rows[name] = {
            "value": getattr(settings, name),
            "source": loaded.origins[name],
            "env": env_name(name),
        }
    for name, env_var in SECRETS.items():
        unused = name == "action_client_secret" and not settings.action_client_id
        if unused and not app_ctx.credentials.in_environment(name):
            # No Action client configured: its secret is not needed, nor looked up.
            rows[name] = {"value": None, "source": "not used", "env": env_var}
            continue
        try:
            resolved = app_ctx.credentials.resolve(name)
            masked, source = ("********" if resolved.secret else None), resolved.origin
        except StiggctlError as exc:
            if exc.code is not ErrorCode.KEYRING_UNAVAILABLE:
                raise
            masked, source = None, "keyring unavailable"
        rows[name] = {"value": masked, "source": source, "env": env_var}
    data = {
        "profile": loaded.profile,
        "config_file": str(config_path()),
        "auth0_base_url": settings.auth0_base_url,
        "settings": rows,
    }

    def human(console) -> None:
        from rich.table import Table

        table = Table(title=f"Profile {loaded.profile!r}", title_justify="left")
        table.add_column("setting")
        table.add_column("value", overflow="fold")
        table.add_column("source")
        for name, row in rows.items():
            value = row["value"]
            table.add_row(name, "-" if value is None else str(value), str(row["source"]))
        console.print(table)
        console.print(f"Auth0 base URL: {settings.auth0_base_url or '-'}")
        console.print(f"Config file: {config_path()}")

    app_ctx.out.result(data, human)


@app.command("path")
def path(ctx: typer.Context) -> None:
    """Print the path of the config file (set STIGGCTL_CONFIG_DIR to move it).

    Example: $EDITOR "$(stiggctl config path)"
    """
    from stiggctl.config.profiles import config_path

    target = config_path()
    ctx.obj.out.result({"path": str(target), "exists": target.exists()}, str(target))


@app.command("set", epilog=_ENV_HELP)
def set_value(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Setting name, e.g. mode or auth0_domain."),
    value: str = typer.Argument(..., help="New value."),
) -> None:
    """Set one setting in the profile file (validated first). Secrets are not settings:
    `stiggctl setup` stores them in the OS keyring.

    Example: stiggctl config set mode b2b --profile staging
    """
    _edit(ctx, name, value)


@app.command("unset", epilog=_ENV_HELP)
def unset_value(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Setting name."),
) -> None:
    """Remove one setting from the profile file (its default applies again).

    Example: stiggctl config unset b2c_plan --profile staging
    """
    _edit(ctx, name, None)


def _edit(ctx: typer.Context, name: str, value: str | None) -> None:
    from stiggctl.config import profiles
    from stiggctl.config.credentials import SECRETS
    from stiggctl.config.settings import SETTING_NAMES, Settings
    from stiggctl.errors import ErrorCode, StiggctlError

    app_ctx = ctx.obj
    name = name.strip().lower().replace("-", "_")
    if name in SECRETS:
        raise StiggctlError(
            ErrorCode.INVALID_INPUT,
            f"{name} is a secret and is never written to the config file.",
            f"Run `stiggctl setup` to store it in the OS keyring, or set {SECRETS[name]}.",
        )
    if name not in SETTING_NAMES:
        raise StiggctlError(
            ErrorCode.INVALID_INPUT,
            f"Unknown setting {name!r}.",
            f"Known settings: {', '.join(SETTING_NAMES)}.",
        )
    current = profiles.read_profile(app_ctx.profile)
    if value is None:
        current.pop(name, None)
    else:
        current[name] = value
    from pydantic import ValidationError

    try:
        # Validate the file's values on their own, so a bad value never reaches the file.
        validated = Settings.model_validate(current)
    except ValidationError as exc:
        reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise StiggctlError(
            ErrorCode.INVALID_INPUT, f"Invalid value for {name}: {reason}.", None
        ) from None
    if value is not None:
        current[name] = getattr(validated, name)
    written = profiles.write_profile(app_ctx.profile, current)
    app_ctx.out.result(
        {
            "profile": app_ctx.profile,
            "name": name,
            "value": current.get(name),
            "file": str(written),
        },
        f"{name} {'set' if value is not None else 'unset'} in profile {app_ctx.profile!r}",
    )
