"""deploy-action as CI runs it (`python -m stiggctl`, environment only): killed half-way and
completed by the next run, stopped by SIGTERM, and two runs at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import pytest

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from tests.sandbox_helpers import running_sandbox
from tests.test_deploy_support import (
    ACTION_NAME,
    ROLES,
    Once,
    build_poll,
    cli_subprocess_env,
    on_request,
    requests_seen,
    tenant_view,
)

BUILD_SECONDS = 5.0
# Long enough for a slow machine, short enough to notice a hang.
PROCESS_TIMEOUT = 60


def start_deploy(server, tmp_path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "stiggctl", "deploy-action", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_subprocess_env(server, str(tmp_path / "config")),
    )


def finish(proc: subprocess.Popen) -> tuple[int, dict, str]:
    out, err = proc.communicate(timeout=PROCESS_TIMEOUT)
    return proc.returncode, json.loads(out) if out.strip() else {}, err


def deploy_request(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/deploy")


@pytest.fixture
def frozen_sandbox():
    # A frozen clock: a build only finishes when the test moves time forward.
    with running_sandbox(clock=Clock(start=1_800_000_000.0), build_seconds=BUILD_SECONDS) as server:
        yield server


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
def test_a_run_stopped_while_the_build_runs_is_completed_by_the_next(
    frozen_sandbox, tmp_path, stop
):
    server = frozen_sandbox
    polled = Once()
    with on_request(server, build_poll, polled):
        proc = start_deploy(server, tmp_path)
        try:
            assert polled.event.wait(PROCESS_TIMEOUT), "the run never waited for the build"
            proc.send_signal(stop)
            code, payload, _err = finish(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if stop == signal.SIGTERM:
        assert code == 130
        assert payload["error"]["code"] == "interrupted"
        assert payload["error"]["message"] == f"Interrupted while deploying '{ACTION_NAME}'."
    else:
        assert code == -signal.SIGKILL
    # Stopped mid-build: the action exists with its draft, nothing is live or bound.
    view = tenant_view(server)
    assert (view["action"]["status"], view["action"]["deployed"]) == ("pending", None)
    assert view["bindings"] == [ROLES]

    server.sandbox.clock.advance(BUILD_SECONDS)
    # With a frozen clock nothing goes live by itself: each deploy request moves time past
    # the deploy delay, so the run that asked sees it live on its next look.
    with on_request(server, deploy_request, lambda: server.sandbox.clock.advance(BUILD_SECONDS)):
        code, payload, err = finish(start_deploy(server, tmp_path))
    assert code == 0, err
    data = payload["data"]
    assert [s["step"] for s in data["steps"]] == ["deploy", "bind"]
    assert (data["version"], data["bound"], data["position"]) == (1, True, 2)
    assert tenant_view(server) == {
        "bindings": [ROLES, ACTION_NAME],
        "action": {
            "status": "built",
            "runtime": "node22",
            "secrets": ["AUTH0_M2M_CLIENT_ID", "AUTH0_M2M_CLIENT_SECRET", "STIGG_API_KEY"],
            "all_changes_deployed": True,
            "deployed": 1,
            "versions": [1],
        },
    }


def test_two_runs_at_once_end_with_one_binding_and_every_other_kept(tmp_path):
    with running_sandbox() as server:
        server.sandbox.auth0.add_action(
            "Audit log", "exports.onExecutePostLogin = async () => {};\n"
        )
        # Hold both runs' first look at the actions until both have asked, so that both
        # see no action and both try to create it: the race two CI jobs can run into.
        both_looked = threading.Barrier(2, timeout=PROCESS_TIMEOUT)
        looks: list[str] = []

        def first_two_looks(method: str, path: str) -> bool:
            if method == "GET" and path == "/api/v2/actions/actions" and len(looks) < 2:
                looks.append(path)
                return True
            return False

        # Slow creates down a little so that the two really overlap.
        server.sandbox.faults.replace(
            FaultPlan(
                rules=[FaultRule(route="/api/v2/actions/actions", method="POST", latency_ms=100)]
            )
        )
        with on_request(server, first_two_looks, both_looked.wait):
            runs = [start_deploy(server, tmp_path / str(i)) for i in range(2)]
            results = [finish(proc) for proc in runs]
        for code, _payload, err in results:
            assert code == 0, err
        steps = sorted([s["step"] for s in payload["data"]["steps"]] for _c, payload, _e in results)
        # One created the action; the other met the 409 and joined it.
        assert [s[0] if s else None for s in steps].count("create") == 1
        creates = [r for r in requests_seen(server) if r[:2] == ("POST", "/api/v2/actions/actions")]
        assert sorted(status for _m, _p, status in creates) == [201, 409]
        view = tenant_view(server)
        assert view["bindings"] == [ROLES, "Audit log", ACTION_NAME]
        assert view["action"]["status"] == "built"
        assert view["action"]["all_changes_deployed"] is True
        assert view["action"]["deployed"] == view["action"]["versions"][-1]
        assert len({payload["data"]["action_id"] for _c, payload, _e in results}) == 1
