"""Binding-list merge: ours once, every other binding kept in its order."""

from __future__ import annotations

import pytest

from stiggctl.core.bindings import BoundAction, plan_binding, plan_unbinding, verify_bindings

A = BoundAction("act_a", "Add roles")
B = BoundAction("act_b", "Risk check")
OURS = BoundAction("act_ours", "Stigg Integration (stiggctl)")


def ids(plan):
    return [b.action_id for b in plan.after]


@pytest.mark.parametrize(
    ("current", "position", "expected", "changed"),
    [
        ([], "keep", ["act_ours"], True),
        ([A, B], "keep", ["act_a", "act_b", "act_ours"], True),
        ([A, OURS, B], "keep", ["act_a", "act_ours", "act_b"], False),
        ([A, OURS, B], "end", ["act_a", "act_b", "act_ours"], True),
        ([A, OURS, B], "start", ["act_ours", "act_a", "act_b"], True),
        ([OURS, A, B], "start", ["act_ours", "act_a", "act_b"], False),
        ([A, B, OURS], "end", ["act_a", "act_b", "act_ours"], False),
        # two concurrent runs each appended ours: keep the first, drop the duplicate
        ([A, OURS, B, OURS], "keep", ["act_a", "act_ours", "act_b"], True),
        ([OURS, OURS], "end", ["act_ours"], True),
    ],
)
def test_plan_binding(current, position, expected, changed):
    plan = plan_binding(current, "act_ours", "Stigg Integration (stiggctl)", position)
    assert ids(plan) == expected
    assert plan.changed is changed
    assert plan.position_of("act_ours") == expected.index("act_ours") + 1


def test_existing_display_name_is_kept():
    renamed = BoundAction("act_ours", "Billing")
    plan = plan_binding([renamed], "act_ours", "Stigg Integration (stiggctl)")
    assert plan.after == (renamed,)
    assert not plan.changed


def test_unbinding_keeps_others():
    plan = plan_unbinding([A, OURS, B], "act_ours")
    assert ids(plan) == ["act_a", "act_b"]
    assert plan.changed
    assert not plan_unbinding([A, B], "act_ours").changed


def test_verify():
    assert verify_bindings([A, OURS, B], "act_ours", [A, B]) == []
    # another writer appended its own action: still fine
    assert verify_bindings([A, B, OURS, BoundAction("act_c", "C")], "act_ours", [A, B]) == []
    assert verify_bindings([A, B], "act_ours", [A, B]) == [
        "our action is bound 0 times, expected once"
    ]
    assert verify_bindings([B, A, OURS], "act_ours", [A, B]) == [
        "the other actions are no longer in their previous order"
    ]
    assert verify_bindings([OURS], "act_ours", [A]) == ["bindings disappeared: Add roles"]
