"""Meters: which raw events a metered feature counts, and how it aggregates them.

A meter's filters are alternatives (an event matches when any filter matches) and each
filter's conditions must all hold. A condition's field is `eventName` or a dimension key;
`dimensions.<key>` is accepted too, since the exact spelling Stigg uses is unverified.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stiggctl.sandbox.stigg.model import Meter, MeterCondition, UsageEvent

_MISSING = object()


def _event_field(event: UsageEvent, field: str) -> Any:
    if field == "eventName":
        return event.event_name
    key = field.removeprefix("dimensions.")
    return event.dimensions.get(key, _MISSING)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def condition_holds(event: UsageEvent, condition: MeterCondition) -> bool:
    value = _event_field(event, condition.field)
    operation = condition.operation
    if operation == "IS_NULL":
        return value is _MISSING or value is None
    if operation == "IS_NOT_NULL":
        return value is not _MISSING and value is not None
    if value is _MISSING or value is None:
        return False
    text = str(value)
    expected = condition.value
    if operation == "EQUALS":
        return text == expected
    if operation == "NOT_EQUALS":
        return text != expected
    if operation == "IN":
        return text in (condition.values or [])
    if expected is None:
        return False
    if operation == "CONTAINS":
        return expected in text
    if operation == "STARTS_WITH":
        return text.startswith(expected)
    if operation == "ENDS_WITH":
        return text.endswith(expected)
    number, bound = _as_number(value), _as_number(expected)
    if number is None or bound is None:
        return False
    return {
        "GREATER_THAN": number > bound,
        "GREATER_THAN_OR_EQUAL": number >= bound,
        "LESS_THAN": number < bound,
        "LESS_THAN_OR_EQUAL": number <= bound,
    }.get(operation, False)


def matches(meter: Meter, event: UsageEvent) -> bool:
    if not meter.filters:
        return True
    return any(all(condition_holds(event, c) for c in conditions) for conditions in meter.filters)


def aggregate(meter: Meter, events: Iterable[UsageEvent]) -> float:
    """The meter's value over the events (already limited to one customer and period)."""
    matching = [e for e in events if matches(meter, e)]
    function = meter.aggregation_function
    if function == "COUNT":
        return float(len(matching))
    field = meter.aggregation_field or ""
    values = [_event_field(e, field) for e in matching]
    present = [v for v in values if v is not _MISSING and v is not None]
    if function == "UNIQUE":
        return float(len({str(v) for v in present}))
    numbers = [n for n in map(_as_number, present) if n is not None]
    if not numbers:
        return 0.0
    if function == "SUM":
        return sum(numbers)
    if function == "MAX":
        return max(numbers)
    if function == "MIN":
        return min(numbers)
    if function == "AVG":
        return sum(numbers) / len(numbers)
    raise ValueError(f"unknown aggregation function: {function}")


def unique_values(meter: Meter, events: Iterable[UsageEvent]) -> list[str]:
    """The distinct values of the meter's field among matching events (for UNIQUE meters:
    who the active users are), sorted."""
    field = meter.aggregation_field or ""
    values = {
        str(value)
        for event in events
        if matches(meter, event)
        and (value := _event_field(event, field)) is not _MISSING
        and value is not None
    }
    return sorted(values)
