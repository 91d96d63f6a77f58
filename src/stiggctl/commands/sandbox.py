"""`stiggctl sandbox`: a local, stateful Auth0 + Stigg to run everything against."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="A local, stateful Auth0 + Stigg (the embedded default of `stiggctl demo`).",
    no_args_is_help=True,
)

_INFO_FILE_HELP = "The JSON file `sandbox serve --info-file` wrote."


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(0, help="Port to bind; 0 picks a free one."),
    seed: str = typer.Option("demo", help="Initial data: demo or empty."),
    state: Path | None = typer.Option(
        None, "--state", help="Keep the state in this file, so it survives a restart."
    ),
    info_file: Path | None = typer.Option(
        None, "--info-file", help="Write the addresses and credentials here as JSON (mode 0600)."
    ),
    latency_ms: int = typer.Option(0, help="Latency added to every Auth0 and Stigg request."),
    error_rate: float = typer.Option(
        0.0, help="Share of requests (0 to 1) answered with --error-status."
    ),
    error_status: int = typer.Option(503, help="Status of injected errors: 500 or 503."),
    fault_route: str = typer.Option(
        "*", help="Limit the injected errors to a path prefix, e.g. /graphql or /api/v2/actions."
    ),
    burst_429: int = typer.Option(0, "--burst-429", help="Answer the next N requests with 429."),
    drop_rate: float = typer.Option(0.0, help="Share of connections dropped unanswered."),
    build_seconds: float = typer.Option(0.6, help="How long an action takes to build."),
    rate_limit: float | None = typer.Option(
        None, help="Management API requests per second before 429 (free tenants: 2)."
    ),
    tls: bool = typer.Option(
        False,
        "--tls",
        help="Serve HTTPS with a CA made at start-up, for SDKs that insist on https://{domain}.",
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", help="With --tls: write the CA certificate (PEM) here."
    ),
    action_client: bool = typer.Option(
        False,
        "--action-client",
        help="Also seed an M2M client for the Action alone (update:organizations only); "
        "`sandbox env` then exports STIGGCTL_ACTION_CLIENT_ID and its secret.",
    ),
) -> None:
    """Run the sandbox in the foreground until interrupted.

    Examples:

      stiggctl sandbox serve --port 0 --info-file /tmp/sandbox.json

      eval "$(stiggctl sandbox env --info-file /tmp/sandbox.json)"

      stiggctl sandbox serve --latency-ms 25 --error-rate 0.1 --fault-route /graphql

      stiggctl sandbox serve --tls --ca-file /tmp/sandbox-ca.pem   (then, e.g. for Node SDKs:
      NODE_EXTRA_CA_CERTS=/tmp/sandbox-ca.pem with domain 127.0.0.1:PORT)
    """
    import signal
    import threading

    from stiggctl.errors import ErrorCode, StiggctlError
    from stiggctl.sandbox.faults import FaultPlan, FaultRule
    from stiggctl.sandbox.server import SandboxOptions, SandboxServer

    out = ctx.obj.out
    if seed not in ("demo", "empty"):
        raise StiggctlError(
            ErrorCode.INVALID_INPUT, f"Unknown seed {seed!r}.", "Use demo or empty."
        )
    try:
        rules = []
        if latency_ms:
            rules.append(FaultRule(latency_ms=latency_ms).validate())
        if error_rate or burst_429 or drop_rate:
            rules.append(
                FaultRule(
                    route=fault_route,
                    error_rate=error_rate,
                    status=error_status,
                    burst_429=burst_429,
                    drop_rate=drop_rate,
                ).validate()
            )
    except ValueError as exc:
        raise StiggctlError(ErrorCode.INVALID_INPUT, f"Invalid fault setting: {exc}.") from None
    options = SandboxOptions(
        host=host,
        port=port,
        seed=seed,  # type: ignore[arg-type]
        state_file=state,
        faults=FaultPlan(rules=rules),
        build_seconds=build_seconds,
        rate_limit_per_second=rate_limit,
        tls=tls,
        ca_file=ca_file,
        action_client=action_client,
    )
    try:
        server = SandboxServer(options)
    except OSError as exc:
        raise StiggctlError(
            ErrorCode.NETWORK_ERROR,
            f"Cannot listen on {host}:{port}: {exc.strerror}.",
            "Choose another --port (0 picks a free one).",
        ) from None
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    # Ready to stop before telling anyone it runs: a signal right after the banner is
    # handled, not fatal.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    try:
        info = server.info()
        if info_file is not None:
            write_info_file(info_file, info)
        _print_banner(ctx.obj, info, info_file)
        stop.wait()
    finally:
        server.stop()
        if info_file is not None:
            info_file.unlink(missing_ok=True)
        out.note("sandbox stopped")


def _print_banner(app_ctx, info: dict, info_file: Path | None) -> None:
    from stiggctl.output import dumps

    if app_ctx.json:
        import sys

        # One line, so a parent process can read it before the server blocks.
        sys.stdout.write(dumps({"data": info}).replace("\n", "") + "\n")
        sys.stdout.flush()
        return
    console = app_ctx.out.console
    console.print(f"[bold]stiggctl sandbox[/] listening on {info['base_url']}")
    console.print(f"  Auth0 domain      {info['auth0']['domain']}")
    console.print(f"  M2M client id     {info['auth0']['client_id']}")
    console.print(f"  M2M client secret {info['auth0']['client_secret']}")
    if info["auth0"].get("action_client_id"):
        console.print(
            f"  Action M2M client {info['auth0']['action_client_id']} (update:organizations)"
        )
    console.print(f"  Stigg API URL     {info['stigg']['api_url']}")
    console.print(f"  Stigg API key     {info['stigg']['api_key']}")
    if info.get("tls"):
        console.print(f"  CA certificate    {info['tls']['ca_file']}")
    for app_info in info.get("applications", []):
        console.print(
            f"  application       {app_info['client_id']}  {app_info['name']} "
            f"(organizations: {app_info['organization_usage']})"
        )
    if info_file is not None:
        console.print(
            f'Point stiggctl at it: [bold]eval "$(stiggctl sandbox env --info-file {info_file})"[/]'
        )
    console.print("Press Ctrl-C to stop.", style="dim")
    console.file.flush()


def write_info_file(path: Path, info: dict) -> None:
    import json

    from stiggctl.sandbox.server import write_private_file

    write_private_file(path, json.dumps(info, indent=2).encode())


def read_info_file(path: Path) -> dict:
    import json

    from stiggctl.errors import ErrorCode, StiggctlError

    try:
        info = json.loads(path.read_text())
        info["base_url"]
        return info
    except FileNotFoundError:
        raise StiggctlError(
            ErrorCode.NOT_FOUND,
            f"No sandbox info file at {path}.",
            "Start one with `stiggctl sandbox serve --info-file FILE`.",
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StiggctlError(
            ErrorCode.INVALID_INPUT,
            f"{path} is not a sandbox info file ({exc}).",
            "Give the file that `stiggctl sandbox serve --info-file` wrote.",
        ) from None


def sandbox_env(info: dict) -> dict[str, str]:
    """The settings that point every other command at the sandbox."""
    env = {
        "STIGGCTL_AUTH0_DOMAIN": info["auth0"]["domain"],
        "STIGGCTL_AUTH0_CLIENT_ID": info["auth0"]["client_id"],
        "STIGGCTL_AUTH0_CLIENT_SECRET": info["auth0"]["client_secret"],
        "STIGGCTL_STIGG_API_URL": info["stigg"]["api_url"],
        "STIGGCTL_STIGG_API_KEY": info["stigg"]["api_key"],
    }
    if info["auth0"].get("action_client_id"):
        env["STIGGCTL_ACTION_CLIENT_ID"] = info["auth0"]["action_client_id"]
        env["STIGGCTL_ACTION_CLIENT_SECRET"] = info["auth0"]["action_client_secret"]
    apps = {a["organization_usage"]: a["client_id"] for a in info.get("applications", [])}
    if "allow" in apps:
        env["STIGGCTL_APPLICATION_ID"] = apps["allow"]
    if info.get("tls"):
        # Python (httpx, requests via SSL_CERT_FILE) and Node (added to its CAs) trust the
        # sandbox's CA in this shell.
        env["SSL_CERT_FILE"] = info["tls"]["ca_file"]
        env["NODE_EXTRA_CA_CERTS"] = info["tls"]["ca_file"]
    return env


@app.command("env")
def env(
    ctx: typer.Context,
    info_file: Path = typer.Option(..., "--info-file", help=_INFO_FILE_HELP),
) -> None:
    """Print `export STIGGCTL_...=` lines that point stiggctl at a running sandbox.

    Example: eval "$(stiggctl sandbox env --info-file /tmp/sandbox.json)"
    """
    import shlex

    values = sandbox_env(read_info_file(info_file))
    if ctx.obj.json:
        ctx.obj.out.result(values)
        return
    for name, value in values.items():
        typer.echo(f"export {name}={shlex.quote(value)}")


def _sandbox_target(info_file: Path | None, app_ctx) -> tuple[str, str | bool]:
    """The sandbox's base URL, and what to verify its certificate with (TLS only)."""
    if info_file is not None:
        info = read_info_file(info_file)
        return info["base_url"], (info.get("tls") or {}).get("ca_file") or True
    from urllib.parse import urlsplit

    from stiggctl.errors import ErrorCode, StiggctlError

    base = app_ctx.settings.auth0_base_url
    # Control paths exist only on a sandbox: never send them to a real tenant.
    if not base or urlsplit(base).hostname not in ("127.0.0.1", "localhost", "::1"):
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            "No sandbox to talk to.",
            "Give --info-file, or point STIGGCTL_AUTH0_DOMAIN at the sandbox "
            '(eval "$(stiggctl sandbox env --info-file FILE)").',
        )
    return base, True


def _control(
    target: tuple[str, str | bool], method: str, path: str, body: dict | None = None
) -> dict:
    import httpx

    from stiggctl.errors import ErrorCode, StiggctlError, from_exception

    base_url, verify = target
    try:
        response = httpx.request(
            method, f"{base_url}{path}", json=body, timeout=60.0, verify=verify
        )
    except httpx.HTTPError as exc:
        raise from_exception(exc, service="the sandbox") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise StiggctlError(
            ErrorCode.API_ERROR,
            f"{base_url}{path} did not answer as a stiggctl sandbox does "
            f"(HTTP {response.status_code}).",
            "Give the --info-file that `stiggctl sandbox serve` wrote.",
        )
    if response.status_code >= 400:
        raise StiggctlError(
            ErrorCode.INVALID_INPUT if response.status_code < 500 else ErrorCode.API_ERROR,
            f"Sandbox: {payload.get('message', response.reason_phrase)}",
            None,
            status=response.status_code,
        )
    return payload


@app.command("login")
def login(
    ctx: typer.Context,
    user: str = typer.Option(..., "--user", help="User id, e.g. auth0|demo-alice."),
    org: str | None = typer.Option(None, "--org", help="Organization id (a B2B login)."),
    client: str | None = typer.Option(None, "--client", help="Application client id."),
    refresh: bool = typer.Option(False, "--refresh", help="A refresh-token exchange."),
    info_file: Path | None = typer.Option(None, "--info-file", help=_INFO_FILE_HELP),
) -> None:
    """Log a user in through the sandbox's post-login trigger and show what happened.

    Exit 0 when the login is allowed, 3 when it is denied.

    Example: stiggctl sandbox login --user 'auth0|demo-alice' --org org_acme --info-file F
    """
    from stiggctl.errors import ExitCode

    app_ctx = ctx.obj
    target = _sandbox_target(info_file, app_ctx)
    body = {
        "user_id": user,
        "org_id": org,
        "client_id": client,
        "protocol": "oauth2-refresh-token" if refresh else "oidc-basic-profile",
    }
    result = _control(target, "POST", "/_sandbox/login", body)
    app_ctx.out.result(result, lambda console: render_login(console, result))
    if not result.get("allowed"):
        raise typer.Exit(int(ExitCode.CHECK_FAILED))


def render_login(console, result: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    # Names, reasons, URLs and console lines come from the actions: escaped, so that a "[" in
    # them is shown as written instead of being read as markup.
    verdict = "[green]allowed[/]" if result["allowed"] else "[red]denied[/]"
    target = f" into {result['org_id']}" if result.get("org_id") else ""
    console.print(f"Login of {escape(result['user_id'] + target)}: {verdict}")
    if not result["allowed"] and result.get("deny_reason"):
        console.print(f"  reason: {escape(result['deny_reason'])}")
    table = Table(show_edge=False, box=None, pad_edge=False)
    for column in ("action", "status", "ms", "calls"):
        table.add_column(column)
    for action in result.get("actions", []):
        table.add_row(
            escape(action["name"]),
            action["status"],
            str(action.get("duration_ms", "")),
            str(len(action.get("http_calls", []))),
        )
    console.print(table)
    for action in result.get("actions", []):
        name = escape(action["name"])
        for call in action.get("http_calls", []):
            outcome = call.get("status") or call.get("error")
            console.print(
                f"  [dim]{name}:[/] "
                + escape(
                    f"{call['method']} {call['url']} -> {outcome} ({call.get('duration_ms')} ms)"
                )
            )
        for line in action.get("console", []):
            console.print(f"  [dim]{name} log:[/] {escape(line)}")


@app.command("faults")
def faults(
    ctx: typer.Context,
    info_file: Path | None = typer.Option(None, "--info-file", help=_INFO_FILE_HELP),
    latency_ms: int = typer.Option(0, help="Latency added to every request."),
    error_rate: float = typer.Option(0.0, help="Share of requests answered with an error."),
    error_status: int = typer.Option(503, help="Status of injected errors."),
    fault_route: str = typer.Option("*", help="Path prefix the errors apply to."),
    burst_429: int = typer.Option(0, "--burst-429", help="Answer the next N requests with 429."),
    drop_rate: float = typer.Option(0.0, help="Share of connections dropped."),
) -> None:
    """Replace the faults of a running sandbox (no option: clear them).

    Example: stiggctl sandbox faults --info-file F --error-rate 1 --fault-route /graphql
    """
    app_ctx = ctx.obj
    rules = []
    if latency_ms:
        rules.append({"latency_ms": latency_ms})
    if error_rate or burst_429 or drop_rate:
        rules.append(
            {
                "route": fault_route,
                "error_rate": error_rate,
                "status": error_status,
                "burst_429": burst_429,
                "drop_rate": drop_rate,
            }
        )
    result = _control(
        _sandbox_target(info_file, app_ctx), "PUT", "/_sandbox/faults", {"rules": rules}
    )
    app_ctx.out.result(result, f"{len(result['rules'])} fault rule(s) in effect")


@app.command("advance-clock")
def advance_clock(
    ctx: typer.Context,
    days: float = typer.Option(0.0, help="Days to move the sandbox's clock forward."),
    seconds: float = typer.Option(0.0, help="Seconds to move it forward."),
    info_file: Path | None = typer.Option(None, "--info-file", help=_INFO_FILE_HELP),
) -> None:
    """Move the sandbox's clock forward, e.g. into the next usage period.

    Example: stiggctl sandbox advance-clock --days 31 --info-file F
    """
    app_ctx = ctx.obj
    total = days * 86400 + seconds
    result = _control(
        _sandbox_target(info_file, app_ctx), "POST", "/_sandbox/clock/advance", {"seconds": total}
    )
    app_ctx.out.result(result, f"sandbox clock moved {total:.0f}s forward")
