from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from stiggctl.core.action_settings import ActionSettings
from stiggctl.core.login import (
    ActionCall,
    EntitlementAnswer,
    FailureKind,
    LoginContext,
    LoginOrganization,
    LoginReason,
    LoginUser,
    PlannedCall,
    ProvisionOutcome,
    StiggAnswers,
    StiggFailure,
    StiggQuery,
    UsagePeriod,
    Verdict,
    decide_login,
    format_time,
    idempotency_key,
    is_customer_not_found_error,
    parse_time,
    period_start_before,
)
from stiggctl.core.render import render_action
from tests.harness.runner import call_internals

SETTINGS = ActionSettings(
    mode="both",
    application_id="app-1",
    b2c_plan_id="plan-individual",
    b2b_plan_id="plan-team",
    auth0_domain="acme.eu.auth0.com",
)
NOW = parse_time("2025-03-14T09:30:00.000Z")
START = parse_time("2025-03-01T00:00:00.000Z")
END = parse_time("2025-04-01T00:00:00.000Z")
ALICE = LoginUser("auth0|alice", "alice@example.com", "Alice Example")
ACME = LoginOrganization("org_acme", "acme", "Acme Inc.", {"customer_provisioned": "true"})
NEW_ORG = LoginOrganization("org_new", "new", None, {"plan": "trial"})
FULL = EntitlementAnswer(
    is_granted=False,
    usage_limit=5,
    current_usage=5,
    reset_period="MONTH",
    usage_period_start="2025-03-01T00:00:00.000Z",
    usage_period_end="2025-04-01T00:00:00.000Z",
    access_denied_reason="RequestedUsageExceedingLimit",
)


def context(organization=ACME, user=ALICE, **changes) -> LoginContext:
    base = LoginContext(user, organization, "app-1", "oidc-basic-profile", NOW)
    return dataclasses.replace(base, **changes)


def test_time_helpers_match_javascript_iso_strings():
    assert parse_time("2025-03-14T09:30:00.000Z") == 1_741_944_600_000
    assert parse_time("2025-03-14T10:30:00+01:00") == 1_741_944_600_000
    assert parse_time("2025-03-14T09:30:00") == 1_741_944_600_000  # no offset: UTC
    assert parse_time("next tuesday") is None
    assert parse_time(None) is None
    assert format_time(1_741_944_600_123) == "2025-03-14T09:30:00.123Z"


def test_idempotency_key_is_sha256_of_the_json_array():
    material = '["user-login","org_acme","auth0|alice",1740787200000]'
    expected = hashlib.sha256(material.encode()).hexdigest()
    assert idempotency_key("user-login", "org_acme", "auth0|alice", 1_740_787_200_000) == expected
    assert idempotency_key("user-login", "org_acme", "auth0|bob", 1_740_787_200_000) != expected
    assert idempotency_key("user-login", "org_acme", "auth0|alice", 1_743_465_600_000) != expected


@pytest.mark.parametrize(
    ("end", "reset", "anchor", "start"),
    [
        ("2025-04-01T00:00:00.000Z", "MONTH", None, "2025-03-01T00:00:00.000Z"),
        ("2025-03-31T12:00:00.000Z", "MONTH", None, "2025-02-28T12:00:00.000Z"),
        (
            "2025-02-28T00:00:00.000Z",
            "MONTH",
            "2024-10-31T00:00:00.000Z",
            "2025-01-31T00:00:00.000Z",
        ),
        ("2025-01-15T06:00:00.000Z", "MONTH", None, "2024-12-15T06:00:00.000Z"),
        (
            "2025-02-28T00:00:00.000Z",
            "YEAR",
            "2024-02-29T00:00:00.000Z",
            "2024-02-29T00:00:00.000Z",
        ),
        ("2025-03-17T00:00:00.000Z", "WEEK", None, "2025-03-10T00:00:00.000Z"),
        ("2025-03-15T00:00:00.000Z", "DAY", None, "2025-03-14T00:00:00.000Z"),
        ("2025-03-14T10:00:00.000Z", "HOUR", None, "2025-03-14T09:00:00.000Z"),
    ],
)
def test_period_start_is_one_reset_period_before_the_end(end, reset, anchor, start):
    assert period_start_before(parse_time(end), reset, parse_time(anchor)) == parse_time(start)


def test_period_start_unknown_without_reset_period():
    assert period_start_before(END, None, None) is None


@pytest.mark.parametrize(
    ("fields", "period"),
    [
        (
            {"usagePeriodStart": "2025-03-01T00:00:00Z", "usagePeriodEnd": "2025-04-01T00:00:00Z"},
            UsagePeriod(START, END),
        ),
        (
            {"usagePeriodEnd": "2025-04-01T00:00:00Z", "resetPeriod": "MONTH"},
            UsagePeriod(START, END),
        ),
        ({}, UsagePeriod(0, None)),  # usage that never resets
        ({"usagePeriodEnd": "2025-04-01T00:00:00Z"}, None),  # the start cannot be told
    ],
)
def test_usage_period(fields, period):
    answer = EntitlementAnswer.from_graphql({"isGranted": True, **fields})
    assert answer.usage_period() == period


@pytest.mark.parametrize(
    ("fields", "granted"),
    [
        ({"isGranted": True, "usageLimit": 5, "currentUsage": 4}, True),
        ({"isGranted": True, "usageLimit": 5, "currentUsage": 5}, False),  # Stigg said yes; 5+1>5
        ({"isGranted": False, "usageLimit": 5, "currentUsage": 1}, False),
        ({"isGranted": True, "usageLimit": 5, "currentUsage": 9, "hasSoftLimit": True}, True),
        ({"isGranted": True, "usageLimit": None, "hasUnlimitedUsage": True}, True),
        ({"isGranted": True, "usageLimit": None}, True),
        ({"isGranted": True, "usageLimit": 0}, False),
    ],
)
def test_access_for_one_more_user(fields, granted):
    assert EntitlementAnswer.from_graphql(fields).grants_one_more is granted


def test_first_pass_names_the_answers_needed_then_the_decision_completes():
    new_org = context(organization=NEW_ORG)
    first = decide_login(new_org, SETTINGS)
    assert (first.verdict, first.needs) == (None, (StiggQuery.PROVISION,))
    assert first.calls == (
        PlannedCall(ActionCall.PROVISION_CUSTOMER, 1),
        PlannedCall(ActionCall.M2M_TOKEN, 1),
    )
    assert first.effects.provision == {
        "customerId": "org_new",
        "name": "new",
        "subscriptionParams": {"planId": "plan-team"},
    }

    second = decide_login(new_org, SETTINGS, StiggAnswers(provision=ProvisionOutcome.CREATED))
    assert (second.verdict, second.needs) == (None, (StiggQuery.ENTITLEMENT,))
    assert second.effects.organization_metadata.metadata == {
        "plan": "trial",
        "customer_provisioned": "true",
    }

    answers = StiggAnswers(provision=ProvisionOutcome.CREATED, entitlement=FULL)
    final = decide_login(new_org, SETTINGS, answers)
    assert final.complete and final.needs == ()
    assert (final.verdict, final.reason) == (Verdict.DENY, LoginReason.LIMIT_REACHED)
    assert final.round_trips == 2


NOT_FOUND = EntitlementAnswer.customer_not_found()
NEW_CUSTOMER = EntitlementAnswer(
    is_granted=True,
    usage_limit=5,
    current_usage=0,
    reset_period="MONTH",
    usage_period_start="2025-03-14T09:30:00.040Z",
    usage_period_end="2025-04-14T09:30:00.040Z",
)


def test_a_marked_customer_stigg_does_not_know_is_provisioned_then_asked_again():
    first = decide_login(context(), SETTINGS, StiggAnswers())
    assert first.needs == (StiggQuery.ENTITLEMENT,)

    second = decide_login(context(), SETTINGS, StiggAnswers(entitlement=NOT_FOUND))
    assert (second.verdict, second.needs) == (None, (StiggQuery.PROVISION,))
    assert second.effects.provision == {
        "customerId": "org_acme",
        "name": "Acme Inc.",
        "subscriptionParams": {"planId": "plan-team"},
    }

    answers = StiggAnswers(entitlement=NOT_FOUND, provision=ProvisionOutcome.CREATED)
    third = decide_login(context(), SETTINGS, answers)
    assert (third.verdict, third.needs) == (None, (StiggQuery.ENTITLEMENT_AFTER_PROVISION,))

    answers = dataclasses.replace(answers, entitlement_after_provision=NEW_CUSTOMER)
    final = decide_login(context(), SETTINGS, answers)
    assert (final.verdict, final.reason, final.needs) == (Verdict.ALLOW, LoginReason.GRANTED, ())
    assert final.calls == (
        PlannedCall(ActionCall.ENTITLEMENT, 1),
        PlannedCall(ActionCall.PROVISION_CUSTOMER, 2),
        PlannedCall(ActionCall.ENTITLEMENT, 3),
        PlannedCall(ActionCall.REPORT_EVENT, 4),
    )
    # The mark is already there: no token, no organization update.
    assert final.effects.organization_metadata is None
    start = parse_time("2025-03-14T09:30:00.040Z")
    assert final.effects.app_metadata == {
        "org_acme:last_login": start,
        "org_acme:stigg_period_end": parse_time("2025-04-14T09:30:00.040Z"),
    }
    assert final.effects.events[0].idempotency_key == idempotency_key(
        "user-login", "org_acme", "auth0|alice", start
    )
    texts = [(step.number, step.text) for step in final.steps]
    assert [number for number, _ in texts] == [1, 2, 6, 7, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    assert texts[3:8] == [
        (
            7,
            "Stigg answers that customer org_acme does not exist (CustomerNotFound), although "
            "the organization is marked as provisioned: deleted in Stigg, or marked under another "
            "Stigg environment or by hand. It was never metered: provision it now.",
        ),
        (
            2,
            "Step 2 again: the organization's metadata marks customer org_acme as provisioned, "
            "but Stigg does not know it. Provision it in Stigg on plan plan-team (this and a "
            "second entitlement query cost 2 more sequential round trips, only in this case).",
        ),
        (3, "Stigg created customer org_acme on plan plan-team."),
        (
            4,
            "The organization is already marked as provisioned (customer_provisioned): nothing "
            "to write.",
        ),
        (
            6,
            "Step 6 again, now that customer org_acme is provisioned: query Stigg for its "
            "feature-active-users entitlement with requested usage 1.",
        ),
    ]


@pytest.mark.parametrize(("policy", "verdict"), [("open", Verdict.ALLOW), ("closed", Verdict.DENY)])
def test_provisioning_again_that_fails_is_left_to_the_fail_policy(policy, verdict):
    settings = dataclasses.replace(SETTINGS, fail_policy=policy)
    failure = StiggFailure(FailureKind.TIMEOUT)
    answers = StiggAnswers(entitlement=NOT_FOUND, provision=failure)
    decision = decide_login(context(), settings, answers)
    assert (decision.verdict, decision.reason) == (verdict, LoginReason.STIGG_UNAVAILABLE)
    assert decision.round_trips == 2
    assert decision.effects.app_metadata == {}
    failed = "Stigg did not provision customer org_acme (timed out)."
    if policy == "closed":
        failed += f" Fail-closed policy: deny with {settings.retry_message!r}."
    assert [(step.number, step.text) for step in decision.steps][4:6] == [
        (
            2,
            "Step 2 again: the organization's metadata marks customer org_acme as provisioned, "
            "but Stigg does not know it. Provision it in Stigg on plan plan-team (this and a "
            "second entitlement query cost 2 more sequential round trips, only in this case).",
        ),
        (3, failed),
    ]


def test_a_customer_still_unknown_after_provisioning_is_a_stigg_failure():
    answers = StiggAnswers(
        entitlement=NOT_FOUND,
        provision=ProvisionOutcome.DUPLICATE,
        entitlement_after_provision=NOT_FOUND,
    )
    decision = decide_login(context(), SETTINGS, answers)
    assert (decision.verdict, decision.reason) == (Verdict.ALLOW, LoginReason.STIGG_UNAVAILABLE)
    assert [step.number for step in decision.steps] == [1, 2, 6, 7, 2, 3, 4, 6, 7, 11]
    assert decision.steps[5].text == (
        "Stigg already has customer org_acme (Duplicate): it exists after all (created in "
        "between), which counts as provisioned."
    )
    assert decision.steps[8].text == (
        "Stigg answers that customer org_acme does not exist (CustomerNotFound), right after "
        "this login provisioned it."
    )


def test_a_new_organization_unknown_right_after_provisioning_is_not_provisioned_twice():
    answers = StiggAnswers(provision=ProvisionOutcome.CREATED, entitlement=NOT_FOUND)
    decision = decide_login(context(organization=NEW_ORG), SETTINGS, answers)
    assert (decision.verdict, decision.reason) == (Verdict.ALLOW, LoginReason.STIGG_UNAVAILABLE)
    assert [call.operation for call in decision.calls].count(ActionCall.PROVISION_CUSTOMER) == 1
    assert [step.number for step in decision.steps] == [1, 2, 3, 4, 6, 7, 11]


def test_a_returning_user_needs_no_answer():
    record = {"org_acme:last_login": NOW - 3_600_000, "org_acme:stigg_period_end": END}
    decision = decide_login(context(user=dataclasses.replace(ALICE, app_metadata=record)), SETTINGS)
    assert (decision.verdict, decision.reason, decision.calls) == (
        Verdict.ALLOW,
        LoginReason.COUNTED_THIS_PERIOD,
        (),
    )


def test_each_step_says_what_happened_in_a_denial():
    decision = decide_login(context(), SETTINGS, StiggAnswers(entitlement=FULL))
    assert [(step.number, step.text) for step in decision.steps] == [
        (
            1,
            "A login (oidc-basic-profile) of user auth0|alice into organization org_acme through "
            "application app-1 at 2025-03-14T09:30:00.000Z triggers the Action.",
        ),
        (
            2,
            "Customer org_acme is provisioned (the organization's metadata: customer_provisioned "
            "= 'true'): nothing to provision.",
        ),
        (
            6,
            "Query Stigg for the feature-active-users entitlement of org_acme with requested "
            "usage 1.",
        ),
        (
            7,
            "Stigg answers: 5 of 5 active users, one more is refused "
            "(RequestedUsageExceedingLimit); period 2025-03-01T00:00:00.000Z to "
            "2025-04-01T00:00:00.000Z.",
        ),
        (
            8,
            "Over the limit and the user's last login in this organization (never recorded) is "
            "before the period start 2025-03-01T00:00:00.000Z: a new active user, deny with "
            "'Access Denied'.",
        ),
    ]
    assert decision.effects.deny_message == "Access Denied"


def test_to_dict_is_json_ready():
    refresh = context(protocol="oauth2-refresh-token")
    answer = dataclasses.replace(FULL, is_granted=True, current_usage=1)
    decision = decide_login(refresh, SETTINGS, StiggAnswers(entitlement=answer))
    data = json.loads(json.dumps(decision.to_dict()))
    key = idempotency_key("user-login", "org_acme", "auth0|alice", START)
    assert {k: data[k] for k in ("verdict", "reason", "needs", "calls", "round_trips")} == {
        "verdict": "allow",
        "reason": "granted",
        "needs": [],
        "calls": [
            {"operation": "stigg.entitlement", "round_trip": 1},
            {"operation": "stigg.reportEvent", "round_trip": 2},
        ],
        "round_trips": 2,
    }
    assert data["steps"][0]["text"].startswith("A refresh-token exchange of user auth0|alice")
    assert data["effects"] == {
        "provision": None,
        "app_metadata": {"org_acme:last_login": NOW, "org_acme:stigg_period_end": END},
        "organization_metadata": None,
        "events": [
            {
                "customerId": "org_acme",
                "eventName": "user-login",
                "idempotencyKey": key,
                "dimensions": {"user_id": "auth0|alice"},
            }
        ],
        "deny_message": None,
    }


def test_a_period_that_never_ends_deletes_the_period_end_and_keeps_checking():
    never = EntitlementAnswer(is_granted=True, usage_limit=5, current_usage=1)
    decision = decide_login(context(), SETTINGS, StiggAnswers(entitlement=never))
    assert decision.effects.app_metadata == {
        "org_acme:last_login": NOW,
        "org_acme:stigg_period_end": None,  # null deletes the key: no shortcut
    }
    assert decision.effects.events[0].idempotency_key == idempotency_key(
        "user-login", "org_acme", "auth0|alice", 0
    )


@pytest.mark.parametrize(("policy", "verdict"), [("open", Verdict.ALLOW), ("closed", Verdict.DENY)])
def test_an_answer_without_a_usable_period_is_a_stigg_failure(policy, verdict):
    odd = EntitlementAnswer(is_granted=True, usage_period_end="2025-04-01T00:00:00Z")
    settings = dataclasses.replace(SETTINGS, fail_policy=policy)
    decision = decide_login(context(), settings, StiggAnswers(entitlement=odd))
    assert (decision.verdict, decision.reason) == (verdict, LoginReason.STIGG_UNAVAILABLE)
    assert decision.effects.app_metadata == {}


def test_from_event_reads_what_the_action_reads():
    event = {
        "user": {"user_id": "auth0|bob", "email": "bob@example.com", "app_metadata": {"a": 1}},
        "organization": {"id": "org_1", "name": "one", "display_name": "One"},
        "client": {"client_id": "app-1"},
        "transaction": {"protocol": "oauth2-refresh-token"},
    }
    assert LoginContext.from_event(event, now_ms=NOW, m2m_token_cached=True) == LoginContext(
        user=LoginUser("auth0|bob", "bob@example.com", None, {"a": 1}),
        organization=LoginOrganization("org_1", "one", "One", {}),
        client_id="app-1",
        protocol="oauth2-refresh-token",
        now_ms=NOW,
        m2m_token_cached=True,
    )


def test_failure_descriptions():
    assert StiggFailure(FailureKind.TIMEOUT).describe() == "timed out"
    assert StiggFailure(FailureKind.ERROR, "HTTP 503").describe() == "failed: HTTP 503"


@pytest.mark.node
def test_period_and_access_rules_are_the_same_in_javascript(tmp_path):
    """Parity tables: the template's own functions against the engine's, case by case."""
    entitlements = [
        {
            "isGranted": True,
            "usagePeriodStart": "2025-03-01T00:00:00.000Z",
            "usagePeriodEnd": "2025-04-01T00:00:00.000Z",
        },
        {"isGranted": True, "usagePeriodEnd": "2025-03-31T12:00:00.000Z", "resetPeriod": "MONTH"},
        {
            "isGranted": True,
            "usagePeriodEnd": "2025-02-28T00:00:00.000Z",
            "resetPeriod": "MONTH",
            "usagePeriodAnchor": "2024-10-31T00:00:00.000Z",
        },
        {
            "isGranted": True,
            "usagePeriodEnd": "2025-02-28T00:00:00.000Z",
            "resetPeriod": "YEAR",
            "usagePeriodAnchor": "2024-02-29T00:00:00.000Z",
        },
        {"isGranted": True, "usagePeriodEnd": "2025-01-05T00:00:00.000Z", "resetPeriod": "WEEK"},
        {"isGranted": True, "usagePeriodEnd": "2025-01-05T00:00:00.000Z", "resetPeriod": "DAY"},
        {"isGranted": True, "usagePeriodEnd": "2025-01-05T00:00:00.000Z", "resetPeriod": "HOUR"},
        {"isGranted": True, "usagePeriodEnd": "2025-01-05T00:00:00.000Z"},
        {"isGranted": True},
        {"isGranted": True, "usageLimit": 5, "currentUsage": 4},
        {"isGranted": True, "usageLimit": 5, "currentUsage": 5},
        {"isGranted": False, "usageLimit": 5, "currentUsage": 1},
        {"isGranted": True, "usageLimit": 5, "currentUsage": 9, "hasSoftLimit": True},
        {"isGranted": True, "usageLimit": None, "hasUnlimitedUsage": True},
        {"isGranted": True, "usageLimit": 0},
    ]
    keys = [
        ["org_acme", "auth0|alice", 1_740_787_200_000],
        ["auth0|ünï", "auth0|ünï", 0],
        ['org"q\\', "line\nbreak\u2028", 1],
    ]
    cases = (
        [{"function": "usagePeriod", "args": [e]} for e in entitlements]
        + [{"function": "grantsOneMore", "args": [e]} for e in entitlements]
        + [{"function": "idempotencyKey", "args": k} for k in keys]
    )
    results = call_internals(render_action(SETTINGS).code, cases, tmp_path)
    python = []
    for e in entitlements:
        period = EntitlementAnswer.from_graphql(e).usage_period()
        python.append(None if period is None else {"start": period.start_ms, "end": period.end_ms})
    python += [EntitlementAnswer.from_graphql(e).grants_one_more for e in entitlements]
    python += [idempotency_key("user-login", *k) for k in keys]
    assert results == python


NOT_FOUND_ERRORS = [
    ({"message": "Customer not found", "extensions": {"code": "CustomerNotFound"}}, True),
    ({"message": "Something else", "extensions": {"code": "CustomerNotFound"}}, True),
    ({"message": "Customer org_acme not found"}, True),
    ({"message": "customer with id org_x was NOT FOUND", "extensions": {}}, True),
    ({"message": "Customer not found", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}, True),
    ({"message": "Feature not found", "extensions": {"code": "FeatureNotFound"}}, False),
    ({"message": "Customer not found", "extensions": {"code": "FeatureNotFound"}}, False),
    ({"message": "Feature not found for customer org_acme"}, False),
    ({"message": "Duplicated entity not allowed"}, False),
    ({"message": "customers-not-foundry"}, False),
    ({}, False),
]


def test_customer_not_found_errors():
    for error, expected in NOT_FOUND_ERRORS:
        code = (error.get("extensions") or {}).get("code")
        assert is_customer_not_found_error(code, error.get("message")) is expected, error


@pytest.mark.node
def test_customer_not_found_errors_are_the_same_in_javascript(tmp_path):
    cases = [{"function": "isCustomerNotFoundError", "args": [e]} for e, _ in NOT_FOUND_ERRORS]
    results = call_internals(render_action(SETTINGS).code, cases, tmp_path)
    assert results == [expected for _, expected in NOT_FOUND_ERRORS]


@pytest.mark.node
def test_login_classification_is_the_same_in_javascript(tmp_path):
    events = [
        {"client": {"client_id": "app-1"}, "user": {"user_id": "u"}},
        {"client": {"client_id": "app-2"}, "user": {"user_id": "u"}},
        {"client": {"client_id": "app-1"}, "user": {"user_id": "u"}, "organization": {"id": "o"}},
    ]
    modes = [
        SETTINGS,
        dataclasses.replace(SETTINGS, mode="b2c", b2b_plan_id=None),
        dataclasses.replace(SETTINGS, mode="b2b", b2c_plan_id=None),
        dataclasses.replace(SETTINGS, application_id="*"),
    ]
    for settings in modes:
        code = render_action(settings).code
        cases = [{"function": "classifyLogin", "args": [event]} for event in events]
        javascript = [r.get("skip") for r in call_internals(code, cases, tmp_path)]
        python = []
        for event in events:
            decision = decide_login(LoginContext.from_event(event, now_ms=NOW), settings)
            skipped = decision.reason in (
                LoginReason.APPLICATION_NOT_HANDLED,
                LoginReason.MODE_NOT_HANDLED,
            )
            python.append(decision.reason.value if skipped else None)
        assert javascript == python, settings.mode
