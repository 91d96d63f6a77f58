"""Fakes shared by the client tests: a manual clock, and Auth0 / Stigg behind httpx.MockTransport.

No sockets: every request goes to a handler in this process, which records it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.retry import RetryEvent, RetryPolicy
from stiggctl.clients.stigg import StiggClient

NOW = 1_700_000_000.0
BASE_URL = "https://acme.eu.auth0.com"
CLIENT_ID = "m2m-client-id"
CLIENT_SECRET = "s3cr3t-client-secret-value"
ACCESS_TOKEN = "eyJ-access-token-value"
STIGG_URL = "https://api.stigg.io/graphql"
STIGG_API_KEY = "server-0123456789-secret-key"

Route = Callable[[httpx.Request], httpx.Response] | httpx.Response | list[httpx.Response]


class FakeTime:
    """A clock that only moves when something sleeps on it."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_policy(time: FakeTime, events: list[RetryEvent] | None = None, **options: Any):
    """A retry policy on the fake clock, with a fixed 'random' of 0.5."""
    return RetryPolicy(
        sleep=time.sleep,
        clock=time.clock,
        random=lambda: 0.5,
        on_retry=events.append if events is not None else None,
        **options,
    )


def json_response(status: int, body: Any, headers: dict[str, str] | None = None):
    return httpx.Response(status, json=body, headers=headers)


def error_body(status: int, error: str, message: str, code: str | None = None) -> dict:
    body: dict[str, Any] = {"statusCode": status, "error": error, "message": message}
    if code:
        body["errorCode"] = code
    return body


class FakeAuth0:
    """Routes by (method, raw path without query). A list route answers its items in turn."""

    def __init__(self, routes: dict[tuple[str, str], Route] | None = None) -> None:
        self.routes: dict[tuple[str, str], Route] = dict(routes or {})
        self.token_response: Route = json_response(
            200,
            {
                "access_token": ACCESS_TOKEN,
                "token_type": "Bearer",
                "expires_in": 86400,
                "scope": "read:actions read:users",
            },
        )
        self.token_requests: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.split(b"?")[0].decode()
        if path == "/oauth/token":
            self.token_requests.append(json.loads(request.content))
            return _answer(self.token_response, request)
        self.requests.append(request)
        key = (request.method, path)
        if key not in self.routes:
            return json_response(404, error_body(404, "Not Found", f"no route {key}"))
        return _answer(self.routes[key], request)

    def client(self, time: FakeTime, **policy_options: Any) -> Auth0Client:
        return Auth0Client(
            BASE_URL,
            CLIENT_ID,
            CLIENT_SECRET,
            transport=httpx.MockTransport(self),
            retry=make_policy(time, **policy_options),
        )

    def api_requests(self, method: str, path: str) -> list[httpx.Request]:
        return [
            r
            for r in self.requests
            if r.method == method and r.url.raw_path.split(b"?")[0].decode() == path
        ]


class FakeStigg:
    """Answers GraphQL posts with the route registered for the operation name."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        self.bodies.append(body)
        return _answer(self.routes[body["operationName"]], request)

    def client(self, time: FakeTime, **policy_options: Any) -> StiggClient:
        return StiggClient(
            STIGG_URL,
            STIGG_API_KEY,
            transport=httpx.MockTransport(self),
            retry=make_policy(time, **policy_options),
        )


def _answer(route: Route, request: httpx.Request) -> httpx.Response:
    if isinstance(route, list):
        route = route.pop(0) if len(route) > 1 else route[0]
    if isinstance(route, httpx.Response):
        # A fresh copy each time: a response object is read and closed by the client.
        return httpx.Response(route.status_code, headers=route.headers, content=route.content)
    return route(request)


def raising(error: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error("simulated failure", request=request)

    return handler
