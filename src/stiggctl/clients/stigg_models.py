"""Typed views of the Stigg GraphQL objects that stiggctl reads.

Fields use Python names; the GraphQL camelCase names are their aliases. Extra fields are
allowed so that a wider selection never breaks a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class StiggModel(BaseModel):
    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)


class PlanRef(StiggModel):
    ref_id: str
    display_name: str | None = None


class Subscription(StiggModel):
    status: str
    plan: PlanRef | None = None


class Customer(StiggModel):
    customer_id: str
    name: str | None = None
    email: str | None = None
    environment_id: str | None = None
    created_at: datetime | None = None
    # Stigg lists the ACTIVE and IN_TRIAL subscriptions by default.
    subscriptions: list[Subscription] = Field(default_factory=list)

    @field_validator("subscriptions", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @property
    def plan_ref_ids(self) -> list[str]:
        return [s.plan.ref_id for s in self.subscriptions if s.plan is not None]


@dataclass(frozen=True)
class ProvisionResult:
    """What provisioning a customer did: created it, or found it already there."""

    customer_id: str
    created: bool
    customer: Customer | None = None  # None when it already existed
    subscription: Subscription | None = None
    decision_strategy: str | None = None

    @property
    def already_existed(self) -> bool:
        return not self.created


class FeatureRef(StiggModel):
    ref_id: str
    display_name: str | None = None
    feature_type: str | None = None
    meter_type: str | None = None
    feature_units: str | None = None
    feature_units_plural: str | None = None


class Entitlement(StiggModel):
    is_granted: bool
    access_denied_reason: str | None = None
    has_unlimited_usage: bool = False
    has_soft_limit: bool | None = None
    usage_limit: float | None = None
    current_usage: float | None = None
    requested_usage: float | None = None
    reset_period: str | None = None  # HOUR DAY WEEK MONTH YEAR
    usage_period_anchor: datetime | None = None
    usage_period_start: datetime | None = None
    usage_period_end: datetime | None = None
    feature: FeatureRef | None = None

    @property
    def has_access(self) -> bool:
        """Whether the requested usage fits, computed as Stigg's SDKs compute `hasAccess`."""
        if not self.is_granted:
            return False
        if self.has_unlimited_usage or self.has_soft_limit or self.usage_limit is None:
            return True
        used = (self.current_usage or 0) + (self.requested_usage or 0)
        return used <= self.usage_limit


class Feature(StiggModel):
    id: str | None = None
    ref_id: str
    display_name: str | None = None
    description: str | None = None
    feature_type: str | None = None
    meter_type: str | None = None
    feature_units: str | None = None
    feature_units_plural: str | None = None
    feature_status: str | None = None
    environment_id: str | None = None


class Product(StiggModel):
    id: str | None = None
    ref_id: str
    display_name: str | None = None
    description: str | None = None
    status: str | None = None
    environment_id: str | None = None


class ProductRef(StiggModel):
    ref_id: str
    display_name: str | None = None


class PlanEntitlement(StiggModel):
    feature: FeatureRef
    usage_limit: float | None = None
    has_unlimited_usage: bool | None = None
    has_soft_limit: bool | None = None
    reset_period: str | None = None


class Plan(StiggModel):
    id: str | None = None
    ref_id: str
    display_name: str | None = None
    description: str | None = None
    status: str | None = None
    is_latest: bool | None = None
    version_number: int | None = None
    environment_id: str | None = None
    product: ProductRef | None = None
    entitlements: list[PlanEntitlement] = Field(
        default_factory=list, validation_alias="packageEntitlements"
    )

    @field_validator("entitlements", mode="before")
    @classmethod
    def _feature_entitlements_only(cls, value: Any) -> Any:
        # Credit entitlements match no fragment of the query and arrive as empty objects.
        return [e for e in value or [] if isinstance(e, dict) and e.get("feature")]

    def entitlement_for(self, feature_ref_id: str) -> PlanEntitlement | None:
        return next((e for e in self.entitlements if e.feature.ref_id == feature_ref_id), None)


class UsageMeasurement(StiggModel):
    customer_id: str
    feature_id: str
    value: float
    current_usage: float | None = None
    usage_period_start: datetime | None = None
    usage_period_end: datetime | None = None
    timestamp: datetime | None = None


class UsagePoint(StiggModel):
    timestamp: datetime
    value: float
    is_reset_point: bool = False


class UsageSeries(StiggModel):
    tags: dict[str, str] = Field(default_factory=dict)
    points: list[UsagePoint] = Field(default_factory=list)

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_dict(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {t["key"]: t["value"] for t in value}
        return value or {}


class UsageMarker(StiggModel):
    timestamp: datetime
    type: str


class UsageHistory(StiggModel):
    series: list[UsageSeries] = Field(default_factory=list)
    markers: list[UsageMarker] = Field(default_factory=list)
