"""simulate-login's pure part: asking exactly the answers the decision needs, the estimate of a
new customer's entitlement, and the words for inputs, effects and calls."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import ActionSettings
from stiggctl.core.login import (
    EntitlementAnswer,
    FailureKind,
    LoginContext,
    LoginOrganization,
    LoginUser,
    ProvisionOutcome,
    StiggFailure,
    StiggQuery,
    parse_time,
)
from stiggctl.core.simulation import (
    PlanAllowance,
    Simulation,
    SimulationInputs,
    decide_with_answers,
    describe_entitlement,
    describe_time,
    new_customer_entitlement,
    period_end_after,
    round_trip_graph,
    side_effects,
    time_notes,
)
from stiggctl.sandbox.stigg.periods import usage_period

SETTINGS = ActionSettings(
    mode="both",
    application_id="app-1",
    b2c_plan_id="plan-individual",
    b2b_plan_id="plan-team",
    auth0_domain="acme.eu.auth0.com",
)
NOW = parse_time("2025-03-14T09:30:00.000Z")
ALICE = LoginUser("auth0|alice", "alice@example.com", "Alice Example")
NEW_ORG = LoginOrganization("org_new", "new", "New Co", {"region": "eu"})
MARKED_ORG = LoginOrganization("org_acme", "acme", "Acme", {"customer_provisioned": "true"})
ROOM = EntitlementAnswer(
    is_granted=True,
    usage_limit=3,
    current_usage=1,
    reset_period="MONTH",
    usage_period_start="2025-03-04T09:30:00.000Z",
    usage_period_end="2025-04-04T09:30:00.000Z",
)
TEAM_PLAN = PlanAllowance(usage_limit=3, reset_period="MONTH")


def context(organization=NEW_ORG, user=ALICE, protocol="oidc-basic-profile") -> LoginContext:
    return LoginContext(user, organization, "app-1", protocol, NOW)


class Answers:
    """A fetch that records the questions asked, answering from a table."""

    def __init__(self, **table):
        self.table = {StiggQuery(name): answer for name, answer in table.items()}
        self.asked: list[StiggQuery] = []

    def __call__(self, query: StiggQuery):
        self.asked.append(query)
        return self.table[query]


# -- period and estimate ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "reset_period", "end"),
    [
        ("2025-03-14T09:30:00.000Z", "MONTH", "2025-04-14T09:30:00.000Z"),
        ("2025-01-31T00:00:00.000Z", "MONTH", "2025-02-28T00:00:00.000Z"),
        ("2024-02-29T12:00:00.000Z", "YEAR", "2025-02-28T12:00:00.000Z"),
        ("2025-12-15T00:00:00.000Z", "MONTH", "2026-01-15T00:00:00.000Z"),
        ("2025-03-14T09:30:00.000Z", "WEEK", "2025-03-21T09:30:00.000Z"),
        ("2025-03-14T09:30:00.000Z", "DAY", "2025-03-15T09:30:00.000Z"),
        ("2025-03-14T09:30:00.000Z", "HOUR", "2025-03-14T10:30:00.000Z"),
    ],
)
def test_period_end_after_steps_one_reset_period(start, reset_period, end):
    start_ms = parse_time(start)
    assert period_end_after(start_ms, reset_period) == parse_time(end)
    # The sandbox's Stigg anchors a new subscription's first period the same way.
    first = usage_period(start_ms / 1000, start_ms / 1000, reset_period)
    assert (int(first[0] * 1000), int(first[1] * 1000)) == (start_ms, parse_time(end))


@pytest.mark.parametrize("reset_period", [None, "FORTNIGHT"])
def test_period_end_after_without_a_known_period(reset_period):
    assert period_end_after(NOW, reset_period) is None


def test_new_customer_entitlement_starts_an_empty_period_at_the_login():
    assert new_customer_entitlement(TEAM_PLAN, NOW) == EntitlementAnswer(
        is_granted=True,
        usage_limit=3,
        current_usage=0,
        reset_period="MONTH",
        usage_period_anchor="2025-03-14T09:30:00.000Z",
        usage_period_start="2025-03-14T09:30:00.000Z",
        usage_period_end="2025-04-14T09:30:00.000Z",
    )


def test_new_customer_entitlement_of_a_plan_without_the_feature_is_refused():
    answer = new_customer_entitlement(None, NOW)
    assert answer == EntitlementAnswer(
        is_granted=False, access_denied_reason="NoFeatureEntitlementInSubscription"
    )
    assert answer.grants_one_more is False


def test_new_customer_entitlement_with_a_zero_limit_is_refused():
    answer = new_customer_entitlement(PlanAllowance(usage_limit=0, reset_period="MONTH"), NOW)
    assert (answer.is_granted, answer.grants_one_more, answer.access_denied_reason) == (
        False,
        False,
        "RequestedUsageExceedingLimit",
    )


def test_new_customer_entitlement_that_never_resets_has_no_period():
    unlimited = PlanAllowance(usage_limit=None, has_unlimited_usage=True, reset_period=None)
    answer = new_customer_entitlement(unlimited, NOW)
    assert (answer.usage_period_start, answer.usage_period_end, answer.reset_period) == (
        None,
        None,
        None,
    )
    assert answer.grants_one_more is True
    assert answer.usage_period().end_ms is None


# -- asking exactly what the decision needs -----------------------------------------------


def test_a_new_organization_needs_provisioning_then_the_entitlement():
    fetch = Answers(provision=ProvisionOutcome.CREATED, entitlement=ROOM)
    decision, answers = decide_with_answers(context(), SETTINGS, fetch)
    assert fetch.asked == [StiggQuery.PROVISION, StiggQuery.ENTITLEMENT]
    assert (decision.verdict.value, decision.reason.value) == ("allow", "granted")
    assert (answers.provision, answers.entitlement) == (ProvisionOutcome.CREATED, ROOM)


def test_a_new_individual_needs_provisioning_only():
    fetch = Answers(provision=ProvisionOutcome.DUPLICATE)
    decision, _ = decide_with_answers(context(organization=None), SETTINGS, fetch)
    assert fetch.asked == [StiggQuery.PROVISION]
    assert [step.number for step in decision.steps] == [1, 2, 3, 4, 5, 11]


def test_a_user_counted_this_period_needs_no_answer():
    counted = LoginUser(
        "auth0|alice",
        app_metadata={
            "org_acme:last_login": NOW - 3_600_000,
            "org_acme:stigg_period_end": parse_time("2025-04-04T09:30:00.000Z"),
        },
    )
    fetch = Answers()
    decision, _ = decide_with_answers(context(MARKED_ORG, counted), SETTINGS, fetch)
    assert fetch.asked == []
    assert (decision.reason.value, decision.calls) == ("counted_this_period", ())


def test_a_stigg_failure_ends_with_the_fail_policy():
    fetch = Answers(entitlement=StiggFailure(FailureKind.TIMEOUT, "Stigg did not answer"))
    decision, _ = decide_with_answers(context(MARKED_ORG), SETTINGS, fetch)
    assert fetch.asked == [StiggQuery.ENTITLEMENT]
    assert (decision.verdict.value, decision.reason.value) == ("allow", "stigg_unavailable")


def test_a_marked_organization_stigg_does_not_know_is_provisioned_then_asked_again():
    estimate = new_customer_entitlement(TEAM_PLAN, NOW)
    fetch = Answers(
        entitlement=EntitlementAnswer.customer_not_found(),
        provision=ProvisionOutcome.CREATED,
        entitlement_after_provision=estimate,
    )
    decision, answers = decide_with_answers(context(MARKED_ORG), SETTINGS, fetch)
    assert fetch.asked == [
        StiggQuery.ENTITLEMENT,
        StiggQuery.PROVISION,
        StiggQuery.ENTITLEMENT_AFTER_PROVISION,
    ]
    assert (decision.verdict.value, decision.reason.value) == ("allow", "granted")
    assert round_trip_graph(decision.calls) == (
        "stigg.entitlement → stigg.provisionCustomer → stigg.entitlement → stigg.reportEvent"
    )
    inputs = SimulationInputs.read(context(MARKED_ORG), SETTINGS, answers)
    # What the decision went on: the second answer, estimated from the plan.
    assert (
        inputs.customer_in_stigg,
        inputs.entitlement,
        inputs.entitlement_estimated_from_plan,
    ) == (False, estimate, "plan-team")


def test_inputs_when_provisioning_again_failed_show_the_customer_unknown():
    fetch = Answers(
        entitlement=EntitlementAnswer.customer_not_found(),
        provision=StiggFailure(FailureKind.ERROR, "HTTP 503"),
    )
    _, answers = decide_with_answers(context(MARKED_ORG), SETTINGS, fetch)
    inputs = SimulationInputs.read(context(MARKED_ORG), SETTINGS, answers)
    assert (inputs.customer_in_stigg, inputs.entitlement_estimated_from_plan) == (False, None)
    unknown = "Stigg has no such customer (CustomerNotFound)"
    assert describe_entitlement(inputs.entitlement) == unknown


# -- words ----------------------------------------------------------------------------------


def new_org_decision():
    fetch = Answers(provision=ProvisionOutcome.CREATED, entitlement=ROOM)
    return decide_with_answers(context(), SETTINGS, fetch)


def test_round_trip_graph_groups_concurrent_calls():
    decision, _ = new_org_decision()
    assert round_trip_graph(decision.calls) == (
        "auth0.oauthToken ‖ stigg.provisionCustomer → auth0.updateOrganization ‖ "
        "stigg.entitlement → stigg.reportEvent"
    )
    assert round_trip_graph(()) == "none"


def test_side_effects_name_every_write():
    decision, _ = new_org_decision()
    key = decision.effects.events[0].idempotency_key
    assert side_effects(decision) == [
        'Stigg: provision customer org_new on plan plan-team (name "New Co").',
        'Auth0: PATCH organization org_new metadata to {"customer_provisioned": "true", '
        '"region": "eu"} (the whole map).',
        f"Stigg: report event user-login for org_new with user_id = auth0|alice, "
        f"idempotency key {key}.",
        f"Auth0: set the user's app_metadata org_new:last_login = {NOW}.",
        "Auth0: set the user's app_metadata org_new:stigg_period_end = "
        f"{parse_time('2025-04-04T09:30:00.000Z')}.",
    ]


def test_inputs_of_a_new_organization_say_the_entitlement_is_estimated():
    estimate = new_customer_entitlement(TEAM_PLAN, NOW)
    fetch = Answers(provision=ProvisionOutcome.CREATED, entitlement=estimate)
    _, answers = decide_with_answers(context(), SETTINGS, fetch)
    assert SimulationInputs.read(context(), SETTINGS, answers).to_dict() == {
        "customer_id": "org_new",
        "customer_kind": "organization",
        "provisioned_mark": {
            "where": "organization_metadata",
            "key": "customer_provisioned",
            "value": None,
        },
        "last_login": {"where": "app_metadata", "key": "org_new:last_login", "value": None},
        "period_end": {"where": "app_metadata", "key": "org_new:stigg_period_end", "value": None},
        "customer_in_stigg": False,
        "entitlement": {
            "granted": True,
            "is_granted": True,
            "current_usage": 0,
            "usage_limit": 3,
            "has_unlimited_usage": False,
            "has_soft_limit": False,
            "reset_period": "MONTH",
            "usage_period_start": "2025-03-14T09:30:00.000Z",
            "usage_period_end": "2025-04-14T09:30:00.000Z",
            "access_denied_reason": None,
        },
        "entitlement_estimated_from_plan": "plan-team",
        "m2m_token_cached": False,
    }


def test_inputs_of_an_individual_read_the_user_mark():
    user = LoginUser("auth0|bob", app_metadata={"stigg_customer_provisioned": True})
    ctx = context(organization=None, user=user)
    _, answers = decide_with_answers(ctx, SETTINGS, Answers())
    inputs = SimulationInputs.read(ctx, SETTINGS, answers)
    assert inputs.to_dict()["provisioned_mark"] == {
        "where": "app_metadata",
        "key": "stigg_customer_provisioned",
        "value": True,
    }
    assert (inputs.customer_id, inputs.last_login, inputs.customer_in_stigg) == (
        "auth0|bob",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        (
            ROOM,
            "1 of 3 active users; one more is granted; "
            "period 2025-03-04T09:30:00.000Z to 2025-04-04T09:30:00.000Z",
        ),
        (
            EntitlementAnswer(
                is_granted=False,
                usage_limit=3,
                current_usage=3,
                reset_period="MONTH",
                usage_period_end="2025-04-04T09:30:00.000Z",
                access_denied_reason="RequestedUsageExceedingLimit",
            ),
            "3 of 3 active users; one more is refused (RequestedUsageExceedingLimit); "
            "period 2025-03-04T09:30:00.000Z to 2025-04-04T09:30:00.000Z",
        ),
        (
            EntitlementAnswer(is_granted=True, has_unlimited_usage=True, current_usage=7),
            "7 active users, unlimited; one more is granted; usage never resets",
        ),
        (
            EntitlementAnswer(is_granted=True, usage_limit=5, current_usage=9, has_soft_limit=True),
            "9 of 5 active users (soft limit); one more is granted; usage never resets",
        ),
        (StiggFailure(FailureKind.TIMEOUT, "slow"), "could not be read (timed out: slow)"),
    ],
)
def test_describe_entitlement(answer, text):
    assert describe_entitlement(answer) == text


def test_describe_time_reads_epoch_milliseconds():
    assert describe_time(NOW) == f"2025-03-14T09:30:00.000Z ({NOW})"
    assert describe_time("true") == '"true"'
    assert describe_time(True) == "true"


def test_time_notes_only_for_a_given_time_and_say_when_outside_the_period():
    assert time_notes(NOW, False, ROOM) == []
    assert time_notes(NOW, True, ROOM) == [
        "Simulated at 2025-03-14T09:30:00.000Z: Auth0 and Stigg data are read as they are "
        "now; only the login's clock moves."
    ]
    later = parse_time("2025-04-05T00:00:00.000Z")
    assert time_notes(later, True, ROOM)[1] == (
        "The simulated time is outside Stigg's current period (2025-03-04T09:30:00.000Z to "
        "2025-04-04T09:30:00.000Z): a login then would see another period's usage."
    )


def test_a_login_auth0_refuses_has_no_decision():
    simulation = Simulation(
        user_id="auth0|alice",
        organization_id="org_other",
        client_id="app-1",
        protocol="oidc-basic-profile",
        at_ms=NOW,
        inputs=None,
        decision=None,
        member=False,
        user_organizations=("org_acme",),
    )
    assert simulation.allowed is False
    assert simulation.to_dict() == {
        "user_id": "auth0|alice",
        "organization_id": "org_other",
        "client_id": "app-1",
        "protocol": "oidc-basic-profile",
        "at": "2025-03-14T09:30:00.000Z",
        "verdict": "deny",
        "reason": "not_a_member",
        "denied_by": "auth0",
        "message": "user auth0|alice is not part of the org_other organization",
        "member": False,
        "user_organizations": ["org_acme"],
        "inputs": None,
        "decision": None,
        "side_effects": [],
        "notes": [],
    }
