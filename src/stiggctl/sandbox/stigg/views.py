"""The emulator's state as Stigg's GraphQL types: one function per type, field names as in
the real schema.

Views are dicts for graphql-core's default resolver; a relation is a callable (called with
the field's arguments) so that it is only built when a query selects it, and cycles
(customer -> subscription -> customer) cost nothing. Fields of the subset that the emulator
does not model (billing, coupons, trials, prices, add-ons) answer null or an empty list,
which is what Stigg answers for a customer without them.

Records (`*_record`) are the same entities as flat dicts of comparable values, for the
filters and sorting of list queries (see listing.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from stiggctl.sandbox.stigg import listing
from stiggctl.sandbox.stigg.model import (
    Customer,
    Feature,
    Meter,
    Plan,
    PlanEntitlement,
    Product,
    Subscription,
    UsageMeasurement,
)

if TYPE_CHECKING:
    from stiggctl.sandbox.stigg.emulator import EntitlementState, StiggEmulator

_RESET_CONFIGURATIONS = {
    "MONTH": ("MonthlyResetPeriodConfig", "monthlyAccordingTo"),
    "WEEK": ("WeeklyResetPeriodConfig", "weeklyAccordingTo"),
    "YEAR": ("YearlyResetPeriodConfig", "yearlyAccordingTo"),
}


def iso(timestamp: float | None) -> str | None:
    """Stigg's DateTime: ISO 8601, UTC, milliseconds."""
    if timestamp is None:
        return None
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _moment(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _empty_list(*_args: Any, **_kwargs: Any) -> list[Any]:
    return []


def reset_period_configuration(reset_period: str | None, according_to: str | None) -> Any:
    if reset_period not in _RESET_CONFIGURATIONS or according_to is None:
        return None
    typename, field = _RESET_CONFIGURATIONS[reset_period]
    return {"__typename": typename, field: according_to}


class Views:
    def __init__(self, emulator: StiggEmulator) -> None:
        self.emulator = emulator
        self.environment_id = emulator.environment_id

    # --- catalog --------------------------------------------------------------------------

    def product(self, product: Product) -> dict[str, Any]:
        return {
            "id": product.id,
            "refId": product.ref_id,
            "displayName": product.display_name,
            "description": product.description,
            "status": product.status,
            "additionalMetaData": product.additional_meta_data,
            "awsMarketplaceProductId": None,
            "environmentId": self.environment_id,
            "createdAt": iso(product.created_at),
            "updatedAt": iso(product.updated_at),
            "productSettings": {"downgradePlan": None},
            "plans": lambda _info: [
                self.plan(p) for p in self.emulator.plans() if p.product_ref_id == product.ref_id
            ],
        }

    def plan(self, plan: Plan) -> dict[str, Any]:
        product = self.emulator.product(plan.product_ref_id)
        entitled = [
            (entitlement, feature)
            for entitlement in plan.entitlements
            if (feature := self.emulator.feature(entitlement.feature_ref_id)) is not None
        ]
        return {
            "id": plan.id,
            "refId": plan.ref_id,
            "displayName": plan.display_name,
            "description": plan.description,
            "status": plan.status,
            "isLatest": plan.is_latest,
            "versionNumber": plan.version_number,
            "pricingType": plan.pricing_type,
            "productId": product.id if product else None,
            "product": lambda _info: self.product(product) if product else None,
            "environmentId": self.environment_id,
            "additionalMetaData": plan.additional_meta_data,
            "createdAt": iso(plan.created_at),
            "updatedAt": iso(plan.updated_at),
            "entitlements": lambda _info: [
                self.package_entitlement(plan, e, f, "PackageEntitlement") for e, f in entitled
            ],
            "packageEntitlements": lambda _info: [
                self.package_entitlement(plan, e, f, "PackageFeatureEntitlement")
                for e, f in entitled
            ],
            "inheritedEntitlements": _empty_list,
            "inheritedPackageEntitlements": _empty_list,
            "compatibleAddons": _empty_list,
            "compatiblePackageGroups": [],
            "prices": [],
            "overagePrices": [],
            "basePlan": None,
            "billingId": None,
            "defaultTrialConfig": None,
            "awsMarketplacePlanDimension": None,
            "hiddenFromWidgets": None,
        }

    def package_entitlement(
        self, plan: Plan, entitlement: PlanEntitlement, feature: Feature, typename: str
    ) -> dict[str, Any]:
        return {
            "__typename": typename,
            "id": entitlement.id,
            "featureId": feature.id,
            "feature": lambda _info: self.feature(feature),
            "packageId": plan.id,
            "environmentId": self.environment_id,
            "usageLimit": entitlement.usage_limit,
            "hasUnlimitedUsage": entitlement.has_unlimited_usage,
            "hasSoftLimit": entitlement.has_soft_limit,
            "resetPeriod": entitlement.reset_period,
            "resetPeriodConfiguration": reset_period_configuration(
                entitlement.reset_period, entitlement.reset_according_to
            ),
            "behavior": "Increment",
            "isGranted": True,
            "isCustom": False,
            "order": None,
            "description": None,
            "displayNameOverride": None,
            "enumValues": None,
            "hiddenFromWidgets": None,
        }

    def feature(self, feature: Feature) -> dict[str, Any]:
        return {
            **self.entitlement_feature(feature),
            "environmentId": self.environment_id,
            "createdAt": iso(feature.created_at),
            "updatedAt": iso(feature.updated_at),
            "hasMeter": feature.meter is not None,
            "meter": self.meter(feature.meter) if feature.meter else None,
        }

    def entitlement_feature(self, feature: Feature) -> dict[str, Any]:
        return {
            "id": feature.id,
            "refId": feature.ref_id,
            "displayName": feature.display_name,
            "description": feature.description,
            "featureType": feature.feature_type,
            "meterType": feature.meter_type,
            "featureUnits": feature.feature_units,
            "featureUnitsPlural": feature.feature_units_plural,
            "featureStatus": feature.feature_status,
            "additionalMetaData": feature.additional_meta_data,
            "unitTransformation": None,
        }

    def meter(self, meter: Meter) -> dict[str, Any]:
        return {
            "id": meter.id,
            "aggregation": {
                "function": meter.aggregation_function,
                "field": meter.aggregation_field,
            },
            "filters": [
                {"conditions": [c.model_dump() for c in conditions]} for conditions in meter.filters
            ],
            "environmentId": self.environment_id,
            "createdAt": iso(meter.created_at),
            "updatedAt": iso(meter.created_at),
        }

    # --- customers ------------------------------------------------------------------------

    def customer(self, customer: Customer) -> dict[str, Any]:
        active = customer.active_subscriptions(self.emulator.now())

        def subscriptions(_info: Any, filter: Any = None, sorting: Any = None) -> list[Any]:
            selected = listing.select(
                customer.subscriptions,
                lambda s: self.subscription_record(s, customer),
                filter,
                sorting,
            )
            return [self.subscription(s, customer) for s in selected]

        return {
            "id": customer.id,
            "customerId": customer.customer_id,
            "refId": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "additionalMetaData": customer.additional_meta_data,
            "environmentId": self.environment_id,
            "createdAt": iso(customer.created_at),
            "updatedAt": iso(customer.updated_at),
            "deletedAt": None,
            "hasActiveSubscription": bool(active),
            "totalActiveSubscription": float(len(active)),
            "hasPaymentMethod": False,
            "subscriptions": subscriptions,
            "promotionalEntitlements": _empty_list,
            "trialedPlans": [],
            "eligibleForTrial": None,
            "coupon": None,
            "experimentInfo": None,
            "billingId": None,
            "awsMarketplaceCustomerId": None,
            "defaultPaymentMethodType": None,
        }

    def subscription(self, subscription: Subscription, customer: Customer) -> dict[str, Any]:
        plan = self.emulator.plan(subscription.plan_ref_id)
        return {
            "id": subscription.id,
            "subscriptionId": subscription.subscription_id,
            "refId": subscription.subscription_id,
            "status": subscription.status,
            "startDate": iso(subscription.start_date),
            "createdAt": iso(subscription.created_at),
            "billingPeriod": subscription.billing_period,
            "additionalMetaData": subscription.additional_meta_data,
            "customerId": customer.id,
            "customer": lambda _info: self.customer(customer),
            "plan": lambda _info: self.plan(plan) if plan else None,
            "pricingType": plan.pricing_type if plan else "FREE",
            "environmentId": self.environment_id,
            "paymentCollection": "NOT_REQUIRED",
            "paymentCollectionMethod": None,
            "futureUpdates": [],
            "scheduledUpdates": [],
            "addons": _empty_list,
            "prices": _empty_list,
            "payingCustomer": None,
            "resource": None,
            "totalPrice": None,
            "trialConfiguration": None,
            "latestInvoice": None,
            "experimentInfo": None,
            "trialEndDate": None,
            "endDate": None,
            "effectiveEndDate": None,
            "cancellationDate": None,
            "currentBillingPeriodEnd": None,
            "billingId": None,
        }

    # --- entitlements and usage -----------------------------------------------------------

    def entitlement(self, state: EntitlementState) -> dict[str, Any]:
        feature = state.feature
        return {
            **self.feature_entitlement(state),
            "customerId": state.customer_id,
            "resourceId": None,
            "requestedUsage": state.requested_usage,
            "requestedValues": None,
            "nextResetDate": iso(state.usage_period_end),
            "meterId": feature.meter.id if feature and feature.meter else None,
            "displayNameOverride": None,
            "hiddenFromWidgets": None,
        }

    def feature_entitlement(self, state: EntitlementState) -> dict[str, Any]:
        return {
            "__typename": "FeatureEntitlement",
            "isGranted": state.is_granted,
            "accessDeniedReason": state.access_denied_reason,
            "usageLimit": state.usage_limit,
            "hasUnlimitedUsage": state.has_unlimited_usage,
            "hasSoftLimit": state.has_soft_limit,
            "currentUsage": state.current_usage,
            "enumValues": None,
            "entitlementUpdatedAt": iso(state.entitlement_updated_at),
            "usageUpdatedAt": iso(state.usage_updated_at),
            "usagePeriodAnchor": iso(state.usage_period_anchor),
            "usagePeriodStart": iso(state.usage_period_start),
            "usagePeriodEnd": iso(state.usage_period_end),
            "resetPeriod": state.reset_period,
            "resetPeriodConfiguration": reset_period_configuration(
                state.reset_period, state.reset_according_to
            ),
            "feature": self.entitlement_feature(state.feature) if state.feature else None,
            "creditRate": None,
            "validUntil": None,
        }

    def usage_measurement(
        self, measurement: UsageMeasurement, state: EntitlementState
    ) -> dict[str, Any]:
        return {
            "id": measurement.id,
            "customerId": measurement.customer_id,
            "featureId": measurement.feature_ref_id,
            "resourceId": measurement.resource_id,
            "value": measurement.value,
            "environmentId": self.environment_id,
            "createdAt": iso(measurement.timestamp),
            "timestamp": iso(measurement.timestamp),
            "currentUsage": state.current_usage,
            "usagePeriodStart": iso(state.usage_period_start),
            "usagePeriodEnd": iso(state.usage_period_end),
            "nextResetDate": iso(state.usage_period_end),
            "credit": None,
        }

    # --- records for filters and sorting --------------------------------------------------

    def product_record(self, product: Product) -> dict[str, Any]:
        return {
            "id": product.id,
            "refId": product.ref_id,
            "displayName": product.display_name,
            "description": product.description,
            "status": product.status,
            "environmentId": self.environment_id,
            "isDefaultProduct": False,
            "multipleSubscriptions": False,
            "createdAt": _moment(product.created_at),
            "updatedAt": _moment(product.updated_at),
        }

    def plan_record(self, plan: Plan) -> dict[str, Any]:
        product = self.emulator.product(plan.product_ref_id)
        return {
            "id": plan.id,
            "refId": plan.ref_id,
            "displayName": plan.display_name,
            "description": plan.description,
            "status": plan.status,
            "isLatest": plan.is_latest,
            "versionNumber": plan.version_number,
            "pricingType": plan.pricing_type,
            "productId": product.id if product else None,
            "product": self.product_record(product) if product else None,
            "environmentId": self.environment_id,
            "createdAt": _moment(plan.created_at),
            "updatedAt": _moment(plan.updated_at),
            "compatibleAddons": [],
        }

    def feature_record(self, feature: Feature) -> dict[str, Any]:
        return {
            "id": feature.id,
            "refId": feature.ref_id,
            "displayName": feature.display_name,
            "description": feature.description,
            "featureStatus": feature.feature_status,
            "featureType": feature.feature_type,
            "meterType": feature.meter_type,
            "environmentId": self.environment_id,
            "createdAt": _moment(feature.created_at),
            "updatedAt": _moment(feature.updated_at),
        }

    def customer_record(self, customer: Customer, *, with_subscriptions: bool = True) -> dict:
        record: dict[str, Any] = {
            "id": customer.id,
            "customerId": customer.customer_id,
            "refId": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "environmentId": self.environment_id,
            "createdAt": _moment(customer.created_at),
            "updatedAt": _moment(customer.updated_at),
            "promotionalEntitlements": [],
        }
        if with_subscriptions:
            record["subscriptions"] = [
                self.subscription_record(s, customer) for s in customer.subscriptions
            ]
        return record

    def subscription_record(self, subscription: Subscription, customer: Customer) -> dict:
        plan = self.emulator.plan(subscription.plan_ref_id)
        return {
            "id": subscription.id,
            "subscriptionId": subscription.subscription_id,
            "refId": subscription.subscription_id,
            "status": subscription.status,
            "startDate": _moment(subscription.start_date),
            "createdAt": _moment(subscription.created_at),
            "customerId": customer.id,
            "customer": self.customer_record(customer, with_subscriptions=False),
            "environmentId": self.environment_id,
            "pricingType": plan.pricing_type if plan else None,
            "plan": self.plan_record(plan) if plan else None,
            "addons": [],
            "prices": [],
        }


def search_matches(customer: Customer, query: Mapping[str, Any] | None) -> bool:
    """`CustomerFilter.searchQuery {iLike}`: a case-insensitive search of id, name and email."""
    pattern = (query or {}).get("iLike")
    if not pattern:
        return True
    needle = pattern.strip("%").lower()
    haystack = (customer.customer_id, customer.name or "", customer.email or "")
    return any(needle in text.lower() for text in haystack)
