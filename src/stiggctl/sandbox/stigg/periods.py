"""Usage periods: the window in which a metered entitlement's usage accumulates before it resets.

Stigg anchors the periods of an entitlement at the subscription's start (`usagePeriodAnchor`)
and steps by the entitlement's `resetPeriod`; a monthly period anchored on the 31st ends on
the last day of shorter months and comes back to the 31st after them. `StartOfTheMonth`
(monthly) and a weekday (weekly) align the periods to the calendar instead, in UTC.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

_FIXED_LENGTHS = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1), "WEEK": timedelta(weeks=1)}
_WEEKDAYS = {
    "EveryMonday": 0,
    "EveryTuesday": 1,
    "EveryWednesday": 2,
    "EveryThursday": 3,
    "EveryFriday": 4,
    "EverySaturday": 5,
    "EverySunday": 6,
}


def add_months(anchor: datetime, months: int) -> datetime:
    """The anchor moved by whole months, its day clipped to the length of the target month."""
    index = anchor.year * 12 + anchor.month - 1 + months
    year, month = divmod(index, 12)
    day = min(anchor.day, calendar.monthrange(year, month + 1)[1])
    return anchor.replace(year=year, month=month + 1, day=day)


def usage_period(
    anchor: float, now: float, reset_period: str, according_to: str = "SubscriptionStart"
) -> tuple[float, float]:
    """The [start, end) period, in epoch seconds, that contains `now` (the first period when
    `now` is before the anchor)."""
    anchor_dt = datetime.fromtimestamp(anchor, UTC)
    now_dt = datetime.fromtimestamp(max(now, anchor), UTC)
    if reset_period == "MONTH" and according_to == "StartOfTheMonth":
        anchor_dt = anchor_dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elif reset_period == "WEEK" and according_to in _WEEKDAYS:
        midnight = anchor_dt.replace(hour=0, minute=0, second=0, microsecond=0)
        anchor_dt = midnight - timedelta(days=(midnight.weekday() - _WEEKDAYS[according_to]) % 7)

    if reset_period in _FIXED_LENGTHS:
        length = _FIXED_LENGTHS[reset_period]
        count = (now_dt - anchor_dt) // length
        start = anchor_dt + count * length
        return start.timestamp(), (start + length).timestamp()
    if reset_period in ("MONTH", "YEAR"):
        step = 1 if reset_period == "MONTH" else 12
        months = (now_dt.year - anchor_dt.year) * 12 + now_dt.month - anchor_dt.month
        count = months // step
        while add_months(anchor_dt, count * step) > now_dt:
            count -= 1
        while add_months(anchor_dt, (count + 1) * step) <= now_dt:
            count += 1
        start = add_months(anchor_dt, count * step)
        end = add_months(anchor_dt, (count + 1) * step)
        return start.timestamp(), end.timestamp()
    raise ValueError(f"unknown reset period: {reset_period}")
