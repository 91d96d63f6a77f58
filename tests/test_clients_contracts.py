"""Contract tests: what the clients send is what Auth0 and Stigg accept.

- Every Stigg document validates against Stigg's real schema, and the variables each client
  method sends coerce to the document's variable types.
- Every JSON body (and query parameter) Auth0Client builds validates against the request
  schemas of Auth0's Management API OpenAPI description.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from stiggctl.clients import stigg_operations as ops
from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import BindingUpdate
from tests.contracts import auth0_openapi, graphql_errors, stigg_schema
from tests.test_clients_fakes import (
    ACCESS_TOKEN,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    FakeStigg,
    FakeTime,
    json_response,
    make_policy,
)

SPEC_URI = "urn:auth0-management-api"

# -- Stigg ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ops.OPERATIONS))
def test_every_stigg_document_validates_against_the_real_schema(name):
    assert graphql_errors(ops.OPERATIONS[name]) == []


def test_every_document_of_the_module_is_listed_and_named_as_its_key():
    from graphql import OperationDefinitionNode, parse

    documents = {
        value
        for key, value in vars(ops).items()
        if key.isupper() and not key.startswith("_") and isinstance(value, str)
    }
    assert documents == set(ops.OPERATIONS.values())
    for name, document in ops.OPERATIONS.items():
        operations = [
            d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode)
        ]
        assert [o.name.value for o in operations] == [name]


def test_the_harness_rejects_an_invalid_document():
    assert graphql_errors("query { customers { edges { node { noSuchField } } } }") != []


def _connection(*nodes: dict) -> dict:
    return {"pageInfo": {"hasNextPage": False}, "edges": [{"node": n} for n in nodes]}


_STIGG_ANSWERS: dict[str, dict[str, Any]] = {
    "ProvisionCustomer": {
        "provisionCustomer": {"customer": {"customerId": "c"}, "subscription": None}
    },
    "GetCustomerByRefId": {"getCustomerByRefId": {"customerId": "c"}},
    "Customers": {"customers": _connection({"customerId": "c"})},
    "Entitlement": {"entitlement": {"isGranted": True}},
    "CachedEntitlements": {"cachedEntitlements": []},
    "ReportEvent": {"reportEvent": "ok"},
    "ReportUsage": {"reportUsage": {"customerId": "c", "featureId": "f", "value": 1}},
    "CreateFeature": {"createFeature": {"refId": "f"}},
    "Features": {"features": _connection()},
    "Products": {"products": _connection()},
    "Plans": {"plans": _connection()},
    "EnvironmentId": {
        "products": _connection({"environmentId": "5b5a7c1e-0000-4000-8000-000000000001"}),
        "plans": _connection(),
        "features": _connection(),
        "customers": _connection(),
    },
    "UsageHistory": {"usageHistoryV2": {"series": [], "markers": []}},
}


def test_the_variables_every_stigg_call_sends_match_the_document():
    from datetime import UTC, datetime

    from graphql import OperationDefinitionNode, parse
    from graphql.execution.values import get_variable_values

    from stiggctl.clients.stigg import unique_count_meter

    schema = stigg_schema()
    fake = FakeStigg({name: json_response(200, {"data": d}) for name, d in _STIGG_ANSWERS.items()})
    client = fake.client(FakeTime())
    start = datetime(2026, 3, 1, tzinfo=UTC)
    client.provision_customer(
        "c", name="n", email="e@x.test", plan_id="p", billing_period="MONTHLY", metadata={"a": 1}
    )
    client.get_customer("c")
    list(client.iter_customers())
    client.get_entitlement("c", "f", requested_usage=1)
    client.get_entitlements("c")
    client.report_event(
        "c", "user-login", idempotency_key="k", dimensions={"u": 1}, timestamp=start
    )
    client.report_usage("c", "f", 2, update_behavior="SET", idempotency_key="k")
    client.create_feature(
        ref_id="f",
        display_name="F",
        units="u",
        units_plural="us",
        description="d",
        meter=unique_count_meter("user-login", "user_id"),
    )
    client.find_feature("f")
    client.list_products()
    client.list_plans(product_ref_id="p")
    client.usage_history("c", "f", start=start, end=start, group_by=["user_id"])

    sent = {body["operationName"] for body in fake.bodies}
    assert sent == set(ops.OPERATIONS)
    for body in fake.bodies:
        assert body["query"] == ops.OPERATIONS[body["operationName"]]
        operation = next(
            d for d in parse(body["query"]).definitions if isinstance(d, OperationDefinitionNode)
        )
        definitions = operation.variable_definitions or ()
        coerced = get_variable_values(schema, definitions, body["variables"])
        # A list is graphql-core's way of saying the variables do not coerce.
        assert not isinstance(coerced, list), (body["operationName"], coerced)


def test_the_variable_check_catches_a_wrong_input_field():
    from graphql import OperationDefinitionNode, parse
    from graphql.execution.values import get_variable_values

    operation = next(
        d for d in parse(ops.REPORT_EVENT).definitions if isinstance(d, OperationDefinitionNode)
    )
    bad = {"events": {"usageEvents": [{"customerId": "c", "eventName": "e", "key": "k"}]}}
    assert isinstance(
        get_variable_values(stigg_schema(), operation.variable_definitions, bad), list
    )


# -- Auth0 ---------------------------------------------------------------------------------


class _Auth0Recorder:
    """Answers every Management API call with a body each model accepts; records requests."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return json_response(200, {"access_token": ACCESS_TOKEN, "scope": ""})
        self.requests.append(request)
        if request.method == "DELETE":
            return httpx.Response(204)
        if request.method == "GET" and request.url.path.endswith(
            (
                "/actions",
                "/versions",
                "/bindings",
                "/users",
                "/clients",
                "/organizations",
                "/members",
            )
        ):
            keys = ("actions", "versions", "bindings", "users", "clients", "organizations")
            return json_response(200, {**{k: [] for k in (*keys, "members")}, "total": 0})
        return json_response(
            200,
            {
                "id": "x",
                "name": "n",
                "user_id": "u",
                "client_id": "c",
                "status": "completed",
                "bindings": [],
            },
        )


def _operation(spec: dict, method: str, path: str) -> tuple[str, dict]:
    """The OpenAPI path template and operation that a concrete API path matches."""
    segments = path.split("/")
    for template, operations in spec["paths"].items():
        parts = template.split("/")
        matches = len(parts) == len(segments) and all(
            p == s or (p.startswith("{") and p.endswith("}"))
            for p, s in zip(parts, segments, strict=True)
        )
        if matches and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path} is not in the Auth0 contract")


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validator(spec: dict, *pointer_parts: str) -> Draft202012Validator:
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012)
    )
    return Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/{_pointer(*pointer_parts)}"}, registry=registry
    )


def _resolved(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _check_request(spec: dict, request: httpx.Request) -> None:
    path = request.url.raw_path.split(b"?")[0].decode().removeprefix("/api/v2")
    template, operation = _operation(spec, request.method, path)
    method = request.method.lower()
    if request.content:
        assert "requestBody" in operation, f"{method} {template} takes no body"
        _validator(
            spec, "paths", template, method, "requestBody", "content", "application/json", "schema"
        ).validate(json.loads(request.content))
    parameters = operation.get("parameters", [])
    declared = {p["name"]: i for i, p in enumerate(parameters) if p["in"] == "query"}
    for name, raw in parse_qsl(request.url.query.decode()):
        assert name in declared, f"{method} {template} has no query parameter {name!r}"
        index = declared[name]
        kind = _resolved(spec, parameters[index]["schema"]).get("type")
        value: Any = raw
        if kind == "integer":
            value = int(raw)
        elif kind == "boolean":
            value = {"true": True, "false": False}[raw]
        _validator(spec, "paths", template, method, "parameters", str(index), "schema").validate(
            value
        )


@pytest.fixture
def recorded_auth0_calls() -> list[httpx.Request]:
    recorder = _Auth0Recorder()
    client = Auth0Client(
        BASE_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        transport=httpx.MockTransport(recorder),
        retry=make_policy(FakeTime()),
    )
    client.create_action(
        name="stigg-mau",
        code="exports.onExecutePostLogin = async () => {};",
        secrets={"STIGG_API_KEY": "server-x", "DOMAIN": "acme.eu.auth0.com"},
        dependencies={"left-pad": "1.3.0"},
    )
    client.update_action(
        "act1",
        code="// v2",
        secrets={"STIGG_API_KEY": "server-y"},
        dependencies={},
        runtime="node22",
    )
    client.replace_bindings(
        [
            BindingUpdate.for_action_id("other", "other-action"),
            BindingUpdate.for_action_id("act1"),
        ]
    )
    client.update_user_app_metadata("auth0|abc", {"org_1:last_login": 1767225600000, "x": None})
    client.update_organization_metadata("org_1", {"customer_provisioned": "true", "tier": None})
    client.create_users_export(connection_id="con_0123456789abcdef", limit=5000)
    client.deploy_action_version("act1", "ver1", update_draft=False)
    client.deploy_action("act1")
    client.delete_action("act1", force=True)
    client.list_actions(name="stigg-mau", deployed=True)
    client.list_action_versions("act1")
    client.get_bindings()
    list(client.list_clients(app_types=["spa", "regular_web"]))
    list(client.list_users(query="email:*"))
    client.list_user_organizations("auth0|abc")
    list(client.iter_organizations(take=100))
    list(client.iter_organization_members("org_1", take=100))
    client.get_job("job_1")
    client.get_action_version("act1", "ver1")
    client.list_triggers()
    return recorder.requests


def test_every_auth0_request_matches_the_contract(recorded_auth0_calls):
    spec = auth0_openapi()
    assert len(recorded_auth0_calls) == 20
    for request in recorded_auth0_calls:
        _check_request(spec, request)


def test_the_contract_bodies_checked_include_each_write(recorded_auth0_calls):
    bodies = {
        (r.method, r.url.raw_path.decode()): json.loads(r.content)
        for r in recorded_auth0_calls
        if r.content
    }
    assert set(bodies) == {
        ("POST", "/api/v2/actions/actions"),
        ("PATCH", "/api/v2/actions/actions/act1"),
        ("PATCH", "/api/v2/actions/triggers/post-login/bindings"),
        ("PATCH", "/api/v2/users/auth0%7Cabc"),
        ("PATCH", "/api/v2/organizations/org_1"),
        ("POST", "/api/v2/jobs/users-exports"),
        ("POST", "/api/v2/actions/actions/act1/versions/ver1/deploy"),
    }


def test_the_contract_check_rejects_what_auth0_would():
    spec = auth0_openapi()
    create = _validator(
        spec,
        "paths",
        "/actions/actions",
        "post",
        "requestBody",
        "content",
        "application/json",
        "schema",
    )
    with pytest.raises(ValidationError):
        create.validate({"name": "a", "supported_triggers": [{"id": "post-login"}], "foo": 1})
    with pytest.raises(ValidationError):
        create.validate({"name": "a"})  # supported_triggers is required
    request = httpx.Request("GET", f"{BASE_URL}/api/v2/organizations?take=500")
    with pytest.raises(ValidationError):
        _check_request(spec, request)
