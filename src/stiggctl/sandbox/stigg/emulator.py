"""A stateful emulator of the part of Stigg's API that stiggctl and its post-login action use.

`StiggEmulator.handle` answers `POST /graphql` (see graphql_api.py); the methods below are
the emulated service itself, also called directly by seeds, tests and the sandbox's
control endpoints. Everything runs under one lock: the HTTP server calls `handle` from
many threads.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from stiggctl.sandbox.http import Request, Response
from stiggctl.sandbox.stigg import api_errors, metering
from stiggctl.sandbox.stigg.api_errors import StiggApiError
from stiggctl.sandbox.stigg.graphql_api import execute_request
from stiggctl.sandbox.stigg.model import (
    Customer,
    Feature,
    Meter,
    Plan,
    PlanEntitlement,
    Product,
    Subscription,
    UsageEvent,
    UsageMeasurement,
    new_id,
)
from stiggctl.sandbox.stigg.periods import usage_period

ACTIVE_USERS_FEATURE_ID = "feature-active-users"
LOGIN_EVENT_NAME = "user-login"
# Stigg deduplicates events on (timestamp, customerId, resourceId, eventName, idempotencyKey)
# for 7 days; an event sent without a timestamp is keyed without one.
IDEMPOTENCY_WINDOW_SECONDS = 7 * 24 * 3600
MAX_HISTORY_POINTS = 1000
SNAPSHOT_VERSION = 1
_HOUR = 3600.0
_DAY = 24 * _HOUR


@dataclass(frozen=True)
class EntitlementState:
    """One customer's entitlement to one feature, evaluated now (Stigg's `Entitlement`)."""

    customer_id: str
    feature: Feature | None
    is_granted: bool
    access_denied_reason: str | None = None
    usage_limit: float | None = None
    has_unlimited_usage: bool = False
    has_soft_limit: bool = False
    current_usage: float | None = None
    requested_usage: float | None = None
    reset_period: str | None = None
    reset_according_to: str | None = None
    usage_period_anchor: float | None = None
    usage_period_start: float | None = None
    usage_period_end: float | None = None
    usage_updated_at: float | None = None
    entitlement_updated_at: float | None = None


@dataclass(frozen=True)
class _Grant:
    subscription: Subscription
    plan: Plan
    entitlement: PlanEntitlement


@dataclass(frozen=True)
class UsagePoint:
    timestamp: float
    value: float
    is_reset_point: bool


@dataclass(frozen=True)
class UsageSeries:
    tags: dict[str, str]
    points: list[UsagePoint]


class StiggEmulator:
    def __init__(self, *, api_keys: set[str], clock: Callable[[], float] = time.time) -> None:
        self._api_keys = frozenset(api_keys)
        self._clock = clock
        self._lock = threading.RLock()
        self.environment_id = new_id()
        self._products: dict[str, Product] = {}
        self._plans: dict[str, Plan] = {}
        self._features: dict[str, Feature] = {}
        self._customers: dict[str, Customer] = {}
        self._events: dict[str, list[UsageEvent]] = {}
        self._measurements: dict[tuple[str, str], list[UsageMeasurement]] = {}
        self._seen_event_keys: dict[tuple[Any, ...], float] = {}
        self._seen_usage_keys: dict[tuple[str, str, str], float] = {}

    def __repr__(self) -> str:
        # Never the API keys: they are secrets.
        return f"StiggEmulator(environment_id={self.environment_id!r})"

    def now(self) -> float:
        return self._clock()

    # --- HTTP -----------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.header("x-api-key") not in self._api_keys:
            return api_errors.unauthenticated()
        with self._lock:
            return execute_request(self, req)

    # --- state files ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "version": SNAPSHOT_VERSION,
                "environmentId": self.environment_id,
                "products": [p.model_dump() for p in self._products.values()],
                "plans": [p.model_dump() for p in self._plans.values()],
                "features": [f.model_dump() for f in self._features.values()],
                "customers": [c.model_dump() for c in self._customers.values()],
                "events": [e.model_dump() for events in self._events.values() for e in events],
                "measurements": [m.model_dump() for ms in self._measurements.values() for m in ms],
            }

    def restore(self, data: Mapping[str, Any]) -> None:
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"unsupported Stigg sandbox state version: {data.get('version')!r}")
        with self._lock:
            self.environment_id = data["environmentId"]
            self._products = {
                p.ref_id: p for p in map(Product.model_validate, data.get("products", []))
            }
            self._plans = {p.ref_id: p for p in map(Plan.model_validate, data.get("plans", []))}
            self._features = {
                f.ref_id: f for f in map(Feature.model_validate, data.get("features", []))
            }
            self._customers = {
                c.customer_id: c for c in map(Customer.model_validate, data.get("customers", []))
            }
            self._events = {}
            self._seen_event_keys = {}
            for event in map(UsageEvent.model_validate, data.get("events", [])):
                self._events.setdefault(event.customer_id, []).append(event)
                self._seen_event_keys[_event_key(event)] = event.received_at
            self._measurements = {}
            self._seen_usage_keys = {}
            for m in map(UsageMeasurement.model_validate, data.get("measurements", [])):
                self._measurements.setdefault((m.customer_id, m.feature_ref_id), []).append(m)
                if m.idempotency_key is not None:
                    key = (m.customer_id, m.feature_ref_id, m.idempotency_key)
                    self._seen_usage_keys[key] = m.timestamp

    # --- catalog --------------------------------------------------------------------------

    def add_product(
        self, ref_id: str, *, display_name: str | None = None, description: str | None = None
    ) -> Product:
        with self._lock:
            if ref_id in self._products:
                raise api_errors.duplicate("Product", ref_id)
            now = self.now()
            product = Product(
                ref_id=ref_id,
                display_name=display_name,
                description=description,
                created_at=now,
                updated_at=now,
            )
            self._products[ref_id] = product
            return product

    def add_plan(
        self,
        ref_id: str,
        *,
        product_ref_id: str,
        display_name: str | None = None,
        entitlements: Iterable[PlanEntitlement] = (),
        status: str = "PUBLISHED",
        pricing_type: str = "FREE",
        description: str | None = None,
    ) -> Plan:
        with self._lock:
            if ref_id in self._plans:
                raise api_errors.duplicate("Plan", ref_id)
            if product_ref_id not in self._products:
                raise api_errors.not_found("ProductNotFoundError", "Product", product_ref_id)
            now = self.now()
            plan = Plan(
                ref_id=ref_id,
                product_ref_id=product_ref_id,
                display_name=display_name or ref_id,
                description=description,
                status=status,
                pricing_type=pricing_type,
                entitlements=[e.model_copy(update={"created_at": now}) for e in entitlements],
                created_at=now,
                updated_at=now,
            )
            self._plans[ref_id] = plan
            return plan

    def add_feature(
        self,
        ref_id: str,
        display_name: str,
        *,
        feature_type: str = "NUMBER",
        meter_type: str | None = None,
        meter: Meter | None = None,
        feature_units: str | None = None,
        feature_units_plural: str | None = None,
        description: str | None = None,
        feature_status: str = "ACTIVE",
        additional_meta_data: dict[str, Any] | None = None,
    ) -> Feature:
        with self._lock:
            if ref_id in self._features:
                raise api_errors.duplicate("Feature", ref_id)
            if meter is not None and feature_type != "NUMBER":
                raise StiggApiError(
                    "MeterMustBeAssociatedToMeteredFeature",
                    "Meter must be associated to a metered feature",
                )
            if meter_type is None:
                meter_type = "Incremental" if meter is not None else "None"
            now = self.now()
            feature = Feature(
                ref_id=ref_id,
                display_name=display_name,
                feature_type=feature_type,
                meter_type=meter_type,
                meter=meter,
                feature_units=feature_units,
                feature_units_plural=feature_units_plural,
                description=description,
                feature_status=feature_status,
                additional_meta_data=additional_meta_data,
                created_at=now,
                updated_at=now,
            )
            self._features[ref_id] = feature
            return feature

    def product(self, ref_id: str) -> Product | None:
        return self._products.get(ref_id)

    def plan(self, ref_id: str) -> Plan | None:
        return self._plans.get(ref_id)

    def feature(self, ref_id: str) -> Feature | None:
        return self._features.get(ref_id)

    def products(self) -> list[Product]:
        with self._lock:
            return list(self._products.values())

    def plans(self) -> list[Plan]:
        with self._lock:
            return list(self._plans.values())

    def features(self) -> list[Feature]:
        with self._lock:
            return list(self._features.values())

    # --- customers ------------------------------------------------------------------------

    def add_customer(
        self,
        customer_id: str,
        *,
        name: str | None = None,
        email: str | None = None,
        plan_ref_id: str | None = None,
        start_date: float | None = None,
        subscription_id: str | None = None,
        billing_period: str | None = None,
        additional_meta_data: dict[str, Any] | None = None,
        created_at: float | None = None,
    ) -> Customer:
        """Provision a customer, subscribed to `plan_ref_id` from `start_date` (default now)."""
        with self._lock:
            if customer_id in self._customers:
                raise api_errors.duplicate("Customer", customer_id)
            now = self.now()
            subscriptions = []
            if plan_ref_id is not None:
                plan = self._plans.get(plan_ref_id)
                if plan is None:
                    raise api_errors.not_found("PlanNotFound", "Plan", plan_ref_id)
                if plan.status != "PUBLISHED":
                    raise StiggApiError("UnPublishedPackage", "Plan is not published")
                subscriptions.append(
                    Subscription(
                        subscription_id=subscription_id
                        or f"subscription-{plan_ref_id}-{uuid.uuid4().hex[:8]}",
                        plan_ref_id=plan_ref_id,
                        start_date=now if start_date is None else start_date,
                        billing_period=billing_period,
                        created_at=now,
                    )
                )
            customer = Customer(
                customer_id=customer_id,
                name=name,
                email=email,
                additional_meta_data=additional_meta_data,
                subscriptions=subscriptions,
                created_at=now if created_at is None else created_at,
                updated_at=now,
            )
            self._customers[customer_id] = customer
            return customer

    def customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def known_customer(self, customer_id: str) -> Customer:
        """The customer, or Stigg's CustomerNotFound error."""
        customer = self._customers.get(customer_id)
        if customer is None:
            raise api_errors.not_found("CustomerNotFound", "Customer", customer_id)
        return customer

    def customers(self) -> list[Customer]:
        with self._lock:
            return list(self._customers.values())

    # --- usage ----------------------------------------------------------------------------

    def report_event(
        self,
        customer_id: str,
        event_name: str,
        idempotency_key: str,
        dimensions: Mapping[str, Any] | None = None,
        *,
        timestamp: float | None = None,
        resource_id: str | None = None,
    ) -> bool:
        """Record one raw event; False when its idempotency key was seen in the last 7 days."""
        with self._lock:
            now = self.now()
            event = UsageEvent(
                customer_id=customer_id,
                event_name=event_name,
                idempotency_key=idempotency_key,
                dimensions=dict(dimensions or {}),
                resource_id=resource_id,
                timestamp=now if timestamp is None else timestamp,
                explicit_timestamp=timestamp is not None,
                received_at=now,
            )
            key = _event_key(event)
            seen_at = self._seen_event_keys.get(key)
            if seen_at is not None and now - seen_at < IDEMPOTENCY_WINDOW_SECONDS:
                return False
            self._seen_event_keys[key] = now
            self._events.setdefault(customer_id, []).append(event)
            return True

    def record_logins(
        self,
        customer_id: str,
        user_ids: Iterable[str],
        *,
        at: float | None = None,
        event_name: str = LOGIN_EVENT_NAME,
    ) -> None:
        """Pre-seed login events, one per user (tests: "3 active users already")."""
        with self._lock:
            when = self.now() if at is None else at
            for user_id in user_ids:
                self.report_event(
                    customer_id,
                    event_name,
                    f"seed:{customer_id}:{user_id}:{when}",
                    {"user_id": user_id},
                    timestamp=when,
                )

    def events(self, customer_id: str) -> list[UsageEvent]:
        with self._lock:
            return list(self._events.get(customer_id, []))

    def report_usage(
        self,
        customer_id: str,
        feature_ref_id: str,
        value: float,
        *,
        update_behavior: str = "DELTA",
        idempotency_key: str | None = None,
        timestamp: float | None = None,
        resource_id: str | None = None,
    ) -> tuple[UsageMeasurement, EntitlementState]:
        """Calculated usage of a feature without a meter (Stigg's reportUsage)."""
        with self._lock:
            now = self.now()
            customer = self.known_customer(customer_id)
            feature = self._known_feature(feature_ref_id)
            if feature.meter is not None:
                raise StiggApiError(
                    "CannotReportUsageForEntitlementWithMeterError",
                    "Cannot report usage for a feature with a meter: report events instead",
                )
            self._entitled_grant(customer, feature_ref_id, now)
            measurement = UsageMeasurement(
                customer_id=customer_id,
                feature_ref_id=feature_ref_id,
                value=value,
                update_behavior=update_behavior,
                idempotency_key=idempotency_key,
                resource_id=resource_id,
                timestamp=now if timestamp is None else timestamp,
            )
            usage_key = (customer_id, feature_ref_id, idempotency_key or "")
            seen_at = self._seen_usage_keys.get(usage_key)
            duplicate = (
                idempotency_key is not None
                and seen_at is not None
                and now - seen_at < IDEMPOTENCY_WINDOW_SECONDS
            )
            if not duplicate:
                self._measurements.setdefault((customer_id, feature_ref_id), []).append(measurement)
                if idempotency_key is not None:
                    self._seen_usage_keys[usage_key] = now
            return measurement, self.entitlement(customer_id, feature_ref_id)

    # --- entitlements ---------------------------------------------------------------------

    def _grant(self, customer: Customer, feature_ref_id: str, now: float) -> _Grant | None:
        for subscription in customer.active_subscriptions(now):
            plan = self._plans.get(subscription.plan_ref_id)
            for entitlement in plan.entitlements if plan else ():
                if entitlement.feature_ref_id == feature_ref_id:
                    return _Grant(subscription, plan, entitlement)
        return None

    def _entitled_grant(self, customer: Customer, feature_ref_id: str, now: float) -> _Grant:
        """The grant, or the error Stigg answers usage of a feature the customer lacks with."""
        grant = self._grant(customer, feature_ref_id, now)
        if grant is None:
            raise StiggApiError(
                "NoFeatureEntitlementInSubscription",
                "Customer has no entitlement to the feature",
            )
        return grant

    def _known_feature(self, feature_ref_id: str) -> Feature:
        feature = self._features.get(feature_ref_id)
        if feature is None:
            raise api_errors.not_found("FeatureNotFound", "Feature", feature_ref_id)
        return feature

    def entitlement(
        self, customer_id: str, feature_ref_id: str, *, requested_usage: float | None = None
    ) -> EntitlementState:
        with self._lock:
            now = self.now()
            feature = self._features.get(feature_ref_id)
            customer = self._customers.get(customer_id)

            def denied(reason: str) -> EntitlementState:
                return EntitlementState(
                    customer_id=customer_id,
                    feature=feature,
                    is_granted=False,
                    access_denied_reason=reason,
                    requested_usage=requested_usage,
                )

            if customer is None:
                return denied("CustomerNotFound")
            if feature is None:
                return denied("FeatureNotFound")
            if not customer.active_subscriptions(now):
                return denied("NoActiveSubscription")
            grant = self._grant(customer, feature_ref_id, now)
            if grant is None:
                return denied("NoFeatureEntitlementInSubscription")
            return self._evaluate(customer, feature, grant, requested_usage, now)

    def entitlements(self, customer_id: str) -> list[EntitlementState]:
        """Every entitlement of the customer's active subscriptions, evaluated for no usage."""
        with self._lock:
            now = self.now()
            customer = self._customers.get(customer_id)
            if customer is None:
                return []
            states = []
            seen: set[str] = set()
            for subscription in customer.active_subscriptions(now):
                plan = self._plans.get(subscription.plan_ref_id)
                for entitlement in plan.entitlements if plan else ():
                    feature = self._features.get(entitlement.feature_ref_id)
                    if feature is None or feature.ref_id in seen:
                        continue
                    seen.add(feature.ref_id)
                    grant = _Grant(subscription, plan, entitlement)
                    states.append(self._evaluate(customer, feature, grant, None, now))
            return states

    def _evaluate(
        self,
        customer: Customer,
        feature: Feature,
        grant: _Grant,
        requested_usage: float | None,
        now: float,
    ) -> EntitlementState:
        entitlement = grant.entitlement
        state = EntitlementState(
            customer_id=customer.customer_id,
            feature=feature,
            is_granted=True,
            usage_limit=entitlement.usage_limit,
            has_unlimited_usage=entitlement.has_unlimited_usage,
            has_soft_limit=entitlement.has_soft_limit,
            requested_usage=requested_usage,
            entitlement_updated_at=max(grant.subscription.created_at, grant.plan.updated_at),
        )
        if not feature.is_metered:
            return state
        window = self._usage_window(feature, grant, now)
        current, updated_at = self._usage_in(customer.customer_id, feature, window)
        exceeded = (
            not entitlement.has_unlimited_usage
            and not entitlement.has_soft_limit
            and entitlement.usage_limit is not None
            and current + (requested_usage or 0) > entitlement.usage_limit
        )
        resets = window is not None
        return replace(
            state,
            is_granted=not exceeded,
            access_denied_reason="RequestedUsageExceedingLimit" if exceeded else None,
            current_usage=current,
            reset_period=entitlement.reset_period if resets else None,
            reset_according_to=entitlement.reset_according_to if resets else None,
            usage_period_anchor=grant.subscription.start_date if resets else None,
            usage_period_start=window[0] if window else None,
            usage_period_end=window[1] if window else None,
            usage_updated_at=updated_at,
        )

    def _usage_window(
        self, feature: Feature, grant: _Grant, now: float
    ) -> tuple[float, float] | None:
        """The current usage period, or None when usage accumulates forever (a fluctuating
        meter, or an entitlement without a reset period)."""
        entitlement = grant.entitlement
        if feature.meter_type != "Incremental" or entitlement.reset_period is None:
            return None
        return usage_period(
            grant.subscription.start_date,
            now,
            entitlement.reset_period,
            entitlement.reset_according_to,
        )

    def _usage_in(
        self,
        customer_id: str,
        feature: Feature,
        window: tuple[float, float] | None,
        *,
        until: float | None = None,
        events: list[UsageEvent] | None = None,
    ) -> tuple[float, float | None]:
        """Usage in the window (up to `until`), and when it last changed."""
        start, end = window or (float("-inf"), float("inf"))
        if until is not None:
            end = min(end, until)
        if feature.meter is not None:
            candidates = self._events.get(customer_id, []) if events is None else events
            in_window = [e for e in candidates if start <= e.timestamp < end]
            matching = [e for e in in_window if metering.matches(feature.meter, e)]
            updated_at = max((e.received_at for e in matching), default=None)
            return metering.aggregate(feature.meter, matching), updated_at
        value, updated_at = 0.0, None
        measurements = self._measurements.get((customer_id, feature.ref_id), [])
        for m in sorted(measurements, key=lambda m: m.timestamp):
            if start <= m.timestamp < end:
                value = m.value if m.update_behavior == "SET" else value + m.value
                updated_at = m.timestamp
        return value, updated_at

    # --- read helpers (MAU report, tests) -------------------------------------------------

    def current_usage(
        self, customer_id: str, feature_ref_id: str = ACTIVE_USERS_FEATURE_ID
    ) -> float:
        state = self.entitlement(customer_id, feature_ref_id)
        return state.current_usage or 0.0

    def active_users(
        self, customer_id: str, feature_ref_id: str = ACTIVE_USERS_FEATURE_ID
    ) -> list[str]:
        """The distinct users counted in the current period by the feature's meter."""
        with self._lock:
            now = self.now()
            customer = self._customers.get(customer_id)
            feature = self._features.get(feature_ref_id)
            if customer is None or feature is None or feature.meter is None:
                return []
            grant = self._grant(customer, feature_ref_id, now)
            if grant is None:
                return []
            start, end = self._usage_window(feature, grant, now) or (float("-inf"), float("inf"))
            events = [e for e in self._events.get(customer_id, []) if start <= e.timestamp < end]
            return metering.unique_values(feature.meter, events)

    def usage_history(
        self,
        customer_id: str,
        feature_ref_id: str,
        start: float,
        end: float | None = None,
        group_by: list[str] | None = None,
    ) -> tuple[list[float], list[UsageSeries]]:
        """Period resets (markers) and the usage series between start and end (default now):
        one point per day (per hour for hourly resets) and at each reset, each point the
        period-to-date usage at the end of its segment."""
        with self._lock:
            now = self.now()
            end = now if end is None else end
            customer = self.known_customer(customer_id)
            feature = self._known_feature(feature_ref_id)
            grant = self._entitled_grant(customer, feature_ref_id, now)
            if end <= start:
                return [], []
            resets: list[float] = []
            period = self._usage_window(feature, grant, start)
            while period is not None and period[1] < end:
                resets.append(period[1])
                period = self._usage_window(feature, grant, period[1])
            step = _HOUR if grant.entitlement.reset_period == "HOUR" else _DAY
            count = int((end - start) // step) + 1
            if count + len(resets) > MAX_HISTORY_POINTS:
                raise api_errors.bad_input("The requested date range is too large")
            ticks = {start + k * step for k in range(count)} | set(resets)
            times = sorted(t for t in ticks if t < end)
            boundaries = [*times[1:], end]

            groups: dict[tuple[str, ...], list[UsageEvent]] = {}
            all_events = self._events.get(customer_id, [])
            if group_by and feature.meter is not None:
                for event in all_events:
                    tag = tuple(str(event.dimensions.get(k, "")) for k in group_by)
                    groups.setdefault(tag, []).append(event)
            else:
                groups[()] = all_events
            reset_set = set(resets)
            series = []
            for tag, events in sorted(groups.items()):
                points = []
                for point, segment_end in zip(times, boundaries, strict=True):
                    window = self._usage_window(feature, grant, point)
                    value, _ = self._usage_in(
                        customer_id, feature, window, until=segment_end, events=events
                    )
                    points.append(UsagePoint(point, value, point in reset_set))
                series.append(UsageSeries(dict(zip(group_by or [], tag, strict=False)), points))
            return resets, series


def _event_key(event: UsageEvent) -> tuple[Any, ...]:
    return (
        event.customer_id,
        event.resource_id,
        event.event_name,
        event.idempotency_key,
        event.timestamp if event.explicit_timestamp else None,
    )
