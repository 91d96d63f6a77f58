"""One logic, two implementations: every scenario under tests/scenarios/ runs through the
rendered JavaScript (Node.js harness) and the Python engine; both must give exactly the
expected verdict, steps, effects and round trips, hence the same as each other."""

from __future__ import annotations

import pytest

from stiggctl.core.login import decide_login
from tests.harness.runner import outcome_of_run, run_scenario
from tests.scenarios import SECRETS, Scenario, load_scenarios, outcome_of_decision

SCENARIOS = load_scenarios()


@pytest.mark.node
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, tmp_path):
    decision = decide_login(scenario.context(), scenario.settings, scenario.stigg_answers())
    python = outcome_of_decision(decision)
    result = run_scenario(scenario, tmp_path)
    javascript = outcome_of_run(result)

    assert python == scenario.expect, "Python engine differs from the expectation"
    assert javascript == scenario.expect, "rendered JavaScript differs from the expectation"
    log = result["logs"][0]
    for secret in SECRETS.values():
        assert secret not in log


def test_the_issue_lists_scenarios_are_all_present():
    names = {scenario.name for scenario in SCENARIOS}
    assert {
        "b2c_first_login",
        "b2c_returning",
        "b2b_new_org_first_login",
        "b2b_new_active_user_under_limit",
        "b2b_new_user_at_limit_denied",
        "b2b_over_limit_active_user_allowed",
        "b2b_over_limit_new_user_denied",
        "b2b_unlimited_plan",
        "b2b_soft_limit",
        "b2b_period_rollover",
        "b2b_refresh_token_login",
        "other_application",
        "wrong_mode_b2c_org_login",
        "stigg_down_fail_open",
        "stigg_down_fail_closed",
        "duplicate_customer_on_provisioning",
        "org_metadata_with_other_keys",
        "b2b_customer_unknown_reprovisioned",
        "b2b_customer_unknown_access_denied_reprovisioned",
        "b2b_customer_unknown_duplicate_at_limit_denied",
        "b2b_customer_unknown_reprovision_fails_fail_open",
        "b2b_customer_unknown_reprovision_fails_fail_closed",
    } <= names


@pytest.mark.node
@pytest.mark.parametrize(
    ("name", "calls", "round_trips"),
    [
        ("b2b_returning_user_counted", 0, 0),
        ("b2b_refresh_token_login", 0, 0),
        ("b2c_returning", 0, 0),
        ("b2b_new_active_user_under_limit", 2, 2),
        ("b2b_new_org_first_login", 5, 3),
        # A marked customer Stigg does not know: provisioning and a second query, 2 more.
        ("b2b_customer_unknown_reprovisioned", 4, 4),
    ],
)
def test_login_path_targets(name, calls, round_trips, tmp_path):
    """Measured by the harness: returning user 0 calls, new active user <= 2 sequential
    round trips, first login of a new organization <= 3, a marked organization that Stigg
    does not know 2 more than a new active user."""
    scenario = next(s for s in SCENARIOS if s.name == name)
    result = run_scenario(scenario, tmp_path)
    assert (len(result["calls"]), result["round_trips"]) == (calls, round_trips)
