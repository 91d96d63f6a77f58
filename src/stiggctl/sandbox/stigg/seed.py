"""Data sets the sandbox starts from.

`seed_demo`: a product whose plans cap Active Users at 3 (free), 50 (pro) and unlimited
(enterprise), monthly, and the "Active Users" feature that counts each user once per period
(the feature Stigg's own Auth0 integration creates). Small limits, so a demo hits them.

`seed_empty`: the same product and plans without the feature, as a Stigg account looks
before `stiggctl setup` creates the feature (plans cannot entitle to a feature that does
not exist yet).
"""

from __future__ import annotations

from stiggctl.sandbox.stigg.emulator import (
    ACTIVE_USERS_FEATURE_ID,
    LOGIN_EVENT_NAME,
    StiggEmulator,
)
from stiggctl.sandbox.stigg.model import Meter, MeterCondition, PlanEntitlement

PRODUCT_ID = "product-saas"
PLAN_LIMITS: dict[str, tuple[str, float | None]] = {
    "plan-free": ("Free", 3),
    "plan-pro": ("Pro", 50),
    "plan-enterprise": ("Enterprise", None),  # unlimited
}


def active_users_meter(now: float) -> Meter:
    return Meter(
        aggregation_function="UNIQUE",
        aggregation_field="user_id",
        filters=[[MeterCondition(field="eventName", operation="EQUALS", value=LOGIN_EVENT_NAME)]],
        created_at=now,
    )


def seed_empty(emulator: StiggEmulator) -> None:
    emulator.add_product(PRODUCT_ID, display_name="SaaS", description="The demo product")
    for ref_id, (name, _limit) in PLAN_LIMITS.items():
        emulator.add_plan(ref_id, product_ref_id=PRODUCT_ID, display_name=name)


def seed_demo(emulator: StiggEmulator) -> None:
    emulator.add_feature(
        ACTIVE_USERS_FEATURE_ID,
        "Active Users",
        feature_type="NUMBER",
        meter_type="Incremental",
        meter=active_users_meter(emulator.now()),
        feature_units="active user",
        feature_units_plural="active users",
        description="Users who logged in during the usage period",
    )
    emulator.add_product(PRODUCT_ID, display_name="SaaS", description="The demo product")
    for ref_id, (name, limit) in PLAN_LIMITS.items():
        entitlement = PlanEntitlement(
            feature_ref_id=ACTIVE_USERS_FEATURE_ID,
            usage_limit=limit,
            has_unlimited_usage=limit is None,
            reset_period="MONTH",
        )
        emulator.add_plan(
            ref_id,
            product_ref_id=PRODUCT_ID,
            display_name=name,
            pricing_type="FREE" if ref_id == "plan-free" else "PAID",
            entitlements=[entitlement],
        )
