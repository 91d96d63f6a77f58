"""Placing the action in post-login, or taking it out, without disturbing the others.

Auth0 replaces the whole ordered list on every write and has no ETag: read, plan (pure, in
core/bindings.py), write, read back and verify. When the list read back shows that another
writer interfered (ours twice or missing, or the others reordered), start over from a fresh
read, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import BindingUpdate
from stiggctl.commands.deploy.tenant import read_bindings
from stiggctl.core.bindings import (
    BindingPlan,
    BoundAction,
    Position,
    plan_binding,
    plan_unbinding,
    verify_bindings,
)
from stiggctl.errors import ErrorCode, StiggctlError

ATTEMPTS = 3


@dataclass(frozen=True)
class BindOutcome:
    written: bool  # whether the list was written
    bindings: tuple[BoundAction, ...]  # the list as last read (or written)

    def position_of(self, action_id: str) -> int | None:
        for index, bound in enumerate(self.bindings, start=1):
            if bound.action_id == action_id:
                return index
        return None


def bind(
    auth0: Auth0Client,
    action_id: str,
    display_name: str,
    position: Position,
    current: Sequence[BoundAction] | None = None,
) -> BindOutcome:
    """Ours exactly once at `position`, the others as they were; `current` saves a read."""

    def plan(bindings: list[BoundAction]) -> BindingPlan:
        return plan_binding(bindings, action_id, display_name, position)

    def problems(observed: list[BoundAction], planned: BindingPlan) -> list[str]:
        others = [b for b in planned.after if b.action_id != action_id]
        return verify_bindings(observed, action_id, others)

    return _write_verified(auth0, plan, problems, current)


def unbind(
    auth0: Auth0Client, action_id: str, current: Sequence[BoundAction] | None = None
) -> BindOutcome:
    """Ours out of post-login, the others as they were."""

    def plan(bindings: list[BoundAction]) -> BindingPlan:
        return plan_unbinding(bindings, action_id)

    def problems(observed: list[BoundAction], planned: BindingPlan) -> list[str]:
        found: list[str] = []
        if any(b.action_id == action_id for b in observed):
            found.append("our action is still bound")
        kept = [b.action_id for b in planned.after]
        still_there = {b.action_id for b in observed}
        if [b.action_id for b in observed if b.action_id in set(kept)] != [
            a for a in kept if a in still_there
        ]:
            found.append("the other actions are no longer in their previous order")
        return found

    return _write_verified(auth0, plan, problems, current)


def _write_verified(
    auth0: Auth0Client,
    plan: Callable[[list[BoundAction]], BindingPlan],
    problems: Callable[[list[BoundAction], BindingPlan], list[str]],
    current: Sequence[BoundAction] | None,
) -> BindOutcome:
    written = False
    bindings = list(current) if current is not None else read_bindings(auth0)
    found: list[str] = []
    for _ in range(ATTEMPTS):
        planned = plan(bindings)
        if not planned.changed:
            return BindOutcome(written, tuple(bindings))
        auth0.replace_bindings(
            [BindingUpdate.for_action_id(b.action_id, b.display_name) for b in planned.after]
        )
        written = True
        bindings = read_bindings(auth0)
        found = problems(bindings, planned)
        if not found:
            return BindOutcome(written, tuple(bindings))
    raise StiggctlError(
        ErrorCode.CONFLICT,
        f"The post-login bindings kept changing while stiggctl wrote them: {'; '.join(found)}.",
        "Another deploy or a dashboard edit is changing post-login at the same time; "
        "run the command again once it is done.",
    )
