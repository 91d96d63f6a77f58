"""Filtering, sorting and cursor paging of list queries, the way Stigg's API does them.

Stigg's list queries follow the nestjs-query conventions that its schema shows: a filter is
an object of field comparisons (`{status: {eq: PUBLISHED}}`, `{isLatest: {is: true}}`)
combined with `and` / `or` and nested into relations (`{product: {refId: {eq: "p"}}}`);
sorting is a list of `{field, direction, nulls}`; paging is `CursorPaging {first, after,
last, before}` with opaque offset cursors. Records here are plain dicts of comparable values
(datetimes as `datetime`), relations as dicts or lists of dicts.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 10
_CURSOR_PREFIX = "arrayconnection:"
_COMPARISON_OPERATORS = {
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "notIn",
    "is",
    "isNot",
    "like",
    "notLike",
    "iLike",
    "notILike",
    "between",
    "notBetween",
}


class InvalidCursor(ValueError):
    pass


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _operand(value: Any, operand: Any) -> Any:
    if isinstance(value, datetime) and isinstance(operand, str):
        return parse_datetime(operand)
    return operand


def _like(pattern: str, text: str, *, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.IGNORECASE if ignore_case else 0) is not None


def _ordered(value: Any, operand: Any, op: Callable[[Any, Any], bool]) -> bool:
    if value is None or operand is None:
        return False
    try:
        return op(value, operand)
    except TypeError:
        return False


def _compare(value: Any, operator: str, raw_operand: Any) -> bool:
    if operator in ("is", "isNot"):
        holds = value is raw_operand if raw_operand is not None else value is None
        return holds if operator == "is" else not holds
    if operator in ("in", "notIn"):
        operands = [_operand(value, o) for o in raw_operand or []]
        return (value in operands) == (operator == "in")
    if operator in ("between", "notBetween"):
        lower = _operand(value, raw_operand["lower"])
        upper = _operand(value, raw_operand["upper"])
        inside = _ordered(value, lower, lambda a, b: a >= b) and _ordered(
            value, upper, lambda a, b: a <= b
        )
        return inside == (operator == "between")
    operand = _operand(value, raw_operand)
    if operator == "eq":
        return value is not None and value == operand
    if operator == "neq":
        return value is None or value != operand
    if operator in ("like", "notLike", "iLike", "notILike"):
        if value is None or operand is None:
            return False
        found = _like(str(operand), str(value), ignore_case=operator in ("iLike", "notILike"))
        return found == (operator in ("like", "iLike"))
    order = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return _ordered(value, operand, order[operator])


def _is_comparison(condition: Mapping[str, Any]) -> bool:
    return bool(condition) and set(condition) <= _COMPARISON_OPERATORS


def matches(record: Mapping[str, Any], filter_: Mapping[str, Any] | None) -> bool:
    for key, condition in (filter_ or {}).items():
        if condition is None:
            continue
        if key == "and":
            if not all(matches(record, f) for f in condition):
                return False
        elif key == "or":
            if condition and not any(matches(record, f) for f in condition):
                return False
        elif _is_comparison(condition):
            value = record.get(key)
            if not all(_compare(value, op, operand) for op, operand in condition.items()):
                return False
        else:
            related = record.get(key)
            if isinstance(related, list):
                if not any(matches(item, condition) for item in related):
                    return False
            elif related is None or not matches(related, condition):
                return False
    return True


def select(
    items: Iterable[T],
    record_of: Callable[[T], Mapping[str, Any]],
    filter_: Mapping[str, Any] | None,
    sorting: Sequence[Mapping[str, Any]] | None,
) -> list[T]:
    """The items whose records match the filter, in the sorting's order (stable: ties keep
    the given order). Nulls sort last ascending and first descending, as in PostgreSQL."""
    if not filter_ and not sorting:
        return list(items)  # records cost time; large unfiltered listings need none
    pairs = [(record_of(item), item) for item in items]
    pairs = [pair for pair in pairs if matches(pair[0], filter_)]
    for rule in reversed(sorting or []):
        field = rule["field"]
        descending = rule["direction"] == "DESC"
        nulls_first = rule["nulls"] == "NULLS_FIRST" if rule.get("nulls") else descending
        present = [p for p in pairs if p[0].get(field) is not None]
        absent = [p for p in pairs if p[0].get(field) is None]
        present.sort(key=lambda p: p[0][field], reverse=descending)
        pairs = absent + present if nulls_first else present + absent
    return [item for _, item in pairs]


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(_CURSOR_PREFIX))
    except ValueError as exc:
        raise InvalidCursor(f"Invalid cursor: {cursor}") from exc


def page(
    items: Sequence[Any], paging: Mapping[str, Any] | None, *, node: Callable[[Any], Any]
) -> dict[str, Any]:
    """A connection ({edges, pageInfo, totalCount}) over the already filtered, sorted items."""
    paging = paging or {}
    start, end = 0, len(items)
    if paging.get("after") is not None:
        start = max(start, decode_cursor(paging["after"]) + 1)
    if paging.get("before") is not None:
        end = min(end, decode_cursor(paging["before"]))
    first, last = paging.get("first"), paging.get("last")
    if first is None and last is None:
        first = DEFAULT_PAGE_SIZE
    if first is not None:
        end = min(end, start + max(first, 0))
    if last is not None:
        start = max(start, end - max(last, 0))
    start = min(start, len(items))
    end = max(start, end)
    edges = [
        {"cursor": encode_cursor(offset), "node": node(items[offset])}
        for offset in range(start, end)
    ]
    return {
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
        },
        "totalCount": len(items),
    }
