"""The post-login binding list: where our action goes, without disturbing the others.

Auth0's bindings PATCH replaces the whole ordered list (list order is execution order) and
has no ETag, so every change is read-modify-write: keep each other binding as it was, in
its order, place ours once, then read back and verify (`verify_bindings`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Position = Literal["end", "start", "keep"]


@dataclass(frozen=True)
class BoundAction:
    """One entry of the trigger's binding list, as read from Auth0."""

    action_id: str
    display_name: str


@dataclass(frozen=True)
class BindingPlan:
    before: tuple[BoundAction, ...]
    after: tuple[BoundAction, ...]

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def position_of(self, action_id: str) -> int | None:
        """1-based position of the action in the planned list."""
        for index, bound in enumerate(self.after, start=1):
            if bound.action_id == action_id:
                return index
        return None


def plan_binding(
    current: list[BoundAction],
    action_id: str,
    display_name: str,
    position: Position = "keep",
) -> BindingPlan:
    """Ours exactly once (a concurrent run may have added a second), others untouched.

    `keep` leaves ours where it is and appends it when unbound; `end`/`start` move it.
    """
    others = [b for b in current if b.action_id != action_id]
    ours_at = next((i for i, b in enumerate(current) if b.action_id == action_id), None)
    existing = current[ours_at] if ours_at is not None else None
    ours = BoundAction(action_id, existing.display_name if existing else display_name)
    if position == "start":
        after = [ours, *others]
    elif position == "end" or ours_at is None:
        after = [*others, ours]
    else:
        # Where it was among the others: count the others that came before it.
        before_ours = sum(1 for b in current[:ours_at] if b.action_id != action_id)
        after = [*others[:before_ours], ours, *others[before_ours:]]
    return BindingPlan(before=tuple(current), after=tuple(after))


def plan_unbinding(current: list[BoundAction], action_id: str) -> BindingPlan:
    return BindingPlan(
        before=tuple(current), after=tuple(b for b in current if b.action_id != action_id)
    )


def verify_bindings(
    observed: list[BoundAction], action_id: str, others_expected: list[BoundAction]
) -> list[str]:
    """Problems with the list read back after a write; empty when it is as planned.

    Another writer may have added or removed bindings of its own in between: only ours
    (exactly once) and the relative order of the others we kept are checked.
    """
    problems: list[str] = []
    count = sum(1 for b in observed if b.action_id == action_id)
    if count != 1:
        problems.append(f"our action is bound {count} times, expected once")
    observed_others = [b.action_id for b in observed if b.action_id != action_id]
    expected_ids = [b.action_id for b in others_expected if b.action_id in observed_others]
    kept_order = [a for a in observed_others if a in set(expected_ids)]
    if kept_order != expected_ids:
        problems.append("the other actions are no longer in their previous order")
    missing = [b.display_name for b in others_expected if b.action_id not in observed_others]
    if missing:
        problems.append(f"bindings disappeared: {', '.join(missing)}")
    return problems
