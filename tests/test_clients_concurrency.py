"""Bounded concurrency: map_concurrent, the shared rate-limit gate, a client shared by threads."""

from __future__ import annotations

import threading

import pytest

from stiggctl.clients.concurrency import RateLimitGate, map_concurrent
from tests.test_clients_fakes import NOW, FakeAuth0, FakeTime, json_response


def test_results_come_in_input_order():
    assert list(map_concurrent(lambda n: n * n, range(20), max_workers=3)) == [
        n * n for n in range(20)
    ]


def test_workers_really_run_at_once_and_never_more_than_allowed():
    active = 0
    peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=10)

    def work(n: int) -> int:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        if n < 3:
            barrier.wait()  # the first three must be in flight together
        with lock:
            active -= 1
        return n

    assert list(map_concurrent(work, range(12), max_workers=3)) == list(range(12))
    assert peak == 3


def test_items_are_taken_lazily_within_a_bounded_window():
    taken: list[int] = []

    def source():
        for n in range(1000):
            taken.append(n)
            yield n

    results = map_concurrent(lambda n: n, source(), max_workers=2)
    assert next(results) == 0
    assert len(taken) == 4  # 2 x max_workers ahead, not the whole input
    results.close()


def test_the_first_failure_is_raised_at_its_position():
    def work(n: int) -> int:
        if n == 5:
            raise ValueError("five")
        return n

    results = map_concurrent(work, range(10), max_workers=2)
    assert [next(results) for _ in range(5)] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="five"):
        next(results)


def test_max_workers_must_be_positive():
    with pytest.raises(ValueError):
        list(map_concurrent(lambda n: n, [1], max_workers=0))


def test_gate_waits_until_reset_when_the_bucket_is_empty():
    time = FakeTime()
    gate = RateLimitGate(sleep=time.sleep, clock=time.clock)
    assert gate.wait() == 0.0
    gate.observe({"x-ratelimit-remaining": "1", "x-ratelimit-reset": str(int(NOW) + 5)})
    assert gate.wait() == 0.0
    gate.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 2)})
    assert gate.wait() == 2.0
    assert gate.wait() == 0.0  # the clock moved past the reset
    assert time.sleeps == [2.0]


def test_gate_wait_is_capped_and_ignores_bad_headers():
    time = FakeTime()
    gate = RateLimitGate(sleep=time.sleep, clock=time.clock, max_wait=10.0)
    gate.observe({"x-ratelimit-remaining": "zero", "x-ratelimit-reset": "soon"})
    gate.observe({"x-ratelimit-remaining": "0"})
    assert gate.wait() == 0.0
    gate.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 3600)})
    assert gate.wait() == 10.0


def test_one_client_shared_by_threads_mints_one_token():
    def org(request):
        org_id = request.url.path.rsplit("/", 1)[-1]
        return json_response(200, {"id": org_id, "metadata": {"n": org_id[4:]}})

    fake = FakeAuth0({("GET", f"/api/v2/organizations/org_{i}"): org for i in range(40)})
    client = fake.client(FakeTime())
    orgs = list(
        map_concurrent(client.get_organization, (f"org_{i}" for i in range(40)), max_workers=4)
    )
    assert [o.metadata["n"] for o in orgs] == [str(i) for i in range(40)]
    assert len(fake.token_requests) == 1
    assert len(fake.requests) == 40
