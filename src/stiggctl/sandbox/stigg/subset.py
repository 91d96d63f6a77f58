"""Extract from Stigg's real GraphQL schema the subset that the sandbox's emulator answers.

Run by hand (it needs the test extra: stigg-api-client and sgqlc carry the real schema):

    python -m stiggctl.sandbox.stigg.subset > src/stiggctl/sandbox/stigg/schema.graphql

What is kept:
- the root fields in ROOT_FIELDS, with all their arguments;
- every output field that Stigg's own Python SDK selects under those root fields (so the
  SDK's documents validate against the sandbox as they do against Stigg), the fields that
  Stigg's Node SDK selects in the documents of NODE_SDK_OPERATIONS (recorded in
  node_sdk_selections.json, since the Node SDK is no Python package), plus the fields in
  EXTRA_OUTPUT_FIELDS that stiggctl and its action read;
- input types, enums and scalars whole, so that any input Stigg accepts is accepted.
Names, types, arguments and defaults are copied verbatim from the real schema.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    build_schema,
    get_named_type,
    parse,
    print_ast,
    validate,
    visit,
)

ROOT_FIELDS: dict[str, tuple[str, ...]] = {
    "Query": (
        "entitlement",
        "cachedEntitlements",
        "entitlementsState",
        "features",
        "products",
        "plans",
        "customers",
        "getCustomerByRefId",
        "usageHistoryV2",
        "sdkConfiguration",
    ),
    "Mutation": ("provisionCustomer", "reportEvent", "reportUsage", "createFeature"),
}

# The Python SDK's operations on the root fields above (stigg.generated.operations).
SDK_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("query", "get_entitlement"),
    ("query", "get_entitlements"),
    ("query", "get_entitlements_state"),
    ("query", "get_customer_by_id"),
    ("query", "get_products"),
    ("query", "get_usage_history_v2"),
    ("mutation", "provision_customer"),
    ("mutation", "report_event"),
    ("mutation", "report_usage"),
)

# The documents that Stigg's Node SDK (@stigg/node-server-sdk, its documents defined in
# @stigg/api-client-js) sends for what stiggctl's flows do: start-up (waitForInitialization),
# provisionCustomer, getCustomer, reportEvent, reportUsage, every get*Entitlement and
# getEntitlements (all read the customer's cachedEntitlements), getProducts. What they select
# is recorded, from the SDK that tests/node_sdks pins, with
#     node tests/node_sdks/documents.js | python -m stiggctl.sandbox.stigg.subset \
#         --node-sdk-selections > src/stiggctl/sandbox/stigg/node_sdk_selections.json
NODE_SDK_OPERATIONS: tuple[str, ...] = (
    "GetSdkConfiguration",
    "ProvisionCustomer",
    "GetCustomerById",
    "ReportEvent",
    "ReportUsage",
    "GetEntitlements",
    "GetProducts",
)
NODE_SDK_SELECTIONS_PATH = Path(__file__).with_name("node_sdk_selections.json")

_CONNECTION = ("edges", "pageInfo", "totalCount")
_EDGE = ("cursor", "node")

EXTRA_OUTPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "Aggregation": ("field", "function"),
    "Customer": (
        "additionalMetaData",
        "createdAt",
        "customerId",
        "deletedAt",
        "email",
        "environmentId",
        "hasActiveSubscription",
        "id",
        "name",
        "refId",
        "subscriptions",
        "totalActiveSubscription",
        "updatedAt",
    ),
    "CustomerConnection": _CONNECTION,
    "CustomerEdge": _EDGE,
    "CustomerSubscription": (
        "createdAt",
        "customer",
        "customerId",
        "environmentId",
        "id",
        "plan",
        "pricingType",
        "refId",
        "startDate",
        "status",
        "subscriptionId",
    ),
    "Entitlement": (
        "displayNameOverride",
        "meterId",
    ),
    "EntitlementFeature": ("additionalMetaData", "featureStatus", "id"),
    "Feature": (
        "additionalMetaData",
        "createdAt",
        "description",
        "displayName",
        "environmentId",
        "featureStatus",
        "featureType",
        "featureUnits",
        "featureUnitsPlural",
        "hasMeter",
        "id",
        "meter",
        "meterType",
        "refId",
        "updatedAt",
    ),
    "FeatureConnection": _CONNECTION,
    "FeatureEdge": _EDGE,
    "Meter": ("aggregation", "createdAt", "environmentId", "filters", "id", "updatedAt"),
    "MeterCondition": ("field", "operation", "value", "values"),
    "MeterFilterDefinition": ("conditions",),
    "PackageEntitlement": (
        "environmentId",
        "featureId",
        "id",
        "isGranted",
        "packageId",
        "resetPeriodConfiguration",
    ),
    "PackageFeatureEntitlement": (
        "behavior",
        "environmentId",
        "feature",
        "featureId",
        "hasSoftLimit",
        "hasUnlimitedUsage",
        "id",
        "isGranted",
        "packageId",
        "resetPeriod",
        "resetPeriodConfiguration",
        "usageLimit",
    ),
    "PageInfo": ("endCursor", "hasNextPage", "hasPreviousPage", "startCursor"),
    "Plan": (
        "createdAt",
        "environmentId",
        "id",
        "isLatest",
        "packageEntitlements",
        "productId",
        "status",
        "updatedAt",
        "versionNumber",
    ),
    "PlanConnection": _CONNECTION,
    "PlanEdge": _EDGE,
    "Product": ("createdAt", "environmentId", "id", "plans", "status", "updatedAt"),
    "ProductConnection": _CONNECTION,
    "ProductEdge": _EDGE,
    "ProvisionedCustomer": ("subscriptionStrategyDecision",),
    "UsageHistoryV2": ("pageInfo",),
    "UsageMeasurementWithCurrentUsage": (
        "createdAt",
        "environmentId",
        "nextResetDate",
        "timestamp",
        "value",
    ),
}


def real_schema_sdl() -> str:
    """Stigg's schema as SDL, from the sgqlc types that stigg-api-client ships."""
    import sgqlc.types as sgqlc_types
    from stigg.generated import schema as generated

    builtin = {"Int", "Float", "String", "Boolean", "ID"}
    parts = ["schema { query: Query mutation: Mutation }"]
    for graphql_type in generated.schema:
        if graphql_type.__name__ in builtin:
            continue
        text = graphql_type.__to_graphql__()
        if issubclass(graphql_type, sgqlc_types.Scalar) and not text.startswith("scalar"):
            text = f"scalar {graphql_type.__name__}"
        parts.append(text)
    return "\n\n".join(parts) + "\n"


def sdk_documents() -> list[str]:
    """The SDK's operations as documents. The SDK omits the definitions of fragments used only
    inside other fragments (its documents as sent are invalid); they are appended here from
    the SDK's own fragment functions so that the fields they select are covered too."""
    from stigg.generated import operations

    fragments: dict[str, str] = {}
    for name in dir(operations):
        if name.startswith("fragment_"):
            text = str(getattr(operations, name)())
            fragments[text.split()[1]] = text
    documents = []
    for kind, name in SDK_OPERATIONS:
        text = str(getattr(getattr(operations.Operations, kind), name))
        while missing := _undefined_fragments(text):
            text += "\n" + "\n".join(fragments[f] for f in sorted(missing))
        documents.append(text)
    return documents


def _undefined_fragments(document: str) -> set[str]:
    used = set(re.findall(r"\.\.\.(\w+)", document))
    defined = set(re.findall(r"fragment (\w+) on", document))
    return used - defined


def node_sdk_selections() -> dict[str, set[str]]:
    """What the Node SDK's documents in NODE_SDK_OPERATIONS select, as recorded."""
    recorded = json.loads(NODE_SDK_SELECTIONS_PATH.read_text(encoding="utf-8"))
    return {type_name: set(fields) for type_name, fields in recorded.items()}


def node_sdk_selections_json(schema: GraphQLSchema, documents: Mapping[str, str]) -> str:
    """The record of node_sdk_selections.json, from the Node SDK's documents by operation
    name (what tests/node_sdks/documents.js prints)."""
    missing = [name for name in NODE_SDK_OPERATIONS if name not in documents]
    if missing:
        raise ValueError(f"the Node SDK has no such documents: {missing}")
    selected = selected_fields(schema, (documents[name] for name in NODE_SDK_OPERATIONS))
    record = {type_name: sorted(fields) for type_name, fields in sorted(selected.items())}
    return json.dumps(record, indent=2) + "\n"


class _FieldCollector(Visitor):
    def __init__(self, type_info: TypeInfo, selected: dict[str, set[str]]) -> None:
        super().__init__()
        self.type_info = type_info
        self.selected = selected

    def enter_field(self, node, *_args) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None and node.name.value != "__typename":
            self.selected.setdefault(parent.name, set()).add(node.name.value)


def selected_fields(schema: GraphQLSchema, documents: Iterable[str]) -> dict[str, set[str]]:
    """Every (type, field) that the documents select."""
    selected: dict[str, set[str]] = {}
    for document in documents:
        ast = parse(document)
        errors = validate(schema, ast)
        if errors:
            raise ValueError(f"document invalid against the real schema: {errors[0].message}")
        type_info = TypeInfo(schema)
        visit(ast, TypeInfoVisitor(type_info, _FieldCollector(type_info, selected)))
    return selected


def subset_sdl(schema: GraphQLSchema, documents: Iterable[str]) -> str:
    """The subset serving `documents` (the Python SDK's), the Node SDK's recorded selections
    and EXTRA_OUTPUT_FIELDS."""
    output_fields: dict[str, set[str]] = {root: set(fields) for root, fields in ROOT_FIELDS.items()}
    for selection in (selected_fields(schema, documents), node_sdk_selections()):
        for type_name, fields in selection.items():
            if type_name in ROOT_FIELDS:
                unexpected = fields - set(ROOT_FIELDS[type_name])
                if unexpected:
                    raise ValueError(
                        f"SDK document selects root fields beyond the subset: {unexpected}"
                    )
            output_fields.setdefault(type_name, set()).update(fields)
    for type_name, fields in EXTRA_OUTPUT_FIELDS.items():
        output_fields.setdefault(type_name, set()).update(fields)

    kept: set[str] = set()
    pending = list(output_fields)
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept.add(name)
        graphql_type = schema.type_map[name]
        if isinstance(graphql_type, GraphQLObjectType):
            if not output_fields.get(name):
                raise ValueError(f"type {name} is reachable but keeps no field: list some")
            for field_name in output_fields[name]:
                field = graphql_type.fields[field_name]
                pending.append(get_named_type(field.type).name)
                pending.extend(get_named_type(arg.type).name for arg in field.args.values())
        elif isinstance(graphql_type, GraphQLUnionType):
            members = [m.name for m in graphql_type.types if output_fields.get(m.name)]
            if not members:
                raise ValueError(f"union {name} is reachable but keeps no member: list one")
            pending.extend(members)
        elif isinstance(graphql_type, GraphQLInputObjectType):
            pending.extend(get_named_type(f.type).name for f in graphql_type.fields.values())

    parts = ["schema {\n  query: Query\n  mutation: Mutation\n}"]
    for name in sorted(kept - {"String", "Int", "Float", "Boolean", "ID"}):
        graphql_type = schema.type_map[name]
        if isinstance(graphql_type, GraphQLObjectType):
            fields = "\n".join(
                f"  {print_ast(graphql_type.fields[f].ast_node)}"
                for f in sorted(output_fields[name])
            )
            parts.append(f"type {name} {{\n{fields}\n}}")
        elif isinstance(graphql_type, GraphQLScalarType):
            parts.append(f"scalar {name}")
        elif isinstance(graphql_type, GraphQLUnionType):
            members = " | ".join(sorted(m.name for m in graphql_type.types if m.name in kept))
            parts.append(f"union {name} = {members}")
        elif isinstance(graphql_type, (GraphQLEnumType, GraphQLInputObjectType)):
            parts.append(print_ast(graphql_type.ast_node))
        else:
            raise ValueError(f"unexpected kind of type: {name}")
    sdl = "\n\n".join(parts) + "\n"
    _check(sdl, documents)
    return sdl


def _check(sdl: str, documents: Iterable[str]) -> None:
    subset = build_schema(sdl)
    for document in documents:
        errors = validate(subset, parse(document))
        if errors:
            raise ValueError(f"the subset rejects an SDK document: {errors[0].message}")


def main() -> None:
    real = build_schema(real_schema_sdl())
    arguments = sys.argv[1:]
    if arguments == ["--node-sdk-selections"]:
        sys.stdout.write(node_sdk_selections_json(real, json.load(sys.stdin)))
    elif not arguments:
        sys.stdout.write(subset_sdl(real, sdk_documents()))
    else:
        raise SystemExit("usage: python -m stiggctl.sandbox.stigg.subset [--node-sdk-selections]")


if __name__ == "__main__":
    main()
