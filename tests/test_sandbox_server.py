"""The sandbox over real HTTP: routing, logins through bound actions, faults, state."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import httpx
import pytest

from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID, CONSUMER_APP_ID
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from tests.sandbox_helpers import management_token, running_sandbox, sandbox_process

DENY_ALL = """
exports.onExecutePostLogin = async (event, api) => {
  console.log('denying ' + event.user.user_id);
  api.user.setAppMetadata('seen_by_gate', true);
  api.access.deny('closed for maintenance');
};
"""


def _auth(server):
    info = server.info()
    token = management_token(
        server.base_url, info["auth0"]["client_id"], info["auth0"]["client_secret"]
    )
    return {"authorization": f"Bearer {token}"}


def test_routes_auth0_stigg_and_control():
    with running_sandbox() as server:
        info = server.info()
        headers = _auth(server)
        users = httpx.get(f"{server.base_url}/api/v2/users", headers=headers)
        assert users.status_code == 200
        assert users.headers["x-ratelimit-limit"]
        assert len(users.json()) >= 12
        plans = httpx.post(
            info["stigg"]["api_url"],
            json={"query": "{ plans { edges { node { refId } } } }"},
            headers={"x-api-key": info["stigg"]["api_key"]},
        )
        assert plans.status_code == 200
        refs = {e["node"]["refId"] for e in plans.json()["data"]["plans"]["edges"]}
        assert {"plan-free", "plan-pro", "plan-enterprise"} <= refs
        bad_key = httpx.post(
            info["stigg"]["api_url"],
            json={"query": "{ plans { totalCount } }"},
            headers={"x-api-key": "server-wrong"},
        )
        assert bad_key.status_code == 401
        assert httpx.get(f"{server.base_url}/_sandbox/health").json() == {"ok": True}
        assert httpx.get(f"{server.base_url}/_sandbox/nope").status_code == 404


def test_info_lists_applications_of_each_behaviour():
    with running_sandbox() as server:
        apps = {a["organization_usage"]: a["client_id"] for a in server.info()["applications"]}
        assert apps["deny"] == CONSUMER_APP_ID
        assert apps["require"] == BUSINESS_APP_ID
        assert set(apps) == {"deny", "require", "allow"}


@pytest.mark.node
def test_login_runs_bound_actions_in_order_and_applies_effects():
    with running_sandbox() as server:
        server.sandbox.auth0.add_action("Gate", DENY_ALL, deploy=True, bind=True)
        response = httpx.post(
            f"{server.base_url}/_sandbox/login",
            json={"user_id": "auth0|demo-alice", "org_id": ACME, "client_id": BUSINESS_APP_ID},
            timeout=30,
        )
        assert response.status_code == 200
        result = response.json()
        assert result["allowed"] is False
        assert result["deny_reason"] == "closed for maintenance"
        assert [a["name"] for a in result["actions"]] == ["Add roles claim", "Gate"]
        assert [a["status"] for a in result["actions"]] == ["ok", "denied"]
        assert result["actions"][1]["console"] == ["denying auth0|demo-alice"]
        user = server.sandbox.auth0.get_user("auth0|demo-alice")
        # metadata requested before the denial is saved; a denied login is not a login
        assert user["app_metadata"]["seen_by_gate"] is True
        assert "last_login" not in user


@pytest.mark.node
def test_allowed_login_updates_last_login():
    with running_sandbox() as server:
        result = server.sandbox.login("auth0|demo-alice", org_id=ACME, client_id=BUSINESS_APP_ID)
        assert result["allowed"] is True
        user = server.sandbox.auth0.get_user("auth0|demo-alice")
        assert user["logins_count"] == 1
        assert "last_login" in user


def test_login_errors_are_400s():
    with running_sandbox() as server:
        base = server.base_url
        assert httpx.post(f"{base}/_sandbox/login", json={}).status_code == 400
        assert (
            httpx.post(f"{base}/_sandbox/login", json={"user_id": "x", "bogus": 1}).status_code
            == 400
        )
        unknown = httpx.post(f"{base}/_sandbox/login", json={"user_id": "auth0|nobody"})
        assert unknown.status_code in (400, 404)
        assert "auth0|nobody" in unknown.json()["message"]


def test_injected_errors_429s_and_drops():
    with running_sandbox() as server:
        base = server.base_url
        server.sandbox.faults.replace(
            FaultPlan(rules=[FaultRule(route="/api/v2/users", fail_next=1, status=500)])
        )
        headers = _auth(server)
        first = httpx.get(f"{base}/api/v2/users", headers=headers)
        assert first.status_code == 500
        assert first.json()["statusCode"] == 500
        assert httpx.get(f"{base}/api/v2/users", headers=headers).status_code == 200

        change = httpx.put(
            f"{base}/_sandbox/faults",
            json={"rules": [{"route": "/api/v2/", "burst_429": 2, "retry_after": 3}]},
        )
        assert change.status_code == 200
        for _ in range(2):
            limited = httpx.get(f"{base}/api/v2/users", headers=headers)
            assert limited.status_code == 429
            assert limited.headers["retry-after"] == "3"
            assert int(limited.headers["x-ratelimit-reset"]) >= int(server.sandbox.clock()) + 3
            assert limited.json()["errorCode"] == "too_many_requests"
        assert httpx.get(f"{base}/api/v2/users", headers=headers).status_code == 200

        httpx.put(
            f"{base}/_sandbox/faults", json={"rules": [{"route": "/graphql", "drop_next": 1}]}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{base}/graphql", json={"query": "{ plans { totalCount } }"})
        # control paths are never faulted
        assert httpx.get(f"{base}/_sandbox/faults").json()["rules"][0]["drop_next"] == 0


def test_bad_fault_settings_are_refused():
    with running_sandbox() as server:
        response = httpx.put(
            f"{server.base_url}/_sandbox/faults", json={"rules": [{"error_rate": 2}]}
        )
        assert response.status_code == 400
        assert "error_rate" in response.json()["message"]


def test_fault_plan_is_deterministic_for_a_seed():
    def draws(seed):
        plan = FaultPlan(rules=[FaultRule(error_rate=0.5)], seed=seed)
        return [plan.decide("GET", "/x").fault is not None for _ in range(32)]

    assert draws(7) == draws(7)
    assert 0 < sum(draws(7)) < 32


def test_latency_is_added_per_matching_rule():
    plan = FaultPlan(rules=[FaultRule(latency_ms=25), FaultRule(route="/graphql", latency_ms=5)])
    assert plan.decide("POST", "/graphql").latency_ms == 30
    assert plan.decide("GET", "/api/v2/users").latency_ms == 25


def test_state_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    with running_sandbox(state_file=state) as server:
        headers = _auth(server)
        info = server.info()
        patched = httpx.patch(
            f"{server.base_url}/api/v2/organizations/{ACME}",
            json={"metadata": {"plan": "pro"}},
            headers=headers,
        )
        assert patched.status_code == 200
    assert json.loads(state.read_text())["version"] == 1
    with running_sandbox(state_file=state) as again:
        assert again.info()["auth0"]["client_secret"] == info["auth0"]["client_secret"]
        assert again.sandbox.auth0.get_org(ACME)["metadata"] == {"plan": "pro"}


def test_corrupted_state_file_is_a_clear_error(tmp_path):
    from stiggctl.errors import StiggctlError

    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(StiggctlError) as info, running_sandbox(state_file=state):
        pass
    assert str(state) in info.value.message


def test_serve_env_login_and_sigterm(tmp_path):
    with sandbox_process(tmp_path=tmp_path) as (proc, info):
        assert info["base_url"].startswith("http://127.0.0.1:")
        env_out = subprocess.run(
            [sys.executable, "-m", "stiggctl", "sandbox", "env", "--info-file", info["info_file"]],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        assert f"export STIGGCTL_AUTH0_DOMAIN={info['base_url']}\n" in env_out
        assert f"export STIGGCTL_STIGG_API_URL={info['base_url']}/graphql\n" in env_out
        login = subprocess.run(
            [
                sys.executable,
                "-m",
                "stiggctl",
                "--json",
                "sandbox",
                "login",
                "--user",
                "auth0|demo-alice",
                "--info-file",
                info["info_file"],
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert login.returncode == 0, login.stderr
        assert json.loads(login.stdout)["data"]["allowed"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert not (tmp_path / "sandbox.json").exists()


def test_info_file_errors(tmp_path, capsys):
    from tests.cli_helpers import run_cli

    missing = run_cli(
        capsys, "--json", "sandbox", "env", "--info-file", str(tmp_path / "none.json")
    )
    assert missing.exit_code == 1
    assert "sandbox serve --info-file" in missing.json()["error"]["hint"]


def test_requests_are_recorded_for_counting():
    with running_sandbox() as server:
        base = server.base_url
        headers = _auth(server)
        httpx.delete(f"{base}/_sandbox/requests")
        httpx.get(f"{base}/api/v2/clients", headers=headers)
        httpx.patch(f"{base}/api/v2/organizations/{ACME}", json={"metadata": {}}, headers=headers)
        recorded = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
        first, second = recorded
        assert first["arrived"] <= first["answered"] <= second["arrived"] <= second["answered"]
        assert [{k: r[k] for k in ("method", "path", "status")} for r in recorded] == [
            {"method": "GET", "path": "/api/v2/clients", "status": 200},
            {"method": "PATCH", "path": f"/api/v2/organizations/{ACME}", "status": 200},
        ]


def test_login_rendering_shows_the_actions_text_as_written():
    import io

    from rich.console import Console

    from stiggctl.commands.sandbox import render_login

    result = {
        "user_id": "auth0|demo-alice",
        "org_id": ACME,
        "allowed": False,
        "deny_reason": "over [limit]",
        "actions": [
            {
                "name": "Gate [v2]",
                "status": "denied",
                "duration_ms": 1.5,
                "http_calls": [
                    {"method": "GET", "url": "http://x/[a]", "status": 200, "duration_ms": 2.0}
                ],
                "console": ["[bold]limit[/] reached"],
            }
        ],
    }
    stream = io.StringIO()
    render_login(Console(file=stream, width=120, color_system=None), result)
    assert stream.getvalue().splitlines() == [
        f"Login of auth0|demo-alice into {ACME}: denied",
        "  reason: over [limit]",
        "action     status  ms   calls",
        "Gate [v2]  denied  1.5  1    ",
        "  Gate [v2]: GET http://x/[a] -> 200 (2.0 ms)",
        "  Gate [v2] log: [bold]limit[/] reached",
    ]


def test_a_tls_sandbox_without_trustme_is_a_clear_error_and_gives_its_port_back(monkeypatch):
    from stiggctl.errors import ErrorCode, StiggctlError
    from stiggctl.sandbox import server as server_module
    from stiggctl.sandbox.server import SandboxOptions, SandboxServer

    closed: list[int] = []
    close = server_module._HTTPServer.server_close

    def recording_close(httpd) -> None:
        closed.append(httpd.server_address[1])
        close(httpd)

    monkeypatch.setattr(server_module._HTTPServer, "server_close", recording_close)
    monkeypatch.setitem(sys.modules, "trustme", None)  # as if the [tls] extra were missing
    with pytest.raises(StiggctlError) as caught:
        SandboxServer(SandboxOptions(tls=True))
    assert (caught.value.code, caught.value.hint) == (
        ErrorCode.CONFIG_ERROR,
        "pip install 'stiggctl[tls]'",
    )
    assert len(closed) == 1


def test_rate_limit_headers_speak_of_real_time_after_time_travel():
    import time

    with running_sandbox(rate_limit_per_second=2.0) as server:
        headers = _auth(server)
        server.sandbox.clock.advance(40 * 86400)  # into another usage period
        answers = [
            httpx.get(f"{server.base_url}/api/v2/clients", headers=headers) for _ in range(4)
        ]
        limited = [a for a in answers if a.status_code == 429]
        assert limited, [a.status_code for a in answers]
        for answer in answers:
            reset = int(answer.headers["x-ratelimit-reset"])
            assert reset <= time.time() + 5  # not 40 days away
        server.sandbox.faults.replace(FaultPlan(rules=[FaultRule(burst_429=1)]))
        injected = httpx.get(f"{server.base_url}/api/v2/clients", headers=headers)
        assert injected.status_code == 429
        assert int(injected.headers["x-ratelimit-reset"]) <= time.time() + 5


def test_a_server_that_is_not_a_sandbox_is_a_clear_error(capsys, monkeypatch):
    from tests.cli_helpers import run_cli

    with running_sandbox() as server:
        # Something answers on the port, but not what a sandbox would say.
        monkeypatch.setenv("STIGGCTL_AUTH0_DOMAIN", server.base_url + "/")
        original = server.sandbox._control

        def not_json(req):
            from stiggctl.sandbox.http import Response

            return Response(200, b"<html>hello</html>", {"content-type": "text/html"})

        monkeypatch.setattr(server.sandbox, "_control", not_json)
        result = run_cli(capsys, "--json", "sandbox", "advance-clock", "--days", "1")
        monkeypatch.setattr(server.sandbox, "_control", original)
    assert result.exit_code == 1
    error = result.json()["error"]
    assert error["code"] == "api_error"
    assert "did not answer as a stiggctl sandbox does (HTTP 200)" in error["message"]


def test_an_action_client_of_its_own_is_seeded_on_request():
    from stiggctl.commands.sandbox import sandbox_env

    with running_sandbox() as plain:
        assert "STIGGCTL_ACTION_CLIENT_ID" not in sandbox_env(plain.info())
    with running_sandbox(action_client=True) as server:
        env = sandbox_env(server.info())
        assert env["STIGGCTL_ACTION_CLIENT_ID"] == "stiggctl-action-client"
        token = management_token(
            server.base_url, env["STIGGCTL_ACTION_CLIENT_ID"], env["STIGGCTL_ACTION_CLIENT_SECRET"]
        )
        headers = {"authorization": f"Bearer {token}"}
        # update:organizations only: reading users is refused.
        assert httpx.get(f"{server.base_url}/api/v2/users", headers=headers).status_code == 403
        patched = httpx.patch(
            f"{server.base_url}/api/v2/organizations/{ACME}",
            json={"metadata": {"customer_provisioned": "true"}},
            headers=headers,
        )
        assert patched.status_code == 200
