"""simulate-login against the sandbox over real HTTP: the verdict, steps and exit code of each
kind of login; that it writes nothing; and that it agrees with a real login of the rendered
Action in the same state."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import graphql
import pytest

from stiggctl.app import AppContext
from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.retry import RetryPolicy
from stiggctl.config.action import action_settings
from stiggctl.config.settings import load_settings
from stiggctl.core.action_settings import DEFAULT_RETRY_MESSAGE
from stiggctl.core.login import parse_time
from stiggctl.sandbox.auth0 import SandboxError
from stiggctl.sandbox.auth0.seed import (
    ACME,
    BUSINESS_APP_ID,
    GLOBEX,
    WORKSPACE_APP_ID,
    demo_user_id,
)
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from stiggctl.sandbox.http import json_response
from tests.cli_helpers import CliResult, run_cli
from tests.sandbox_helpers import install_rendered_action, running_sandbox, sandbox_env

AT = "2025-03-14T09:30:00.000Z"
AT_MS = parse_time(AT)
DAY_S = 86_400
# ACME's subscription, hence its monthly usage periods, began ten days before the login.
SUBSCRIBED_S = AT_MS / 1000 - 10 * DAY_S
PERIOD_START = "2025-03-04T09:30:00.000Z"
PERIOD_END_MS = parse_time("2025-04-04T09:30:00.000Z")
# Counted users logged in 30 hours ago: in this period, but older than the one-day shortcut.
ACTIVE_LOGIN_MS = AT_MS - 30 * 3_600_000
ACTION = "Stigg Integration (stiggctl)"
READS = {("POST", "/oauth/token"), ("POST", "/graphql")}


def uid(name: str) -> str:
    return demo_user_id(name)


@pytest.fixture
def server(monkeypatch):
    with running_sandbox(clock=Clock(start=AT_MS / 1000)) as server:
        for name, value in sandbox_env(server).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("STIGGCTL_MODE", "both")
        monkeypatch.setenv("STIGGCTL_B2C_PLAN", "plan-free")
        monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-free")
        # A vendor answering 503 is retried: without waiting, here.
        monkeypatch.setattr(
            AppContext, "client_options", lambda self: {"retry": RetryPolicy(sleep=lambda _s: None)}
        )
        yield server


def management(server) -> Auth0Client:
    auth0 = server.info()["auth0"]
    return Auth0Client(auth0["domain"], auth0["client_id"], auth0["client_secret"])


def acme_as_customer(server, active: tuple[str, ...], counted: str | None = None) -> None:
    """ACME provisioned (in Stigg on plan-free, marked in Auth0) with `active` counted this
    period; `counted` also logged in an hour ago (the zero-call shortcut)."""
    stigg = server.sandbox.stigg
    stigg.add_customer(ACME, name="Acme Corp", plan_ref_id="plan-free", start_date=SUBSCRIBED_S)
    stigg.record_logins(ACME, [uid(name) for name in active], at=ACTIVE_LOGIN_MS / 1000)
    with management(server) as auth0:
        metadata = auth0.get_organization(ACME).metadata
        auth0.update_organization_metadata(ACME, {**metadata, "customer_provisioned": "true"})
        for name in active:
            last = AT_MS - 3_600_000 if name == counted else ACTIVE_LOGIN_MS
            auth0.update_user_app_metadata(
                uid(name),
                {f"{ACME}:last_login": last, f"{ACME}:stigg_period_end": PERIOD_END_MS},
            )
    server.sandbox.requests.clear()


def acme_marked_but_unknown_to_stigg(server) -> None:
    """ACME marked as provisioned in Auth0, but Stigg has no such customer (deleted there, or
    marked under another Stigg environment)."""
    with management(server) as auth0:
        metadata = auth0.get_organization(ACME).metadata
        auth0.update_organization_metadata(ACME, {**metadata, "customer_provisioned": "true"})
    server.sandbox.requests.clear()


def simulate(capsys, server, user: str, *args: str, json_output: bool = True) -> CliResult:
    flags = ("--json",) if json_output else ()
    result = run_cli(capsys, *flags, "simulate-login", "--user", uid(user), "--at", AT, *args)
    info = server.info()
    for secret in (info["auth0"]["client_secret"], info["stigg"]["api_key"]):
        assert secret not in result.stdout + result.stderr
    return result


@dataclass
class SentGraphql:
    operation: str  # query or mutation
    fields: list[str]
    variables: dict[str, Any]


@contextlib.contextmanager
def graphql_sent(server) -> Iterator[list[SentGraphql]]:
    """Every GraphQL document that reaches the sandbox's Stigg, parsed."""
    stigg = server.sandbox.stigg
    answer = stigg.handle
    sent: list[SentGraphql] = []

    def handle(request):
        body = request.json()
        for definition in graphql.parse(body["query"]).definitions:
            if isinstance(definition, graphql.OperationDefinitionNode):
                fields = [s.name.value for s in definition.selection_set.selections]
                variables = body.get("variables") or {}
                sent.append(SentGraphql(definition.operation.value, fields, variables))
        return answer(request)

    stigg.handle = handle
    try:
        yield sent
    finally:
        del stigg.handle


@contextlib.contextmanager
def writes_nothing(server) -> Iterator[list[SentGraphql]]:
    """Assert that what runs inside reads Auth0 and Stigg and changes neither."""
    sandbox = server.sandbox
    stigg_before = sandbox.stigg.snapshot()
    users_before, orgs_before = sandbox.auth0.list_users(), sandbox.auth0.list_orgs()
    sandbox.requests.clear()
    with graphql_sent(server) as sent:
        yield sent
    assert [s.operation for s in sent] == ["query"] * len(sent), sent
    writes = [
        (r["method"], r["path"])
        for r in sandbox.requests
        if r["method"] != "GET" and (r["method"], r["path"]) not in READS
    ]
    assert writes == []
    assert sandbox.stigg.snapshot() == stigg_before
    assert (sandbox.auth0.list_users(), sandbox.auth0.list_orgs()) == (users_before, orgs_before)


@dataclass(frozen=True)
class Case:
    name: str
    user: str
    org: str | None = None
    client: str = WORKSPACE_APP_ID
    refresh: bool = False
    active: tuple[str, ...] | None = None  # ACME an existing customer with these users active
    counted: str | None = None  # ...and this one counted an hour ago
    marked_unknown: bool = False  # ACME marked as provisioned, unknown to Stigg
    expect: dict[str, Any] = field(default_factory=dict)

    def args(self) -> list[str]:
        args = ["--client", self.client]
        if self.org:
            args += ["--org", self.org]
        if self.refresh:
            args.append("--refresh")
        return args

    def arrange(self, server) -> None:
        if self.active is not None:
            acme_as_customer(server, self.active, self.counted)
        if self.marked_unknown:
            acme_marked_but_unknown_to_stigg(server)


CASES = [
    Case(
        "b2c_first_login",
        "mallory",
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "individual_login",
            "steps": [1, 2, 3, 4, 5, 11],
            "calls": [["stigg.provisionCustomer", 1]],
            "message": None,
        },
    ),
    Case(
        "b2b_new_org_first_login",
        "alice",
        ACME,
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "granted",
            "steps": [1, 2, 3, 4, 6, 7, 8, 9, 10, 11],
            "calls": [
                ["stigg.provisionCustomer", 1],
                ["auth0.oauthToken", 1],
                ["auth0.updateOrganization", 2],
                ["stigg.entitlement", 2],
                ["stigg.reportEvent", 3],
            ],
            "message": None,
        },
    ),
    Case(
        "b2b_new_active_user_under_limit",
        "carol",
        ACME,
        active=("alice", "bob"),
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "granted",
            "steps": [1, 2, 6, 7, 8, 9, 10, 11],
            "calls": [["stigg.entitlement", 1], ["stigg.reportEvent", 2]],
            "message": None,
        },
    ),
    Case(
        "b2b_over_limit_new_user_denied",
        "dave",
        ACME,
        active=("alice", "bob", "carol"),
        expect={
            "exit": 3,
            "verdict": "deny",
            "reason": "limit_reached",
            "steps": [1, 2, 6, 7, 8],
            "calls": [["stigg.entitlement", 1]],
            "message": "Access Denied",
        },
    ),
    Case(
        "b2b_over_limit_active_user_allowed",
        "bob",
        ACME,
        active=("alice", "bob", "carol"),
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "existing_active_user",
            "steps": [1, 2, 6, 7, 8, 9, 10, 11],
            "calls": [["stigg.entitlement", 1], ["stigg.reportEvent", 2]],
            "message": None,
        },
    ),
    Case(
        "b2b_marked_customer_unknown_to_stigg",
        "alice",
        ACME,
        marked_unknown=True,
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "granted",
            "steps": [1, 2, 6, 7, 2, 3, 4, 6, 7, 8, 9, 10, 11],
            "calls": [
                ["stigg.entitlement", 1],
                ["stigg.provisionCustomer", 2],
                ["stigg.entitlement", 3],
                ["stigg.reportEvent", 4],
            ],
            "message": None,
        },
    ),
    Case(
        "b2b_returning_user_counted",
        "alice",
        ACME,
        active=("alice", "bob", "carol"),
        counted="alice",
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "counted_this_period",
            "steps": [1, 2, 11],
            "calls": [],
            "message": None,
        },
    ),
    Case(
        "b2b_refresh_token_counted",
        "alice",
        ACME,
        refresh=True,
        active=("alice", "bob", "carol"),
        counted="alice",
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "counted_this_period",
            "steps": [1, 2, 11],
            "calls": [],
            "message": None,
        },
    ),
    Case(
        "other_application",
        "alice",
        ACME,
        client=BUSINESS_APP_ID,
        expect={
            "exit": 0,
            "verdict": "allow",
            "reason": "application_not_handled",
            "steps": [1, 11],
            "calls": [],
            "message": None,
        },
    ),
    Case(
        "not_a_member",
        "alice",
        GLOBEX,
        expect={
            "exit": 3,
            "verdict": "deny",
            "reason": "not_a_member",
            "steps": [],
            "calls": [],
            "message": f"user {uid('alice')} is not part of the {GLOBEX} organization",
        },
    ),
]


def outcome(result: CliResult) -> dict[str, Any]:
    data = result.json()["data"]
    decision = data["decision"] or {"steps": [], "calls": []}
    return {
        "exit": result.exit_code,
        "verdict": data["verdict"],
        "reason": data["reason"],
        "steps": [step["number"] for step in decision["steps"]],
        "calls": [[call["operation"], call["round_trip"]] for call in decision["calls"]],
        "message": data["message"],
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict_steps_and_exit_code(case: Case, server, capsys):
    case.arrange(server)
    with writes_nothing(server) as sent:
        result = simulate(capsys, server, case.user, *case.args())
    assert outcome(result) == case.expect
    # Stigg is asked only what the decision needs, and only with reads.
    asked = [f for s in sent for f in s.fields]
    if not case.expect["calls"]:
        assert asked == []
    assert "provisionCustomer" not in asked and "reportEvent" not in asked


def test_inputs_of_a_new_active_user(server, capsys):
    acme_as_customer(server, ("alice", "bob"))
    data = simulate(capsys, server, "carol", "--org", ACME).json()["data"]
    assert data["inputs"] == {
        "customer_id": ACME,
        "customer_kind": "organization",
        "provisioned_mark": {
            "where": "organization_metadata",
            "key": "customer_provisioned",
            "value": "true",
        },
        "last_login": {"where": "app_metadata", "key": f"{ACME}:last_login", "value": None},
        "period_end": {"where": "app_metadata", "key": f"{ACME}:stigg_period_end", "value": None},
        "customer_in_stigg": None,
        "entitlement": {
            "granted": True,
            "is_granted": True,
            "current_usage": 2,
            "usage_limit": 3,
            "has_unlimited_usage": False,
            "has_soft_limit": False,
            "reset_period": "MONTH",
            "usage_period_start": PERIOD_START,
            "usage_period_end": "2025-04-04T09:30:00.000Z",
            "access_denied_reason": None,
        },
        "entitlement_estimated_from_plan": None,
        "m2m_token_cached": False,
    }
    assert (data["member"], data["client_id"], data["protocol"], data["at"]) == (
        True,
        WORKSPACE_APP_ID,
        "oidc-basic-profile",
        AT,
    )
    effects = data["decision"]["effects"]
    assert effects["app_metadata"] == {
        f"{ACME}:last_login": AT_MS,
        f"{ACME}:stigg_period_end": PERIOD_END_MS,
    }
    key = effects["events"][0]["idempotencyKey"]
    assert data["side_effects"] == [
        f"Stigg: report event user-login for {ACME} with user_id = {uid('carol')}, "
        f"idempotency key {key}.",
        f"Auth0: set the user's app_metadata {ACME}:last_login = {AT_MS}.",
        f"Auth0: set the user's app_metadata {ACME}:stigg_period_end = {PERIOD_END_MS}.",
    ]


def test_a_new_organization_is_estimated_from_its_plan(server, capsys):
    data = simulate(capsys, server, "alice", "--org", ACME).json()["data"]
    inputs = data["inputs"]
    assert (inputs["customer_in_stigg"], inputs["entitlement_estimated_from_plan"]) == (
        False,
        "plan-free",
    )
    assert inputs["entitlement"]["usage_period_start"] == AT
    assert inputs["entitlement"]["usage_period_end"] == "2025-04-14T09:30:00.000Z"
    assert data["decision"]["effects"]["provision"] == {
        "customerId": ACME,
        "name": "Acme Corp",
        "subscriptionParams": {"planId": "plan-free"},
    }


def test_human_output_of_a_denial(server, capsys):
    acme_as_customer(server, ("alice", "bob", "carol"))
    result = simulate(capsys, server, "dave", "--org", ACME, json_output=False)
    assert result.exit_code == 3
    lines = [line.strip() for line in result.stdout.splitlines()]
    assert "Read-only: nothing was provisioned, reported or written." in lines
    assert "DENY (limit_reached): the user sees 'Access Denied'" in lines
    assert (
        "entitlement 3 of 3 active users; one more is refused (RequestedUsageExceedingLimit); "
        "period 2025-03-04T09:30:00.000Z to 2025-04-04T09:30:00.000Z"
    ) in " ".join(result.stdout.split())
    assert "A real login would write nothing: no provisioning, no event." in lines
    assert "Calls 1 in 1 sequential round trip: stigg.entitlement" in lines
    numbered = [match[1] for line in lines if (match := re.match(r"(\d{1,2})\.  \S", line))]
    assert numbered == ["1", "2", "6", "7", "8"]


def test_human_output_of_a_new_organization(server, capsys):
    result = simulate(capsys, server, "alice", "--org", ACME, json_output=False)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "ALLOW (granted)" in text
    assert "(estimated: the customer would be created on plan plan-free by this login)" in text
    assert "M2M token assumed not cached in the Action (the worst case" in text
    assert f'• Stigg: provision customer {ACME} on plan plan-free (name "Acme Corp").' in text
    assert (
        "Calls 5 in 3 sequential round trips: auth0.oauthToken ‖ stigg.provisionCustomer → "
        "auth0.updateOrganization ‖ stigg.entitlement → stigg.reportEvent" in text
    )


def test_human_output_of_a_marked_organization_unknown_to_stigg(server, capsys):
    acme_marked_but_unknown_to_stigg(server)
    result = simulate(capsys, server, "alice", "--org", ACME, json_output=False)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert (
        "Stigg customer does not exist, although marked as provisioned: the login provisions it"
        in text
    )
    assert "(estimated: the customer would be created on plan plan-free by this login)" in text
    assert f'• Stigg: provision customer {ACME} on plan plan-free (name "Acme Corp").' in text
    assert (
        "Calls 4 in 4 sequential round trips: stigg.entitlement → stigg.provisionCustomer → "
        "stigg.entitlement → stigg.reportEvent" in text
    )
    lines = [line.strip() for line in result.stdout.splitlines()]
    numbered = [match[1] for line in lines if (match := re.match(r"(\d{1,2})\.  \S", line))]
    assert numbered == ["1", "2", "6", "7", "2", "3", "4", "6", "7", "8", "9", "10", "11"]


def test_a_customer_not_found_error_is_read_as_an_unknown_customer(server, capsys):
    """Stigg's API may say it with a GraphQL error instead of an answer refusing access."""
    acme_marked_but_unknown_to_stigg(server)
    stigg = server.sandbox.stigg
    answer = stigg.handle

    def handle(request):
        if "entitlement(" in request.json()["query"]:
            error = {"message": "Customer not found", "extensions": {"code": "CustomerNotFound"}}
            return json_response({"data": None, "errors": [error]})
        return answer(request)

    stigg.handle = handle
    try:
        data = simulate(capsys, server, "alice", "--org", ACME).json()["data"]
    finally:
        del stigg.handle
    assert (data["verdict"], data["reason"]) == ("allow", "granted")
    assert data["inputs"]["customer_in_stigg"] is False
    assert [step["number"] for step in data["decision"]["steps"]] == [
        1, 2, 6, 7, 2, 3, 4, 6, 7, 8, 9, 10, 11
    ]  # fmt: skip


def test_human_output_of_a_user_outside_the_organization(server, capsys):
    result = simulate(capsys, server, "alice", "--org", GLOBEX, json_output=False)
    assert result.exit_code == 3
    text = " ".join(result.stdout.split())
    assert (
        f"DENY by Auth0 (not_a_member): user {uid('alice')} is not part of the {GLOBEX} "
        "organization" in text
    )
    assert f"(their organizations: {ACME})" in text


def test_a_counted_user_needs_no_stigg_key(server, capsys, monkeypatch):
    acme_as_customer(server, ("alice",), counted="alice")
    monkeypatch.delenv("STIGGCTL_STIGG_API_KEY")
    result = simulate(capsys, server, "alice", "--org", ACME)
    assert (result.exit_code, result.json()["data"]["reason"]) == (0, "counted_this_period")
    assert [r["path"] for r in server.sandbox.requests if r["path"] == "/graphql"] == []


def test_without_at_the_login_is_now_on_the_sandbox_clock(server, capsys):
    # The sandbox's clock stands at AT (years from the machine's): the simulation decides
    # at the tenant's now, in the tenant's usage period.
    acme_as_customer(server, ("alice",), counted="alice")
    result = run_cli(capsys, "--json", "simulate-login", "--user", uid("alice"), "--org", ACME)
    data = result.json()["data"]
    assert (result.exit_code, data["at"], data["reason"], data["notes"]) == (
        0,
        AT,
        "counted_this_period",
        [],
    )
    server.sandbox.clock.advance(40 * DAY_S)  # `stiggctl sandbox advance-clock --days 40`
    later = run_cli(capsys, "--json", "simulate-login", "--user", uid("alice"), "--org", ACME)
    data = later.json()["data"]
    assert data["at"] == "2025-04-23T09:30:00.000Z"
    assert data["reason"] != "counted_this_period"


# -- errors ---------------------------------------------------------------------------------


def error_of(result: CliResult) -> dict[str, Any]:
    return result.json()["error"]


def test_unknown_user_is_not_found(server, capsys):
    result = run_cli(capsys, "--json", "simulate-login", "--user", "auth0|nobody", "--at", AT)
    assert result.exit_code == 1
    assert error_of(result) == {
        "code": "not_found",
        "message": f"Auth0 has no user auth0|nobody (tenant {server.base_url}).",
        "hint": "Give the user's full id, connection prefix included (auth0|..., "
        "google-oauth2|...): Auth0 dashboard > User Management > Users shows it.",
    }


def test_unknown_organization_is_not_found_and_names_the_users_own(server, capsys):
    result = simulate(capsys, server, "alice", "--org", "org_nope")
    assert result.exit_code == 1
    assert error_of(result) == {
        "code": "not_found",
        "message": f"Auth0 has no organization org_nope (tenant {server.base_url}).",
        "hint": f"Give the organization's id (org_...), not its name. User {uid('alice')} "
        f"belongs to {ACME}.",
    }


def test_a_bad_time_is_a_usage_error(server, capsys):
    result = run_cli(
        capsys, "--json", "simulate-login", "--user", uid("alice"), "--at", "yesterday"
    )
    assert result.exit_code == 2
    assert error_of(result)["code"] == "usage_error"
    assert "'yesterday' is not an ISO 8601 time" in error_of(result)["message"]


def test_a_profile_without_mode_is_a_config_error(server, capsys, monkeypatch):
    monkeypatch.delenv("STIGGCTL_MODE")
    result = simulate(capsys, server, "alice")
    assert result.exit_code == 1
    assert error_of(result)["code"] == "config_error"
    assert list(server.sandbox.requests) == []


def test_auth0_down_is_an_api_error(server, capsys):
    server.sandbox.faults.replace(FaultPlan(rules=[FaultRule(route="/api/v2", error_rate=1)]))
    result = simulate(capsys, server, "alice", "--org", ACME)
    assert result.exit_code == 1
    assert error_of(result)["code"] == "api_error"


def test_a_rejected_stigg_key_exits_4_without_blaming_the_action(server, capsys, monkeypatch):
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-not-the-key")
    result = simulate(capsys, server, "alice", "--org", ACME)
    assert result.exit_code == 4
    error = error_of(result)
    assert error["code"] == "authentication_failed"
    assert "Action" not in error["hint"]


def stigg_down(server) -> None:
    server.sandbox.faults.replace(FaultPlan(rules=[FaultRule(route="/graphql", error_rate=1)]))


@pytest.mark.parametrize(
    ("policy", "action_would", "sentence"),
    [
        (
            "open",
            {"verdict": "allow", "reason": "stigg_unavailable", "message": None},
            "let it continue (stigg_unavailable, fail-open policy).",
        ),
        (
            "closed",
            {"verdict": "deny", "reason": "stigg_unavailable", "message": DEFAULT_RETRY_MESSAGE},
            f"deny it with {DEFAULT_RETRY_MESSAGE!r} (stigg_unavailable, fail-closed policy).",
        ),
    ],
)
def test_stigg_down_says_what_the_fail_policy_would_do(
    server, capsys, monkeypatch, policy, action_would, sentence
):
    monkeypatch.setenv("STIGGCTL_FAIL_POLICY", policy)
    acme_as_customer(server, ("alice", "bob"))
    stigg_down(server)
    result = simulate(capsys, server, "carol", "--org", ACME)
    assert result.exit_code == 1
    error = error_of(result)
    assert error["code"] == "api_error"
    assert error["hint"].endswith(
        f"During a real login the Action would meet the same failure and {sentence}"
    )
    assert error["details"]["stigg_query"] == "entitlement"
    assert error["details"]["action_would"] == {**action_would, "fail_policy": policy}


def test_an_active_user_keeps_access_while_stigg_is_down(server, capsys):
    acme_as_customer(server, ("alice", "bob"))
    stigg_down(server)
    error = error_of(simulate(capsys, server, "bob", "--org", ACME))
    assert error["details"]["action_would"] == {
        "verdict": "allow",
        "reason": "known_active_user",
        "message": None,
        "fail_policy": "open",
    }


# -- agreement with a real login ---------------------------------------------------------


def deploy_profile_action(server) -> None:
    """The Action as deploy-action renders it from the same profile."""
    install_rendered_action(server, ACTION, action_settings(load_settings().settings))


def real_login(server, case: Case) -> dict[str, Any]:
    """One login through Auth0's post-login flow, and what our Action did, as the engine's
    decision describes it (verdict, message, provisioning, writes, events, calls)."""
    sandbox = server.sandbox
    sandbox.requests.clear()
    with graphql_sent(server) as sent:
        result = sandbox.login(
            uid(case.user),
            org_id=case.org,
            client_id=case.client,
            protocol="oauth2-refresh-token" if case.refresh else "oidc-basic-profile",
        )
    ours = next(a for a in result["actions"] if a["name"] == ACTION)
    assert ours["status"] in ("ok", "denied"), ours
    calls = [f"stigg.{name}" for s in sent for name in s.fields]
    for request in sandbox.requests:
        if request["path"] == "/oauth/token":
            calls.append("auth0.oauthToken")
        elif request["method"] == "PATCH" and request["path"].startswith("/api/v2/organizations/"):
            calls.append("auth0.updateOrganization")
        else:
            assert request["path"] == "/graphql", request
    provisions = [s.variables["input"] for s in sent if s.fields == ["provisionCustomer"]]
    events = [
        event
        for s in sent
        if s.fields == ["reportEvent"]
        for event in s.variables["events"]["usageEvents"]
    ]
    app_metadata = dict(result["app_metadata"])
    last_login_key = f"{case.org}:last_login"
    if last_login_key in app_metadata:
        # The Action's clock starts at the sandbox's frozen time and runs during the login.
        assert AT_MS <= app_metadata[last_login_key] <= AT_MS + result["duration_ms"] + 1
        app_metadata[last_login_key] = AT_MS
    return {
        "verdict": "allow" if result["allowed"] else "deny",
        "message": result["deny_reason"],
        "provision": provisions[0] if provisions else None,
        "app_metadata": app_metadata,
        "organization_metadata": sandbox.auth0.get_org(case.org)["metadata"] if case.org else None,
        "events": events,
        "calls": sorted(calls),
    }


def simulated_login(data: dict[str, Any], server, case: Case) -> dict[str, Any]:
    effects = data["decision"]["effects"]
    update = effects["organization_metadata"]
    org_metadata = None
    if case.org:
        org_metadata = (
            update["metadata"] if update else server.sandbox.auth0.get_org(case.org)["metadata"]
        )
    return {
        "verdict": data["verdict"],
        "message": data["message"],
        "provision": effects["provision"],
        "app_metadata": effects["app_metadata"],
        "organization_metadata": org_metadata,
        "events": effects["events"],
        "calls": sorted(call["operation"] for call in data["decision"]["calls"]),
    }


AGREEMENT_CASES = [case for case in CASES if case.name != "not_a_member"]


@pytest.mark.node
@pytest.mark.parametrize("case", AGREEMENT_CASES, ids=[c.name for c in AGREEMENT_CASES])
def test_simulation_agrees_with_a_real_login(case: Case, server, capsys):
    case.arrange(server)
    deploy_profile_action(server)
    with writes_nothing(server):
        simulated = simulate(capsys, server, case.user, *case.args())
    expected = simulated_login(simulated.json()["data"], server, case)
    assert real_login(server, case) == expected
    assert simulated.exit_code == (0 if expected["verdict"] == "allow" else 3)


@pytest.mark.node
def test_auth0_refuses_the_login_of_a_non_member_too(server, capsys):
    deploy_profile_action(server)
    assert simulate(capsys, server, "alice", "--org", GLOBEX).exit_code == 3
    with pytest.raises(SandboxError, match="not a member"):
        server.sandbox.login(uid("alice"), org_id=GLOBEX, client_id=WORKSPACE_APP_ID)


@pytest.mark.node
@pytest.mark.parametrize("policy", ["open", "closed"])
def test_stigg_down_simulation_agrees_with_a_real_login(server, capsys, monkeypatch, policy):
    monkeypatch.setenv("STIGGCTL_FAIL_POLICY", policy)
    acme_as_customer(server, ("alice", "bob"))
    deploy_profile_action(server)
    stigg_down(server)
    action_would = error_of(simulate(capsys, server, "carol", "--org", ACME))["details"][
        "action_would"
    ]
    result = server.sandbox.login(uid("carol"), org_id=ACME, client_id=WORKSPACE_APP_ID)
    assert (action_would["verdict"], action_would["message"]) == (
        "allow" if result["allowed"] else "deny",
        result["deny_reason"],
    )
    assert json.dumps(result["app_metadata"]) == "{}"
