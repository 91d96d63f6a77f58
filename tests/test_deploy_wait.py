"""Waiting for a build or a deploy: growing intervals, one deadline, no real sleeping."""

from __future__ import annotations

import pytest

from stiggctl.commands.deploy.wait import Waiter
from stiggctl.errors import ErrorCode, StiggctlError


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_polls_with_growing_intervals_until_done():
    time = FakeTime()
    waiter = Waiter(60.0, clock=time.clock, sleep=time.sleep, first_interval=0.05)
    answers = iter([None] * 8 + ["built"])
    assert waiter.until(lambda: next(answers), lambda: "never") == "built"
    assert time.slept == [0.05, 0.08, 0.128, 0.2048, 0.32768, 0.524288, 0.838861, 1.342177]


def test_intervals_stop_growing_at_the_cap_and_the_first_look_can_wait():
    time = FakeTime()
    waiter = Waiter(60.0, clock=time.clock, sleep=time.sleep, first_interval=1.5)
    answers = iter([None, None, None, "live"])
    assert waiter.until(lambda: next(answers), lambda: "never", look_first=False) == "live"
    assert time.slept == [1.5, 2.0, 2.0, 2.0]


def test_the_deadline_is_shared_and_named_in_the_error():
    time = FakeTime()
    waiter = Waiter(1.0, clock=time.clock, sleep=time.sleep)
    with pytest.raises(StiggctlError) as raised:
        waiter.until(lambda: None, lambda: "The build of 'X' was still building")
    assert raised.value.code is ErrorCode.TIMEOUT
    assert raised.value.message == "The build of 'X' was still building after 1s (--timeout)."
    assert "continues from where this run stopped" in (raised.value.hint or "")
    assert round(sum(time.slept), 6) == 1.0  # the last wait is cut to the deadline
    # A later wait of the same run has no time left: one look, then the error.
    looks: list[int] = []
    with pytest.raises(StiggctlError):
        waiter.until(lambda: looks.append(1), lambda: "Version 2 was not live yet")
    assert looks == [1]


@pytest.mark.parametrize(
    ("base_url", "first"),
    [
        ("https://acme.eu.auth0.com", 0.5),
        ("http://127.0.0.1:8765", 0.05),
        ("https://localhost:8443", 0.05),
    ],
)
def test_a_real_tenant_is_polled_gently(base_url, first):
    assert Waiter.for_tenant(base_url, 60.0).first_interval == first
