"""ActionCache: Auth0's limits of `api.cache`, time from an injected clock, snapshots."""

from __future__ import annotations

import json
import threading

import pytest

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.runtime import ActionCache

START = 1_700_000_000.0
START_MS = 1_700_000_000_000


@pytest.fixture
def clock() -> Clock:
    return Clock(start=START)


@pytest.fixture
def cache(clock: Clock) -> ActionCache:
    return ActionCache(clock=clock)


def test_default_lifetime_is_15_minutes_and_entry_expires(cache: ActionCache, clock: Clock):
    assert cache.set("token", "abc") == {
        "type": "success",
        "record": {"value": "abc", "expires_at": START_MS + 900_000},
    }
    assert cache.get("token") == {"value": "abc", "expires_at": START_MS + 900_000}
    clock.advance(899.999)
    assert cache.get("token") == {"value": "abc", "expires_at": START_MS + 900_000}
    clock.advance(0.001)
    assert cache.get("token") is None


def test_ttl_and_expires_at_the_earlier_wins(cache: ActionCache):
    result = cache.set("a", "1", ttl_ms=5_000, expires_at_ms=START_MS + 3_000)
    assert result["record"]["expires_at"] == START_MS + 3_000
    result = cache.set("b", "1", ttl_ms=2_000, expires_at_ms=START_MS + 3_000)
    assert result["record"]["expires_at"] == START_MS + 2_000


def test_lifetime_is_capped_at_24_hours(cache: ActionCache):
    result = cache.set("a", "1", ttl_ms=48 * 3_600_000)
    assert result["record"]["expires_at"] == START_MS + 24 * 3_600_000
    result = cache.set("b", "1", expires_at_ms=START_MS + 30 * 3_600_000)
    assert result["record"]["expires_at"] == START_MS + 24 * 3_600_000


@pytest.mark.parametrize(
    ("options", "code"),
    [
        ({"ttl_ms": -1}, "InvalidExpiry"),
        ({"ttl_ms": float("nan")}, "InvalidExpiry"),
        ({"ttl_ms": "60000"}, "InvalidExpiry"),
        ({"expires_at_ms": True}, "InvalidExpiry"),
        ({"ttl_ms": 0}, "ItemAlreadyExpired"),
        ({"expires_at_ms": START_MS}, "ItemAlreadyExpired"),
    ],
)
def test_bad_lifetimes_are_refused(cache: ActionCache, options, code):
    assert cache.set("k", "v", **options) == {"type": "error", "code": code}
    assert cache.get("k") is None


def test_key_size_limit_counts_utf8_bytes(cache: ActionCache):
    assert cache.set("k" * 64, "v")["type"] == "success"
    assert cache.set("k" * 65, "v") == {"type": "error", "code": "CacheKeySizeExceeded"}
    # 32 two-byte characters are 64 bytes; one more is too many.
    assert cache.set("é" * 32, "v")["type"] == "success"
    assert cache.set("é" * 32 + "e", "v") == {"type": "error", "code": "CacheKeySizeExceeded"}


def test_value_size_limit(cache: ActionCache):
    assert cache.set("k", "v" * 4096)["type"] == "success"
    assert cache.set("k", "v" * 4097) == {"type": "error", "code": "CacheValueSizeExceeded"}
    assert cache.get("k") == {"value": "v" * 4096, "expires_at": START_MS + 900_000}


def test_value_must_be_a_string(cache: ActionCache):
    assert cache.set("k", 42) == {"type": "error", "code": "FailedToSetCacheRecord"}  # type: ignore[arg-type]


def test_total_size_limit_counts_keys_and_values(cache: ActionCache):
    assert cache.set("a", "x" * 4095)["type"] == "success"  # 4096 bytes
    assert cache.set("b", "x" * 4096) == {"type": "error", "code": "CacheSizeExceeded"}
    assert cache.set("b", "x" * 4095)["type"] == "success"  # exactly 8192 bytes
    # Replacing an entry counts its new size only.
    assert cache.set("a", "y" * 4095)["type"] == "success"
    assert set(cache.entries()) == {"a", "b"}


def test_at_most_20_entries_until_one_expires(cache: ActionCache, clock: Clock):
    assert cache.set("short", "v", ttl_ms=1_000)["type"] == "success"
    for n in range(19):
        assert cache.set(f"k{n}", "v")["type"] == "success"
    assert cache.set("one-too-many", "v") == {"type": "error", "code": "CacheSizeExceeded"}
    assert cache.set("k0", "new")["type"] == "success"  # overwriting adds no entry
    clock.advance(1)
    assert cache.set("one-too-many", "v")["type"] == "success"
    assert len(cache.entries()) == 20


def test_delete(cache: ActionCache):
    cache.set("k", "v")
    assert cache.delete("k") == {"type": "success"}
    assert cache.get("k") is None
    assert cache.delete("k") == {"type": "error", "code": "CacheKeyDoesNotExist"}


def test_snapshot_restore_round_trip_through_json(cache: ActionCache, clock: Clock):
    cache.set("live", "1", ttl_ms=60_000)
    cache.set("gone", "2", ttl_ms=1_000)
    clock.advance(2)
    data = json.loads(json.dumps(cache.snapshot()))
    assert data == {"entries": {"live": {"value": "1", "expires_at": START_MS + 60_000}}}
    other = ActionCache(clock=clock)
    other.restore(data)
    assert other.get("live") == {"value": "1", "expires_at": START_MS + 60_000}
    clock.advance(58)
    assert other.get("live") is None


@pytest.mark.parametrize(
    "data",
    [
        {"entries": []},
        {"entries": {"k": "v"}},
        {"entries": {"k": {"value": 1, "expires_at": START_MS}}},
        {"entries": {"k": {"value": "v", "expires_at": "soon"}}},
    ],
)
def test_restore_refuses_malformed_snapshots(cache: ActionCache, data):
    cache.set("kept", "v")
    with pytest.raises(ValueError):
        cache.restore(data)
    assert cache.get("kept") is not None


def test_concurrent_writers_never_exceed_the_entry_limit(cache: ActionCache):
    results: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def writer(worker: int) -> None:
        barrier.wait()
        for n in range(5):
            outcome = cache.set(f"w{worker}-{n}", "v")["type"]
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("success") == 20
    assert results.count("error") == 20
    assert len(cache.entries()) == 20
