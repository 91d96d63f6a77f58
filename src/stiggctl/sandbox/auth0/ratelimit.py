"""The Management API's rate limit: a token bucket per tenant, read through a clock.

Auth0 reports the bucket on every response (`x-ratelimit-limit`, `-remaining`, `-reset` in
UTC epoch seconds) and refuses with 429 once it is empty. Without a configured rate the
bucket still answers the headers (from a generous nominal bucket) but never refuses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# What an unthrottled sandbox reports: the order of a paid tenant's Management API limit.
NOMINAL_RATE_PER_SECOND = 50.0


@dataclass(frozen=True)
class Admission:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # UTC epoch seconds at which the bucket is full again
    retry_after: int  # whole seconds until one request fits; 0 when allowed

    def headers(self) -> dict[str, str]:
        headers = {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }
        if not self.allowed:
            headers["retry-after"] = str(self.retry_after)
        return headers


class TokenBucket:
    """Refills `rate` tokens per second up to `capacity`; one request costs one token."""

    def __init__(
        self, clock: Callable[[], float], rate: float | None, capacity: float | None = None
    ):
        self._clock = clock
        self.enforced = rate is not None
        self.rate = rate if rate is not None else NOMINAL_RATE_PER_SECOND
        # Auth0's free tier: 2 requests/s sustained with a burst of 2, i.e. capacity = rate.
        self.capacity = capacity if capacity is not None else max(1.0, self.rate)
        self._tokens = self.capacity
        self._updated = clock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def _admission(self, now: float, allowed: bool) -> Admission:
        missing = self.capacity - self._tokens
        reset = math.ceil(now + missing / self.rate)
        retry_after = 0 if allowed else max(1, math.ceil((1.0 - self._tokens) / self.rate))
        return Admission(
            allowed=allowed,
            limit=int(self.capacity),
            remaining=max(0, math.floor(self._tokens)),
            reset=reset,
            retry_after=retry_after,
        )

    def take(self) -> Admission:
        """Admit one request (spending a token) or refuse it (when enforced)."""
        now = self._clock()
        self._refill(now)
        if not self.enforced and self._tokens < 2.0:
            # The nominal bucket never refuses, so it never reports itself empty either: a
            # client honouring `x-ratelimit-remaining: 0` would wait for the reset for nothing
            # (and with the sandbox's clock moved forward, that reset is days away).
            self._tokens = self.capacity
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return self._admission(now, True)
        return self._admission(now, False)

    def peek(self) -> Admission:
        """The bucket as it stands, without spending (for calls outside the Management API)."""
        now = self._clock()
        self._refill(now)
        return self._admission(now, True)
