"""The post-login Action's decision as a pure function: `decide_login`.

The same logic as action_template/post-login.js, step for step (the conformance scenarios
under tests/scenarios/ run both and require the same verdict, steps and effects). It takes
the login context (user, organization, application, protocol, time) and Stigg's answers,
and returns the steps taken (numbered as the seed's eleven steps), the verdict and the
effects (provisioning, metadata writes, events, calls), without performing any of them.

Answers are optional: a first call with none says which it needs (`LoginDecision.needs`),
so `simulate-login` fetches exactly those and calls again. The report of the login event
is assumed to succeed unless a failure is given: simulating never sends it.

A customer marked as provisioned that Stigg does not know (the entitlement answer says
CustomerNotFound) is provisioned again, then its entitlement asked again: the steps of that
second pass (2, 3, 4, 6, 7, ...) follow those of the first.
"""

from __future__ import annotations

import calendar
import enum
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stiggctl.core.action_settings import DAY_MS, ActionSettings, FailPolicy, organization_key

REFRESH_TOKEN_PROTOCOL = "oauth2-refresh-token"
ORG_METADATA_MAX_KEYS = 25  # Auth0 rejects an organization metadata map with more keys
HOUR_MS = 3_600_000
CUSTOMER_NOT_FOUND = "CustomerNotFound"  # Stigg's ErrorCode and AccessDeniedReason
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OTHER_NOT_FOUND_CODE = re.compile(r"NotFound$")
_CUSTOMER_NOT_FOUND_MESSAGE = re.compile(r"\bcustomer\b.*\bnot found\b", re.IGNORECASE | re.ASCII)


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"


class LoginReason(enum.StrEnum):
    APPLICATION_NOT_HANDLED = "application_not_handled"
    MODE_NOT_HANDLED = "mode_not_handled"
    INDIVIDUAL_LOGIN = "individual_login"  # B2C: provisioned, nothing metered
    COUNTED_THIS_PERIOD = "counted_this_period"  # the zero-call shortcut
    GRANTED = "granted"
    EXISTING_ACTIVE_USER = "existing_active_user"  # over the limit, already active this period
    LIMIT_REACHED = "limit_reached"
    STIGG_UNAVAILABLE = "stigg_unavailable"  # the fail policy decided
    KNOWN_ACTIVE_USER = "known_active_user"  # Stigg failed, app_metadata shows an active user


class ActionCall(enum.StrEnum):
    """The network calls the Action can make, named as the Node harness records them."""

    PROVISION_CUSTOMER = "stigg.provisionCustomer"
    ENTITLEMENT = "stigg.entitlement"
    REPORT_EVENT = "stigg.reportEvent"
    M2M_TOKEN = "auth0.oauthToken"
    UPDATE_ORGANIZATION = "auth0.updateOrganization"


class StiggQuery(enum.StrEnum):
    """A Stigg answer the decision can wait for."""

    PROVISION = "provision"
    ENTITLEMENT = "entitlement"
    # The second entitlement query, after provisioning a marked customer Stigg did not know.
    ENTITLEMENT_AFTER_PROVISION = "entitlement_after_provision"


class ProvisionOutcome(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"  # the customer already existed: counts as provisioned


class FailureKind(enum.StrEnum):
    ERROR = "error"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class StiggFailure:
    kind: FailureKind
    detail: str = ""

    def describe(self) -> str:
        what = "timed out" if self.kind is FailureKind.TIMEOUT else "failed"
        return f"{what}: {self.detail}" if self.detail else what


@dataclass(frozen=True)
class UsagePeriod:
    start_ms: int  # 0 when usage never resets
    end_ms: int | None  # None when usage never resets


@dataclass(frozen=True)
class EntitlementAnswer:
    """Stigg's Active Users entitlement, as asked with requestedUsage 1."""

    is_granted: bool
    has_unlimited_usage: bool = False
    has_soft_limit: bool = False
    usage_limit: float | None = None
    current_usage: float | None = None
    reset_period: str | None = None  # HOUR DAY WEEK MONTH YEAR
    usage_period_anchor: str | None = None
    usage_period_start: str | None = None
    usage_period_end: str | None = None
    access_denied_reason: str | None = None

    @classmethod
    def from_graphql(cls, entitlement: Mapping[str, Any]) -> EntitlementAnswer:
        """From the `entitlement` object of Stigg's GraphQL answer."""
        return cls(
            is_granted=bool(entitlement.get("isGranted")),
            has_unlimited_usage=bool(entitlement.get("hasUnlimitedUsage")),
            has_soft_limit=bool(entitlement.get("hasSoftLimit")),
            usage_limit=_finite_number(entitlement.get("usageLimit")),
            current_usage=_finite_number(entitlement.get("currentUsage")),
            reset_period=entitlement.get("resetPeriod"),
            usage_period_anchor=entitlement.get("usagePeriodAnchor"),
            usage_period_start=entitlement.get("usagePeriodStart"),
            usage_period_end=entitlement.get("usagePeriodEnd"),
            access_denied_reason=entitlement.get("accessDeniedReason"),
        )

    @classmethod
    def customer_not_found(cls) -> EntitlementAnswer:
        """Stigg's answer for a customer it does not have (however it said so)."""
        return cls(is_granted=False, access_denied_reason=CUSTOMER_NOT_FOUND)

    @property
    def customer_unknown(self) -> bool:
        return self.access_denied_reason == CUSTOMER_NOT_FOUND

    @property
    def grants_one_more(self) -> bool:
        """Access for one more active user, as Stigg's SDKs compute it."""
        if not self.is_granted:
            return False
        if self.has_unlimited_usage or self.has_soft_limit or self.usage_limit is None:
            return True
        return (self.current_usage or 0) + 1 <= self.usage_limit

    def usage_period(self) -> UsagePeriod | None:
        """The current period; its start derived from end and reset period when absent.

        No period at all means usage never resets (start 0, no end). None when the start
        cannot be told (an end without start and without a known reset period).
        """
        end = parse_time(self.usage_period_end)
        start = parse_time(self.usage_period_start)
        if start is None and end is not None:
            start = period_start_before(
                end, self.reset_period, parse_time(self.usage_period_anchor)
            )
            if start is None:
                return None
        return UsagePeriod(start_ms=start or 0, end_ms=end)


@dataclass(frozen=True)
class StiggAnswers:
    # Field names are the StiggQuery values: simulate-login fills them by query.
    provision: ProvisionOutcome | StiggFailure | None = None
    entitlement: EntitlementAnswer | StiggFailure | None = None
    entitlement_after_provision: EntitlementAnswer | StiggFailure | None = None
    report: StiggFailure | None = None  # None: the event report succeeds


@dataclass(frozen=True)
class LoginUser:
    user_id: str
    email: str | None = None
    name: str | None = None
    app_metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginOrganization:
    id: str
    name: str | None = None
    display_name: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginContext:
    user: LoginUser
    organization: LoginOrganization | None
    client_id: str
    protocol: str
    now_ms: int  # the login's time, epoch milliseconds
    m2m_token_cached: bool = False  # api.cache holds a Management API token

    @classmethod
    def from_event(
        cls, event: Mapping[str, Any], *, now_ms: int, m2m_token_cached: bool = False
    ) -> LoginContext:
        """From an Auth0 post-login `event` object (the fields the Action reads)."""
        user = event["user"]
        org = event.get("organization")
        return cls(
            user=LoginUser(
                user_id=user["user_id"],
                email=user.get("email"),
                name=user.get("name"),
                app_metadata=user.get("app_metadata") or {},
            ),
            organization=None
            if not org
            else LoginOrganization(
                id=org["id"],
                name=org.get("name"),
                display_name=org.get("display_name"),
                metadata=org.get("metadata") or {},
            ),
            client_id=(event.get("client") or {}).get("client_id", ""),
            protocol=(event.get("transaction") or {}).get("protocol", ""),
            now_ms=now_ms,
            m2m_token_cached=m2m_token_cached,
        )


@dataclass(frozen=True)
class Step:
    number: int  # the seed's step, 1 to 11
    text: str


@dataclass(frozen=True)
class PlannedCall:
    operation: ActionCall
    round_trip: int  # 1-based; calls of the same round trip run concurrently


@dataclass(frozen=True)
class OrganizationMetadataUpdate:
    organization_id: str
    metadata: dict[str, str]  # the whole map sent in the PATCH


@dataclass(frozen=True)
class UsageEvent:
    customer_id: str
    event_name: str
    idempotency_key: str
    user_id: str

    def to_graphql(self) -> dict[str, Any]:
        """As sent in `reportEvent(events: {usageEvents: [...]})`."""
        return {
            "customerId": self.customer_id,
            "eventName": self.event_name,
            "idempotencyKey": self.idempotency_key,
            "dimensions": {"user_id": self.user_id},
        }


@dataclass(frozen=True)
class LoginEffects:
    provision: dict[str, Any] | None = None  # the ProvisionCustomerInput sent
    app_metadata: dict[str, Any] = field(default_factory=dict)  # None deletes a key
    organization_metadata: OrganizationMetadataUpdate | None = None
    events: tuple[UsageEvent, ...] = ()
    deny_message: str | None = None


@dataclass(frozen=True)
class LoginDecision:
    steps: tuple[Step, ...]
    verdict: Verdict | None  # None until every needed answer is given
    reason: LoginReason | None
    effects: LoginEffects
    calls: tuple[PlannedCall, ...]
    needs: tuple[StiggQuery, ...] = ()

    @property
    def complete(self) -> bool:
        return self.verdict is not None

    @property
    def round_trips(self) -> int:
        """Sequential round trips: what the login waits for, whatever runs concurrently."""
        return max((call.round_trip for call in self.calls), default=0)

    def to_dict(self) -> dict[str, Any]:
        effects = self.effects
        update = effects.organization_metadata
        return {
            "verdict": self.verdict.value if self.verdict else None,
            "reason": self.reason.value if self.reason else None,
            "needs": [query.value for query in self.needs],
            "steps": [{"number": step.number, "text": step.text} for step in self.steps],
            "effects": {
                "provision": effects.provision,
                "app_metadata": effects.app_metadata,
                "organization_metadata": None
                if update is None
                else {"organization_id": update.organization_id, "metadata": update.metadata},
                "events": [event.to_graphql() for event in effects.events],
                "deny_message": effects.deny_message,
            },
            "calls": [
                {"operation": call.operation.value, "round_trip": call.round_trip}
                for call in self.calls
            ],
            "round_trips": self.round_trips,
        }


def decide_login(
    context: LoginContext, settings: ActionSettings, answers: StiggAnswers | None = None
) -> LoginDecision:
    flow = _Flow(context, settings)
    flow.run(answers or StiggAnswers())
    return flow.decision()


def idempotency_key(event_name: str, customer_id: str, user_id: str, period_start_ms: int) -> str:
    """The same key for every login of a user for a customer in one period (JSON.stringify twin)."""
    material = json.dumps(
        [event_name, customer_id, user_id, period_start_ms],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


def is_customer_not_found_error(code: str | None, message: str | None) -> bool:
    """Whether a Stigg GraphQL error says the customer does not exist (the Action's twin)."""
    if code == CUSTOMER_NOT_FOUND:
        return True
    # Another entity not found (FeatureNotFound, ...) says nothing about the customer.
    if code and _OTHER_NOT_FOUND_CODE.search(code):
        return False
    return bool(_CUSTOMER_NOT_FOUND_MESSAGE.search(message or ""))


def parse_time(value: object) -> int | None:
    """An ISO 8601 time as epoch milliseconds (UTC when no offset is given), else None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_time(ms: int) -> str:
    """Epoch milliseconds as JavaScript's Date.toISOString writes them."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def period_start_before(end_ms: int, reset_period: str | None, anchor_ms: int | None) -> int | None:
    """The start of the period ending at end_ms, one reset period earlier (UTC calendar)."""
    fixed = {"HOUR": HOUR_MS, "DAY": DAY_MS, "WEEK": 7 * DAY_MS}
    if reset_period in fixed:
        return end_ms - fixed[reset_period]
    if reset_period == "MONTH":
        return _months_before(end_ms, 1, anchor_ms)
    if reset_period == "YEAR":
        return _months_before(end_ms, 12, anchor_ms)
    return None


def _months_before(end_ms: int, months: int, anchor_ms: int | None) -> int:
    # A period anchored on the 29th to 31st ends early in a short month; the anchor's day
    # says where the period really started.
    end = _EPOCH + timedelta(milliseconds=end_ms)
    year, month_index = divmod(end.year * 12 + end.month - 1 - months, 12)
    days_in_month = calendar.monthrange(year, month_index + 1)[1]
    day = end.day if anchor_ms is None else (_EPOCH + timedelta(milliseconds=anchor_ms)).day
    start = end.replace(year=year, month=month_index + 1, day=min(day, days_in_month))
    return (start - _EPOCH) // timedelta(milliseconds=1)


def _finite_number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _is_marked(value: object) -> bool:
    return value is True or value == "true"


@dataclass(frozen=True)
class _LoginRecord:
    """What app_metadata says about the user in one organization."""

    last_login_ms: float | None
    period_end_ms: float | None
    known_active: bool  # the last counted login is in a period that has not ended
    counted: bool  # ...and recent enough to skip Stigg altogether

    @classmethod
    def read(
        cls, app_metadata: Mapping[str, Any], organization_id: str, now_ms: int, s: ActionSettings
    ) -> _LoginRecord:
        last = _finite_number(app_metadata.get(organization_key(s.last_login_key, organization_id)))
        end = _finite_number(app_metadata.get(organization_key(s.period_end_key, organization_id)))
        known = last is not None and end is not None and last <= now_ms < end
        return cls(
            last_login_ms=last,
            period_end_ms=end,
            known_active=known,
            counted=known and last is not None and now_ms - last < s.revalidate_after_ms,
        )


class _Flow:
    """Walks the eleven steps once, collecting steps, calls and effects."""

    def __init__(self, context: LoginContext, settings: ActionSettings) -> None:
        self.context = context
        self.settings = settings
        # Each step with its pass: a customer provisioned again takes steps 2 to 7 twice.
        self.steps: list[tuple[int, Step]] = []
        self.pass_number = 1
        self.calls: list[PlannedCall] = []
        self.provision: dict[str, Any] | None = None
        self.app_metadata: dict[str, Any] = {}
        self.organization_metadata: OrganizationMetadataUpdate | None = None
        self.events: list[UsageEvent] = []
        self.deny_message: str | None = None
        self.verdict: Verdict | None = None
        self.reason: LoginReason | None = None
        self.needs: tuple[StiggQuery, ...] = ()

    def decision(self) -> LoginDecision:
        # In pass order, and by number within a pass (step 9 is written after step 10).
        ordered = sorted(self.steps, key=lambda taken: (taken[0], taken[1].number))
        return LoginDecision(
            steps=tuple(step for _, step in ordered),
            verdict=self.verdict,
            reason=self.reason,
            effects=LoginEffects(
                provision=self.provision,
                app_metadata=self.app_metadata,
                organization_metadata=self.organization_metadata,
                events=tuple(self.events),
                deny_message=self.deny_message,
            ),
            calls=tuple(self.calls),
            needs=self.needs,
        )

    def run(self, answers: StiggAnswers) -> None:
        ctx, s = self.context, self.settings
        org = ctx.organization
        self._step(1, _trigger_sentence(ctx))
        skipped = self._skip_sentence()
        if skipped:
            reason, sentence = skipped
            return self._allow(reason, sentence)

        customer_id = org.id if org else ctx.user.user_id
        record = _LoginRecord.read(ctx.user.app_metadata, org.id, ctx.now_ms, s) if org else None
        if org:
            where, key = "the organization's metadata", s.org_provisioned_key
            marked = org.metadata.get(key)
        else:
            where, key = "the user's app_metadata", s.user_provisioned_key
            marked = ctx.user.app_metadata.get(key)

        next_round_trip = 1
        provisioned_before = _is_marked(marked)
        if provisioned_before:
            self._step(
                2,
                f"Customer {customer_id} is provisioned ({where}: {key} = {marked!r}): "
                "nothing to provision.",
            )
        else:
            if not self._provision(answers.provision, customer_id, where, key, record):
                return
            next_round_trip = 2

        if org is None:
            self._step(5, "A login without an organization (B2C): nothing is metered, stop here.")
            return self._allow(LoginReason.INDIVIDUAL_LOGIN, "Let the login continue.")
        assert record is not None
        if record.counted:
            return self._allow(
                LoginReason.COUNTED_THIS_PERIOD,
                f"Let the login continue: the user was counted in this period (last login "
                f"{_time(record.last_login_ms)}, period ends {_time(record.period_end_ms)}, "
                f"re-checked at most every {_duration(s.revalidate_after_ms)}): steps 6 to 10 "
                "need no call.",
            )
        self._meter(answers, customer_id, record, next_round_trip, provisioned_before)

    def _skip_sentence(self) -> tuple[LoginReason, str] | None:
        ctx, s = self.context, self.settings
        if not s.handles_all_applications and ctx.client_id != s.application_id:
            return (
                LoginReason.APPLICATION_NOT_HANDLED,
                f"Application {ctx.client_id} is not the configured application "
                f"{s.application_id}: the login continues untouched.",
            )
        org = ctx.organization
        if org and not s.mode.handles_organizations:
            return (
                LoginReason.MODE_NOT_HANDLED,
                f"Mode {s.mode.value} does not handle logins into an organization: "
                "the login continues untouched.",
            )
        if not org and not s.mode.handles_individuals:
            return (
                LoginReason.MODE_NOT_HANDLED,
                f"Mode {s.mode.value} does not handle logins without an organization: "
                "the login continues untouched.",
            )
        return None

    def _provision_input(self, customer_id: str) -> str:
        """The ProvisionCustomerInput the Action sends (kept as an effect); its plan id."""
        ctx, s = self.context, self.settings
        org = ctx.organization
        plan_id = s.plan_id_for(organization=org is not None)
        provision: dict[str, Any] = {"customerId": customer_id}
        name = (org.display_name or org.name) if org else ctx.user.name
        if name:
            provision["name"] = name
        if org is None and ctx.user.email:
            provision["email"] = ctx.user.email
        provision["subscriptionParams"] = {"planId": plan_id}
        self.provision = provision
        return plan_id

    def _provision(
        self,
        outcome: ProvisionOutcome | StiggFailure | None,
        customer_id: str,
        where: str,
        key: str,
        record: _LoginRecord | None,
    ) -> bool:
        """Steps 2 to 4 for a customer not marked as provisioned; False when the flow ends."""
        ctx, s = self.context, self.settings
        org = ctx.organization
        plan_id = self._provision_input(customer_id)
        marked_metadata = _marked_organization_metadata(org.metadata, s) if org else None
        wants_token = marked_metadata is not None and not ctx.m2m_token_cached
        self._step(
            2,
            f"Customer {customer_id} is not marked as provisioned in {where} ({key}): provision "
            f"it in Stigg on plan {plan_id}"
            + (", requesting a Management API token alongside." if wants_token else "."),
        )
        self._call(ActionCall.PROVISION_CUSTOMER, 1)
        if wants_token:
            self._call(ActionCall.M2M_TOKEN, 1)

        if self._stops_at_provision(outcome, customer_id, record):
            return False
        if outcome is ProvisionOutcome.CREATED:
            answer = f"Stigg created customer {customer_id} on plan {plan_id}."
        else:
            answer = f"Stigg already has customer {customer_id} (Duplicate): that is provisioned."
        if org and marked_metadata is None:
            answer += (
                f" The organization's metadata already holds {ORG_METADATA_MAX_KEYS} keys: the "
                "mark cannot be added, so the next login provisions again (Stigg: Duplicate)."
            )
        self._step(3, answer)

        if org is None:
            self.app_metadata[s.user_provisioned_key] = True
            self._step(4, f"Mark the user as provisioned: app_metadata {key} = true.")
        elif marked_metadata is not None:
            self.organization_metadata = OrganizationMetadataUpdate(org.id, marked_metadata)
            self._call(ActionCall.UPDATE_ORGANIZATION, 2)
            others = len(marked_metadata) - 1
            self._step(
                4,
                f'Mark the organization as provisioned: PATCH its metadata with {key} = "true", '
                f"keeping its {others} other key(s) (Auth0 replaces the whole map).",
            )
        return True

    def _stops_at_provision(
        self,
        outcome: ProvisionOutcome | StiggFailure | None,
        customer_id: str,
        record: _LoginRecord | None,
    ) -> bool:
        """Whether the flow ends at Stigg's provisioning answer: not given yet (then it is
        needed), or a failure (step 3 applies the fail policy)."""
        if outcome is None:
            self.needs = (StiggQuery.PROVISION,)
            return True
        if isinstance(outcome, StiggFailure):
            self._fail(
                3, f"Stigg did not provision customer {customer_id} ({outcome.describe()}).", record
            )
            return True
        return False

    def _provision_again(
        self,
        outcome: ProvisionOutcome | StiggFailure | None,
        customer_id: str,
        record: _LoginRecord,
        round_trip: int,
    ) -> bool:
        """Steps 2 to 4 again, for an organization marked as provisioned that Stigg does not
        know; False when the flow ends. The mark is already there: no token, no PATCH."""
        key = self.settings.org_provisioned_key
        plan_id = self._provision_input(customer_id)
        self._step(
            2,
            f"Step 2 again: the organization's metadata marks customer {customer_id} as "
            f"provisioned, but Stigg does not know it. Provision it in Stigg on plan {plan_id} "
            "(this and a second entitlement query cost 2 more sequential round trips, only in "
            "this case).",
        )
        self._call(ActionCall.PROVISION_CUSTOMER, round_trip)
        if self._stops_at_provision(outcome, customer_id, record):
            return False
        if outcome is ProvisionOutcome.CREATED:
            self._step(3, f"Stigg created customer {customer_id} on plan {plan_id}.")
        else:
            self._step(
                3,
                f"Stigg already has customer {customer_id} (Duplicate): it exists after all "
                "(created in between), which counts as provisioned.",
            )
        self._step(
            4,
            f"The organization is already marked as provisioned ({key}): nothing to write.",
        )
        return True

    def _meter(
        self,
        answers: StiggAnswers,
        customer_id: str,
        record: _LoginRecord,
        round_trip: int,
        provisioned_before: bool,
    ) -> None:
        """Steps 6 to 11 of a login into an organization."""
        ctx, s = self.context, self.settings
        org = ctx.organization
        assert org is not None
        alongside = " alongside the organization update" if self.organization_metadata else ""
        self._step(
            6,
            f"Query Stigg for the {s.active_users_feature_id} entitlement of {customer_id} with "
            f"requested usage 1{alongside}.",
        )
        self._call(ActionCall.ENTITLEMENT, round_trip)
        answer = answers.entitlement
        if answer is None:
            self.needs = (StiggQuery.ENTITLEMENT,)
            return
        unknown = isinstance(answer, EntitlementAnswer) and answer.customer_unknown
        if unknown and provisioned_before:
            self._step(
                7,
                f"Stigg answers that customer {customer_id} does not exist ({CUSTOMER_NOT_FOUND}),"
                " although the organization is marked as provisioned: deleted in Stigg, or "
                "marked under another Stigg environment or by hand. It was never metered: "
                "provision it now.",
            )
            self.pass_number += 1
            if not self._provision_again(answers.provision, customer_id, record, round_trip + 1):
                return
            round_trip += 2
            self._step(
                6,
                f"Step 6 again, now that customer {customer_id} is provisioned: query Stigg for "
                f"its {s.active_users_feature_id} entitlement with requested usage 1.",
            )
            self._call(ActionCall.ENTITLEMENT, round_trip)
            answer = answers.entitlement_after_provision
            if answer is None:
                self.needs = (StiggQuery.ENTITLEMENT_AFTER_PROVISION,)
                return
        if isinstance(answer, EntitlementAnswer) and answer.customer_unknown:
            # Provisioned by this very login and still unknown: asking again would not end.
            return self._fail(
                7,
                f"Stigg answers that customer {customer_id} does not exist "
                f"({CUSTOMER_NOT_FOUND}), right after this login provisioned it.",
                record,
            )
        if isinstance(answer, StiggFailure):
            return self._fail(
                7, f"Stigg did not answer the entitlement query ({answer.describe()}).", record
            )
        period = answer.usage_period()
        if period is None:
            return self._fail(
                7,
                "Stigg answered without a usage period that can be told (no start, and no "
                "reset period to derive it from the end).",
                record,
            )
        granted = answer.grants_one_more
        self._step(7, _entitlement_sentence(answer, granted, period))

        last = record.last_login_ms
        if not granted and (last is None or last < period.start_ms):
            when = "never recorded" if last is None else _time(last)
            self.deny_message = s.deny_message
            self._step(
                8,
                f"Over the limit and the user's last login in this organization ({when}) is "
                f"before the period start {_time(period.start_ms)}: a new active user, deny "
                f"with {s.deny_message!r}.",
            )
            return self._deny(LoginReason.LIMIT_REACHED)
        if granted:
            self._step(8, "Within the limit: one more active user is allowed.")
        else:
            self._step(
                8,
                f"Over the limit, but the user's last login {_time(last)} is within the current "
                "period: an existing active user keeps access.",
            )

        event = UsageEvent(
            customer_id=customer_id,
            event_name=s.event_name,
            idempotency_key=idempotency_key(
                s.event_name, customer_id, ctx.user.user_id, period.start_ms
            ),
            user_id=ctx.user.user_id,
        )
        self.events.append(event)
        self._call(ActionCall.REPORT_EVENT, round_trip + 1)
        report = (
            f"Report event {event.event_name} for {customer_id} with dimension user_id = "
            f"{event.user_id} and idempotency key {event.idempotency_key} (one key per user, "
            "customer and period: never counted twice)"
        )
        if answers.report is not None:
            return self._fail(10, f"{report}: {answers.report.describe()}.", record)
        self._step(10, report + ".")

        last_login_key = organization_key(s.last_login_key, org.id)
        period_end_key = organization_key(s.period_end_key, org.id)
        # Counted in this period, so recorded inside it: a login that provisioned the customer
        # began a moment before the subscription (and its first period) did.
        counted_at = max(ctx.now_ms, period.start_ms)
        self.app_metadata[last_login_key] = counted_at
        self.app_metadata[period_end_key] = period.end_ms
        if period.end_ms is None:
            shortcut = "the period never ends, so later logins always ask Stigg"
        else:
            until = min(period.end_ms, counted_at + s.revalidate_after_ms)
            shortcut = f"later logins skip Stigg until {_time(until)}"
        self._step(
            9,
            f"Record the login in app_metadata: {last_login_key} = {counted_at}, "
            f"{period_end_key} = {period.end_ms} ({shortcut}).",
        )
        reason = LoginReason.GRANTED if granted else LoginReason.EXISTING_ACTIVE_USER
        self._allow(reason, "Let the login continue.")

    def _fail(self, number: int, what: str, record: _LoginRecord | None) -> None:
        """Stigg failed at step `number`: an active user keeps access, else the policy decides."""
        s = self.settings
        if record is not None and record.known_active:
            self._step(number, what)
            return self._allow(
                LoginReason.KNOWN_ACTIVE_USER,
                f"The user is active in this period (counted until {_time(record.period_end_ms)}):"
                " let the login continue under either fail policy.",
            )
        if s.fail_policy is FailPolicy.CLOSED:
            self.deny_message = s.retry_message
            self._step(number, f"{what} Fail-closed policy: deny with {s.retry_message!r}.")
            return self._deny(LoginReason.STIGG_UNAVAILABLE)
        self._step(number, what)
        self._allow(
            LoginReason.STIGG_UNAVAILABLE,
            "Fail-open policy: let the login continue, writing nothing that would skip the "
            "check next time.",
        )

    def _step(self, number: int, text: str) -> None:
        self.steps.append((self.pass_number, Step(number, text)))

    def _call(self, operation: ActionCall, round_trip: int) -> None:
        self.calls.append(PlannedCall(operation, round_trip))

    def _allow(self, reason: LoginReason, text: str) -> None:
        self.verdict, self.reason = Verdict.ALLOW, reason
        self._step(11, text)

    def _deny(self, reason: LoginReason) -> None:
        self.verdict, self.reason = Verdict.DENY, reason


def _marked_organization_metadata(
    metadata: Mapping[str, str], settings: ActionSettings
) -> dict[str, str] | None:
    """The whole map with the mark added (Auth0 replaces it on PATCH); None when full."""
    key = settings.org_provisioned_key
    if key not in metadata and len(metadata) >= ORG_METADATA_MAX_KEYS:
        return None
    return {**metadata, key: "true"}


def _trigger_sentence(ctx: LoginContext) -> str:
    kind = (
        "A refresh-token exchange"
        if ctx.protocol == REFRESH_TOKEN_PROTOCOL
        else f"A login ({ctx.protocol or 'unknown protocol'})"
    )
    into = f" into organization {ctx.organization.id}" if ctx.organization else ""
    return (
        f"{kind} of user {ctx.user.user_id}{into} through application {ctx.client_id} at "
        f"{format_time(ctx.now_ms)} triggers the Action."
    )


def _entitlement_sentence(answer: EntitlementAnswer, granted: bool, period: UsagePeriod) -> str:
    if answer.has_unlimited_usage:
        usage = "unlimited usage"
    else:
        limit = "no limit" if answer.usage_limit is None else f"{answer.usage_limit:g}"
        usage = f"{answer.current_usage or 0:g} of {limit} active users"
        if answer.has_soft_limit:
            usage += " (soft limit)"
    verdict = "granted" if granted else "refused"
    if answer.access_denied_reason and not granted:
        verdict += f" ({answer.access_denied_reason})"
    span = (
        "usage never resets"
        if period.end_ms is None
        else f"period {_time(period.start_ms)} to {_time(period.end_ms)}"
    )
    return f"Stigg answers: {usage}, one more is {verdict}; {span}."


def _time(ms: float | None) -> str:
    return "never" if ms is None else format_time(int(ms))


def _duration(ms: int) -> str:
    return f"{ms / HOUR_MS:g} h" if ms >= HOUR_MS else f"{ms / 1000:g} s"
