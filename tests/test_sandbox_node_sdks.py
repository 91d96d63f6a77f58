"""The vendors' official Node.js SDKs pointed at the sandbox: Stigg's @stigg/node-server-sdk
(GraphQL) and Auth0's node-auth0 (the Management API, over the sandbox's TLS mode, since the
SDK only speaks https://{domain}). The Python SDKs are covered by test_sandbox_sdks.py and
test_sandbox_stigg_sdk.py.

The SDKs are pinned in tests/node_sdks/package-lock.json and installed, outside the tests,
with `npm ci --prefix tests/node_sdks`; without that install these tests skip. Each test runs
one small script of tests/node_sdks against an in-process sandbox; the script prints what
the SDK returned as JSON, and the values are asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from graphql import parse, validate

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request, Response
from stiggctl.sandbox.stigg import ACTIVE_USERS_FEATURE_ID, LOGIN_EVENT_NAME, PlanEntitlement
from stiggctl.sandbox.stigg.graphql_api import schema
from stiggctl.sandbox.stigg.seed import PRODUCT_ID
from stiggctl.sandbox.stigg.subset import (
    NODE_SDK_OPERATIONS,
    NODE_SDK_SELECTIONS_PATH,
    node_sdk_selections_json,
)
from stiggctl.sandbox.stigg.views import iso
from tests.contracts import stigg_schema
from tests.sandbox_helpers import running_sandbox

pytestmark = pytest.mark.node

NODE_SDKS = Path(__file__).with_name("node_sdks")
NODE_MODULES = NODE_SDKS / "node_modules"
INSTALL = "npm ci --prefix tests/node_sdks"

CUSTOMER_ID = "node-sdk-customer"
PLAN_ID = "plan-node-sdk"
BOOLEAN_FEATURE_ID = "feature-sso"
NUMERIC_FEATURE_ID = "feature-max-projects"
CALCULATED_FEATURE_ID = "feature-seats"
BUILD_SECONDS = 0.5


@pytest.fixture(scope="module", autouse=True)
def node_sdks_installed() -> None:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    for package in ("@stigg/node-server-sdk", "auth0"):
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.skip(f"the Node SDKs are not installed in {NODE_MODULES}: run `{INSTALL}`")


def run_node(script: str, env: Mapping[str, str], secrets: tuple[str, ...] = ()) -> Any:
    """Run tests/node_sdks/`script` with only `env` (and PATH); its stdout as JSON."""
    completed = subprocess.run(
        ["node", str(NODE_SDKS / script)],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        report = completed.stderr
        for secret in secrets:
            report = report.replace(secret, "***")
        pytest.fail(f"{script} exited with {completed.returncode}:\n{report}")
    return json.loads(completed.stdout)


@pytest.fixture(scope="module")
def node_sdk_documents() -> dict[str, str]:
    """Every document of the installed @stigg/api-client-js, by operation name."""
    return run_node("documents.js", {})


# --- the schema subset serves the Node SDK's documents ------------------------------------


def test_the_recorded_selections_are_those_of_the_pinned_sdk(node_sdk_documents):
    recorded = NODE_SDK_SELECTIONS_PATH.read_text(encoding="utf-8")
    regenerate = (
        "regenerate: node tests/node_sdks/documents.js | python -m stiggctl.sandbox.stigg.subset"
        " --node-sdk-selections > src/stiggctl/sandbox/stigg/node_sdk_selections.json"
    )
    assert recorded == node_sdk_selections_json(stigg_schema(), node_sdk_documents), regenerate


def test_the_node_sdk_documents_validate_against_stigg_and_the_subset(node_sdk_documents):
    schemas = {"stigg": stigg_schema(), "subset": schema()}
    errors = {
        (name, which): [
            e.message for e in validate(graphql_schema, parse(node_sdk_documents[name]))
        ]
        for name in NODE_SDK_OPERATIONS
        for which, graphql_schema in schemas.items()
    }
    assert errors == {(name, which): [] for name in NODE_SDK_OPERATIONS for which in schemas}


# --- Stigg's Node SDK ---------------------------------------------------------------------


@pytest.fixture
def stigg_sandbox(monkeypatch) -> Iterator[tuple[Any, list[tuple[str, int, list[str]]]]]:
    """A sandbox whose Stigg has a plan with one feature of each kind the SDK reads, and a
    log of the operations it answered: (operationName, status, error codes)."""
    # The SDK compares usage periods with the wall clock (a period that ended resets the
    # usage it reports), so the frozen sandbox clock starts at the present.
    with running_sandbox(clock=Clock(start=float(int(time.time())))) as server:
        stigg = server.sandbox.stigg
        stigg.add_feature(BOOLEAN_FEATURE_ID, "Single sign-on", feature_type="BOOLEAN")
        stigg.add_feature(NUMERIC_FEATURE_ID, "Projects", feature_type="NUMBER")
        stigg.add_feature(
            CALCULATED_FEATURE_ID, "Seats", feature_type="NUMBER", meter_type="Fluctuating"
        )
        stigg.add_plan(
            PLAN_ID,
            product_ref_id=PRODUCT_ID,
            display_name="Node SDK",
            entitlements=[
                PlanEntitlement(feature_ref_id=ACTIVE_USERS_FEATURE_ID, usage_limit=3),
                PlanEntitlement(feature_ref_id=BOOLEAN_FEATURE_ID, reset_period=None),
                PlanEntitlement(
                    feature_ref_id=NUMERIC_FEATURE_ID, usage_limit=10, reset_period=None
                ),
                PlanEntitlement(
                    feature_ref_id=CALCULATED_FEATURE_ID, usage_limit=5, reset_period=None
                ),
            ],
        )
        answered: list[tuple[str, int, list[str]]] = []
        handle = stigg.handle

        def recording_handle(req: Request) -> Response:
            response = handle(req)
            codes = [e["extensions"]["code"] for e in response.body.get("errors", [])]
            answered.append((req.json().get("operationName"), response.status, codes))
            return response

        monkeypatch.setattr(stigg, "handle", recording_handle)
        yield server, answered


def test_stigg_node_sdk_through_stiggctls_flows(stigg_sandbox):
    server, answered = stigg_sandbox
    api_key = server.info()["stigg"]["api_key"]
    result = run_node(
        "stigg_flow.js",
        {
            "STIGG_BASE_URI": server.base_url,
            "STIGG_API_KEY": api_key,
            "CUSTOMER_ID": CUSTOMER_ID,
            "PLAN_ID": PLAN_ID,
            "EVENT_NAME": LOGIN_EVENT_NAME,
            "METERED_FEATURE_ID": ACTIVE_USERS_FEATURE_ID,
            "CALCULATED_FEATURE_ID": CALCULATED_FEATURE_ID,
            "BOOLEAN_FEATURE_ID": BOOLEAN_FEATURE_ID,
            "NUMERIC_FEATURE_ID": NUMERIC_FEATURE_ID,
        },
        secrets=(api_key,),
    )
    stigg = server.sandbox.stigg
    start = server.sandbox.clock()
    period = stigg.entitlement(CUSTOMER_ID, ACTIVE_USERS_FEATURE_ID)
    # The subscription started when it was provisioned: the first monthly period runs from
    # then (the exact month arithmetic is test_sandbox_stigg_*'s business).
    assert period.usage_period_start == start
    usage_period = {
        "resetPeriod": "MONTH",
        "usagePeriodStart": iso(start),
        "usagePeriodEnd": iso(period.usage_period_end),
    }
    no_period = {"resetPeriod": None, "usagePeriodStart": None, "usagePeriodEnd": None}
    assert result == {
        "provisioned": {
            "customerId": CUSTOMER_ID,
            "name": "Node SDK customer",
            "email": "node-sdk@example.com",
            "metadata": {"source": "node-sdk"},
            "subscriptionDecisionStrategy": "REQUESTED_PLAN",
            "subscriptionPlanId": PLAN_ID,
            "subscriptionStatus": "ACTIVE",
            "subscriptionCustomerId": CUSTOMER_ID,
        },
        # Two users logged in (one of them reported twice): 2 of 3, room for one more.
        "meteredOneMore": {
            "hasAccess": True,
            "accessDeniedReason": None,
            "isFallback": False,
            "currentUsage": 2,
            "usageLimit": 3,
            "requestedUsage": 1,
            "isUnlimited": False,
            **usage_period,
        },
        "meteredTwoMore": {
            "hasAccess": False,
            "accessDeniedReason": "RequestedUsageExceedingLimit",
            "isFallback": False,
            "currentUsage": 2,
            "usageLimit": 3,
            "requestedUsage": 2,
            "isUnlimited": False,
            **usage_period,
        },
        "reportedUsage": {
            "customerId": CUSTOMER_ID,
            "featureId": CALCULATED_FEATURE_ID,
            "currentUsage": 2,
            "hasMeasurementId": True,
        },
        "calculated": {
            "hasAccess": True,
            "accessDeniedReason": None,
            "isFallback": False,
            "currentUsage": 2,
            "usageLimit": 5,
            "requestedUsage": 3,
            "isUnlimited": False,
            **no_period,
        },
        "boolean": {"hasAccess": True, "isFallback": False},
        "numeric": {"hasAccess": True, "isFallback": False, "value": 10, "isUnlimited": False},
        "unknownCustomer": {"hasAccess": False, "accessDeniedReason": "CustomerNotFound"},
        "entitlements": [
            {"featureId": ACTIVE_USERS_FEATURE_ID, "type": "METERED", "hasAccess": True},
            {"featureId": NUMERIC_FEATURE_ID, "type": "NUMERIC", "hasAccess": True},
            {"featureId": CALCULATED_FEATURE_ID, "type": "METERED", "hasAccess": True},
            {"featureId": BOOLEAN_FEATURE_ID, "type": "BOOLEAN", "hasAccess": True},
        ],
        "customer": {
            "id": CUSTOMER_ID,
            "name": "Node SDK customer",
            "email": "node-sdk@example.com",
            "hasPaymentMethod": False,
            "subscriptions": [
                {
                    "planId": PLAN_ID,
                    "planName": "Node SDK",
                    "status": "ACTIVE",
                    "pricingType": "FREE",
                }
            ],
        },
        "products": [{"id": PRODUCT_ID, "displayName": "SaaS"}],
    }
    # The retried login was deduplicated on its idempotency key: two events stored.
    events = [(e.idempotency_key, e.dimensions) for e in stigg.events(CUSTOMER_ID)]
    assert events == [
        ("login-user-1", {"user_id": "user-1"}),
        ("login-user-2", {"user_id": "user-2"}),
    ]
    # Every document the SDK sent is one the subset records, and each was answered cleanly.
    assert {name for name, _status, _codes in answered} == set(NODE_SDK_OPERATIONS)
    assert [(status, codes) for _name, status, codes in answered] == [(200, [])] * len(answered)
    assert answered[0][0] == "GetSdkConfiguration"  # waitForInitialization


def test_the_sdk_configuration_answer(stigg_sandbox, node_sdk_documents):
    server, _answered = stigg_sandbox
    response = server.sandbox.stigg.handle(
        Request.build(
            "POST",
            "/graphql",
            {"X-API-KEY": server.info()["stigg"]["api_key"]},
            json.dumps({"query": node_sdk_documents["GetSdkConfiguration"]}).encode(),
        )
    )
    # No Sentry DSN: the SDK would report its errors to Stigg's Sentry project.
    assert (response.status, response.body) == (
        200,
        {"data": {"sdkConfiguration": {"sentryDsn": None, "isWidgetWatermarkEnabled": False}}},
    )


# --- Auth0's Node SDK ---------------------------------------------------------------------


def test_auth0_node_sdk_against_the_tls_sandbox(tmp_path):
    pytest.importorskip("trustme", reason="the [tls] extra is not installed")
    ca_file = tmp_path / "ca.pem"
    with running_sandbox(
        tls=True, ca_file=ca_file, clock=Clock(start=1_768_471_200.0), build_seconds=BUILD_SECONDS
    ) as server:
        info = server.info()["auth0"]
        result = run_node(
            "auth0_flow.js",
            {
                "NODE_EXTRA_CA_CERTS": str(ca_file),
                "AUTH0_DOMAIN": server.base_url.removeprefix("https://"),
                "AUTH0_CLIENT_ID": info["client_id"],
                "AUTH0_CLIENT_SECRET": info["client_secret"],
                "USER_ID": "auth0|demo-alice",
                "MISSING_USER_ID": "auth0|nobody",
                "SANDBOX_URL": server.base_url,
                "BUILD_SECONDS": str(BUILD_SECONDS),
            },
            secrets=(info["client_secret"],),
        )
        action = next(
            a for a in server.sandbox.auth0.post_login_actions() if a["name"] == "Node SDK action"
        )
        calls = [(r["method"], r["path"], r["status"]) for r in server.sandbox.requests]

    assert result == {
        "token": {"tokenType": "Bearer", "expiresIn": 86400, "isJwt": True},
        "organizations": [
            {"id": "org_acme000000000001", "displayName": "Acme Corp"},
            {"id": "org_globex0000000001", "displayName": "Globex Corporation"},
            {"id": "org_initech000000001", "displayName": "Initech"},
            {"id": "org_umbrella00000001", "displayName": "Umbrella Health"},
        ],
        "user": {
            "userId": "auth0|demo-alice",
            "email": "alice@example.com",
            "name": "Alice Example",
        },
        "missingUser": {
            "name": "ManagementApiError",
            "statusCode": 404,
            "error": "Not Found",
            "errorCode": "inexistent_user",
            "message": "The user does not exist.",
        },
        "created": {
            "status": "pending",
            "runtime": "node22",
            "secrets": ["API_KEY"],
            "secretValueReturned": False,
        },
        "built": "built",
        "deployed": {"number": 1, "actionId": action["id"]},
        "versions": [{"number": 1, "deployed": True}],
        "boundNames": ["Add roles claim", "Node SDK"],
        "boundActions": ["Add roles claim", "Node SDK action"],
        "deleteBound": {
            "name": "ManagementApiError",
            "statusCode": 409,
            "error": "Conflict",
            "errorCode": None,
            "message": "Unable to delete an action bound to a trigger.",
        },
    }
    action_path = f"/api/v2/actions/actions/{action['id']}"
    assert calls == [
        ("POST", "/oauth/token", 200),  # the AuthenticationClient's grant
        ("POST", "/oauth/token", 200),  # the ManagementClient's own token
        ("GET", "/api/v2/organizations", 200),
        ("GET", "/api/v2/users/auth0%7Cdemo-alice", 200),
        ("GET", "/api/v2/users/auth0%7Cnobody", 404),
        ("POST", "/api/v2/actions/actions", 201),
        ("GET", action_path, 200),
        ("POST", f"{action_path}/deploy", 200),
        ("GET", f"{action_path}/versions", 200),
        ("GET", "/api/v2/actions/triggers/post-login/bindings", 200),
        ("PATCH", "/api/v2/actions/triggers/post-login/bindings", 200),
        ("GET", "/api/v2/actions/triggers/post-login/bindings", 200),
        ("DELETE", action_path, 409),
    ]
