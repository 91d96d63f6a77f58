"""The MAU report without I/O: one row per Stigg customer, its status and bar, the totals,
and the comparison of Stigg's active-user count with what Auth0 recorded.

`stiggctl mau report` (commands/mau.py) fetches customers, entitlements and Auth0 users and
hands them here; everything it prints is decided here, so it can be tested on plain values.

Reconciliation reads what the post-login Action writes (action_template/README.md): after
counting a user in an organization, `{orgId}:last_login` (epoch ms) in the user's
app_metadata. A user counted in the organization's current usage period has that record at
or after the period's start, so the number of such users should equal Stigg's count.
Individuals (B2C) are never metered by the Action, so for them the check is that the Auth0
user behind the customer still exists.
"""

from __future__ import annotations

import enum
import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from stiggctl.clients.stigg_models import Customer, Entitlement
from stiggctl.core.action_settings import ORG_ID_PLACEHOLDER
from stiggctl.core.login import period_start_before

NEAR_LIMIT_PERCENT = 80.0
ORGANIZATION_ID_PREFIX = "org_"
# Stigg lists these by default; the others (canceled, expired, ...) grant nothing.
ACTIVE_SUBSCRIPTION_STATUSES = frozenset({"ACTIVE", "IN_TRIAL"})
BAR_WIDTH = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CustomerKind(enum.StrEnum):
    ORGANIZATION = "organization"
    INDIVIDUAL = "individual"


class UsageStatus(enum.StrEnum):
    OK = "ok"
    NEAR = "near"  # at least NEAR_LIMIT_PERCENT of the limit
    AT_LIMIT = "at_limit"  # no new active user fits
    OVER = "over"  # above the limit: a soft limit, or a limit lowered after the users came
    NO_ENTITLEMENT = "no_entitlement"
    NO_SUBSCRIPTION = "no_subscription"

    @property
    def alerting(self) -> bool:
        """What `--fail-over` fails on: the customer cannot take one more active user."""
        return self in (UsageStatus.AT_LIMIT, UsageStatus.OVER)


class LimitKind(enum.StrEnum):
    HARD = "hard"
    SOFT = "soft"
    UNLIMITED = "unlimited"


class MatchStatus(enum.StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"


class ReconcileCheck(enum.StrEnum):
    ACTIVE_USERS = "active_users"  # organizations: users with a login record this period
    USER_EXISTS = "user_exists"  # individuals: the Auth0 user behind the customer


class ReconcileSource(enum.StrEnum):
    MEMBERS = "members"  # organization members, then one GET per user
    EXPORT = "export"  # one users export job for the whole tenant


# -- rows ----------------------------------------------------------------------------------


def customer_kind(customer_id: str) -> CustomerKind:
    """Organization customers carry the Auth0 organization id; individuals the user id."""
    if customer_id.startswith(ORGANIZATION_ID_PREFIX):
        return CustomerKind.ORGANIZATION
    return CustomerKind.INDIVIDUAL


def active_plan_ids(customer: Customer) -> list[str]:
    return [
        s.plan.ref_id
        for s in customer.subscriptions
        if s.plan is not None and s.status.upper() in ACTIVE_SUBSCRIPTION_STATUSES
    ]


def usage_percent(active_users: float | None, limit: float | None) -> float | None:
    """Use of the limit in percent, one decimal; None without a positive limit."""
    if active_users is None or limit is None or limit <= 0:
        return None
    return round(active_users * 100.0 / limit, 1)


def usage_status(
    active_users: float | None, limit: float | None, limit_kind: LimitKind
) -> UsageStatus:
    if limit_kind is LimitKind.UNLIMITED or limit is None:
        return UsageStatus.OK
    used = active_users or 0
    if used > limit:
        return UsageStatus.OVER
    if used == limit:
        return UsageStatus.AT_LIMIT
    if used * 100.0 >= NEAR_LIMIT_PERCENT * limit:
        return UsageStatus.NEAR
    return UsageStatus.OK


def usage_bar(percent: float | None, width: int = BAR_WIDTH) -> str:
    """`percent` as a bar of `width` cells (full from 100 %); blank without a limit."""
    if percent is None:
        return " " * width
    filled = min(width, max(0, math.ceil(percent * width / 100.0 - 1e-9)))
    return "█" * filled + "░" * (width - filled)


@dataclass(frozen=True)
class Reconciliation:
    """Stigg's count against Auth0's for one customer."""

    check: ReconcileCheck
    source: ReconcileSource
    stigg_count: float | None
    auth0_count: int
    status: MatchStatus
    detail: str | None = None

    @property
    def difference(self) -> float | None:
        """Auth0 minus Stigg for active users (positive: Auth0 recorded more)."""
        if self.check is not ReconcileCheck.ACTIVE_USERS or self.stigg_count is None:
            return None
        return self.auth0_count - self.stigg_count

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check.value,
            "source": self.source.value,
            "stigg_count": _number(self.stigg_count),
            "auth0_count": self.auth0_count,
            "difference": _number(self.difference),
            "status": self.status.value,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class UsageRow:
    """One customer of the report."""

    customer_id: str
    name: str | None
    kind: CustomerKind
    plan: str | None
    status: UsageStatus
    active_users: float | None = None
    limit: float | None = None
    limit_kind: LimitKind | None = None
    period_start: datetime | None = None
    period_end: datetime | None = None
    # False when the entitlement's usage never resets (it accumulates forever).
    resets: bool = True
    reconciliation: Reconciliation | None = None

    @property
    def use_percent(self) -> float | None:
        return usage_percent(self.active_users, self.limit)

    @property
    def has_usage(self) -> bool:
        return self.status not in (UsageStatus.NO_ENTITLEMENT, UsageStatus.NO_SUBSCRIPTION)

    def counting_window_ms(self) -> tuple[int, int | None] | None:
        """[start, end) in epoch ms of the usage Stigg counts now; None when unknown."""
        if not self.has_usage:
            return None
        if not self.resets:
            return 0, None
        if self.period_start is None:
            return None
        end = _epoch_ms(self.period_end) if self.period_end is not None else None
        return _epoch_ms(self.period_start), end

    def with_reconciliation(self, reconciliation: Reconciliation | None) -> UsageRow:
        return replace(self, reconciliation=reconciliation)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "customer_id": self.customer_id,
            "name": self.name,
            "kind": self.kind.value,
            "plan": self.plan,
            "active_users": _number(self.active_users),
            "limit": _number(self.limit),
            "limit_kind": self.limit_kind.value if self.limit_kind else None,
            "use_percent": self.use_percent,
            "period_start": iso(self.period_start),
            "period_end": iso(self.period_end),
            "status": self.status.value,
        }
        if self.reconciliation is not None:
            data["reconciliation"] = self.reconciliation.to_dict()
        return data


def usage_row(customer: Customer, entitlements: Sequence[Entitlement], feature_id: str) -> UsageRow:
    """The row of a customer from its entitlements (all of them, or only `feature_id`'s)."""
    plans = active_plan_ids(customer)
    common = {
        "customer_id": customer.customer_id,
        "name": customer.name,
        "kind": customer_kind(customer.customer_id),
        "plan": ", ".join(plans) or None,
    }
    entitlement = next(
        (e for e in entitlements if e.feature is not None and e.feature.ref_id == feature_id), None
    )
    if entitlement is None:
        status = UsageStatus.NO_ENTITLEMENT if plans else UsageStatus.NO_SUBSCRIPTION
        return UsageRow(status=status, **common)
    if entitlement.has_unlimited_usage or entitlement.usage_limit is None:
        limit_kind, limit = LimitKind.UNLIMITED, None
    else:
        limit = entitlement.usage_limit
        limit_kind = LimitKind.SOFT if entitlement.has_soft_limit else LimitKind.HARD
    active = entitlement.current_usage or 0
    resets = entitlement.usage_period_end is not None or entitlement.usage_period_start is not None
    return UsageRow(
        status=usage_status(active, limit, limit_kind),
        active_users=active,
        limit=limit,
        limit_kind=limit_kind,
        period_start=_period_start(entitlement),
        period_end=entitlement.usage_period_end,
        resets=resets,
        **common,
    )


def _period_start(entitlement: Entitlement) -> datetime | None:
    """Stigg's period start, or (as the Action does) the end minus one reset period."""
    if entitlement.usage_period_start is not None:
        return entitlement.usage_period_start
    end = entitlement.usage_period_end
    if end is None:
        return None
    anchor = entitlement.usage_period_anchor
    start_ms = period_start_before(
        _epoch_ms(end), entitlement.reset_period, _epoch_ms(anchor) if anchor else None
    )
    return None if start_ms is None else _EPOCH + timedelta(milliseconds=start_ms)


def table_order(rows: Iterable[UsageRow]) -> list[UsageRow]:
    """Highest use first; customers without a limit after them, busiest first."""
    return sorted(
        rows,
        key=lambda r: (
            not r.has_usage,
            r.use_percent is None,
            -(r.use_percent or 0.0),
            -(r.active_users or 0.0),
            r.customer_id,
        ),
    )


# -- CSV -----------------------------------------------------------------------------------

CSV_COLUMNS = (
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
)
CSV_RECONCILE_COLUMNS = ("auth0_count", "difference", "reconcile_status", "reconcile_detail")


def csv_header(reconcile: bool) -> list[str]:
    return [*CSV_COLUMNS, *(CSV_RECONCILE_COLUMNS if reconcile else ())]


def csv_record(row: UsageRow, reconcile: bool) -> list[str]:
    data = row.to_dict()
    values = [_csv_cell(data[column]) for column in CSV_COLUMNS]
    if reconcile:
        r = row.reconciliation
        values += (
            ["", "", "", ""]
            if r is None
            else [
                _csv_cell(r.auth0_count),
                _csv_cell(_number(r.difference)),
                r.status.value,
                r.detail or "",
            ]
        )
    return values


def _csv_cell(value: Any) -> str:
    return "" if value is None else str(value)


# -- totals --------------------------------------------------------------------------------


@dataclass
class ReportTotals:
    """Totals and the span of usage periods, accumulated row by row (nothing else kept)."""

    customers: int = 0
    active_users: float = 0.0
    by_status: dict[UsageStatus, int] = field(default_factory=lambda: dict.fromkeys(UsageStatus, 0))
    by_match: dict[MatchStatus, int] = field(default_factory=lambda: dict.fromkeys(MatchStatus, 0))
    period_start: datetime | None = None
    period_end: datetime | None = None
    periods_differ: bool = False

    def add(self, row: UsageRow) -> None:
        self.customers += 1
        self.active_users += row.active_users or 0
        self.by_status[row.status] += 1
        if row.reconciliation is not None:
            self.by_match[row.reconciliation.status] += 1
        if row.period_end is None:
            return
        if self.period_end is None:
            self.period_start, self.period_end = row.period_start, row.period_end
            return
        if (row.period_start, row.period_end) != (self.period_start, self.period_end):
            self.periods_differ = True
        if row.period_start is not None and (
            self.period_start is None or row.period_start < self.period_start
        ):
            self.period_start = row.period_start
        self.period_end = max(self.period_end, row.period_end)

    @property
    def alerting(self) -> int:
        return sum(n for status, n in self.by_status.items() if status.alerting)

    def period_dict(self) -> dict[str, Any]:
        """The earliest start and latest end of the customers' current periods."""
        return {
            "start": iso(self.period_start),
            "end": iso(self.period_end),
            "same_for_all": self.period_end is not None and not self.periods_differ,
        }

    def to_dict(self, reconcile: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "customers": self.customers,
            "active_users": _number(self.active_users),
            "by_status": {status.value: n for status, n in self.by_status.items()},
        }
        if reconcile:
            data["reconciliation"] = {status.value: n for status, n in self.by_match.items()}
        return data

    def summary(self, reconcile: bool) -> str:
        """One line for a person: counts, and only the statuses that occur."""
        noun = "customer" if self.customers == 1 else "customers"
        parts = [f"{self.customers} {noun}", f"{_text(self.active_users)} active users"]
        labels = {
            UsageStatus.OVER: "over",
            UsageStatus.AT_LIMIT: "at limit",
            UsageStatus.NEAR: "near",
            UsageStatus.NO_ENTITLEMENT: "no entitlement",
            UsageStatus.NO_SUBSCRIPTION: "no subscription",
        }
        parts += [f"{self.by_status[s]} {name}" for s, name in labels.items() if self.by_status[s]]
        if reconcile:
            parts.append(
                f"Auth0: {self.by_match[MatchStatus.MATCH]} match, "
                f"{self.by_match[MatchStatus.MISMATCH]} mismatch"
            )
        return " · ".join(parts)


# -- reconciliation ------------------------------------------------------------------------


def login_record_organization(key: str, template: str) -> str | None:
    """The organization of a per-organization app_metadata key, e.g. "org_1:last_login"."""
    prefix, _, suffix = template.partition(ORG_ID_PLACEHOLDER)
    if len(key) <= len(prefix) + len(suffix) or not key.startswith(prefix):
        return None
    if not key.endswith(suffix):
        return None
    return key[len(prefix) : len(key) - len(suffix)]


def login_records(app_metadata: Mapping[str, Any], template: str) -> Iterator[tuple[str, float]]:
    """(organization id, last counted login in epoch ms) of every record in app_metadata."""
    for key, value in app_metadata.items():
        organization_id = login_record_organization(key, template)
        moment = _finite(value)
        if organization_id and moment is not None:
            yield organization_id, moment


def counted_in(moment_ms: float, window: tuple[int, int | None]) -> bool:
    start, end = window
    return moment_ms >= start and (end is None or moment_ms < end)


def reconcile_active_users(
    row: UsageRow, auth0_count: int, source: ReconcileSource, detail: str | None = None
) -> Reconciliation:
    matched = detail is None and row.active_users is not None and auth0_count == row.active_users
    return Reconciliation(
        check=ReconcileCheck.ACTIVE_USERS,
        source=source,
        stigg_count=row.active_users,
        auth0_count=auth0_count,
        status=MatchStatus.MATCH if matched else MatchStatus.MISMATCH,
        detail=detail,
    )


def reconcile_user_exists(row: UsageRow, exists: bool, source: ReconcileSource) -> Reconciliation:
    return Reconciliation(
        check=ReconcileCheck.USER_EXISTS,
        source=source,
        stigg_count=row.active_users,
        auth0_count=1 if exists else 0,
        status=MatchStatus.MATCH if exists else MatchStatus.MISMATCH,
        detail=None if exists else "no such Auth0 user",
    )


class ExportIndex:
    """What a users export tells the reconciliation, kept compact.

    The file is read once, user by user; kept are the user ids (for individuals) and, per
    organization, the moments of its users' login records as packed floats. Counting for a
    period then needs no second pass over the file.
    """

    def __init__(self, last_login_template: str) -> None:
        self._template = last_login_template
        self._users: set[str] = set()
        self._logins: dict[str, array[float]] = {}

    def add(self, user_id: str, app_metadata: Mapping[str, Any]) -> None:
        self._users.add(user_id)
        for organization_id, moment in login_records(app_metadata, self._template):
            self._logins.setdefault(organization_id, array("d")).append(moment)

    @property
    def users(self) -> int:
        return len(self._users)

    def has_user(self, user_id: str) -> bool:
        return user_id in self._users

    def count_logins(self, organization_id: str, window: tuple[int, int | None]) -> int:
        return sum(1 for m in self._logins.get(organization_id, ()) if counted_in(m, window))

    def reconcile(self, row: UsageRow) -> Reconciliation | None:
        if row.kind is CustomerKind.INDIVIDUAL:
            exists = self.has_user(row.customer_id)
            return reconcile_user_exists(row, exists, ReconcileSource.EXPORT)
        window = row.counting_window_ms()
        if window is None:
            return None
        count = self.count_logins(row.customer_id, window)
        return reconcile_active_users(row, count, ReconcileSource.EXPORT)


# -- values --------------------------------------------------------------------------------


def iso(moment: datetime | None) -> str | None:
    """UTC, to the second, with Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _epoch_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _number(value: float | None) -> float | int | None:
    """Counts as integers when whole (Stigg sends floats): 3, not 3.0."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def _text(value: float) -> str:
    return str(_number(value))


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
