"""Stigg's own Python SDK (stigg-api-client) pointed at the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request
from stiggctl.sandbox.stigg import ACTIVE_USERS_FEATURE_ID, StiggEmulator, seed_demo

stigg = pytest.importorskip("stigg", reason="stigg-api-client is a test extra")

KEY = "server-sdk-key"


@pytest.fixture
def emu() -> StiggEmulator:
    emulator = StiggEmulator(api_keys={KEY}, clock=Clock(start=1_768_471_200.0))  # 2026-01-15T10Z
    seed_demo(emulator)
    return emulator


@pytest.fixture
def url(emu) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            response = emu.handle(
                Request.build("POST", self.path, dict(self.headers.items()), body)
            )
            payload, content_type = response.encode()
            self.send_response(response.status)
            if content_type:
                self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for the serving loop to notice.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/graphql"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def client(url: str, key: str = KEY):
    return stigg.Stigg.create_client(key, api_url=url, enable_edge=False, request_timeout=5)


def test_sdk_reads_an_entitlement_and_reports_a_login(emu, url):
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["u1", "u2"])
    sdk = client(url)
    query = {
        "query": {
            "customerId": "org_1",
            "featureId": ACTIVE_USERS_FEATURE_ID,
            "options": {"requestedUsage": 1},
        }
    }
    granted = sdk.request(stigg.Stigg.query.get_entitlement, query).entitlement
    assert (granted.is_granted, granted.current_usage, granted.usage_limit) == (True, 2.0, 3.0)
    assert granted.feature.ref_id == ACTIVE_USERS_FEATURE_ID

    event = {
        "customerId": "org_1",
        "eventName": "user-login",
        "idempotencyKey": "login-u3",
        "dimensions": {"user_id": "u3"},
    }
    sdk.request(stigg.Stigg.mutation.report_event, {"input": {"usageEvents": [event]}})
    denied = sdk.request(stigg.Stigg.query.get_entitlement, query).entitlement
    assert (denied.is_granted, denied.access_denied_reason, denied.current_usage) == (
        False,
        "RequestedUsageExceedingLimit",
        3.0,
    )


def test_sdk_lists_products(url):
    products = client(url).request(stigg.Stigg.query.get_products, {}).products
    assert [(p.ref_id, p.display_name) for p in (e.node for e in products.edges)] == [
        ("product-saas", "SaaS")
    ]


def test_sdk_with_a_wrong_key_gets_an_error(url):
    answer = client(url, key="server-wrong").request(
        stigg.Stigg.query.get_products, {}, raw_response=True
    )
    assert answer["errors"] == [
        {"message": "Invalid or missing API key", "extensions": {"code": "UNAUTHENTICATED"}}
    ]
