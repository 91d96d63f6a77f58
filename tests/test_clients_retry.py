"""The retry policy: what is retried, how long it waits (exactly), when it gives up."""

from __future__ import annotations

import email.utils

import httpx
import pytest

from stiggctl.clients.retry import RetryEvent
from tests.test_clients_fakes import NOW, FakeTime, make_policy


def responses(*items: httpx.Response | type[httpx.TransportError]):
    """A `send` callable answering `items` in turn (a TransportError class is raised)."""
    calls: list[int] = []
    request = httpx.Request("GET", "https://example.test/")

    def send() -> httpx.Response:
        item = items[len(calls)]
        calls.append(1)
        if isinstance(item, type):
            raise item("simulated", request=request)
        return item

    send.calls = calls  # type: ignore[attr-defined]
    return send


def ok() -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def test_429_waits_retry_after_seconds():
    time = FakeTime()
    send = responses(httpx.Response(429, headers={"Retry-After": "2"}), ok())
    response = make_policy(time).send(send, method="POST", service="Auth0")
    assert response.status_code == 200
    assert time.sleeps == [2.0]


def test_429_waits_retry_after_http_date():
    time = FakeTime()
    date = email.utils.formatdate(NOW + 5, usegmt=True)
    send = responses(httpx.Response(429, headers={"Retry-After": date}), ok())
    make_policy(time).send(send, method="GET", service="Auth0")
    assert time.sleeps == [5.0]


def test_429_waits_until_ratelimit_reset_without_retry_after():
    time = FakeTime()
    headers = {"x-ratelimit-reset": str(int(NOW) + 3), "x-ratelimit-remaining": "0"}
    send = responses(httpx.Response(429, headers=headers), ok())
    make_policy(time).send(send, method="GET", service="Auth0")
    assert time.sleeps == [3.0]


def test_retry_after_wins_over_ratelimit_reset():
    time = FakeTime()
    headers = {"Retry-After": "1", "x-ratelimit-reset": str(int(NOW) + 9)}
    send = responses(httpx.Response(429, headers=headers), ok())
    make_policy(time).send(send, method="GET", service="Auth0")
    assert time.sleeps == [1.0]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "soon"])
def test_an_unreadable_retry_after_falls_back_to_backoff(value):
    time = FakeTime()
    send = responses(httpx.Response(503, headers={"Retry-After": value}), ok())
    make_policy(time).send(send, method="GET", service="Stigg")
    assert time.sleeps == [0.25]  # random 0.5 x base 0.5


def test_reset_already_past_falls_back_to_backoff():
    time = FakeTime()
    send = responses(httpx.Response(429, headers={"x-ratelimit-reset": str(int(NOW) - 2)}), ok())
    make_policy(time).send(send, method="GET", service="Auth0")
    assert time.sleeps == [0.25]  # random 0.5 x base 0.5


def test_backoff_is_exponential_with_full_jitter():
    time = FakeTime()
    send = responses(*[httpx.Response(502)] * 4, ok())
    make_policy(time).send(send, method="GET", service="Stigg")
    # random() = 0.5 of the ceilings 0.5, 1, 2, 4
    assert time.sleeps == [0.25, 0.5, 1.0, 2.0]


def test_every_wait_is_capped():
    time = FakeTime()
    send = responses(httpx.Response(429, headers={"Retry-After": "120"}), ok())
    make_policy(time, max_wait=30.0).send(send, method="GET", service="Auth0")
    assert time.sleeps == [30.0]


def test_backoff_ceiling_is_capped_too():
    time = FakeTime()
    send = responses(*[httpx.Response(500)] * 3, ok())
    make_policy(time, base_delay=10.0, max_wait=15.0).send(send, method="GET", service="Auth0")
    assert time.sleeps == [5.0, 7.5, 7.5]


def test_5xx_retried_then_the_last_response_is_surfaced():
    time = FakeTime()
    send = responses(*[httpx.Response(500)] * 5)
    response = make_policy(time, max_attempts=5).send(send, method="GET", service="Auth0")
    assert response.status_code == 500
    assert len(send.calls) == 5
    assert len(time.sleeps) == 4


def test_unsafe_post_is_not_retried_on_500_or_408():
    for status in (500, 502, 504, 408):
        time = FakeTime()
        send = responses(httpx.Response(status), ok())
        response = make_policy(time).send(send, method="POST", service="Auth0")
        assert response.status_code == status
        assert len(send.calls) == 1
        assert time.sleeps == []


def test_429_and_503_are_retried_for_any_method():
    for status in (429, 503):
        time = FakeTime()
        send = responses(httpx.Response(status, headers={"Retry-After": "1"}), ok())
        response = make_policy(time).send(send, method="POST", service="Auth0")
        assert response.status_code == 200
        assert len(send.calls) == 2


def test_post_marked_idempotent_is_retried_on_500():
    time = FakeTime()
    send = responses(httpx.Response(500), ok())
    response = make_policy(time).send(send, method="POST", idempotent=True, service="Stigg")
    assert response.status_code == 200


def test_4xx_other_than_408_and_429_is_final():
    time = FakeTime()
    send = responses(httpx.Response(404), ok())
    assert make_policy(time).send(send, method="GET", service="Auth0").status_code == 404
    assert len(send.calls) == 1


def test_connect_error_is_retried_even_for_post():
    time = FakeTime()
    send = responses(httpx.ConnectError, ok())
    response = make_policy(time).send(send, method="POST", service="Auth0")
    assert response.status_code == 200
    assert time.sleeps == [0.25]


def test_read_error_after_an_unsafe_post_is_not_retried():
    time = FakeTime()
    send = responses(httpx.ReadError, ok())
    with pytest.raises(httpx.ReadError):
        make_policy(time).send(send, method="POST", service="Auth0")
    assert len(send.calls) == 1
    assert time.sleeps == []


def test_read_error_of_an_idempotent_request_is_retried():
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        time = FakeTime()
        send = responses(httpx.ReadError, httpx.ReadTimeout, ok())
        response = make_policy(time).send(send, method=method, service="Auth0")
        assert response.status_code == 200
        assert len(send.calls) == 3


def test_gives_up_after_max_attempts_with_the_last_error():
    time = FakeTime()
    send = responses(*[httpx.ConnectError] * 3, ok())
    with pytest.raises(httpx.ConnectError):
        make_policy(time, max_attempts=3).send(send, method="GET", service="Auth0")
    assert len(send.calls) == 3
    assert time.sleeps == [0.25, 0.5]


def test_on_retry_reports_each_wait():
    time = FakeTime()
    events: list[RetryEvent] = []
    send = responses(
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.Response(503),
        httpx.ConnectError,
        ok(),
    )
    make_policy(time, events).send(send, method="GET", service="Auth0")
    assert events == [
        RetryEvent("Auth0", 1, 5, 2.0, 429, "HTTP 429"),
        RetryEvent("Auth0", 2, 5, 0.5, 503, "HTTP 503"),
        RetryEvent("Auth0", 3, 5, 1.0, None, "ConnectError"),
    ]
    assert [e.describe() for e in events] == [
        "Auth0 rate limited, waiting 2s (try 2 of 5)",
        "Auth0 answered 503, waiting 0.5s (try 3 of 5)",
        "Auth0 unreachable (ConnectError), waiting 1s (try 4 of 5)",
    ]


def test_a_single_try_policy_never_sleeps():
    time = FakeTime()
    send = responses(httpx.Response(429, headers={"Retry-After": "2"}))
    response = make_policy(time, max_attempts=1).send(send, method="GET", service="Auth0")
    assert response.status_code == 429
    assert time.sleeps == []


def test_max_attempts_must_be_positive():
    with pytest.raises(ValueError):
        make_policy(FakeTime(), max_attempts=0)
