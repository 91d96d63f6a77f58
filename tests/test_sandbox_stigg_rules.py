"""The emulated Stigg's rules in isolation: usage periods, meters, list filters and paging."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stiggctl.sandbox.stigg import listing, metering
from stiggctl.sandbox.stigg.model import Meter, MeterCondition, UsageEvent
from stiggctl.sandbox.stigg.periods import usage_period


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None).isoformat()


@pytest.mark.parametrize(
    ("anchor", "now", "reset", "according_to", "expected"),
    [
        # Monthly from the subscription start, the day clipped in short months and restored.
        (
            "2026-01-31T08:00",
            "2026-02-10T00:00",
            "MONTH",
            "SubscriptionStart",
            ("2026-01-31T08:00:00", "2026-02-28T08:00:00"),
        ),
        (
            "2026-01-31T08:00",
            "2026-03-01T00:00",
            "MONTH",
            "SubscriptionStart",
            ("2026-02-28T08:00:00", "2026-03-31T08:00:00"),
        ),
        (
            "2024-01-31T08:00",
            "2024-02-29T09:00",
            "MONTH",
            "SubscriptionStart",
            ("2024-02-29T08:00:00", "2024-03-31T08:00:00"),
        ),
        # The boundary belongs to the new period.
        (
            "2026-01-15T10:00",
            "2026-02-15T10:00",
            "MONTH",
            "SubscriptionStart",
            ("2026-02-15T10:00:00", "2026-03-15T10:00:00"),
        ),
        (
            "2026-01-15T10:00",
            "2026-02-15T09:59:59",
            "MONTH",
            "SubscriptionStart",
            ("2026-01-15T10:00:00", "2026-02-15T10:00:00"),
        ),
        (
            "2025-11-20T00:00",
            "2026-01-02T00:00",
            "MONTH",
            "StartOfTheMonth",
            ("2026-01-01T00:00:00", "2026-02-01T00:00:00"),
        ),
        (
            "2026-01-15T10:00",
            "2026-01-29T11:00",
            "WEEK",
            "SubscriptionStart",
            ("2026-01-29T10:00:00", "2026-02-05T10:00:00"),
        ),
        # 2026-01-15 is a Thursday: weeks starting on Mondays at 00:00 UTC.
        (
            "2026-01-15T10:00",
            "2026-01-20T11:00",
            "WEEK",
            "EveryMonday",
            ("2026-01-19T00:00:00", "2026-01-26T00:00:00"),
        ),
        (
            "2026-01-15T10:30",
            "2026-01-17T09:00",
            "DAY",
            "SubscriptionStart",
            ("2026-01-16T10:30:00", "2026-01-17T10:30:00"),
        ),
        (
            "2026-01-15T10:30",
            "2026-01-15T13:00",
            "HOUR",
            "SubscriptionStart",
            ("2026-01-15T12:30:00", "2026-01-15T13:30:00"),
        ),
        (
            "2024-02-29T00:00",
            "2025-03-01T00:00",
            "YEAR",
            "SubscriptionStart",
            ("2025-02-28T00:00:00", "2026-02-28T00:00:00"),
        ),
        # Before the anchor: the first period.
        (
            "2026-01-15T10:00",
            "2026-01-01T00:00",
            "MONTH",
            "SubscriptionStart",
            ("2026-01-15T10:00:00", "2026-02-15T10:00:00"),
        ),
    ],
)
def test_usage_period(anchor, now, reset, according_to, expected):
    start, end = usage_period(ts(anchor), ts(now), reset, according_to)
    assert (iso(start), iso(end)) == expected


def test_usage_period_rejects_an_unknown_reset_period():
    with pytest.raises(ValueError, match="unknown reset period: FORTNIGHT"):
        usage_period(0, 0, "FORTNIGHT")


def event(name: str = "user-login", **dimensions) -> UsageEvent:
    return UsageEvent(
        customer_id="c",
        event_name=name,
        idempotency_key="k",
        dimensions=dimensions,
        timestamp=0,
        received_at=0,
    )


LOGINS = [[MeterCondition(field="eventName", operation="EQUALS", value="user-login")]]


@pytest.mark.parametrize(
    ("function", "field", "expected"),
    [
        ("UNIQUE", "user_id", 2.0),
        ("COUNT", None, 3.0),
        ("SUM", "seats", 7.0),
        ("MAX", "seats", 4.0),
        ("MIN", "seats", 1.0),
        ("AVG", "seats", 7 / 3),
    ],
)
def test_meter_aggregates_matching_events(function, field, expected):
    meter = Meter(
        aggregation_function=function, aggregation_field=field, filters=LOGINS, created_at=0
    )
    events = [
        event(user_id="u1", seats=1),
        event(user_id="u2", seats="4"),
        event(user_id="u1", seats=2),
        event("page-view", user_id="u3", seats=100),
    ]
    assert metering.aggregate(meter, events) == pytest.approx(expected)


def test_meter_filters_are_alternatives_of_conditions_that_all_hold():
    meter = Meter(
        aggregation_function="COUNT",
        filters=[
            [
                MeterCondition(field="eventName", operation="EQUALS", value="user-login"),
                MeterCondition(field="dimensions.plan", operation="IN", values=["pro", "team"]),
            ],
            [MeterCondition(field="eventName", operation="STARTS_WITH", value="api.")],
        ],
        created_at=0,
    )
    kept = [
        event(plan="pro"),
        event("api.call"),
    ]
    dropped = [event(plan="free"), event(), event("page-view", plan="pro")]
    assert [metering.matches(meter, e) for e in kept + dropped] == [True, True, False, False, False]


def test_unique_values_lists_who_was_counted():
    meter = Meter(
        aggregation_function="UNIQUE", aggregation_field="user_id", filters=LOGINS, created_at=0
    )
    events = [event(user_id="b"), event(user_id="a"), event(user_id="b"), event()]
    assert metering.unique_values(meter, events) == ["a", "b"]


RECORDS = [
    {
        "refId": "plan-a",
        "status": "PUBLISHED",
        "isLatest": True,
        "versionNumber": 2,
        "createdAt": datetime(2026, 1, 2, tzinfo=UTC),
        "product": {"refId": "p1"},
    },
    {
        "refId": "plan-b",
        "status": "DRAFT",
        "isLatest": None,
        "versionNumber": 1,
        "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
        "product": {"refId": "p2"},
    },
    {
        "refId": "Plan-C",
        "status": "PUBLISHED",
        "isLatest": False,
        "versionNumber": 3,
        "createdAt": datetime(2026, 1, 3, tzinfo=UTC),
        "product": {"refId": "p1"},
    },
]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"status": {"eq": "PUBLISHED"}, "isLatest": {"is": True}}, ["plan-a"]),
        ({"isLatest": {"isNot": True}}, ["plan-b", "Plan-C"]),
        ({"isLatest": {"is": None}}, ["plan-b"]),
        ({"status": {"in": ["DRAFT", "ARCHIVED"]}}, ["plan-b"]),
        ({"refId": {"iLike": "plan-%"}}, ["plan-a", "plan-b", "Plan-C"]),
        ({"refId": {"like": "plan-_"}}, ["plan-a", "plan-b"]),
        ({"versionNumber": {"gte": 2}}, ["plan-a", "Plan-C"]),
        ({"createdAt": {"lt": "2026-01-02T00:00:00.000Z"}}, ["plan-b"]),
        ({"versionNumber": {"between": {"lower": 2, "upper": 3}}}, ["plan-a", "Plan-C"]),
        ({"product": {"refId": {"eq": "p1"}}}, ["plan-a", "Plan-C"]),
        ({"or": [{"refId": {"eq": "plan-b"}}, {"versionNumber": {"eq": 3}}]}, ["plan-b", "Plan-C"]),
        ({"and": [{"status": {"neq": "DRAFT"}}, {"versionNumber": {"lt": 3}}]}, ["plan-a"]),
        (None, ["plan-a", "plan-b", "Plan-C"]),
    ],
)
def test_filters(filter_, expected):
    selected = listing.select(RECORDS, lambda r: r, filter_, None)
    assert [r["refId"] for r in selected] == expected


def test_sorting_is_stable_and_puts_nulls_where_postgres_does():
    by_latest = [{"field": "isLatest", "direction": "ASC"}]
    assert [r["refId"] for r in listing.select(RECORDS, lambda r: r, None, by_latest)] == [
        "Plan-C",
        "plan-a",
        "plan-b",
    ]
    by_latest_desc = [{"field": "isLatest", "direction": "DESC"}]
    assert [r["refId"] for r in listing.select(RECORDS, lambda r: r, None, by_latest_desc)] == [
        "plan-b",
        "plan-a",
        "Plan-C",
    ]
    two_keys = [
        {"field": "status", "direction": "DESC"},
        {"field": "createdAt", "direction": "ASC", "nulls": "NULLS_LAST"},
    ]
    assert [r["refId"] for r in listing.select(RECORDS, lambda r: r, None, two_keys)] == [
        "plan-a",
        "Plan-C",
        "plan-b",
    ]


def test_paging_walks_every_item_once_with_opaque_cursors():
    items = list(range(23))
    seen, after, pages = [], None, 0
    while True:
        connection = listing.page(items, {"first": 10, "after": after}, node=lambda n: n * 10)
        pages += 1
        seen += [edge["node"] for edge in connection["edges"]]
        assert connection["totalCount"] == 23
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert seen == [n * 10 for n in items]
    assert pages == 3
    assert connection["pageInfo"] == {
        "startCursor": listing.encode_cursor(20),
        "endCursor": listing.encode_cursor(22),
        "hasNextPage": False,
        "hasPreviousPage": True,
    }
    assert listing.encode_cursor(0) == "YXJyYXljb25uZWN0aW9uOjA="


def test_paging_defaults_to_ten_and_supports_last_before():
    items = list(range(15))
    assert [e["node"] for e in listing.page(items, None, node=int)["edges"]] == list(range(10))
    before = listing.encode_cursor(12)
    connection = listing.page(items, {"last": 3, "before": before}, node=int)
    assert [e["node"] for e in connection["edges"]] == [9, 10, 11]
    assert connection["pageInfo"]["hasPreviousPage"] is True
    assert connection["pageInfo"]["hasNextPage"] is True


def test_paging_past_the_end_is_an_empty_page():
    connection = listing.page([1, 2], {"first": 5, "after": listing.encode_cursor(7)}, node=int)
    assert connection["edges"] == []
    assert connection["pageInfo"] == {
        "startCursor": None,
        "endCursor": None,
        "hasNextPage": False,
        "hasPreviousPage": True,
    }


@pytest.mark.parametrize("cursor", ["not-base64!", "aGVsbG8=", "YXJyYXljb25uZWN0aW9uOng="])
def test_paging_rejects_foreign_cursors(cursor):
    with pytest.raises(listing.InvalidCursor):
        listing.page([1], {"after": cursor}, node=int)
