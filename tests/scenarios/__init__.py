"""Conformance scenarios of the post-login flow, one JSON file each, and their loader.

A scenario is independent of what runs it: a login (user with app_metadata, organization with
metadata, application, protocol, time), Stigg's state (existing customers, the Active Users
entitlement it answers, faults), and the expected outcome (verdict, reason, the seed's steps,
effects, and the calls grouped by sequential round trip). The Python engine runs it directly
(`stigg_answers`), the rendered JavaScript through tests/harness/, later the sandbox.

File fields: description; settings (ActionSettings fields over DEFAULT_SETTINGS); now (ISO);
login {user, organization?, client_id?, protocol?}; m2m_token_cached?; stigg {customers,
entitlement?, unknown_customer? (graphql_error | access_denied: how Stigg says it has no such
customer), faults? {operation: {kind: timeout|http|graphql|network|customer_not_found, calls?
(the 1-based calls of the operation it applies to; default all), ...}}}; expect.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stiggctl.core.action_settings import (
    M2M_CLIENT_ID_SECRET,
    M2M_CLIENT_SECRET_SECRET,
    STIGG_API_KEY_SECRET,
    ActionSettings,
)
from stiggctl.core.login import (
    ActionCall,
    EntitlementAnswer,
    FailureKind,
    LoginContext,
    LoginDecision,
    ProvisionOutcome,
    StiggAnswers,
    StiggFailure,
    is_customer_not_found_error,
    parse_time,
)

SCENARIO_DIR = Path(__file__).parent
APPLICATION_ID = "app-portal-client-id"
DEFAULT_SETTINGS: dict[str, Any] = {
    "mode": "both",
    "application_id": APPLICATION_ID,
    "b2c_plan_id": "plan-individual",
    "b2b_plan_id": "plan-team",
    "auth0_domain": "acme.eu.auth0.com",
    # Short, so that the timeout scenarios wait little; the harness answers in microseconds.
    "call_timeout_ms": 300,
    "budget_ms": 2_000,
}
# Secret-looking values: tests assert that none of them reaches a log line or the code.
SECRETS = {
    STIGG_API_KEY_SECRET: "server-5c1e7c1e-scenario-stigg-key",
    M2M_CLIENT_ID_SECRET: "m2m-scenario-client-id",
    M2M_CLIENT_SECRET_SECRET: "m2m-scenario-client-SECRET-value",
}
MANAGEMENT_TOKEN = "eyJ-scenario-management-token"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    settings: ActionSettings
    now_ms: int
    event: dict[str, Any]  # the Auth0 post-login event the Action receives
    m2m_token_cached: bool
    stigg_customers: tuple[str, ...]
    entitlement: dict[str, Any] | None  # Stigg's answer for requestedUsage 1
    unknown_customer: str  # how Stigg answers the entitlement of a customer it does not have
    faults: dict[str, dict[str, Any]]
    expect: dict[str, Any]

    def context(self) -> LoginContext:
        return LoginContext.from_event(
            self.event, now_ms=self.now_ms, m2m_token_cached=self.m2m_token_cached
        )

    def stigg_answers(self) -> StiggAnswers:
        """What Stigg answers in this state, as the login engine takes it."""
        organization = self.event.get("organization")
        user = self.event["user"]
        customer_id = organization["id"] if organization else user["user_id"]
        known = customer_id in self.stigg_customers
        mark = (
            (organization.get("metadata") or {}).get(self.settings.org_provisioned_key)
            if organization
            else (user.get("app_metadata") or {}).get(self.settings.user_provisioned_key)
        )
        marked = mark is True or mark == "true"
        provision = ProvisionOutcome.DUPLICATE if known else ProvisionOutcome.CREATED
        return StiggAnswers(
            provision=self._failure(ActionCall.PROVISION_CUSTOMER, 1) or provision,
            # The first query comes before any provisioning only for a marked customer.
            entitlement=self._entitlement(1, customer_exists=known or not marked),
            entitlement_after_provision=self._entitlement(2, customer_exists=True),
            report=self._failure(ActionCall.REPORT_EVENT, 1),
        )

    def _entitlement(self, nth: int, *, customer_exists: bool) -> EntitlementAnswer | StiggFailure:
        fault = self._fault(ActionCall.ENTITLEMENT, nth)
        says_not_found = fault is not None and (
            fault["kind"] == "customer_not_found"
            or (
                fault["kind"] == "graphql"
                and is_customer_not_found_error(fault.get("code"), fault.get("message"))
            )
        )
        if says_not_found or (fault is None and not customer_exists):
            return EntitlementAnswer.customer_not_found()
        failure = self._failure(ActionCall.ENTITLEMENT, nth)
        if failure is not None:
            return failure
        if self.entitlement is None:
            return StiggFailure(FailureKind.ERROR, "FeatureNotFound")
        return EntitlementAnswer.from_graphql(self.entitlement)

    def _fault(self, call: ActionCall, nth: int) -> dict[str, Any] | None:
        """The fault injected into the nth call of an operation, if any."""
        fault = self.faults.get(call.value)
        if fault is None or nth not in fault.get("calls", [nth]):
            return None
        return fault

    def _failure(self, call: ActionCall, nth: int) -> StiggFailure | None:
        fault = self._fault(call, nth)
        if fault is None:
            return None
        kind = FailureKind.TIMEOUT if fault["kind"] == "timeout" else FailureKind.ERROR
        return StiggFailure(kind, fault["kind"])


def load_scenarios() -> list[Scenario]:
    return [load_scenario(path) for path in sorted(SCENARIO_DIR.glob("*.json"))]


def load_scenario(path: Path) -> Scenario:
    data = json.loads(path.read_text(encoding="utf-8"))
    login = data["login"]
    event: dict[str, Any] = {
        "user": login["user"],
        "client": {"client_id": login.get("client_id", APPLICATION_ID), "name": "Portal"},
        "transaction": {"protocol": login.get("protocol", "oidc-basic-profile")},
        "tenant": {"id": "acme"},
        "secrets": dict(SECRETS),
    }
    if login.get("organization"):
        event["organization"] = login["organization"]
    now_ms = parse_time(data["now"])
    assert now_ms is not None, f"{path.name}: bad time {data['now']!r}"
    stigg = data.get("stigg", {})
    return Scenario(
        name=path.stem,
        description=data["description"],
        settings=ActionSettings(**{**DEFAULT_SETTINGS, **data.get("settings", {})}),
        now_ms=now_ms,
        event=event,
        m2m_token_cached=data.get("m2m_token_cached", False),
        stigg_customers=tuple(stigg.get("customers", ())),
        entitlement=stigg.get("entitlement"),
        unknown_customer=stigg.get("unknown_customer", "graphql_error"),
        faults=stigg.get("faults", {}),
        expect=data["expect"],
    )


def outcome_of_decision(decision: LoginDecision) -> dict[str, Any]:
    """The engine's decision in the shape of a scenario's `expect`."""
    effects = decision.effects
    update = effects.organization_metadata
    return {
        "verdict": decision.verdict.value if decision.verdict else None,
        "reason": decision.reason.value if decision.reason else None,
        "steps": [step.number for step in decision.steps],
        "deny_message": effects.deny_message,
        "provision": effects.provision,
        "app_metadata": effects.app_metadata,
        "organization_metadata": None
        if update is None
        else {"organization_id": update.organization_id, "metadata": update.metadata},
        "events": [event.to_graphql() for event in effects.events],
        "round_trips": [
            sorted(call.operation.value for call in decision.calls if call.round_trip == number)
            for number in range(1, decision.round_trips + 1)
        ],
    }
