"""Starting the sandbox for a test: in-process (fast, with a frozen clock when asked) or as
the real `stiggctl sandbox serve` process. Either way it is stopped by the test."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from stiggctl.core.action_settings import ActionSettings
from stiggctl.core.render import render_action
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import FaultPlan
from stiggctl.sandbox.server import SandboxOptions, SandboxServer


@contextlib.contextmanager
def running_sandbox(**options: Any) -> Iterator[SandboxServer]:
    options.setdefault("build_seconds", 0.05)
    options.setdefault("faults", FaultPlan())
    options.setdefault("clock", Clock())
    server = SandboxServer(SandboxOptions(**options)).start()
    try:
        yield server
    finally:
        server.stop()


def management_token(base_url: str, client_id: str, client_secret: str) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": f"{base_url}/api/v2/",
        },
    )
    response.raise_for_status()
    return response.json()["access_token"]


def install_rendered_action(server: SandboxServer, name: str, settings: ActionSettings) -> None:
    """The Action rendered from `settings`, deployed and bound at the end of post-login,
    holding the sandbox's Stigg key and stiggctl's M2M client as its secrets."""
    info = server.info()
    server.sandbox.auth0.add_action(
        name,
        render_action(settings).code,
        secrets={
            "STIGG_API_KEY": info["stigg"]["api_key"],
            "AUTH0_M2M_CLIENT_ID": info["auth0"]["client_id"],
            "AUTH0_M2M_CLIENT_SECRET": info["auth0"]["client_secret"],
        },
    )


def sandbox_env(server: SandboxServer) -> dict[str, str]:
    from stiggctl.commands.sandbox import sandbox_env as env_of

    return env_of(server.info())


@contextlib.contextmanager
def sandbox_process(*args: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen, dict]]:
    """`stiggctl sandbox serve` as a user runs it; yields the process and its info."""
    info_file = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stiggctl",
            "--json",
            "sandbox",
            "serve",
            "--port",
            "0",
            "--info-file",
            str(info_file),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        # The first stdout line is printed once the port is bound: no polling needed.
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        info = json.loads(line)["data"]
        info["info_file"] = str(info_file)
        yield proc, info
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()
