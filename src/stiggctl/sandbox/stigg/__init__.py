"""The sandbox's Stigg: a stateful emulator of Stigg's GraphQL API (see emulator.py)."""

from stiggctl.sandbox.stigg.api_errors import StiggApiError
from stiggctl.sandbox.stigg.emulator import (
    ACTIVE_USERS_FEATURE_ID,
    LOGIN_EVENT_NAME,
    EntitlementState,
    StiggEmulator,
)
from stiggctl.sandbox.stigg.model import Meter, MeterCondition, PlanEntitlement
from stiggctl.sandbox.stigg.seed import seed_demo, seed_empty

__all__ = [
    "ACTIVE_USERS_FEATURE_ID",
    "LOGIN_EVENT_NAME",
    "EntitlementState",
    "Meter",
    "MeterCondition",
    "PlanEntitlement",
    "StiggApiError",
    "StiggEmulator",
    "seed_demo",
    "seed_empty",
]
