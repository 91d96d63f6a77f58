"""The emulator's state: Stigg's catalog (products, plans, features), customers with their
subscriptions, and the usage reported for them.

Records are pydantic models so that a snapshot is `model_dump()` and a restore is
`model_validate()`. Times are epoch seconds (the sandbox clock's unit); ids of the catalog
and customers are Stigg-style pairs: a UUID `id` and the caller's `ref_id`.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, Field

ACTIVE_SUBSCRIPTION_STATUSES = ("ACTIVE", "IN_TRIAL")
METERED_TYPES = ("Incremental", "Fluctuating")


def new_id() -> str:
    return str(uuid.uuid4())


class MeterCondition(BaseModel):
    field: str
    operation: str  # ConditionOperation
    value: str | None = None
    values: list[str] | None = None


class Meter(BaseModel):
    id: str = Field(default_factory=new_id)
    aggregation_function: str  # AggregationFunction: COUNT SUM UNIQUE ...
    aggregation_field: str | None = None
    # Filter definitions are alternatives (any may match); conditions of one must all match.
    filters: list[list[MeterCondition]] = Field(default_factory=list)
    created_at: float


class Feature(BaseModel):
    id: str = Field(default_factory=new_id)
    ref_id: str
    display_name: str
    feature_type: str  # FeatureType: BOOLEAN NUMBER ENUM
    meter_type: str | None = None  # MeterType: None Incremental Fluctuating
    feature_status: str = "ACTIVE"
    feature_units: str | None = None
    feature_units_plural: str | None = None
    description: str | None = None
    additional_meta_data: dict[str, Any] | None = None
    meter: Meter | None = None
    created_at: float
    updated_at: float

    @property
    def is_metered(self) -> bool:
        return self.feature_type == "NUMBER" and self.meter_type in METERED_TYPES


class Product(BaseModel):
    id: str = Field(default_factory=new_id)
    ref_id: str
    display_name: str | None = None
    description: str | None = None
    status: str = "PUBLISHED"  # ProductStatus: PUBLISHED ARCHIVED
    additional_meta_data: dict[str, Any] | None = None
    created_at: float
    updated_at: float


class PlanEntitlement(BaseModel):
    """A plan's entitlement to one feature (Stigg's PackageFeatureEntitlement)."""

    id: str = Field(default_factory=new_id)
    feature_ref_id: str
    usage_limit: float | None = None
    has_unlimited_usage: bool = False
    has_soft_limit: bool = False
    reset_period: str | None = "MONTH"  # EntitlementResetPeriod, None: usage never resets
    # MonthlyAccordingTo / WeeklyAccordingTo / YearlyAccordingTo for the reset period.
    reset_according_to: str = "SubscriptionStart"
    created_at: float = 0.0


class Plan(BaseModel):
    id: str = Field(default_factory=new_id)
    ref_id: str
    product_ref_id: str
    display_name: str
    description: str | None = None
    status: str = "PUBLISHED"  # PackageStatus
    is_latest: bool = True
    version_number: int = 1
    pricing_type: str = "FREE"  # PricingType
    entitlements: list[PlanEntitlement] = Field(default_factory=list)
    additional_meta_data: dict[str, Any] | None = None
    created_at: float
    updated_at: float


class Subscription(BaseModel):
    id: str = Field(default_factory=new_id)
    subscription_id: str  # the ref id
    plan_ref_id: str
    status: str = "ACTIVE"  # SubscriptionStatus
    start_date: float
    billing_period: str | None = None
    additional_meta_data: dict[str, Any] | None = None
    created_at: float


class Customer(BaseModel):
    id: str = Field(default_factory=new_id)
    customer_id: str  # the ref id: stiggctl uses the Auth0 user or organization id
    name: str | None = None
    email: str | None = None
    additional_meta_data: dict[str, Any] | None = None
    subscriptions: list[Subscription] = Field(default_factory=list)
    created_at: float
    updated_at: float

    def active_subscriptions(self, now: float) -> list[Subscription]:
        """Active ones that have started, the most recent first (Stigg's default order)."""
        active = [
            s
            for s in self.subscriptions
            if s.status in ACTIVE_SUBSCRIPTION_STATUSES and s.start_date <= now
        ]
        return sorted(active, key=lambda s: s.created_at, reverse=True)


class UsageEvent(BaseModel):
    customer_id: str
    event_name: str
    idempotency_key: str
    dimensions: dict[str, Any] = Field(default_factory=dict)
    resource_id: str | None = None
    timestamp: float  # when it happened: the reported timestamp, else when it was received
    explicit_timestamp: bool = False
    received_at: float


class UsageMeasurement(BaseModel):
    """Calculated usage reported with reportUsage, for features without a meter."""

    id: str = Field(default_factory=new_id)
    customer_id: str
    feature_ref_id: str
    value: float
    update_behavior: str = "DELTA"  # UsageUpdateBehavior
    idempotency_key: str | None = None
    resource_id: str | None = None
    timestamp: float
