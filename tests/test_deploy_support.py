"""Shared by the deploy-action, action and doctor tests: a sandbox the CLI points at, the
tenant read back through the Management API, the vendor requests the sandbox answered, and
retry waits recorded instead of slept."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.core import deploy_plan
from stiggctl.core.deploy_plan import KdfCost, split_trailer
from stiggctl.sandbox.auth0.seed import BUSINESS_APP_ID, ROLES_ACTION_NAME
from stiggctl.sandbox.server import M2M_CLIENT_ID, SandboxServer
from tests.cli_helpers import CliResult, run_cli
from tests.sandbox_helpers import running_sandbox, sandbox_env

ACTION_NAME = "Stigg Integration (stiggctl)"
B2B_SECRETS = ["AUTH0_M2M_CLIENT_ID", "AUTH0_M2M_CLIENT_SECRET", "STIGG_API_KEY"]
ROLES = ROLES_ACTION_NAME
WRITE_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
ACTION_PATH = re.compile(r"/api/v2/actions/actions/[^/]+")
# The sandbox's profile lets the Action hold stiggctl's client (the seed has one M2M client).
SHARED_CLIENT_WARNING = (
    f"The Action holds stiggctl's own M2M credentials (client {M2M_CLIENT_ID}), which carry "
    "every scope stiggctl needs; it needs only update:organizations. Give the Action its own "
    "M2M application: in the Auth0 dashboard create a Machine to Machine application "
    "authorized for the Auth0 Management API with only update:organizations, then run "
    "`stiggctl setup --action-client-id CLIENT_ID` (or set STIGGCTL_ACTION_CLIENT_ID and "
    "STIGGCTL_ACTION_CLIENT_SECRET) and `stiggctl deploy-action`."
)


def profile_env(server: SandboxServer, plan: str = "plan-free") -> dict[str, str]:
    """CI mode: everything from the environment, B2B on the business portal."""
    return {
        **sandbox_env(server),
        "STIGGCTL_MODE": "b2b",
        "STIGGCTL_B2B_PLAN": plan,
        "STIGGCTL_APPLICATION_ID": BUSINESS_APP_ID,
    }


def point_at(monkeypatch: pytest.MonkeyPatch, server: SandboxServer, **overrides: str) -> None:
    for name, value in {**profile_env(server), **overrides}.items():
        monkeypatch.setenv(name, value)


@contextmanager
def cli_sandbox(monkeypatch: pytest.MonkeyPatch, **options: Any) -> Iterator[SandboxServer]:
    """A sandbox on 127.0.0.1 and the CLI's environment pointing at it.

    The secrets fingerprint uses a cheap scrypt here (the stored cost is read back, so every
    comparison stays exact): the production cost is tens of milliseconds per secret and per
    run. The subprocess tests and the benchmark run the real cost.
    """
    monkeypatch.setattr(deploy_plan, "DEFAULT_COST", KdfCost(n=16, r=1, p=1))
    with running_sandbox(**options) as server:
        point_at(monkeypatch, server)
        yield server


# A second M2M application, the Action's own: the demo seed has only stiggctl's.
ACTION_CLIENT_ID = "sbxActionClient00000000000000001"
ACTION_CLIENT_SECRET = "action-client-secret-Qx81vZ"
ACTION_CLIENT_NAME = "Stigg Action (update organizations)"
ORGANIZATION_SCOPE = "update:organizations"


def add_action_client(
    server: SandboxServer, scopes: tuple[str, ...] = (ORGANIZATION_SCOPE,)
) -> None:
    server.sandbox.auth0.add_client(
        ACTION_CLIENT_ID,
        ACTION_CLIENT_NAME,
        "non_interactive",
        client_secret=ACTION_CLIENT_SECRET,
        grant_scopes=list(scopes),
    )


def use_action_client(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    scopes: tuple[str, ...] = (ORGANIZATION_SCOPE,),
) -> None:
    """The Action's own client in the tenant, and the CLI's environment naming it."""
    add_action_client(server, scopes)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", ACTION_CLIENT_ID)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", ACTION_CLIENT_SECRET)


def record_retry_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every wait the vendor clients' retry policy asks for, recorded instead of slept."""
    from stiggctl.app import AppContext
    from stiggctl.clients.retry import RetryPolicy

    waits: list[float] = []

    def clock() -> float:
        # Time moves by what was waited, so rate-limit resets pass as they would have.
        return time.time() + sum(waits)

    def hooks(self: AppContext) -> dict[str, Any]:
        return {"retry": RetryPolicy(sleep=waits.append, clock=clock, random=lambda: 0.5)}

    monkeypatch.setattr(AppContext, "client_options", hooks)
    return waits


def track_auth0_clients(monkeypatch: pytest.MonkeyPatch) -> list[Auth0Client]:
    """Every Auth0Client made from now on, to check that the command closed each of them."""
    made: list[Auth0Client] = []
    original = Auth0Client.__init__

    def init(self: Auth0Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(Auth0Client, "__init__", init)
    return made


def is_closed(client: Auth0Client) -> bool:
    return client._http.is_closed


def deploy(capsys, *args: str) -> CliResult:
    return run_cli(capsys, "deploy-action", "--json", *args)


def management(server: SandboxServer) -> Auth0Client:
    """The tenant as a user would inspect it: through the Management API."""
    info = server.info()["auth0"]
    return Auth0Client(server.base_url, info["client_id"], info["client_secret"])


def tenant_view(server: SandboxServer, name: str = ACTION_NAME) -> dict[str, Any]:
    """Bindings by name and order, versions, secrets by name, the draft: exact values."""
    with management(server) as auth0:
        bindings = [b.display_name for b in auth0.get_bindings()]
        action = auth0.find_action(name)
        if action is None:
            return {"bindings": bindings, "action": None}
        versions = sorted(auth0.list_action_versions(action.id), key=lambda v: v.number or 0)
    live = action.deployed_version
    return {
        "bindings": bindings,
        "action": {
            "status": action.status,
            "runtime": action.runtime,
            "secrets": sorted(s.name for s in action.secrets),
            "all_changes_deployed": action.all_changes_deployed,
            "deployed": live.number if live else None,
            "versions": [v.number for v in versions],
        },
    }


def deployed_code(server: SandboxServer, name: str = ACTION_NAME) -> str:
    with management(server) as auth0:
        action = auth0.find_action(name)
    assert action is not None and action.deployed_version is not None
    return action.deployed_version.code or ""


def deployed_body(server: SandboxServer, name: str = ACTION_NAME) -> str:
    return split_trailer(deployed_code(server, name))[0]


def live_secrets(server: SandboxServer, name: str = ACTION_NAME) -> dict[str, str]:
    """The secret values a login hands the bound action (the sandbox's own view)."""
    for action in server.sandbox.auth0.post_login_actions():
        if action["name"] == name:
            return dict(action["secrets"])
    raise AssertionError(f"{name} is not bound")


def clear_requests(server: SandboxServer) -> None:
    httpx.delete(f"{server.base_url}/_sandbox/requests").raise_for_status()


def requests_seen(server: SandboxServer) -> list[tuple[str, str, int]]:
    answer = httpx.get(f"{server.base_url}/_sandbox/requests").json()["requests"]
    return [(r["method"], _generic(r["path"]), r["status"]) for r in answer]


def writes_seen(server: SandboxServer) -> list[tuple[str, str, int]]:
    return [r for r in requests_seen(server) if r[0] in WRITE_METHODS and r[1] != "/oauth/token"]


def _generic(path: str) -> str:
    """Action and version ids vary: `/actions/actions/{id}/...`."""
    path = re.sub(r"^/api/v2/actions/actions/[^/]+", "/api/v2/actions/actions/{id}", path)
    return re.sub(r"/versions/[^/]+", "/versions/{id}", path)


@contextmanager
def on_request(
    server: SandboxServer, matches: Callable[[str, str], bool], react: Callable[[], None]
) -> Iterator[None]:
    """Call `react()` each time the sandbox answers a matching request (method, path), just
    before the answer is sent: the event tests wait on instead of sleeping."""
    sandbox = server.sandbox
    original = sandbox.record

    def record(req, *args: Any, **kwargs: Any) -> None:
        original(req, *args, **kwargs)
        if matches(req.method, req.path):
            react()

    sandbox.record = record
    try:
        yield
    finally:
        sandbox.record = original


def build_poll(method: str, path: str) -> bool:
    return method == "GET" and ACTION_PATH.fullmatch(path) is not None


def cli_subprocess_env(server: SandboxServer, config_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STIGGCTL_")}
    env.update(profile_env(server))
    env.update(
        {
            "CI": "true",
            "NO_COLOR": "1",
            "STIGGCTL_CONFIG_DIR": config_dir,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        }
    )
    return env


class Once:
    """A threading.Event set by the first call."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self) -> None:
        self.event.set()


def test_requests_are_named_without_their_ids():
    assert _generic("/api/v2/actions/actions/abc-1/versions/v-9/deploy") == (
        "/api/v2/actions/actions/{id}/versions/{id}/deploy"
    )
    assert _generic("/api/v2/actions/triggers/post-login/bindings") == (
        "/api/v2/actions/triggers/post-login/bindings"
    )
