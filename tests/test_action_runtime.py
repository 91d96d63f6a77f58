"""Behaviour of the rendered Action that only the JavaScript has: the M2M token in api.cache,
timeouts and the budget, exceptions, missing secrets, the exact requests it sends."""

from __future__ import annotations

import dataclasses
import json

import pytest

from stiggctl.core.action_settings import M2M_TOKEN_CACHE_KEY
from stiggctl.core.render import render_action
from tests.harness.runner import job_for, run_code, run_scenario, summary_of
from tests.scenarios import MANAGEMENT_TOKEN, SECRETS, Scenario, load_scenarios

pytestmark = pytest.mark.node

SCENARIOS = {scenario.name: scenario for scenario in load_scenarios()}
DAY_MS = 86_400_000


def scenario(name: str, **changes) -> Scenario:
    return dataclasses.replace(SCENARIOS[name], **changes)


def with_settings(base: Scenario, **settings) -> Scenario:
    return dataclasses.replace(base, settings=dataclasses.replace(base.settings, **settings))


def with_event(base: Scenario, **event) -> Scenario:
    return dataclasses.replace(base, event={**base.event, **event})


def operations(result) -> list[str]:
    return [call["operation"] for call in result["calls"]]


def test_requests_are_what_stigg_and_auth0_expect(tmp_path):
    result = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path)
    calls = {call["operation"]: call for call in result["calls"]}
    for name in ("stigg.provisionCustomer", "stigg.entitlement", "stigg.reportEvent"):
        assert calls[name]["url"] == "https://api.stigg.io/graphql"
        assert calls[name]["headers"]["x-api-key"] == SECRETS["STIGG_API_KEY"]
        assert calls[name]["headers"]["content-type"] == "application/json"
    assert calls["stigg.entitlement"]["request"]["variables"] == {
        "query": {
            "customerId": "org_acme",
            "featureId": "feature-active-users",
            "options": {"requestedUsage": 1},
        }
    }
    token = calls["auth0.oauthToken"]
    assert (token["method"], token["url"]) == ("POST", "https://acme.eu.auth0.com/oauth/token")
    assert token["request"] == {
        "grant_type": "client_credentials",
        "client_id": SECRETS["AUTH0_M2M_CLIENT_ID"],
        "client_secret": SECRETS["AUTH0_M2M_CLIENT_SECRET"],
        "audience": "https://acme.eu.auth0.com/api/v2/",
    }
    update = calls["auth0.updateOrganization"]
    assert (update["method"], update["url"]) == (
        "PATCH",
        "https://acme.eu.auth0.com/api/v2/organizations/org_acme",
    )
    assert update["headers"]["authorization"] == f"Bearer {MANAGEMENT_TOKEN}"
    assert update["status"] == 200


def test_management_token_is_cached_across_executions(tmp_path):
    first = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path)
    entry = first["cache"][M2M_TOKEN_CACHE_KEY]
    assert json.loads(entry["value"]) == {
        "clientId": SECRETS["AUTH0_M2M_CLIENT_ID"],
        "accessToken": MANAGEMENT_TOKEN,
    }
    # expires_in 86400 s, minus a 5 minute margin, within the cache's 24 h maximum.
    assert ["set", M2M_TOKEN_CACHE_KEY, {"ttl": DAY_MS - 300_000}] in first["cache_operations"]
    assert entry["expires_at"] == SCENARIOS["b2b_new_org_first_login"].now_ms + DAY_MS - 300_000

    second_org = {"id": "org_beta", "name": "beta", "display_name": "Beta", "metadata": {}}
    second = with_event(SCENARIOS["b2b_new_org_first_login"], organization=second_org)
    result = run_scenario(second, tmp_path, cache=first["cache"])
    assert operations(result) == [
        "stigg.provisionCustomer",
        "stigg.entitlement",
        "auth0.updateOrganization",
        "stigg.reportEvent",
    ]
    assert result["round_trips"] == 3


def test_a_token_cached_for_another_m2m_client_is_not_used(tmp_path):
    foreign = {"clientId": "another-client", "accessToken": "foreign-token"}
    cache = {M2M_TOKEN_CACHE_KEY: {"value": json.dumps(foreign)}}
    result = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path, cache=cache)
    assert "auth0.oauthToken" in operations(result)
    assert (
        json.loads(result["cache"][M2M_TOKEN_CACHE_KEY]["value"])["clientId"]
        == (SECRETS["AUTH0_M2M_CLIENT_ID"])
    )


def test_a_rejected_cached_token_is_dropped_and_the_login_goes_on(tmp_path):
    stale = {"clientId": SECRETS["AUTH0_M2M_CLIENT_ID"], "accessToken": "revoked-token"}
    cache = {M2M_TOKEN_CACHE_KEY: {"value": json.dumps(stale)}}
    result = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path, cache=cache)
    update = next(c for c in result["calls"] if c["operation"] == "auth0.updateOrganization")
    assert update["status"] == 401
    assert ["delete", M2M_TOKEN_CACHE_KEY] in result["cache_operations"]
    assert M2M_TOKEN_CACHE_KEY not in result["cache"]
    summary = summary_of(result)
    # Step 4 (the mark) did not happen; the next login provisions again (Duplicate) and retries.
    assert (summary["verdict"], summary["reason"], summary["steps"]) == (
        "allow",
        "granted",
        [1, 2, 3, 6, 7, 8, 9, 10, 11],
    )
    assert "auth0.updateOrganization: HTTP 401" in result["logs"][0]


def test_missing_m2m_secrets_skip_the_organization_update(tmp_path):
    base = SCENARIOS["b2b_new_org_first_login"]
    event = with_event(base, secrets={"STIGG_API_KEY": SECRETS["STIGG_API_KEY"]})
    result = run_scenario(event, tmp_path)
    assert operations(result) == [
        "stigg.provisionCustomer",
        "stigg.entitlement",
        "stigg.reportEvent",
    ]
    assert summary_of(result)["reason"] == "granted"
    assert "M2M secrets missing" in result["logs"][0]


@pytest.mark.parametrize(("policy", "verdict"), [("open", "allow"), ("closed", "deny")])
def test_missing_stigg_key_is_a_stigg_failure(policy, verdict, tmp_path):
    base = with_settings(SCENARIOS["b2b_new_active_user_under_limit"], fail_policy=policy)
    result = run_scenario(with_event(base, secrets={}), tmp_path)
    assert result["calls"] == []
    assert (result["verdict"], summary_of(result)["reason"]) == (verdict, "stigg_unavailable")
    assert "secret STIGG_API_KEY missing" in result["logs"][0]


@pytest.mark.parametrize(
    ("policy", "verdict", "messages"),
    [
        ("open", "allow", []),
        (
            "closed",
            "deny",
            ["Sign-in is temporarily unavailable. Please try again in a few minutes."],
        ),
    ],
)
def test_an_exception_never_escapes_the_action(policy, verdict, messages, tmp_path):
    base = with_settings(SCENARIOS["b2b_new_active_user_under_limit"], fail_policy=policy)
    broken = dict(base.event)
    del broken["user"]
    result = run_scenario(dataclasses.replace(base, event=broken), tmp_path)
    assert result["error"] is None
    assert (result["verdict"], result["deny_messages"]) == (verdict, messages)
    assert summary_of(result)["reason"] == "internal_error"
    assert "unexpected TypeError" in result["logs"][0]


def test_a_slow_stigg_call_is_cut_at_the_per_call_timeout(tmp_path):
    result = run_scenario(SCENARIOS["stigg_slow_fail_open"], tmp_path)
    (call,) = result["calls"]
    assert (call["operation"], call["outcome"]) == ("stigg.entitlement", "TimeoutError")
    assert "stigg.entitlement timed out" in result["logs"][0]


def test_the_budget_bounds_the_whole_action(tmp_path):
    # Each answer takes 700 ms: the entitlement fits its 1000 ms timeout, but the report is
    # cut when the 1200 ms budget runs out, and fail-open lets the user in uncounted.
    slow = with_settings(
        SCENARIOS["b2b_new_active_user_under_limit"], call_timeout_ms=1000, budget_ms=1200
    )
    result = run_scenario(slow, tmp_path, latency_ms=700)
    assert [(c["operation"], c["outcome"]) for c in result["calls"]] == [
        ("stigg.entitlement", "answered"),
        ("stigg.reportEvent", "TimeoutError"),
    ]
    summary = summary_of(result)
    assert (summary["verdict"], summary["reason"], summary["steps"]) == (
        "allow",
        "stigg_unavailable",
        [1, 2, 6, 7, 8, 10, 11],
    )
    assert result["app_metadata"] == {}


def test_calls_in_flight_together_count_as_one_round_trip_under_latency(tmp_path):
    result = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path, latency_ms=25)
    assert sorted((c["round_trip"], c["operation"]) for c in result["calls"]) == [
        (1, "auth0.oauthToken"),
        (1, "stigg.provisionCustomer"),
        (2, "auth0.updateOrganization"),
        (2, "stigg.entitlement"),
        (3, "stigg.reportEvent"),
    ]
    assert result["round_trips"] == 3


def test_a_counted_login_makes_the_next_one_free(tmp_path):
    first = run_scenario(SCENARIOS["b2b_new_active_user_under_limit"], tmp_path)
    user = {**SCENARIOS["b2b_new_active_user_under_limit"].event["user"]}
    user["app_metadata"] = {**user["app_metadata"], **first["app_metadata"]}
    later = with_event(SCENARIOS["b2b_new_active_user_under_limit"], user=user)
    six_hours_later = dataclasses.replace(later, now_ms=later.now_ms + 6 * 3_600_000)
    result = run_scenario(six_hours_later, tmp_path)
    assert result["calls"] == []
    assert summary_of(result)["reason"] == "counted_this_period"
    a_day_later = dataclasses.replace(later, now_ms=later.now_ms + DAY_MS)
    assert operations(run_scenario(a_day_later, tmp_path)) == [
        "stigg.entitlement",
        "stigg.reportEvent",
    ]


def test_one_short_log_line_without_secrets_in_every_scenario(tmp_path):
    code = {}
    for item in SCENARIOS.values():
        rendered = code.setdefault(item.settings, render_action(item.settings).code)
        result = run_code(rendered, job_for(item), tmp_path / item.name)
        (line,) = result["logs"]
        assert len(line) <= 256
        assert not any(secret in line for secret in SECRETS.values())
        assert MANAGEMENT_TOKEN not in line
