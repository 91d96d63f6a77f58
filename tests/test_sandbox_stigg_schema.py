"""The emulator's schema: a faithful subset of Stigg's real GraphQL schema that serves both
stiggctl's own documents and those of Stigg's Python SDK."""

from __future__ import annotations

import json

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    parse,
    validate,
)

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request
from stiggctl.sandbox.stigg import StiggEmulator, seed_demo
from stiggctl.sandbox.stigg.graphql_api import SCHEMA_PATH, schema
from stiggctl.sandbox.stigg.subset import SDK_OPERATIONS, sdk_documents, subset_sdl
from tests.contracts import stigg_schema

QUERIES = [
    "cachedEntitlements",
    "customers",
    "entitlement",
    "entitlementsState",
    "features",
    "getCustomerByRefId",
    "plans",
    "products",
    "sdkConfiguration",
    "usageHistoryV2",
]
MUTATIONS = ["createFeature", "provisionCustomer", "reportEvent", "reportUsage"]


def test_every_root_operation_is_present():
    subset = schema()
    assert sorted(subset.query_type.fields) == QUERIES
    assert sorted(subset.mutation_type.fields) == MUTATIONS
    assert subset.subscription_type is None


def _user_types(graphql_schema):
    return {
        name: t
        for name, t in graphql_schema.type_map.items()
        if not name.startswith("__") and name not in {"String", "Int", "Float", "Boolean", "ID"}
    }


def test_the_subset_is_consistent_with_the_real_schema():
    real = stigg_schema()
    problems = []
    for name, subset_type in _user_types(schema()).items():
        real_type = real.type_map.get(name)
        if type(real_type) is not type(subset_type):
            problems.append(f"{name}: {type(subset_type).__name__} vs {type(real_type).__name__}")
            continue
        if isinstance(subset_type, GraphQLObjectType):
            for field_name, field in subset_type.fields.items():
                real_field = real_type.fields.get(field_name)
                if real_field is None or str(real_field.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {field.type}")
                    continue
                real_args = {a: (str(v.type), v.default_value) for a, v in real_field.args.items()}
                args = {a: (str(v.type), v.default_value) for a, v in field.args.items()}
                if args != real_args:
                    problems.append(f"{name}.{field_name} arguments: {args} vs {real_args}")
        elif isinstance(subset_type, GraphQLInputObjectType):
            # Inputs are whole: anything Stigg accepts is accepted.
            fields = {f: str(v.type) for f, v in subset_type.fields.items()}
            if fields != {f: str(v.type) for f, v in real_type.fields.items()}:
                problems.append(f"input {name} differs")
        elif isinstance(subset_type, GraphQLEnumType):
            if set(subset_type.values) != set(real_type.values):
                problems.append(f"enum {name} differs")
        elif isinstance(subset_type, GraphQLUnionType):
            members = {t.name for t in subset_type.types}
            if not members <= {t.name for t in real_type.types}:
                problems.append(f"union {name}: {members}")
        else:
            assert isinstance(subset_type, GraphQLScalarType)
    assert problems == []
    assert len(_user_types(schema())) < len(_user_types(real)) / 3


def test_the_committed_subset_is_what_the_generator_makes():
    expected = subset_sdl(stigg_schema(), sdk_documents())
    regenerate = (
        "python -m stiggctl.sandbox.stigg.subset > src/stiggctl/sandbox/stigg/schema.graphql"
    )
    assert SCHEMA_PATH.read_text(encoding="utf-8") == expected, f"regenerate: {regenerate}"


def test_every_document_stiggctl_sends_to_stigg_is_served():
    from stiggctl.clients.stigg_operations import OPERATIONS

    errors = {
        name: [e.message for e in validate(schema(), parse(document))]
        for name, document in OPERATIONS.items()
    }
    assert errors == {name: [] for name in OPERATIONS}


SDK_VARIABLES = {
    "get_entitlement": {
        "query": {
            "customerId": "org_1",
            "featureId": "feature-active-users",
            "options": {"requestedUsage": 1},
        }
    },
    "get_entitlements": {"query": {"customerId": "org_1"}},
    "get_entitlements_state": {"query": {"customerId": "org_1"}},
    "get_customer_by_id": {"input": {"customerId": "org_1"}},
    "get_products": {},
    "get_usage_history_v2": {
        "input": {
            "customerId": "org_1",
            "featureId": "feature-active-users",
            "startDate": "2026-01-01T00:00:00.000Z",
        }
    },
    "provision_customer": {
        "input": {"customerId": "org_2", "subscriptionParams": {"planId": "plan-pro"}}
    },
    "report_event": {
        "input": {
            "usageEvents": [
                {
                    "customerId": "org_1",
                    "eventName": "user-login",
                    "idempotencyKey": "k",
                    "dimensions": {"user_id": "u9"},
                }
            ]
        }
    },
    "report_usage": {
        "input": {"customerId": "org_1", "featureId": "feature-active-users", "value": 1}
    },
}


def test_the_python_sdk_documents_run_on_the_emulator():
    stigg_schema()  # skips where stigg-api-client is not installed
    emu = StiggEmulator(api_keys={"server-k"}, clock=Clock(start=1_768_471_200.0))
    seed_demo(emu)
    emu.add_customer("org_1", plan_ref_id="plan-free")
    emu.record_logins("org_1", ["u1", "u2"])
    outcomes = {}
    for (_kind, name), document in zip(SDK_OPERATIONS, sdk_documents(), strict=True):
        response = emu.handle(
            Request.build(
                "POST",
                "/graphql",
                {"X-API-KEY": "server-k"},
                json.dumps({"query": document, "variables": SDK_VARIABLES[name]}).encode(),
            )
        )
        codes = [e["extensions"]["code"] for e in response.body.get("errors", [])]
        outcomes[name] = (response.status, codes)
    # Every SDK document runs; the only error is Stigg's own refusal of reportUsage on a
    # feature that has a meter.
    assert outcomes == {
        name: (
            200,
            ["CannotReportUsageForEntitlementWithMeterError"] if name == "report_usage" else [],
        )
        for _kind, name in SDK_OPERATIONS
    }


def test_the_schema_is_built_once():
    assert schema() is schema()


@pytest.mark.parametrize("root", ["Query", "Mutation"])
def test_roots_keep_all_arguments(root):
    real = stigg_schema()
    for name, field in schema().get_type(root).fields.items():
        assert set(field.args) == set(real.get_type(root).fields[name].args)
