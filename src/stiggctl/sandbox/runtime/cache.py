"""The `api.cache` of the post-login trigger: one store shared by every action and every login.

Auth0's limits (keys up to 64 bytes, values up to 4 KB, 8 KB in all, 20 entries, 15 minutes
by default and 24 hours at most) and its result shapes: `set` and `delete` answer
`{"type": "success"}` or `{"type": "error", "code": ...}`. The error codes are those of the
community type definitions of the Actions runtime (Auth0 documents only that a `code`
exists). The same rules are mirrored in runner.js, which answers the actions synchronously
during a run; the changes a run made are then applied here.

Choices where Auth0 says nothing: a lifetime beyond 24 hours is shortened to 24 hours (a
record may always be evicted early), a value that is not a string is refused with
`FailedToSetCacheRecord`, deleting a missing key answers `CacheKeyDoesNotExist`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

KEY_MAX_BYTES = 64
VALUE_MAX_BYTES = 4096
TOTAL_MAX_BYTES = 8192
MAX_ENTRIES = 20
DEFAULT_TTL_MS = 15 * 60 * 1000
MAX_TTL_MS = 24 * 60 * 60 * 1000

CacheResult = dict[str, Any]


def _error(code: str) -> CacheResult:
    return {"type": "error", "code": code}


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode())


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class ActionCache:
    """Thread-safe; time (epoch seconds) comes from `clock`, records carry epoch milliseconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[str, dict[str, Any]] = {}

    def _now_ms(self) -> float:
        return self._clock() * 1000

    def _purge(self, now_ms: float) -> None:
        expired = [k for k, r in self._records.items() if r["expires_at"] <= now_ms]
        for key in expired:
            del self._records[key]

    def get(self, key: str) -> dict[str, Any] | None:
        """The record `{"value", "expires_at"}` at `key`, or None when absent or expired."""
        with self._lock:
            self._purge(self._now_ms())
            record = self._records.get(key)
            return dict(record) if record else None

    def set(
        self,
        key: str,
        value: str,
        *,
        ttl_ms: float | None = None,
        expires_at_ms: float | None = None,
    ) -> CacheResult:
        """Store `value` at `key`; with both lifetimes given, the earlier one applies."""
        if not isinstance(value, str):
            return _error("FailedToSetCacheRecord")
        if len(key.encode()) > KEY_MAX_BYTES:
            return _error("CacheKeySizeExceeded")
        if len(value.encode()) > VALUE_MAX_BYTES:
            return _error("CacheValueSizeExceeded")
        with self._lock:
            now_ms = self._now_ms()
            expires_at = self._expiry(now_ms, ttl_ms, expires_at_ms)
            if expires_at is None:
                return _error("InvalidExpiry")
            if expires_at <= now_ms:
                return _error("ItemAlreadyExpired")
            self._purge(now_ms)
            others = sum(_size(k, r["value"]) for k, r in self._records.items() if k != key)
            is_new = key not in self._records
            if (is_new and len(self._records) >= MAX_ENTRIES) or (
                others + _size(key, value) > TOTAL_MAX_BYTES
            ):
                return _error("CacheSizeExceeded")
            record = {"value": value, "expires_at": expires_at}
            self._records[key] = record
            return {"type": "success", "record": dict(record)}

    @staticmethod
    def _expiry(now_ms: float, ttl_ms: Any, expires_at_ms: Any) -> int | None:
        candidates: list[float] = []
        if ttl_ms is not None:
            if not _is_number(ttl_ms) or ttl_ms < 0:
                return None
            candidates.append(now_ms + ttl_ms)
        if expires_at_ms is not None:
            if not _is_number(expires_at_ms):
                return None
            candidates.append(expires_at_ms)
        if not candidates:
            candidates.append(now_ms + DEFAULT_TTL_MS)
        return math.floor(min(*candidates, now_ms + MAX_TTL_MS))

    def delete(self, key: str) -> CacheResult:
        with self._lock:
            self._purge(self._now_ms())
            if self._records.pop(key, None) is None:
                return _error("CacheKeyDoesNotExist")
            return {"type": "success"}

    def entries(self) -> dict[str, dict[str, Any]]:
        """The live records, as a run of the actions starts with them."""
        with self._lock:
            self._purge(self._now_ms())
            return {k: dict(r) for k, r in self._records.items()}

    def snapshot(self) -> dict[str, Any]:
        return {"entries": self.entries()}

    def restore(self, data: dict[str, Any]) -> None:
        entries = data.get("entries", {})
        if not isinstance(entries, dict):
            raise ValueError("cache snapshot: 'entries' must be an object")
        records: dict[str, dict[str, Any]] = {}
        for key, record in entries.items():
            value = record.get("value") if isinstance(record, dict) else None
            expires_at = record.get("expires_at") if isinstance(record, dict) else None
            if not isinstance(value, str) or not _is_number(expires_at):
                raise ValueError(f"cache snapshot: bad record at {key!r}")
            records[key] = {"value": value, "expires_at": expires_at}
        with self._lock:
            self._records = records
