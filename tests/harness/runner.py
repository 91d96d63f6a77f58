"""Run rendered Action code in Node.js through run_action.js, from Python tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from stiggctl.core.action_settings import (
    M2M_CLIENT_ID_SECRET,
    M2M_CLIENT_SECRET_SECRET,
    M2M_TOKEN_CACHE_KEY,
    STIGG_API_KEY_SECRET,
    ActionSettings,
)
from stiggctl.core.render import render_action
from tests.scenarios import MANAGEMENT_TOKEN, SECRETS, Scenario

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "action_template"
HARNESS = Path(__file__).with_name("run_action.js")
INTERNALS = Path(__file__).with_name("call_internals.js")
SUMMARY = re.compile(
    r"^stiggctl (?P<version>\S+) (?P<verdict>allow|deny) (?P<reason>\S+) "
    r"steps=(?P<steps>[\d,]+) calls=(?P<calls>\d+)"
)
HOUR_MS = 3_600_000


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("Node.js is not on PATH")
    return path


def run_code(code: str, job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run `code` once in a fresh Node.js process; the harness's result."""
    return _node(HARNESS, code, job, workdir)


def call_internals(code: str, cases: list[dict[str, Any]], workdir: Path) -> list[Any]:
    """Results of internal functions of `code`: [{"function": name, "args": [...]}, ...]."""
    return _node(INTERNALS, code, cases, workdir)


def _node(script: Path, code: str, payload: Any, workdir: Path) -> Any:
    workdir.mkdir(parents=True, exist_ok=True)
    code_path = workdir / f"action-{len(list(workdir.glob('action-*.js')))}.js"
    code_path.write_text(code, encoding="utf-8")
    completed = subprocess.run(
        [node(), str(script), str(code_path)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def job_for(scenario: Scenario, **overrides: Any) -> dict[str, Any]:
    """The harness job for a scenario: its login, Stigg's state, Auth0's answers."""
    settings: ActionSettings = scenario.settings
    cache = {}
    if scenario.m2m_token_cached:
        token = {"clientId": SECRETS[M2M_CLIENT_ID_SECRET], "accessToken": MANAGEMENT_TOKEN}
        cache[M2M_TOKEN_CACHE_KEY] = {
            "value": json.dumps(token),
            "expires_at": scenario.now_ms + HOUR_MS,
        }
    job = {
        "now_ms": scenario.now_ms,
        "event": scenario.event,
        "cache": cache,
        "latency_ms": 0,
        "faults": scenario.faults,
        "stigg": {
            "url": settings.stigg_api_url,
            "api_key": SECRETS[STIGG_API_KEY_SECRET],
            "feature_id": settings.active_users_feature_id,
            "customers": list(scenario.stigg_customers),
            "entitlement": scenario.entitlement,
            "unknown_customer": scenario.unknown_customer,
        },
        "auth0": {
            "base_url": settings.auth0_base_url,
            "audience": settings.management_audience,
            "client_id": SECRETS[M2M_CLIENT_ID_SECRET],
            "client_secret": SECRETS[M2M_CLIENT_SECRET_SECRET],
            "access_token": MANAGEMENT_TOKEN,
            "expires_in": 86_400,
        },
    }
    job.update(overrides)
    return job


def run_scenario(scenario: Scenario, workdir: Path, **overrides: Any) -> dict[str, Any]:
    return run_code(render_action(scenario.settings).code, job_for(scenario, **overrides), workdir)


def summary_of(result: dict[str, Any]) -> dict[str, Any]:
    """The Action's one log line, parsed."""
    assert len(result["logs"]) == 1, result["logs"]
    match = SUMMARY.match(result["logs"][0])
    assert match, result["logs"][0]
    return {
        "verdict": match["verdict"],
        "reason": match["reason"],
        "steps": [int(number) for number in match["steps"].split(",")],
        "calls": int(match["calls"]),
    }


def outcome_of_run(result: dict[str, Any]) -> dict[str, Any]:
    """What the Action did, observed by the harness, in the shape of a scenario's `expect`."""
    assert result["error"] is None, result["error"]
    summary = summary_of(result)
    calls = result["calls"]
    assert summary["calls"] == len(calls)
    assert summary["verdict"] == result["verdict"]
    provisions = [c["request"]["variables"]["input"] for c in calls if _is(c, "provisionCustomer")]
    updates = [
        {
            "organization_id": unquote(c["url"].rsplit("/", 1)[1]),
            "metadata": c["request"]["metadata"],
        }
        for c in calls
        if c["operation"] == "auth0.updateOrganization"
    ]
    assert len(provisions) <= 1 and len(updates) <= 1
    rounds = result["round_trips"]
    return {
        "verdict": result["verdict"],
        "reason": summary["reason"],
        "steps": summary["steps"],
        "deny_message": result["deny_messages"][0] if result["deny_messages"] else None,
        "provision": provisions[0] if provisions else None,
        "app_metadata": result["app_metadata"],
        "organization_metadata": updates[0] if updates else None,
        "events": [
            event
            for c in calls
            if _is(c, "reportEvent")
            for event in c["request"]["variables"]["events"]["usageEvents"]
        ],
        "round_trips": [
            sorted(c["operation"] for c in calls if c["round_trip"] == number)
            for number in range(1, rounds + 1)
        ],
    }


def _is(call: dict[str, Any], field: str) -> bool:
    return call["operation"] == f"stigg.{field}"
