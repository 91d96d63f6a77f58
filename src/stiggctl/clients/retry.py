"""One retry policy for every vendor call (Auth0 and Stigg).

What is retried:
- 429 and 503: the server refused before doing anything, so any method may be sent again.
- 408 and the other 5xx: only idempotent requests, since the server may have acted.
- Transport failures: when the request certainly never reached the server (connect errors,
  no free connection), any method; otherwise (read/write errors, read timeouts) only
  idempotent requests, so a create is never sent twice.

How long to wait: `Retry-After` (seconds or an HTTP date) when present; on 429 else until
`x-ratelimit-reset` (UTC epoch seconds, Auth0's header); else exponential backoff with full
jitter. Every wait is capped and the number of tries bounded. Sleep, clock and random
source are injected so tests never sleep.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random as random_module
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

ALWAYS_RETRYABLE_STATUSES = frozenset({429, 503})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})

# The request was never handed to the server: sending it again cannot duplicate anything.
_NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)


@dataclass(frozen=True)
class RetryEvent:
    """One failed try that will be retried: what failed and how long we wait before the next."""

    service: str
    attempt: int  # the try that failed, counting from 1
    max_attempts: int
    wait: float  # seconds
    status: int | None  # HTTP status, or None for a transport failure
    reason: str  # "HTTP 429", "ConnectError", ...

    def describe(self) -> str:
        """A one-line message for the terminal, e.g. "Auth0 rate limited, waiting 2s"."""
        if self.status == 429:
            what = f"{self.service} rate limited"
        elif self.status is not None:
            what = f"{self.service} answered {self.status}"
        else:
            what = f"{self.service} unreachable ({self.reason})"
        return f"{what}, waiting {self.wait:.3g}s (try {self.attempt + 1} of {self.max_attempts})"


class RetryPolicy:
    """Decides whether and how long to wait before sending a request again.

    Stateless between calls, so one policy can serve several clients and threads.
    """

    def __init__(
        self,
        *,
        max_attempts: int = 5,
        max_wait: float = 30.0,
        base_delay: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random_module.random,
        on_retry: Callable[[RetryEvent], None] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.base_delay = base_delay
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self.on_retry = on_retry

    def is_retryable_status(self, status: int, *, idempotent: bool) -> bool:
        if status in ALWAYS_RETRYABLE_STATUSES:
            return True
        return idempotent and (status == 408 or status >= 500)

    def is_retryable_error(self, error: httpx.TransportError, *, idempotent: bool) -> bool:
        return idempotent or isinstance(error, _NOT_SENT_ERRORS)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, base * 2^(attempt-1)], capped."""
        ceiling = min(self.max_wait, self.base_delay * (2 ** (attempt - 1)))
        return self.random() * ceiling

    def wait_after(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait after `response` (the failed try number `attempt`), capped."""
        wait = _retry_after(response.headers.get("retry-after"), self.clock)
        if wait is None and response.status_code == 429:
            wait = _until_reset(response.headers.get("x-ratelimit-reset"), self.clock)
        if wait is None:
            wait = self.backoff(attempt)
        return min(max(wait, 0.0), self.max_wait)

    def send(
        self,
        send: Callable[[], httpx.Response],
        *,
        method: str,
        idempotent: bool | None = None,
        service: str,
    ) -> httpx.Response:
        """Call `send` until it gives a final response, retrying what is safe to retry.

        Returns the last response, whatever its status (the caller maps errors); raises the
        last `httpx.TransportError` when the tries run out or the failure is not retryable.
        `idempotent` defaults to what the HTTP method implies.
        """
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT_METHODS
        attempt = 1
        while True:
            try:
                response = send()
            except httpx.TransportError as error:
                if attempt >= self.max_attempts or not self.is_retryable_error(
                    error, idempotent=idempotent
                ):
                    raise
                wait = min(self.backoff(attempt), self.max_wait)
                self._pause(service, attempt, wait, None, type(error).__name__)
            else:
                if attempt >= self.max_attempts or not self.is_retryable_status(
                    response.status_code, idempotent=idempotent
                ):
                    return response
                wait = self.wait_after(response, attempt)
                response.close()
                code = response.status_code
                self._pause(service, attempt, wait, code, f"HTTP {code}")
            attempt += 1

    def _pause(
        self, service: str, attempt: int, wait: float, status: int | None, reason: str
    ) -> None:
        if self.on_retry is not None:
            self.on_retry(RetryEvent(service, attempt, self.max_attempts, wait, status, reason))
        if wait > 0:
            self.sleep(wait)


def _retry_after(value: str | None, clock: Callable[[], float]) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" and "inf" parse as floats but say nothing about when to come back.
        return seconds if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP dates are always UTC
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp() - clock()


def _until_reset(value: str | None, clock: Callable[[], float]) -> float | None:
    """Seconds until `x-ratelimit-reset`; None when absent, unreadable or already past."""
    if not value:
        return None
    try:
        wait = float(value) - clock()
    except ValueError:
        return None
    return wait if wait > 0 else None
