"""Bounded concurrency for calls over many items (the MAU report over many organizations).

`map_concurrent` runs a function over an iterable with a few threads, keeping only a bounded
window of items in flight (100,000 organizations never become 100,000 futures), and yields
results in input order. `RateLimitGate` is shared by the threads of one client: when the
server says the rate-limit bucket is empty (`x-ratelimit-remaining: 0`), every thread pauses
until `x-ratelimit-reset` instead of each collecting its own 429.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def map_concurrent(
    fn: Callable[[T], R], items: Iterable[T], *, max_workers: int = 4
) -> Iterator[R]:
    """Yield `fn(item)` for each item, in input order, with at most `max_workers` threads.

    At most `2 * max_workers` items are taken from `items` ahead of the consumer. The first
    exception raised by `fn` is re-raised at that item's position; items not yet started are
    cancelled.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    window = 2 * max_workers
    source = iter(items)
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="stiggctl") as pool:
        try:
            for item in source:
                pending.append(pool.submit(fn, item))
                if len(pending) >= window:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class RateLimitGate:
    """Holds every caller back while the server's rate-limit bucket is known to be empty."""

    def __init__(
        self,
        *,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        max_wait: float = 30.0,
    ) -> None:
        self._sleep = sleep
        self._clock = clock
        self._max_wait = max_wait
        self._lock = threading.Lock()
        self._closed_until = 0.0

    def wait(self) -> float:
        """Block until the bucket may have refilled; returns the seconds waited."""
        with self._lock:
            delay = min(self._closed_until - self._clock(), self._max_wait)
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read `x-ratelimit-remaining` / `x-ratelimit-reset` from a response."""
        remaining = headers.get("x-ratelimit-remaining")
        reset = headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            empty = int(float(remaining)) <= 0
            reset_at = float(reset)
        except ValueError:
            return
        if empty:
            with self._lock:
                self._closed_until = max(self._closed_until, reset_at)
