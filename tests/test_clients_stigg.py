"""StiggClient against a fake GraphQL endpoint: requests, GraphQL errors, paging, models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from stiggctl.clients import stigg_operations as ops
from stiggctl.clients.stigg import StiggClient, unique_count_meter
from stiggctl.clients.stigg_models import Entitlement
from stiggctl.errors import ErrorCode, ExitCode, StiggctlError
from tests.test_clients_fakes import (
    STIGG_API_KEY,
    STIGG_URL,
    FakeStigg,
    FakeTime,
    json_response,
    raising,
)

ENVIRONMENT = "5b5a7c1e-0000-4000-8000-000000000001"


def data(body: dict) -> httpx.Response:
    return json_response(200, {"data": body})


def gql_error(message: str, code: str | None = None, status: int = 200) -> httpx.Response:
    error: dict = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return json_response(status, {"errors": [error], "data": None})


def customer(customer_id: str, plan: str | None = "plan-free") -> dict:
    return {
        "customerId": customer_id,
        "name": None,
        "email": None,
        "environmentId": ENVIRONMENT,
        "createdAt": "2026-01-05T10:00:00.000Z",
        "subscriptions": [{"status": "ACTIVE", "plan": {"refId": plan, "displayName": "Free"}}]
        if plan
        else [],
    }


def assert_no_key(error: StiggctlError) -> None:
    for text in (str(error), repr(error), json.dumps(error.to_dict()), str(error.hint)):
        assert STIGG_API_KEY not in text


def test_requests_carry_the_key_header_document_and_variables():
    fake = FakeStigg({"GetCustomerByRefId": data({"getCustomerByRefId": customer("org_1")})})
    found = fake.client(FakeTime()).get_customer("org_1")
    assert found.customer_id == "org_1"
    assert found.plan_ref_ids == ["plan-free"]
    assert found.created_at == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    request = fake.requests[0]
    assert str(request.url) == STIGG_URL
    assert request.method == "POST"
    assert request.headers["x-api-key"] == STIGG_API_KEY
    assert fake.bodies[0] == {
        "query": ops.GET_CUSTOMER_BY_REF_ID,
        "variables": {"input": {"customerId": "org_1"}},
        "operationName": "GetCustomerByRefId",
    }


def test_the_client_repr_shows_no_key():
    client = StiggClient(STIGG_URL, STIGG_API_KEY)
    assert repr(client) == "StiggClient(api_url='https://api.stigg.io/graphql')"
    client.close()


@pytest.mark.parametrize(
    "answer",
    [
        gql_error("Unauthorized", status=401),
        json_response(401, {"message": "Unauthorized"}),
        httpx.Response(401, content=b"Unauthorized"),
        gql_error("Authentication failed", "Unauthenticated"),
        gql_error("Authentication failed", "UNAUTHENTICATED"),
        gql_error("Api key not found", "ApiKeyNotFound"),
        gql_error("Api key has expired", "ApiKeyExpired"),
        gql_error("Invalid API key"),
    ],
    ids=[
        "401-graphql-body",
        "401-json",
        "401-text",
        "Unauthenticated",
        "UNAUTHENTICATED",
        "ApiKeyNotFound",
        "ApiKeyExpired",
        "message-only",
    ],
)
def test_a_bad_api_key_is_an_authentication_error_exit_4(answer):
    fake = FakeStigg({"Products": answer})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    error = caught.value
    assert error.code is ErrorCode.AUTHENTICATION_FAILED
    assert error.exit_code is ExitCode.AUTH
    assert "STIGGCTL_STIGG_API_KEY" in error.hint
    assert len(fake.requests) == 1  # not retried
    assert_no_key(error)


def test_a_key_without_permission_is_a_permission_error_exit_4():
    for answer in (
        json_response(403, {"message": "Forbidden"}),
        gql_error("Forbidden", "IdentityForbidden"),
    ):
        fake = FakeStigg({"Products": answer})
        with pytest.raises(StiggctlError) as caught:
            fake.client(FakeTime()).list_products()
        assert caught.value.code is ErrorCode.PERMISSION_DENIED
        assert caught.value.exit_code is ExitCode.AUTH
        assert "STIGGCTL_STIGG_API_KEY" in caught.value.hint


def test_an_echoed_key_is_redacted():
    fake = FakeStigg({"Products": gql_error(f"key {STIGG_API_KEY} is bad", "Unauthenticated")})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    assert caught.value.message == "Stigg: key *** is bad"


def test_provisioning_a_new_customer():
    provisioned = {
        "provisionCustomer": {
            "subscriptionDecisionStrategy": "REQUESTED_PLAN",
            "customer": customer("org_1", "plan-team"),
            "subscription": {"status": "ACTIVE", "plan": {"refId": "plan-team"}},
        }
    }
    fake = FakeStigg({"ProvisionCustomer": data(provisioned)})
    result = fake.client(FakeTime()).provision_customer(
        "org_1", name="Acme", email="a@acme.test", plan_id="plan-team", metadata={"src": "auth0"}
    )
    assert result.created is True
    assert result.already_existed is False
    assert result.customer.customer_id == "org_1"
    assert result.subscription.plan.ref_id == "plan-team"
    assert result.decision_strategy == "REQUESTED_PLAN"
    assert fake.bodies[0]["variables"] == {
        "input": {
            "customerId": "org_1",
            "name": "Acme",
            "email": "a@acme.test",
            "additionalMetaData": {"src": "auth0"},
            "subscriptionParams": {"planId": "plan-team"},
        }
    }


@pytest.mark.parametrize(
    "answer",
    [
        gql_error("Duplicate customer id: org_1", "DuplicatedEntityNotAllowed"),
        gql_error("Duplicate entity"),
    ],
)
def test_provisioning_an_existing_customer_is_an_outcome_not_an_error(answer):
    fake = FakeStigg({"ProvisionCustomer": answer})
    result = fake.client(FakeTime()).provision_customer("org_1", plan_id="plan-free")
    assert result.created is False
    assert result.already_existed is True
    assert result.customer is None


def test_provisioning_is_not_resent_after_a_read_error():
    fake = FakeStigg({"ProvisionCustomer": raising(httpx.ReadError)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).provision_customer("org_1")
    assert caught.value.code is ErrorCode.NETWORK_ERROR
    assert len(fake.requests) == 1


def test_an_absent_customer_is_none():
    for answer in (
        data({"getCustomerByRefId": None}),
        gql_error("Customer not found", "CustomerNotFound"),
    ):
        fake = FakeStigg({"GetCustomerByRefId": answer})
        assert fake.client(FakeTime()).get_customer("nobody") is None


def test_not_found_codes_map_to_not_found():
    fake = FakeStigg({"Entitlement": gql_error("Feature not found", "FeatureNotFound")})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_entitlement("org_1", "feature-active-users")
    assert caught.value.code is ErrorCode.NOT_FOUND
    assert caught.value.message == "Stigg: Feature not found"
    assert caught.value.details == {"operation": "Entitlement", "graphql_code": "FeatureNotFound"}


def test_other_graphql_errors_are_api_errors_with_every_message():
    answer = json_response(
        200,
        {"errors": [{"message": "first"}, {"message": "second"}], "data": None},
    )
    fake = FakeStigg({"Products": answer})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    assert caught.value.code is ErrorCode.API_ERROR
    assert caught.value.message == "Stigg: first; second"


def test_an_invalid_document_is_invalid_input():
    fake = FakeStigg(
        {"Products": gql_error("Cannot query field", "GRAPHQL_VALIDATION_FAILED", 400)}
    )
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert caught.value.status == 400


def test_a_graphql_rate_limit_is_rate_limited():
    fake = FakeStigg({"Products": gql_error("Too many requests", "RateLimitExceeded")})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    assert caught.value.code is ErrorCode.RATE_LIMITED


def test_http_429_is_retried_then_answered():
    fake = FakeStigg(
        {
            "Products": [
                json_response(429, {"message": "slow down"}, {"Retry-After": "3"}),
                data({"products": {"pageInfo": {"hasNextPage": False}, "edges": []}}),
            ]
        }
    )
    time = FakeTime()
    assert fake.client(time).list_products() == []
    assert time.sleeps == [3.0]


def test_server_errors_are_surfaced_after_retries():
    fake = FakeStigg({"Products": gql_error("Internal server error", "INTERNAL", 500)})
    time = FakeTime()
    with pytest.raises(StiggctlError) as caught:
        fake.client(time).list_products()
    assert caught.value.code is ErrorCode.API_ERROR
    assert len(fake.requests) == 5


def test_an_answer_without_data_is_an_api_error():
    fake = FakeStigg({"Products": json_response(200, {"data": None})})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_products()
    assert caught.value.code is ErrorCode.API_ERROR


def test_customers_are_streamed_with_cursor_paging():
    pages = [
        data(
            {
                "customers": {
                    "totalCount": 3,
                    "pageInfo": {"hasNextPage": True, "endCursor": "c2"},
                    "edges": [{"node": customer("a")}, {"node": customer("b", None)}],
                }
            }
        ),
        data(
            {
                "customers": {
                    "totalCount": 3,
                    "pageInfo": {"hasNextPage": False, "endCursor": "c3"},
                    "edges": [{"node": customer("c")}],
                }
            }
        ),
    ]
    fake = FakeStigg({"Customers": pages})
    customers = fake.client(FakeTime()).iter_customers(page_size=2)
    assert next(customers).customer_id == "a"
    assert len(fake.requests) == 1
    rest = list(customers)
    assert [c.customer_id for c in rest] == ["b", "c"]
    assert rest[0].plan_ref_ids == []
    assert [b["variables"] for b in fake.bodies] == [
        {"paging": {"first": 2}},
        {"paging": {"first": 2, "after": "c2"}},
    ]


def entitlement(**fields) -> dict:
    base = {
        "isGranted": True,
        "accessDeniedReason": None,
        "hasUnlimitedUsage": False,
        "hasSoftLimit": False,
        "usageLimit": 5,
        "currentUsage": 4,
        "requestedUsage": 1,
        "resetPeriod": "MONTH",
        "usagePeriodAnchor": "2026-01-01T00:00:00.000Z",
        "usagePeriodStart": "2026-03-01T00:00:00.000Z",
        "usagePeriodEnd": "2026-04-01T00:00:00.000Z",
        "feature": {"refId": "feature-active-users", "featureType": "NUMBER"},
    }
    return {**base, **fields}


def test_entitlement_with_requested_usage():
    fake = FakeStigg({"Entitlement": data({"entitlement": entitlement()})})
    result = fake.client(FakeTime()).get_entitlement("org_1", "feature-active-users")
    assert result.has_access is True
    assert result.usage_period_end == datetime(2026, 4, 1, tzinfo=UTC)
    assert result.feature.ref_id == "feature-active-users"
    assert fake.bodies[0]["variables"] == {
        "query": {
            "customerId": "org_1",
            "featureId": "feature-active-users",
            "options": {"requestedUsage": 1},
        }
    }


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, True),
        ({"currentUsage": 5}, False),
        ({"currentUsage": 5, "hasSoftLimit": True}, True),
        ({"currentUsage": 50, "hasUnlimitedUsage": True}, True),
        ({"isGranted": False, "currentUsage": 0}, False),
        ({"usageLimit": None, "currentUsage": 100}, True),
    ],
)
def test_has_access_follows_the_sdk_rule(fields, expected):
    assert Entitlement.model_validate(entitlement(**fields)).has_access is expected


def test_all_entitlements_of_a_customer():
    fake = FakeStigg({"CachedEntitlements": data({"cachedEntitlements": [entitlement()]})})
    result = fake.client(FakeTime()).get_entitlements("org_1")
    assert [e.usage_limit for e in result] == [5.0]
    assert fake.bodies[0]["variables"] == {"query": {"customerId": "org_1"}}


def test_report_event_is_idempotent_and_retried_after_a_read_error():
    fake = FakeStigg(
        {"ReportEvent": [raising(httpx.ReadError), data({"reportEvent": "ok"})]},
    )
    moment = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    fake.client(FakeTime()).report_event(
        "org_1",
        "user-login",
        idempotency_key="k-1",
        dimensions={"user_id": "auth0|1"},
        timestamp=moment,
    )
    assert len(fake.requests) == 2
    assert fake.bodies[0]["variables"] == {
        "events": {
            "usageEvents": [
                {
                    "customerId": "org_1",
                    "eventName": "user-login",
                    "idempotencyKey": "k-1",
                    "dimensions": {"user_id": "auth0|1"},
                    "timestamp": "2026-03-02T12:00:00Z",
                }
            ]
        }
    }


def test_timestamps_must_carry_a_zone_and_keep_it():
    fake = FakeStigg({"ReportEvent": data({"reportEvent": "ok"})})
    with pytest.raises(ValueError):
        fake.client(FakeTime()).report_event(
            "c", "e", idempotency_key="k", timestamp=datetime(2026, 1, 1)
        )
    plus_two = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    fake.client(FakeTime()).report_event("c", "e", idempotency_key="k", timestamp=plus_two)
    sent = fake.bodies[-1]["variables"]["events"]["usageEvents"][0]["timestamp"]
    assert sent == "2026-01-01T12:00:00+02:00"


def test_report_usage_delta_without_key_is_not_resent():
    fake = FakeStigg({"ReportUsage": raising(httpx.ReadError)})
    with pytest.raises(StiggctlError):
        fake.client(FakeTime()).report_usage("org_1", "feature-seats", 1)
    assert len(fake.requests) == 1


def test_report_usage_set():
    measured = {
        "customerId": "org_1",
        "featureId": "feature-seats",
        "value": 7,
        "currentUsage": 7,
        "usagePeriodStart": None,
        "usagePeriodEnd": None,
        "timestamp": "2026-03-02T12:00:00.000Z",
    }
    fake = FakeStigg({"ReportUsage": data({"reportUsage": measured})})
    result = fake.client(FakeTime()).report_usage(
        "org_1", "feature-seats", 7, update_behavior="SET"
    )
    assert result.current_usage == 7.0
    assert fake.bodies[0]["variables"] == {
        "input": {
            "customerId": "org_1",
            "featureId": "feature-seats",
            "value": 7,
            "updateBehavior": "SET",
        }
    }


def test_create_feature_reads_the_environment_first():
    feature = {
        "id": "f1",
        "refId": "feature-active-users",
        "displayName": "Active Users",
        "featureType": "NUMBER",
        "meterType": "Incremental",
        "environmentId": ENVIRONMENT,
    }
    fake = FakeStigg(
        {
            "EnvironmentId": data(
                {
                    "products": {"edges": []},
                    "plans": {"edges": [{"node": {"environmentId": ENVIRONMENT}}]},
                    "features": {"edges": []},
                    "customers": {"edges": []},
                }
            ),
            "CreateFeature": data({"createFeature": feature}),
        }
    )
    created = fake.client(FakeTime()).create_feature(
        ref_id="feature-active-users",
        display_name="Active Users",
        units="active user",
        units_plural="active users",
        meter=unique_count_meter("user-login", "user_id"),
    )
    assert created.environment_id == ENVIRONMENT
    assert [b["operationName"] for b in fake.bodies] == ["EnvironmentId", "CreateFeature"]
    assert fake.bodies[1]["variables"] == {
        "input": {
            "refId": "feature-active-users",
            "displayName": "Active Users",
            "featureType": "NUMBER",
            "environmentId": ENVIRONMENT,
            "meterType": "Incremental",
            "featureUnits": "active user",
            "featureUnitsPlural": "active users",
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
    }


def test_an_empty_environment_cannot_give_its_id():
    empty = {k: {"edges": []} for k in ("products", "plans", "features", "customers")}
    fake = FakeStigg({"EnvironmentId": data(empty)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).environment_id()
    assert caught.value.code is ErrorCode.NOT_FOUND


def test_find_feature_by_ref_id():
    node = {"refId": "feature-active-users", "displayName": "Active Users"}
    fake = FakeStigg(
        {
            "Features": [
                data({"features": {"pageInfo": {}, "edges": [{"node": node}]}}),
                data({"features": {"pageInfo": {}, "edges": []}}),
            ]
        }
    )
    client = fake.client(FakeTime())
    assert client.find_feature("feature-active-users").display_name == "Active Users"
    assert client.find_feature("missing") is None
    assert fake.bodies[0]["variables"] == {
        "filter": {"refId": {"eq": "feature-active-users"}},
        "paging": {"first": 1},
    }


def test_plans_published_latest_with_their_usage_limits():
    plan = {
        "id": "p1",
        "refId": "plan-team",
        "displayName": "Team",
        "status": "PUBLISHED",
        "isLatest": True,
        "versionNumber": 3,
        "environmentId": ENVIRONMENT,
        "product": {"refId": "product-app", "displayName": "App"},
        "packageEntitlements": [
            {
                "usageLimit": 25,
                "hasUnlimitedUsage": False,
                "hasSoftLimit": False,
                "resetPeriod": "MONTH",
                "feature": {"refId": "feature-active-users", "meterType": "Incremental"},
            },
            {},  # a credit entitlement: no fragment matched
        ],
    }
    fake = FakeStigg(
        {"Plans": data({"plans": {"pageInfo": {"hasNextPage": False}, "edges": [{"node": plan}]}})}
    )
    plans = fake.client(FakeTime()).list_plans(product_ref_id="product-app")
    assert [p.ref_id for p in plans] == ["plan-team"]
    assert len(plans[0].entitlements) == 1
    assert plans[0].entitlement_for("feature-active-users").usage_limit == 25.0
    assert plans[0].entitlement_for("other") is None
    assert fake.bodies[0]["variables"] == {
        "filter": {
            "status": {"eq": "PUBLISHED"},
            "isLatest": {"is": True},
            "product": {"refId": {"eq": "product-app"}},
        },
        "paging": {"first": 50},
    }


def test_products_are_listed():
    node = {"refId": "product-app", "displayName": "App", "environmentId": ENVIRONMENT}
    fake = FakeStigg(
        {
            "Products": data(
                {"products": {"pageInfo": {"hasNextPage": False}, "edges": [{"node": node}]}}
            )
        }
    )
    assert [p.ref_id for p in fake.client(FakeTime()).list_products()] == ["product-app"]


def test_usage_history_series():
    history = {
        "usageHistoryV2": {
            "series": [
                {
                    "tags": [{"key": "user_id", "value": "auth0|1"}],
                    "points": [
                        {"timestamp": "2026-03-01T00:00:00.000Z", "value": 1, "isResetPoint": True}
                    ],
                }
            ],
            "markers": [{"timestamp": "2026-03-01T00:00:00.000Z", "type": "PERIODIC_RESET"}],
        }
    }
    fake = FakeStigg({"UsageHistory": data(history)})
    start = datetime(2026, 3, 1, tzinfo=UTC)
    result = fake.client(FakeTime()).usage_history(
        "org_1", "feature-active-users", start=start, group_by=["user_id"]
    )
    assert result.series[0].tags == {"user_id": "auth0|1"}
    assert result.series[0].points[0].is_reset_point is True
    assert result.markers[0].type == "PERIODIC_RESET"
    assert fake.bodies[0]["variables"] == {
        "input": {
            "customerId": "org_1",
            "featureId": "feature-active-users",
            "startDate": "2026-03-01T00:00:00Z",
            "groupBy": ["user_id"],
        }
    }


def test_an_unexpected_answer_is_an_api_error_not_a_crash():
    fake = FakeStigg({"Entitlement": data({"entitlement": {"currentUsage": 1}})})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_entitlement("org_1", "feature-active-users")
    assert caught.value.code is ErrorCode.API_ERROR
    assert caught.value.message == (
        "Stigg answered an unexpected Entitlement (isGranted: Field required)."
    )
