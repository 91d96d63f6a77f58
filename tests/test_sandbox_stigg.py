"""The sandbox's Stigg emulator, driven through `handle()` with real GraphQL documents."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request
from stiggctl.sandbox.stigg import (
    ACTIVE_USERS_FEATURE_ID,
    Meter,
    PlanEntitlement,
    StiggEmulator,
    seed_demo,
    seed_empty,
)

KEY = "server-sandbox-key"
START = datetime(2026, 1, 15, 10, 0, tzinfo=UTC).timestamp()
DAY = 24 * 3600.0


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


@pytest.fixture
def clock() -> Clock:
    return Clock(start=START)


@pytest.fixture
def emu(clock) -> StiggEmulator:
    emulator = StiggEmulator(api_keys={KEY}, clock=clock)
    seed_demo(emulator)
    return emulator


def post(emu: StiggEmulator, body: Any, headers: dict[str, str] | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = emu.handle(
        Request.build(
            "POST",
            "/graphql",
            {"X-API-KEY": KEY, "Content-Type": "application/json"} if headers is None else headers,
            raw,
        )
    )
    return response.status, response.body


def gql(emu: StiggEmulator, query: str, variables: dict[str, Any] | None = None) -> dict:
    status, body = post(emu, {"query": query, "variables": variables or {}})
    assert status == 200, body
    return body


def data(emu: StiggEmulator, query: str, variables: dict[str, Any] | None = None) -> dict:
    body = gql(emu, query, variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


PROVISION = """
mutation Provision($input: ProvisionCustomerInput!) {
  provisionCustomer(input: $input) {
    customer { customerId name email subscriptions { status plan { refId } } }
    subscription { status startDate plan { refId } }
    subscriptionDecisionStrategy
    entitlements { isGranted usageLimit currentUsage feature { refId } }
  }
}
"""

ENTITLEMENT = """
query Entitlement($query: FetchEntitlementQuery!) {
  entitlement(query: $query) {
    isGranted
    accessDeniedReason
    hasUnlimitedUsage
    hasSoftLimit
    usageLimit
    currentUsage
    requestedUsage
    resetPeriod
    usagePeriodAnchor
    usagePeriodStart
    usagePeriodEnd
    nextResetDate
    feature { refId displayName featureType meterType }
  }
}
"""

REPORT_EVENT = """
mutation Report($events: UsageEventsReportInput!) { reportEvent(events: $events) }
"""


def entitlement(emu: StiggEmulator, customer_id: str, requested: float | None = 1, feature=None):
    query: dict[str, Any] = {
        "customerId": customer_id,
        "featureId": feature or ACTIVE_USERS_FEATURE_ID,
    }
    if requested is not None:
        query["options"] = {"requestedUsage": requested}
    return data(emu, ENTITLEMENT, {"query": query})["entitlement"]


def login_event(customer_id: str, user_id: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "customerId": customer_id,
        "eventName": "user-login",
        "idempotencyKey": key,
        "dimensions": {"user_id": user_id},
        **extra,
    }


# --- provisioning ---------------------------------------------------------------------------


def test_provision_customer_with_a_plan_subscribes_it(emu):
    result = data(
        emu,
        PROVISION,
        {
            "input": {
                "customerId": "org_acme",
                "name": "Acme",
                "email": "ops@acme.test",
                "subscriptionParams": {"planId": "plan-free"},
            }
        },
    )["provisionCustomer"]
    assert result == {
        "customer": {
            "customerId": "org_acme",
            "name": "Acme",
            "email": "ops@acme.test",
            "subscriptions": [{"status": "ACTIVE", "plan": {"refId": "plan-free"}}],
        },
        "subscription": {
            "status": "ACTIVE",
            "startDate": iso(START),
            "plan": {"refId": "plan-free"},
        },
        "subscriptionDecisionStrategy": "REQUESTED_PLAN",
        "entitlements": [
            {
                "isGranted": True,
                "usageLimit": 3.0,
                "currentUsage": 0.0,
                "feature": {"refId": ACTIVE_USERS_FEATURE_ID},
            }
        ],
    }


def test_provision_customer_without_a_plan_has_no_subscription(emu):
    result = data(emu, PROVISION, {"input": {"customerId": "auth0|u1"}})["provisionCustomer"]
    assert result == {
        "customer": {"customerId": "auth0|u1", "name": None, "email": None, "subscriptions": []},
        "subscription": None,
        "subscriptionDecisionStrategy": "SKIPPED_SUBSCRIPTION_CREATION",
        "entitlements": [],
    }
    assert entitlement(emu, "auth0|u1")["accessDeniedReason"] == "NoActiveSubscription"


def test_provisioning_an_existing_customer_is_a_duplicate_error(emu):
    variables = {"input": {"customerId": "org_acme", "subscriptionParams": {"planId": "plan-pro"}}}
    data(emu, PROVISION, variables)
    body = gql(emu, PROVISION, variables)
    assert body["data"] is None
    [error] = body["errors"]
    assert "Duplicate" in error["message"]
    assert error["message"] == "Duplicated entity not allowed"
    assert error["path"] == ["provisionCustomer"]
    extensions = dict(error["extensions"])
    assert len(extensions.pop("traceId")) == 36
    assert extensions == {
        "code": "DuplicatedEntityNotAllowed",
        "isValidationError": True,
        "identifier": "org_acme",
        "entityName": "Customer",
    }
    # The first provisioning stands: still one subscription, to the first plan.
    assert [s.plan_ref_id for s in emu.customer("org_acme").subscriptions] == ["plan-pro"]


def test_provisioning_onto_an_unknown_plan_fails_and_creates_nothing(emu):
    body = gql(
        emu, PROVISION, {"input": {"customerId": "c1", "subscriptionParams": {"planId": "nope"}}}
    )
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Plan not found", "PlanNotFound")
    ]
    assert emu.customer("c1") is None


# --- entitlements ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("users", "granted", "reason"),
    [(1, True, None), (2, True, None), (3, False, "RequestedUsageExceedingLimit")],
    ids=["under", "at", "over"],
)
def test_entitlement_against_the_limit(emu, users, granted, reason):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", [f"user-{n}" for n in range(users)])
    assert entitlement(emu, "org_1", requested=1) == {
        "isGranted": granted,
        "accessDeniedReason": reason,
        "hasUnlimitedUsage": False,
        "hasSoftLimit": False,
        "usageLimit": 3.0,
        "currentUsage": float(users),
        "requestedUsage": 1.0,
        "resetPeriod": "MONTH",
        "usagePeriodAnchor": "2026-01-15T10:00:00.000Z",
        "usagePeriodStart": "2026-01-15T10:00:00.000Z",
        "usagePeriodEnd": "2026-02-15T10:00:00.000Z",
        "nextResetDate": "2026-02-15T10:00:00.000Z",
        "feature": {
            "refId": ACTIVE_USERS_FEATURE_ID,
            "displayName": "Active Users",
            "featureType": "NUMBER",
            "meterType": "Incremental",
        },
    }


def test_entitlement_without_requested_usage_only_checks_current_usage(emu):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["a", "b", "c"])
    result = entitlement(emu, "org_1", requested=None)
    assert (result["isGranted"], result["requestedUsage"], result["currentUsage"]) == (
        True,
        None,
        3.0,
    )


def test_unlimited_entitlement_is_always_granted(emu):
    emu.add_customer("org_big", plan_ref_id="plan-enterprise")
    emu.record_logins("org_big", [f"user-{n}" for n in range(120)])
    result = entitlement(emu, "org_big", requested=1)
    assert {
        k: result[k]
        for k in (
            "isGranted",
            "accessDeniedReason",
            "hasUnlimitedUsage",
            "usageLimit",
            "currentUsage",
        )
    } == {
        "isGranted": True,
        "accessDeniedReason": None,
        "hasUnlimitedUsage": True,
        "usageLimit": None,
        "currentUsage": 120.0,
    }


def test_soft_limit_grants_beyond_the_limit(emu):
    emu.add_plan(
        "plan-soft",
        product_ref_id="product-saas",
        entitlements=[
            PlanEntitlement(
                feature_ref_id=ACTIVE_USERS_FEATURE_ID, usage_limit=2, has_soft_limit=True
            )
        ],
    )
    emu.add_customer("org_soft", plan_ref_id="plan-soft")
    emu.record_logins("org_soft", ["a", "b", "c", "d"])
    result = entitlement(emu, "org_soft", requested=1)
    assert {
        k: result[k]
        for k in ("isGranted", "accessDeniedReason", "hasSoftLimit", "usageLimit", "currentUsage")
    } == {
        "isGranted": True,
        "accessDeniedReason": None,
        "hasSoftLimit": True,
        "usageLimit": 2.0,
        "currentUsage": 4.0,
    }


def test_why_an_entitlement_is_denied(emu):
    emu.add_plan("plan-basic", product_ref_id="product-saas")  # no Active Users entitlement
    emu.add_customer("org_basic", plan_ref_id="plan-basic")
    emu.add_customer("org_unsubscribed")
    emu.add_customer("org_free", plan_ref_id="plan-free")
    cases = {
        ("org_basic", ACTIVE_USERS_FEATURE_ID): "NoFeatureEntitlementInSubscription",
        ("org_unsubscribed", ACTIVE_USERS_FEATURE_ID): "NoActiveSubscription",
        ("org_missing", ACTIVE_USERS_FEATURE_ID): "CustomerNotFound",
        ("org_free", "feature-missing"): "FeatureNotFound",
    }
    for (customer_id, feature_id), reason in cases.items():
        result = entitlement(emu, customer_id, feature=feature_id)
        assert (result["isGranted"], result["accessDeniedReason"]) == (False, reason)
        assert result["currentUsage"] is None


def test_cached_entitlements_and_state(emu):
    emu.add_customer("org_1", plan_ref_id="plan-pro")
    emu.record_logins("org_1", ["a", "b"])
    cached = data(
        emu,
        """query($q: FetchEntitlementsQuery!) {
             cachedEntitlements(query: $q) { isGranted usageLimit currentUsage feature { refId } }
           }""",
        {"q": {"customerId": "org_1"}},
    )
    assert cached == {
        "cachedEntitlements": [
            {
                "isGranted": True,
                "usageLimit": 50.0,
                "currentUsage": 2.0,
                "feature": {"refId": ACTIVE_USERS_FEATURE_ID},
            }
        ]
    }
    state_query = """query($q: FetchEntitlementsQuery!) {
      entitlementsState(query: $q) {
        accessDeniedReason
        entitlements { currentUsage }
        entitlementsV2 { __typename ... on FeatureEntitlement { currentUsage usageLimit } }
      }
    }"""
    assert data(emu, state_query, {"q": {"customerId": "org_1"}}) == {
        "entitlementsState": {
            "accessDeniedReason": None,
            "entitlements": [{"currentUsage": 2.0}],
            "entitlementsV2": [
                {"__typename": "FeatureEntitlement", "currentUsage": 2.0, "usageLimit": 50.0}
            ],
        }
    }
    missing = data(emu, state_query, {"q": {"customerId": "nobody"}})["entitlementsState"]
    assert missing == {
        "accessDeniedReason": "CustomerNotFound",
        "entitlements": [],
        "entitlementsV2": [],
    }


# --- metering -------------------------------------------------------------------------------


def test_same_idempotency_key_counts_once(emu):
    emu.add_feature(
        "feature-logins",
        "Logins",
        meter=Meter(aggregation_function="COUNT", created_at=0),
    )
    emu.add_plan(
        "plan-logins",
        product_ref_id="product-saas",
        entitlements=[
            PlanEntitlement(feature_ref_id="feature-logins", usage_limit=100),
            PlanEntitlement(feature_ref_id=ACTIVE_USERS_FEATURE_ID, usage_limit=100),
        ],
    )
    emu.add_customer("org_1", plan_ref_id="plan-logins")
    first = login_event("org_1", "u1", "key-1")
    for events in ([first], [first], [first, login_event("org_1", "u1", "key-2")]):
        assert data(emu, REPORT_EVENT, {"events": {"usageEvents": events}}) == {"reportEvent": None}
    assert entitlement(emu, "org_1", feature="feature-logins")["currentUsage"] == 2.0
    assert entitlement(emu, "org_1")["currentUsage"] == 1.0
    assert [e.idempotency_key for e in emu.events("org_1")] == ["key-1", "key-2"]


def test_idempotency_keys_expire_after_seven_days(emu, clock):
    emu.add_customer("org_1", plan_ref_id="plan-pro")
    assert emu.report_event("org_1", "user-login", "k", {"user_id": "u1"}) is True
    clock.advance(7 * DAY - 1)
    assert emu.report_event("org_1", "user-login", "k", {"user_id": "u2"}) is False
    clock.advance(1)
    assert emu.report_event("org_1", "user-login", "k", {"user_id": "u2"}) is True
    assert emu.active_users("org_1") == ["u1", "u2"]


def test_unique_meter_counts_each_user_once_and_ignores_other_events(emu):
    emu.add_customer("org_1", plan_ref_id="plan-pro")
    events = [
        login_event("org_1", "u1", "a"),
        login_event("org_1", "u1", "b"),
        login_event("org_1", "u2", "c"),
        {**login_event("org_1", "u3", "d"), "eventName": "page-view"},
        login_event("org_2", "u4", "e"),
    ]
    data(emu, REPORT_EVENT, {"events": {"usageEvents": events}})
    assert entitlement(emu, "org_1")["currentUsage"] == 2.0
    assert emu.active_users("org_1") == ["u1", "u2"]
    assert emu.current_usage("org_1") == 2.0


def test_usage_period_rolls_over_with_the_clock(emu, clock):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["a", "b", "c"])
    clock.advance(31 * DAY - 1)  # 2026-02-15T09:59:59Z, one second before the reset
    before = entitlement(emu, "org_1")
    assert (before["isGranted"], before["currentUsage"], before["usagePeriodEnd"]) == (
        False,
        3.0,
        "2026-02-15T10:00:00.000Z",
    )
    clock.advance(1)
    after = entitlement(emu, "org_1")
    assert {
        k: after[k]
        for k in (
            "isGranted",
            "currentUsage",
            "usagePeriodStart",
            "usagePeriodEnd",
            "usagePeriodAnchor",
        )
    } == {
        "isGranted": True,
        "currentUsage": 0.0,
        "usagePeriodStart": "2026-02-15T10:00:00.000Z",
        "usagePeriodEnd": "2026-03-15T10:00:00.000Z",
        "usagePeriodAnchor": "2026-01-15T10:00:00.000Z",
    }
    assert emu.active_users("org_1") == []


def test_events_count_in_the_period_of_their_timestamp(emu, clock):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    clock.advance(40 * DAY)  # in the second period (from 2026-02-15T10:00Z)
    events = [
        login_event("org_1", "late", "k1", timestamp="2026-02-10T00:00:00Z"),
        login_event("org_1", "now", "k2", timestamp="2026-02-20T00:00:00Z"),
    ]
    data(emu, REPORT_EVENT, {"events": {"usageEvents": events}})
    assert emu.active_users("org_1") == ["now"]


def test_report_event_rejects_more_than_a_thousand_events(emu):
    events = [login_event("org_1", f"u{n}", f"k{n}") for n in range(1001)]
    body = gql(emu, REPORT_EVENT, {"events": {"usageEvents": events}})
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BadUserInput"]
    assert emu.events("org_1") == []


def test_report_usage_for_a_calculated_feature(emu):
    emu.add_feature("feature-seats", "Seats", meter_type="Incremental")
    emu.add_plan(
        "plan-seats",
        product_ref_id="product-saas",
        entitlements=[
            PlanEntitlement(feature_ref_id="feature-seats", usage_limit=10),
            PlanEntitlement(feature_ref_id=ACTIVE_USERS_FEATURE_ID, usage_limit=10),
        ],
    )
    emu.add_customer("org_1", plan_ref_id="plan-seats")
    mutation = """mutation($input: ReportUsageInput!) {
      reportUsage(input: $input) { customerId featureId value currentUsage usagePeriodEnd }
    }"""
    reports = [(2, "DELTA", 2.0), (3, None, 5.0), (1, "SET", 1.0)]
    for value, behavior, expected in reports:
        usage_input = {"customerId": "org_1", "featureId": "feature-seats", "value": value}
        if behavior:
            usage_input["updateBehavior"] = behavior
        assert data(emu, mutation, {"input": usage_input})["reportUsage"] == {
            "customerId": "org_1",
            "featureId": "feature-seats",
            "value": float(value),
            "currentUsage": expected,
            "usagePeriodEnd": "2026-02-15T10:00:00.000Z",
        }
    metered = gql(
        emu,
        mutation,
        {"input": {"customerId": "org_1", "featureId": ACTIVE_USERS_FEATURE_ID, "value": 1}},
    )
    assert [e["extensions"]["code"] for e in metered["errors"]] == [
        "CannotReportUsageForEntitlementWithMeterError"
    ]


def test_usage_history_points_and_resets(emu, clock):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["a"])
    clock.advance(DAY)
    emu.record_logins("org_1", ["b"])
    clock.advance(31 * DAY)  # 2026-02-16T10:00Z
    emu.record_logins("org_1", ["c"])
    history = data(
        emu,
        """query($input: UsageHistoryV2Input!) {
          usageHistoryV2(input: $input) {
            markers { type timestamp }
            series { tags { key value } points { timestamp value isResetPoint } }
          }
        }""",
        {
            "input": {
                "customerId": "org_1",
                "featureId": ACTIVE_USERS_FEATURE_ID,
                "startDate": "2026-02-13T12:00:00.000Z",
                "endDate": "2026-02-17T00:00:00.000Z",
            }
        },
    )["usageHistoryV2"]
    assert history["markers"] == [
        {"type": "PERIODIC_RESET", "timestamp": "2026-02-15T10:00:00.000Z"}
    ]
    assert history["series"] == [
        {
            "tags": [],
            "points": [
                {"timestamp": "2026-02-13T12:00:00.000Z", "value": 2.0, "isResetPoint": False},
                {"timestamp": "2026-02-14T12:00:00.000Z", "value": 2.0, "isResetPoint": False},
                {"timestamp": "2026-02-15T10:00:00.000Z", "value": 0.0, "isResetPoint": True},
                # A point covers up to the next one: "c" logged in at 2026-02-16T10:00Z.
                {"timestamp": "2026-02-15T12:00:00.000Z", "value": 1.0, "isResetPoint": False},
                {"timestamp": "2026-02-16T12:00:00.000Z", "value": 1.0, "isResetPoint": False},
            ],
        }
    ]


# --- catalog --------------------------------------------------------------------------------

FEATURE_FIELDS = """
  refId displayName featureType meterType featureStatus featureUnits environmentId
  meter {
    aggregation { function field }
    filters { conditions { field operation value values } }
  }
"""


def test_create_feature_in_the_environment_of_the_key():
    emu = StiggEmulator(api_keys={KEY}, clock=Clock(start=START))
    seed_empty(emu)
    environment_id = data(emu, "{ products { edges { node { environmentId } } } }")["products"][
        "edges"
    ][0]["node"]["environmentId"]
    assert environment_id == emu.environment_id
    feature_input = {
        "refId": ACTIVE_USERS_FEATURE_ID,
        "displayName": "Active Users",
        "featureType": "NUMBER",
        "meterType": "Incremental",
        "featureUnits": "user",
        "environmentId": environment_id,
        "meter": {
            "aggregation": {"function": "UNIQUE", "field": "user_id"},
            "filters": [
                {
                    "conditions": [
                        {"field": "eventName", "operation": "EQUALS", "value": "user-login"}
                    ]
                }
            ],
        },
    }
    mutation = (
        f"mutation($input: FeatureInput!) {{ createFeature(input: $input) {{ {FEATURE_FIELDS} }} }}"
    )
    created = data(emu, mutation, {"input": feature_input})["createFeature"]
    assert created == {
        "refId": ACTIVE_USERS_FEATURE_ID,
        "displayName": "Active Users",
        "featureType": "NUMBER",
        "meterType": "Incremental",
        "featureStatus": "NEW",
        "featureUnits": "user",
        "environmentId": environment_id,
        "meter": {
            "aggregation": {"function": "UNIQUE", "field": "user_id"},
            "filters": [
                {
                    "conditions": [
                        {
                            "field": "eventName",
                            "operation": "EQUALS",
                            "value": "user-login",
                            "values": None,
                        }
                    ]
                }
            ],
        },
    }
    features = f"""query($filter: FeatureFilter) {{
      features(filter: $filter) {{ totalCount edges {{ node {{ {FEATURE_FIELDS} }} }} }}
    }}"""
    by_ref = {"filter": {"refId": {"eq": ACTIVE_USERS_FEATURE_ID}}}
    listed = data(emu, features, by_ref)["features"]
    assert listed == {"totalCount": 1, "edges": [{"node": created}]}

    duplicate = gql(emu, mutation, {"input": feature_input})
    assert [e["extensions"]["code"] for e in duplicate["errors"]] == ["DuplicatedEntityNotAllowed"]
    elsewhere = gql(
        emu,
        mutation,
        {
            "input": {
                **feature_input,
                "refId": "f2",
                "environmentId": "00000000-0000-0000-0000-000000000000",
            }
        },
    )
    assert [e["extensions"]["code"] for e in elsewhere["errors"]] == ["EnvironmentMissing"]
    status, body = post(
        emu,
        {
            "query": mutation,
            "variables": {
                "input": {k: v for k, v in feature_input.items() if k != "environmentId"}
            },
        },
    )
    assert status == 400
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"]


def test_seed_empty_has_plans_without_the_feature():
    emu = StiggEmulator(api_keys={KEY}, clock=Clock(start=START))
    seed_empty(emu)
    assert [f.ref_id for f in emu.features()] == []
    assert [(p.ref_id, p.entitlements) for p in emu.plans()] == [
        ("plan-free", []),
        ("plan-pro", []),
        ("plan-enterprise", []),
    ]


def test_plans_filtered_by_status_and_latest(emu):
    emu.add_plan("plan-draft", product_ref_id="product-saas", status="DRAFT")
    plans = data(
        emu,
        """{
          plans(filter: {status: {eq: PUBLISHED}, isLatest: {is: true}}, paging: {first: 10}) {
            totalCount
            edges { node { refId displayName status product { refId }
              packageEntitlements { ... on PackageFeatureEntitlement {
                feature { refId } usageLimit hasUnlimitedUsage resetPeriod } } } }
          }
        }""",
    )["plans"]
    assert plans["totalCount"] == 3
    assert [edge["node"] for edge in plans["edges"]] == [
        {
            "refId": ref_id,
            "displayName": name,
            "status": "PUBLISHED",
            "product": {"refId": "product-saas"},
            "packageEntitlements": [
                {
                    "feature": {"refId": ACTIVE_USERS_FEATURE_ID},
                    "usageLimit": limit,
                    "hasUnlimitedUsage": limit is None,
                    "resetPeriod": "MONTH",
                }
            ],
        }
        for ref_id, name, limit in [
            ("plan-free", "Free", 3.0),
            ("plan-pro", "Pro", 50.0),
            ("plan-enterprise", "Enterprise", None),
        ]
    ]


# --- customers ------------------------------------------------------------------------------

CUSTOMERS = """
query Customers($paging: CursorPaging, $filter: CustomerFilter, $sorting: [CustomerSort!]) {
  customers(paging: $paging, filter: $filter, sorting: $sorting) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { customerId subscriptions { plan { refId } } } }
  }
}
"""


def test_customers_cursor_paging(emu):
    for n in range(25):
        emu.add_customer(f"org_{n:02d}", plan_ref_id="plan-free" if n % 2 else "plan-pro")
    seen, after, pages = [], None, []
    while True:
        page = data(emu, CUSTOMERS, {"paging": {"first": 10, "after": after}})["customers"]
        pages.append((len(page["edges"]), page["totalCount"], page["pageInfo"]["hasNextPage"]))
        seen += [edge["node"]["customerId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == [(10, 25, True), (10, 25, True), (5, 25, False)]
    assert seen == [f"org_{n:02d}" for n in range(25)]
    default = data(emu, CUSTOMERS)["customers"]
    assert len(default["edges"]) == 10


def test_customers_filter_and_sorting(emu):
    for n in range(6):
        emu.add_customer(
            f"org_{n}", name=f"Org {n}", plan_ref_id="plan-free" if n % 2 else "plan-pro"
        )
    on_free = data(
        emu,
        CUSTOMERS,
        {
            "filter": {"subscriptions": {"pricingType": {"eq": "FREE"}}},
            "sorting": [{"field": "customerId", "direction": "DESC"}],
        },
    )["customers"]
    assert [e["node"]["customerId"] for e in on_free["edges"]] == ["org_5", "org_3", "org_1"]
    assert on_free["totalCount"] == 3
    searched = data(emu, CUSTOMERS, {"filter": {"searchQuery": {"iLike": "%ORG 4%"}}})["customers"]
    assert [e["node"]["customerId"] for e in searched["edges"]] == ["org_4"]


def test_get_customer_by_ref_id(emu):
    emu.add_customer("auth0|u1", name="Ada", plan_ref_id="plan-pro")
    query = """query($input: GetCustomerByRefIdInput!) {
      getCustomerByRefId(input: $input) { customerId name hasActiveSubscription
        subscriptions { status plan { refId } } }
    }"""
    assert data(emu, query, {"input": {"customerId": "auth0|u1"}}) == {
        "getCustomerByRefId": {
            "customerId": "auth0|u1",
            "name": "Ada",
            "hasActiveSubscription": True,
            "subscriptions": [{"status": "ACTIVE", "plan": {"refId": "plan-pro"}}],
        }
    }
    missing = gql(emu, query, {"input": {"customerId": "nobody"}})
    assert missing["data"] == {"getCustomerByRefId": None}
    assert [(e["message"], e["extensions"]["code"]) for e in missing["errors"]] == [
        ("Customer not found", "CustomerNotFound")
    ]


# --- the HTTP surface -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-KEY": "server-wrong"}, {"X-API-KEY": ""}],
    ids=["missing", "unknown", "empty"],
)
def test_requests_without_a_valid_api_key_are_refused(emu, headers):
    status, body = post(emu, {"query": "{ plans { totalCount } }"}, headers)
    assert (status, body) == (
        401,
        {
            "errors": [
                {"message": "Invalid or missing API key", "extensions": {"code": "UNAUTHENTICATED"}}
            ]
        },
    )


def test_invalid_documents_are_rejected_like_stigg(emu):
    status, body = post(emu, {"query": "{ plans { edges { node { refId nope } } } }"})
    assert status == 400
    assert body == {
        "errors": [
            {
                "message": "Cannot query field 'nope' on type 'Plan'.",
                "locations": [{"line": 1, "column": 32}],
                "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"},
            }
        ]
    }
    status, body = post(emu, {"query": "{ plans { "})
    assert (status, [e["extensions"]["code"] for e in body["errors"]]) == (
        400,
        ["GRAPHQL_PARSE_FAILED"],
    )
    status, body = post(
        emu,
        {"query": ENTITLEMENT, "variables": {"query": {"customerId": 1, "featureId": None}}},
    )
    assert (status, [e["extensions"]["code"] for e in body["errors"]]) == (
        400,
        ["BAD_USER_INPUT", "BAD_USER_INPUT"],
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "POST body missing, invalid Content-Type, or JSON object has no keys."),
        (
            {"variables": {}},
            "GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.",
        ),
        (
            {"query": "{ plans { totalCount } }", "variables": [1]},
            "`variables` in a POST body should be provided as an object.",
        ),
        (
            {"query": "query A { plans { totalCount } } query B { products { totalCount } }"},
            "Must provide operation name if query contains multiple operations.",
        ),
    ],
)
def test_malformed_requests(emu, body, message):
    status, answer = post(emu, body)
    assert status == 400
    assert [e["message"] for e in answer["errors"]] == [message]


def test_only_post_is_served(emu):
    response = emu.handle(
        Request.build("GET", "/graphql?query={plans{totalCount}}", {"X-API-KEY": KEY})
    )
    assert (response.status, response.headers) == (405, {"allow": "POST"})


def test_operation_name_picks_the_operation(emu):
    status, body = post(
        emu,
        {
            "query": "query A { plans { totalCount } } query B { products { totalCount } }",
            "operationName": "B",
        },
    )
    assert (status, body) == (200, {"data": {"products": {"totalCount": 1}}})


# --- state ----------------------------------------------------------------------------------


def test_snapshot_restore_round_trip(emu, clock):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["a", "b"])
    emu.report_event("org_1", "user-login", "retry-key", {"user_id": "c"})
    snapshot = json.loads(json.dumps(emu.snapshot()))
    assert KEY not in json.dumps(snapshot)

    restored = StiggEmulator(api_keys={KEY}, clock=clock)
    restored.restore(snapshot)
    assert restored.snapshot() == snapshot
    assert restored.environment_id == emu.environment_id
    assert entitlement(restored, "org_1") == entitlement(emu, "org_1")
    assert entitlement(restored, "org_1")["isGranted"] is False
    # The idempotency keys survive: a retry after restart still counts once.
    assert restored.report_event("org_1", "user-login", "retry-key", {"user_id": "d"}) is False
    assert restored.active_users("org_1") == ["a", "b", "c"]


def test_restore_rejects_an_unknown_version(emu):
    with pytest.raises(ValueError, match="unsupported Stigg sandbox state version: 99"):
        emu.restore({"version": 99})


def test_concurrent_reports_are_all_counted(emu):
    emu.add_customer("org_1", plan_ref_id="plan-enterprise")

    def report(worker: int) -> None:
        for n in range(20):
            post(
                emu,
                {
                    "query": REPORT_EVENT,
                    "variables": {
                        "events": {
                            "usageEvents": [
                                login_event("org_1", f"user-{worker}-{n}", f"key-{worker}-{n}")
                            ]
                        }
                    },
                },
            )

    threads = [threading.Thread(target=report, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert emu.current_usage("org_1") == 120.0


def test_repr_shows_no_api_key(emu):
    assert KEY not in repr(emu)
    assert repr(emu) == f"StiggEmulator(environment_id={emu.environment_id!r})"
