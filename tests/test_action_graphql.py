"""Every GraphQL document in the rendered Action, and every set of variables it sends, is
valid against Stigg's real schema (built from the published stigg-api-client)."""

from __future__ import annotations

import re

import pytest

from stiggctl.core.render import render_action
from tests.contracts import graphql_errors, stigg_schema
from tests.harness.runner import run_scenario
from tests.scenarios import load_scenarios

GQL_CONSTANT = re.compile(r"^const (GQL_[A-Z_]+) = `([^`]*)`;", re.MULTILINE)
SCENARIOS = {scenario.name: scenario for scenario in load_scenarios()}


def documents() -> dict[str, str]:
    code = render_action(SCENARIOS["b2b_new_org_first_login"].settings).code
    return dict(GQL_CONSTANT.findall(code))


def test_the_action_holds_exactly_its_three_documents():
    assert sorted(documents()) == [
        "GQL_ACTIVE_USERS_ENTITLEMENT",
        "GQL_PROVISION_CUSTOMER",
        "GQL_REPORT_LOGIN_EVENT",
    ]


@pytest.mark.parametrize("name", sorted(documents()))
def test_document_validates_against_stiggs_schema(name):
    assert graphql_errors(documents()[name]) == []


@pytest.mark.node
def test_variables_sent_validate_against_stiggs_schema(tmp_path):
    from graphql import parse
    from graphql.execution.values import get_variable_values

    schema = stigg_schema()
    result = run_scenario(SCENARIOS["b2b_new_org_first_login"], tmp_path)
    stigg_calls = [call for call in result["calls"] if call["operation"].startswith("stigg.")]
    assert [call["operation"] for call in stigg_calls] == [
        "stigg.provisionCustomer",
        "stigg.entitlement",
        "stigg.reportEvent",
    ]
    for call in stigg_calls:
        operation = parse(call["request"]["query"]).definitions[0]
        coerced = get_variable_values(
            schema, operation.variable_definitions, call["request"]["variables"]
        )
        # A list of errors when the variables do not fit the operation's input types.
        errors = [error.message for error in coerced] if isinstance(coerced, list) else []
        assert (call["operation"], errors) == (call["operation"], [])
