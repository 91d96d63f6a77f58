"""`stiggctl demo`: the whole story on the embedded sandbox, leaving nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from stiggctl.config import profiles
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.node


def test_demo_tells_the_whole_story(capsys, monkeypatch, forbidden_keyring):
    monkeypatch.setenv("STIGGCTL_MODE", "b2c")  # the user's own settings must not leak in
    before = dict(os.environ)
    result = run_cli(capsys, "--json", "demo", "--build-seconds", "0.05")
    assert result.exit_code == 0, result.stderr
    data = result.json()["data"]
    assert data["setup"]["settings"]["mode"] == "b2b"
    assert data["setup"]["settings"]["b2b_plan"] == "plan-free"
    assert data["deploy"]["bound"] is True
    assert [step["step"] for step in data["deploy"]["steps"]] == ["create", "deploy", "bind"]
    # The Action holds its own least-privilege client, not stiggctl's.
    assert data["deploy"]["action_client"] == {"client_id": "stiggctl-action-client", "own": True}
    assert data["deploy"]["warnings"] == []
    logins = [(x["user_id"], x["allowed"], x["calls"]) for x in data["logins"]]
    assert logins == [
        ("auth0|demo-alice", True, 5),  # a new organization: provisioned, 3 round trips
        ("auth0|demo-bob", True, 2),
        ("auth0|demo-carol", True, 2),
        ("auth0|demo-dave", False, 1),  # the fourth active user of a 3-user plan
        ("auth0|demo-alice", True, 0),  # already counted this period: no call at all
    ]
    assert data["logins"][3]["reason"] == "Access Denied"
    explanation = data["explanation"]
    assert (explanation["user_id"], explanation["verdict"]) == ("auth0|demo-dave", "deny")
    assert explanation["decision"]["effects"]["events"] == []
    [customer] = data["mau"]["customers"]
    assert (customer["active_users"], customer["limit"], customer["status"]) == (3, 3, "at_limit")
    # Nothing left behind: the environment as it was, no profile in the user's config.
    assert dict(os.environ) == before
    assert profiles.read_all() == {}
    secret = data["setup"]["settings"]
    assert "client_secret" not in json.dumps(secret)


def test_demo_narrates_for_a_person(capsys):
    result = run_cli(capsys, "demo", "--build-seconds", "0.05")
    assert result.exit_code == 0, result.stderr
    for line in (
        "1. A sandbox tenant",
        "2. Set up stiggctl",
        "3. Deploy the post-login Action",
        "4. Members of Acme Corp log in",
        "5. Why was auth0|demo-dave refused?",
        "6. Active users per customer",
        "DENY (limit_reached)",
    ):
        assert line in result.stdout
    assert result.stdout.count("denied") == 1
    assert not result.stdout.lstrip().startswith("{")


def test_keep_running_until_terminated(tmp_path):
    info_file = tmp_path / "sandbox.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stiggctl",
            "demo",
            "--keep-running",
            "--build-seconds",
            "0.05",
            "--info-file",
            str(info_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "export STIGGCTL_PROFILE=demo" in text
        info = json.loads(info_file.read_text())
        assert info["base_url"] in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert not info_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
