"""The pure part of `simulate-login`: the login engine driven to a verdict with Stigg's
answers fetched on demand, the estimate of a new customer's entitlement, and the words for
the inputs, the effects and the calls.

No I/O: the command fetches (read-only) and hands the answers in through `Fetch`, so the
decision shown is the one `decide_login` (the Action's twin) takes on those answers.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from stiggctl.core.action_settings import DAY_MS, ActionSettings, organization_key
from stiggctl.core.login import (
    HOUR_MS,
    EntitlementAnswer,
    LoginContext,
    LoginDecision,
    PlannedCall,
    ProvisionOutcome,
    StiggAnswers,
    StiggFailure,
    StiggQuery,
    Verdict,
    decide_login,
    format_time,
)

LOGIN_PROTOCOL = "oidc-basic-profile"
# Auth0's error when a user logs into an organization they do not belong to.
NOT_A_MEMBER_REASON = "not_a_member"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

StiggAnswer = ProvisionOutcome | EntitlementAnswer | StiggFailure
Fetch = Callable[[StiggQuery], StiggAnswer]


def decide_with_answers(
    context: LoginContext, settings: ActionSettings, fetch: Fetch
) -> tuple[LoginDecision, StiggAnswers]:
    """Decide, asking `fetch` for exactly the Stigg answers the decision turns out to need.

    Each query is asked once, in the order the Action would send it; a returning user counted
    this period needs none.
    """
    answers = StiggAnswers()
    asked: set[StiggQuery] = set()
    decision = decide_login(context, settings, answers)
    while decision.needs:
        query = decision.needs[0]
        if query in asked:
            raise RuntimeError(f"the login engine asked twice for {query.value}")
        asked.add(query)
        answers = replace(answers, **{query.value: fetch(query)})
        decision = decide_login(context, settings, answers)
    return decision, answers


@dataclass(frozen=True)
class PlanAllowance:
    """The Active Users entitlement a plan grants, as Stigg's catalogue states it."""

    usage_limit: float | None
    has_unlimited_usage: bool = False
    has_soft_limit: bool = False
    reset_period: str | None = None  # HOUR DAY WEEK MONTH YEAR; None: usage never resets


def new_customer_entitlement(allowance: PlanAllowance | None, now_ms: int) -> EntitlementAnswer:
    """What Stigg would answer right after provisioning a customer on the plan.

    Nothing used yet, and the first period starts at the login (Stigg anchors a
    subscription's usage periods at its start). A plan without the feature gives what Stigg
    answers for it: not granted.
    """
    if allowance is None:
        return EntitlementAnswer(
            is_granted=False, access_denied_reason="NoFeatureEntitlementInSubscription"
        )
    room = (
        allowance.has_unlimited_usage
        or allowance.has_soft_limit
        or allowance.usage_limit is None
        or allowance.usage_limit >= 1
    )
    period_end = period_end_after(now_ms, allowance.reset_period)
    start = format_time(now_ms) if period_end is not None else None
    return EntitlementAnswer(
        is_granted=room,
        has_unlimited_usage=allowance.has_unlimited_usage,
        has_soft_limit=allowance.has_soft_limit,
        usage_limit=allowance.usage_limit,
        current_usage=0,
        reset_period=allowance.reset_period if period_end is not None else None,
        usage_period_anchor=start,
        usage_period_start=start,
        usage_period_end=format_time(period_end) if period_end is not None else None,
        access_denied_reason=None if room else "RequestedUsageExceedingLimit",
    )


def period_end_after(start_ms: int, reset_period: str | None) -> int | None:
    """The end of the period starting at start_ms: one reset period later (UTC calendar)."""
    fixed = {"HOUR": HOUR_MS, "DAY": DAY_MS, "WEEK": 7 * DAY_MS}
    if reset_period in fixed:
        return start_ms + fixed[reset_period]
    months = {"MONTH": 1, "YEAR": 12}.get(reset_period or "")
    if months is None:
        return None
    start = _EPOCH + timedelta(milliseconds=start_ms)
    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    day = min(start.day, calendar.monthrange(year, month_index + 1)[1])
    end = start.replace(year=year, month=month_index + 1, day=day)
    return (end - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True)
class MetadataValue:
    """One metadata entry the decision reads: where it lives, its key, its value (or None)."""

    where: str  # "app_metadata" or "organization_metadata"
    key: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"where": self.where, "key": self.key, "value": self.value}


@dataclass(frozen=True)
class SimulationInputs:
    """The data that matters to the decision, as read from Auth0 and Stigg."""

    customer_id: str
    customer_kind: str  # "organization" (B2B) or "individual" (B2C)
    provisioned_mark: MetadataValue
    last_login: MetadataValue | None = None  # B2B only
    period_end: MetadataValue | None = None  # B2B only
    customer_in_stigg: bool | None = None  # None: not asked (the decision did not need it)
    # The answer the decision went on (after provisioning again, the second); None: not asked.
    entitlement: EntitlementAnswer | StiggFailure | None = None
    entitlement_estimated_from_plan: str | None = None  # the plan, when the customer is new
    m2m_token_cached: bool = False

    @classmethod
    def read(
        cls, context: LoginContext, settings: ActionSettings, answers: StiggAnswers
    ) -> SimulationInputs:
        org = context.organization
        app_metadata = context.user.app_metadata
        provision = answers.provision
        first = answers.entitlement
        in_stigg = None
        if isinstance(provision, ProvisionOutcome):
            in_stigg = provision is ProvisionOutcome.DUPLICATE
        elif isinstance(first, EntitlementAnswer) and first.customer_unknown:
            in_stigg = False
        if org is None:
            key = settings.user_provisioned_key
            return cls(
                customer_id=context.user.user_id,
                customer_kind="individual",
                provisioned_mark=MetadataValue("app_metadata", key, app_metadata.get(key)),
                customer_in_stigg=in_stigg,
                entitlement=answers.entitlement,
                m2m_token_cached=context.m2m_token_cached,
            )
        mark_key = settings.org_provisioned_key
        last_key = organization_key(settings.last_login_key, org.id)
        end_key = organization_key(settings.period_end_key, org.id)
        entitlement = answers.entitlement_after_provision or first
        estimated = (
            in_stigg is False
            and isinstance(entitlement, EntitlementAnswer)
            and not entitlement.customer_unknown
        )
        return cls(
            customer_id=org.id,
            customer_kind="organization",
            provisioned_mark=MetadataValue(
                "organization_metadata", mark_key, org.metadata.get(mark_key)
            ),
            last_login=MetadataValue("app_metadata", last_key, app_metadata.get(last_key)),
            period_end=MetadataValue("app_metadata", end_key, app_metadata.get(end_key)),
            customer_in_stigg=in_stigg,
            entitlement=entitlement,
            entitlement_estimated_from_plan=settings.b2b_plan_id if estimated else None,
            m2m_token_cached=context.m2m_token_cached,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customer_kind": self.customer_kind,
            "provisioned_mark": self.provisioned_mark.to_dict(),
            "last_login": None if self.last_login is None else self.last_login.to_dict(),
            "period_end": None if self.period_end is None else self.period_end.to_dict(),
            "customer_in_stigg": self.customer_in_stigg,
            "entitlement": entitlement_dict(self.entitlement),
            "entitlement_estimated_from_plan": self.entitlement_estimated_from_plan,
            "m2m_token_cached": self.m2m_token_cached,
        }


def entitlement_dict(answer: EntitlementAnswer | StiggFailure | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    if isinstance(answer, StiggFailure):
        return {"failure": answer.describe()}
    period = answer.usage_period()
    resets = period is not None and period.end_ms is not None
    return {
        "granted": answer.grants_one_more,
        "is_granted": answer.is_granted,
        "current_usage": answer.current_usage,
        "usage_limit": answer.usage_limit,
        "has_unlimited_usage": answer.has_unlimited_usage,
        "has_soft_limit": answer.has_soft_limit,
        "reset_period": answer.reset_period,
        "usage_period_start": format_time(period.start_ms) if resets else None,
        "usage_period_end": format_time(period.end_ms) if resets else None,
        "access_denied_reason": answer.access_denied_reason,
    }


def describe_entitlement(answer: EntitlementAnswer | StiggFailure) -> str:
    """One line: usage of limit, whether one more is granted, the period."""
    if isinstance(answer, StiggFailure):
        return f"could not be read ({answer.describe()})"
    if answer.customer_unknown:
        return f"Stigg has no such customer ({answer.access_denied_reason})"
    if answer.has_unlimited_usage:
        usage = f"{answer.current_usage or 0:g} active users, unlimited"
    else:
        limit = "no limit" if answer.usage_limit is None else f"{answer.usage_limit:g}"
        usage = f"{answer.current_usage or 0:g} of {limit} active users"
        if answer.has_soft_limit:
            usage += " (soft limit)"
    verdict = "granted" if answer.grants_one_more else "refused"
    if answer.access_denied_reason and not answer.grants_one_more:
        verdict += f" ({answer.access_denied_reason})"
    period = answer.usage_period()
    if period is None:
        span = "a period that cannot be told"
    elif period.end_ms is None:
        span = "usage never resets"
    else:
        span = f"period {format_time(period.start_ms)} to {format_time(period.end_ms)}"
    return f"{usage}; one more is {verdict}; {span}"


def describe_time(value: Any) -> str:
    """An epoch-milliseconds metadata value as a time (other values as they are)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{format_time(int(value))} ({json.dumps(value)})"
    return json.dumps(value)


def round_trip_graph(calls: Sequence[PlannedCall]) -> str:
    """`a ‖ b → c`: calls of one round trip run concurrently; arrows separate round trips."""
    if not calls:
        return "none"
    trips: dict[int, list[str]] = {}
    for call in calls:
        trips.setdefault(call.round_trip, []).append(call.operation.value)
    return " → ".join(" ‖ ".join(sorted(trips[trip])) for trip in sorted(trips))


def side_effects(decision: LoginDecision) -> list[str]:
    """What a real login would write, one sentence each (empty: it writes nothing)."""
    effects = decision.effects
    lines: list[str] = []
    if effects.provision is not None:
        provision = effects.provision
        plan = (provision.get("subscriptionParams") or {}).get("planId")
        extras = ", ".join(
            f"{label} {json.dumps(provision[key], ensure_ascii=False)}"
            for key, label in (("name", "name"), ("email", "email"))
            if key in provision
        )
        lines.append(
            f"Stigg: provision customer {provision['customerId']} on plan {plan}"
            + (f" ({extras})" if extras else "")
            + "."
        )
    update = effects.organization_metadata
    if update is not None:
        lines.append(
            f"Auth0: PATCH organization {update.organization_id} metadata to "
            f"{json.dumps(update.metadata, ensure_ascii=False, sort_keys=True)} (the whole map)."
        )
    for event in effects.events:
        lines.append(
            f"Stigg: report event {event.event_name} for {event.customer_id} with user_id = "
            f"{event.user_id}, idempotency key {event.idempotency_key}."
        )
    for key, value in effects.app_metadata.items():
        if value is None:
            lines.append(f"Auth0: delete the user's app_metadata {key}.")
        else:
            lines.append(f"Auth0: set the user's app_metadata {key} = {json.dumps(value)}.")
    return lines


@dataclass(frozen=True)
class Simulation:
    """A simulated login: what was asked, what was read, what the Action would do."""

    user_id: str
    organization_id: str | None
    client_id: str
    protocol: str
    at_ms: int
    inputs: SimulationInputs | None  # None when Auth0 refuses the login before the Action
    decision: LoginDecision | None
    member: bool | None = None  # organization logins only
    user_organizations: tuple[str, ...] = ()  # when not a member: where the user does belong
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def allowed(self) -> bool:
        return self.decision is not None and self.decision.verdict is Verdict.ALLOW

    @property
    def denied_by(self) -> str | None:
        if self.allowed:
            return None
        return "action" if self.decision is not None else "auth0"

    @property
    def reason(self) -> str | None:
        if self.decision is None:
            return NOT_A_MEMBER_REASON
        return self.decision.reason.value if self.decision.reason else None

    @property
    def message(self) -> str | None:
        """What the user would see when denied."""
        if self.decision is None:
            return not_a_member_message(self.user_id, self.organization_id or "")
        return self.decision.effects.deny_message

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "organization_id": self.organization_id,
            "client_id": self.client_id,
            "protocol": self.protocol,
            "at": format_time(self.at_ms),
            "verdict": "allow" if self.allowed else "deny",
            "reason": self.reason,
            "denied_by": self.denied_by,
            "message": self.message,
            "member": self.member,
            "user_organizations": list(self.user_organizations),
            "inputs": None if self.inputs is None else self.inputs.to_dict(),
            "decision": None if self.decision is None else self.decision.to_dict(),
            "side_effects": [] if self.decision is None else side_effects(self.decision),
            "notes": list(self.notes),
        }


def not_a_member_message(user_id: str, organization_id: str) -> str:
    return f"user {user_id} is not part of the {organization_id} organization"


def time_notes(
    at_ms: int, at_given: bool, entitlement: EntitlementAnswer | StiggFailure | None
) -> list[str]:
    """What to know when the login's time is not Stigg's time."""
    if not at_given:
        return []
    notes = [
        f"Simulated at {format_time(at_ms)}: Auth0 and Stigg data are read as they are now; "
        "only the login's clock moves."
    ]
    period = entitlement.usage_period() if isinstance(entitlement, EntitlementAnswer) else None
    outside = (
        period is not None
        and period.end_ms is not None
        and not period.start_ms <= at_ms < period.end_ms
    )
    if outside:
        notes.append(
            f"The simulated time is outside Stigg's current period "
            f"({format_time(period.start_ms)} to {format_time(period.end_ms)}): a login "
            "then would see another period's usage."
        )
    return notes
