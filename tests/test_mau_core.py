"""The MAU report's pure core: kinds, status, bar, rows, order, CSV, totals, reconciliation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stiggctl.clients.stigg_models import Customer, Entitlement
from stiggctl.core.mau import (
    CustomerKind,
    ExportIndex,
    LimitKind,
    MatchStatus,
    ReconcileSource,
    ReportTotals,
    UsageRow,
    UsageStatus,
    csv_header,
    csv_record,
    customer_kind,
    login_record_organization,
    login_records,
    reconcile_active_users,
    reconcile_user_exists,
    table_order,
    usage_bar,
    usage_percent,
    usage_row,
    usage_status,
)

FEATURE = "feature-active-users"
JUNE = datetime(2024, 6, 1, 12, tzinfo=UTC)
JULY = datetime(2024, 7, 1, 12, tzinfo=UTC)
JUNE_MS = 1_717_243_200_000
JULY_MS = 1_719_835_200_000
TEMPLATE = "{orgId}:last_login"


def customer(customer_id: str, *plans: str, status: str = "ACTIVE", name: str | None = None):
    return Customer.model_validate(
        {
            "customerId": customer_id,
            "name": name,
            "subscriptions": [{"status": status, "plan": {"refId": p}} for p in plans],
        }
    )


def entitlement(feature: str = FEATURE, **fields):
    payload = {"isGranted": True, "feature": {"refId": feature}, **fields}
    return Entitlement.model_validate(payload)


def row(customer_id="org_1", status=UsageStatus.OK, **fields) -> UsageRow:
    kind = customer_kind(customer_id)
    return UsageRow(customer_id, None, kind, "plan-pro", status, **fields)


def test_kind_follows_the_auth0_id():
    assert customer_kind("org_abc") is CustomerKind.ORGANIZATION
    assert customer_kind("auth0|org_abc") is CustomerKind.INDIVIDUAL
    assert customer_kind("google-oauth2|123") is CustomerKind.INDIVIDUAL


@pytest.mark.parametrize(
    ("active", "limit", "kind", "status"),
    [
        (0, 50, LimitKind.HARD, UsageStatus.OK),
        (39, 50, LimitKind.HARD, UsageStatus.OK),
        (40, 50, LimitKind.HARD, UsageStatus.NEAR),
        (49, 50, LimitKind.HARD, UsageStatus.NEAR),
        (50, 50, LimitKind.HARD, UsageStatus.AT_LIMIT),
        (51, 50, LimitKind.HARD, UsageStatus.OVER),  # a limit lowered after the users came
        (3, 2, LimitKind.SOFT, UsageStatus.OVER),
        (2, 2, LimitKind.SOFT, UsageStatus.AT_LIMIT),
        (0, 0, LimitKind.HARD, UsageStatus.AT_LIMIT),
        (10_000, None, LimitKind.UNLIMITED, UsageStatus.OK),
    ],
)
def test_status_by_use_of_the_limit(active, limit, kind, status):
    assert usage_status(active, limit, kind) is status


def test_alerting_statuses_are_at_and_over_the_limit():
    assert [s.value for s in UsageStatus if s.alerting] == ["at_limit", "over"]


def test_percent_and_bar():
    assert usage_percent(2, 3) == 66.7
    assert usage_percent(3, 2) == 150.0
    assert usage_percent(5, None) is None
    assert usage_percent(0, 0) is None
    assert usage_bar(0.0, 10) == "░" * 10
    assert usage_bar(2.0, 10) == "█" + "░" * 9  # any use shows
    assert usage_bar(50.0, 10) == "█" * 5 + "░" * 5
    assert usage_bar(100.0, 10) == "█" * 10
    assert usage_bar(150.0, 10) == "█" * 10
    assert usage_bar(None, 4) == "    "
    assert len(usage_bar(66.7)) == 20


def test_row_of_a_limited_organization():
    acme = customer("org_acme", "plan-free", name="Acme")
    ent = entitlement(
        usageLimit=3,
        currentUsage=2,
        usagePeriodStart="2024-06-01T12:00:00.000Z",
        usagePeriodEnd="2024-07-01T12:00:00.000Z",
        resetPeriod="MONTH",
    )
    other = entitlement("feature-seats", usageLimit=1, currentUsage=1)
    result = usage_row(acme, [other, ent], FEATURE)
    assert result.to_dict() == {
        "customer_id": "org_acme",
        "name": "Acme",
        "kind": "organization",
        "plan": "plan-free",
        "active_users": 2,
        "limit": 3,
        "limit_kind": "hard",
        "use_percent": 66.7,
        "period_start": "2024-06-01T12:00:00Z",
        "period_end": "2024-07-01T12:00:00Z",
        "status": "ok",
    }
    assert result.counting_window_ms() == (JUNE_MS, JULY_MS)


def test_row_derives_the_period_start_as_the_action_does():
    ent = entitlement(
        usageLimit=3,
        currentUsage=3,
        usagePeriodEnd="2024-03-31T00:00:00Z",
        usagePeriodAnchor="2024-01-31T00:00:00Z",
        resetPeriod="MONTH",
    )
    result = usage_row(customer("org_x", "plan-free"), [ent], FEATURE)
    # The anchor's day (31st) clipped to February, not March 31 minus 31 days.
    assert result.period_start == datetime(2024, 2, 29, tzinfo=UTC)
    assert result.status is UsageStatus.AT_LIMIT


def test_rows_unlimited_soft_never_resetting_and_missing():
    unlimited = usage_row(
        customer("auth0|u", "plan-enterprise"),
        [entitlement(hasUnlimitedUsage=True, currentUsage=9)],
        FEATURE,
    )
    assert (unlimited.kind, unlimited.limit, unlimited.limit_kind) == (
        CustomerKind.INDIVIDUAL,
        None,
        LimitKind.UNLIMITED,
    )
    assert (unlimited.status, unlimited.use_percent, unlimited.resets) == (
        UsageStatus.OK,
        None,
        False,
    )
    assert unlimited.counting_window_ms() == (0, None)

    soft = usage_row(
        customer("org_s", "plan-soft"),
        [entitlement(usageLimit=2, hasSoftLimit=True, currentUsage=3)],
        FEATURE,
    )
    assert (soft.limit_kind, soft.status, soft.use_percent) == (
        LimitKind.SOFT,
        UsageStatus.OVER,
        150.0,
    )

    bare = usage_row(customer("org_b", "plan-bare"), [entitlement("feature-seats")], FEATURE)
    assert bare.status is UsageStatus.NO_ENTITLEMENT
    assert bare.counting_window_ms() is None
    # A canceled subscription grants nothing: the customer has none.
    lapsed = usage_row(customer("org_l", "plan-pro", status="CANCELED"), [], FEATURE)
    assert (lapsed.status, lapsed.plan, lapsed.active_users) == (
        UsageStatus.NO_SUBSCRIPTION,
        None,
        None,
    )
    trial = usage_row(customer("org_t", "plan-pro", status="IN_TRIAL"), [], FEATURE)
    assert (trial.status, trial.plan) == (UsageStatus.NO_ENTITLEMENT, "plan-pro")


def test_table_order_puts_the_fullest_first():
    rows = [
        row("org_a", active_users=1, limit=50),
        row("org_b", UsageStatus.NO_SUBSCRIPTION),
        row("org_c", UsageStatus.OVER, active_users=3, limit=2),
        row("org_d", active_users=7, limit_kind=LimitKind.UNLIMITED),
        row("org_e", UsageStatus.AT_LIMIT, active_users=3, limit=3),
        row("org_f", active_users=9, limit_kind=LimitKind.UNLIMITED),
        row("org_g", UsageStatus.AT_LIMIT, active_users=50, limit=50),
    ]
    assert [r.customer_id for r in table_order(rows)] == [
        "org_c",
        "org_g",
        "org_e",
        "org_a",
        "org_f",
        "org_d",
        "org_b",
    ]


def test_csv_records():
    assert csv_header(False) == [
        "customer_id",
        "name",
        "kind",
        "plan",
        "active_users",
        "limit",
        "limit_kind",
        "use_percent",
        "period_start",
        "period_end",
        "status",
    ]
    assert csv_header(True)[-4:] == [
        "auth0_count",
        "difference",
        "reconcile_status",
        "reconcile_detail",
    ]
    full = row(
        "org_a",
        UsageStatus.NEAR,
        active_users=4,
        limit=5,
        limit_kind=LimitKind.HARD,
        period_start=JUNE,
        period_end=JULY,
    )
    expected = "org_a,,organization,plan-pro,4,5,hard,80.0,2024-06-01T12:00:00Z,"
    assert ",".join(csv_record(full, False)) == expected + "2024-07-01T12:00:00Z,near"
    reconciled = full.with_reconciliation(reconcile_active_users(full, 3, ReconcileSource.MEMBERS))
    assert csv_record(reconciled, True)[-4:] == ["3", "-1", "mismatch", ""]
    assert csv_record(full, True)[-4:] == ["", "", "", ""]


def test_totals_and_period_span():
    totals = ReportTotals()
    assert totals.period_dict() == {"start": None, "end": None, "same_for_all": False}
    totals.add(
        row("org_a", UsageStatus.AT_LIMIT, active_users=3, period_start=JUNE, period_end=JULY)
    )
    totals.add(row("org_b", UsageStatus.NO_SUBSCRIPTION))
    assert totals.period_dict() == {
        "start": "2024-06-01T12:00:00Z",
        "end": "2024-07-01T12:00:00Z",
        "same_for_all": True,
    }
    later = datetime(2024, 7, 15, tzinfo=UTC)
    totals.add(
        row(
            "org_c",
            active_users=2.5,
            period_start=datetime(2024, 6, 15, tzinfo=UTC),
            period_end=later,
        )
    )
    assert totals.period_dict() == {
        "start": "2024-06-01T12:00:00Z",
        "end": "2024-07-15T00:00:00Z",
        "same_for_all": False,
    }
    assert totals.alerting == 1
    assert totals.to_dict(reconcile=False) == {
        "customers": 3,
        "active_users": 5.5,
        "by_status": {
            "ok": 1,
            "near": 0,
            "at_limit": 1,
            "over": 0,
            "no_entitlement": 0,
            "no_subscription": 1,
        },
    }
    assert totals.summary(False) == (
        "3 customers · 5.5 active users · 1 at limit · 1 no subscription"
    )


def test_login_records_read_only_the_last_login_keys():
    assert login_record_organization("org_1:last_login", TEMPLATE) == "org_1"
    assert login_record_organization(":last_login", TEMPLATE) is None
    assert login_record_organization("org_1:stigg_period_end", TEMPLATE) is None
    assert login_record_organization("last_login:org_1", "last_login:{orgId}") == "org_1"
    metadata = {
        "org_1:last_login": JUNE_MS,
        "org_1:stigg_period_end": JULY_MS,
        "org_2:last_login": "yesterday",
        "org_3:last_login": True,
        "stigg_customer_provisioned": True,
        "org_4:last_login": 5,
    }
    assert list(login_records(metadata, TEMPLATE)) == [("org_1", JUNE_MS), ("org_4", 5.0)]


def test_reconciliation_of_counts_and_existence():
    counted = row("org_a", active_users=3, period_start=JUNE, period_end=JULY)
    match = reconcile_active_users(counted, 3, ReconcileSource.EXPORT)
    assert match.to_dict() == {
        "check": "active_users",
        "source": "export",
        "stigg_count": 3,
        "auth0_count": 3,
        "difference": 0,
        "status": "match",
        "detail": None,
    }
    missing_org = reconcile_active_users(counted, 0, ReconcileSource.MEMBERS, "no such org")
    assert (missing_org.status, missing_org.difference) == (MatchStatus.MISMATCH, -3)
    person = row("auth0|p")
    assert reconcile_user_exists(person, True, ReconcileSource.MEMBERS).status is MatchStatus.MATCH
    gone = reconcile_user_exists(person, False, ReconcileSource.MEMBERS)
    assert (gone.status, gone.auth0_count, gone.detail, gone.difference) == (
        MatchStatus.MISMATCH,
        0,
        "no such Auth0 user",
        None,
    )


def test_export_index_counts_records_inside_the_period():
    index = ExportIndex(TEMPLATE)
    index.add("auth0|a", {"org_1:last_login": JUNE_MS, "org_2:last_login": JUNE_MS - 1})
    index.add("auth0|b", {"org_1:last_login": JULY_MS - 1})
    index.add("auth0|c", {"org_1:last_login": JULY_MS})  # the next period
    index.add("auth0|d", {})
    assert index.users == 4
    assert index.count_logins("org_1", (JUNE_MS, JULY_MS)) == 2
    assert index.count_logins("org_1", (0, None)) == 3
    assert index.count_logins("org_9", (0, None)) == 0
    june = row("org_1", active_users=2, period_start=JUNE, period_end=JULY)
    assert index.reconcile(june).status is MatchStatus.MATCH
    org_2 = index.reconcile(row("org_2", active_users=1, period_start=JUNE, period_end=JULY))
    assert (org_2.auth0_count, org_2.status) == (0, MatchStatus.MISMATCH)
    assert index.reconcile(row("org_3", UsageStatus.NO_ENTITLEMENT)) is None
    assert index.reconcile(row("auth0|d")).status is MatchStatus.MATCH
    assert index.reconcile(row("auth0|zz")).status is MatchStatus.MISMATCH
