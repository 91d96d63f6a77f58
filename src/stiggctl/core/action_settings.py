"""The non-secret settings of the post-login Action, shared by the renderer and the login engine.

Pure: no I/O. The profile (config/) builds an `ActionSettings` from its values; the renderer
writes it into the Action's code as one JSON literal, and the login engine reads the same
object, so the deployed JavaScript and `simulate-login` can never disagree on a setting.
Secrets are not settings: the Action reads them from `event.secrets` (see `SECRET_NAMES`).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from stiggctl.errors import ErrorCode, StiggctlError

# Bump whenever action_template/post-login.js changes behaviour: deploy-action and doctor
# compare it with the version in the deployed Action's header.
TEMPLATE_VERSION = "1.0.2"

DEFAULT_ACTIVE_USERS_FEATURE_ID = "feature-active-users"
DEFAULT_STIGG_API_URL = "https://api.stigg.io/graphql"
DEFAULT_EVENT_NAME = "user-login"
DEFAULT_DENY_MESSAGE = "Access Denied"
DEFAULT_RETRY_MESSAGE = "Sign-in is temporarily unavailable. Please try again in a few minutes."

# The placeholder that per-organization metadata key names must contain.
ORG_ID_PLACEHOLDER = "{orgId}"

# The Action's secrets (event.secrets), by role. The M2M pair is only needed where the Action
# writes organization metadata (B2B).
STIGG_API_KEY_SECRET = "STIGG_API_KEY"
M2M_CLIENT_ID_SECRET = "AUTH0_M2M_CLIENT_ID"
M2M_CLIENT_SECRET_SECRET = "AUTH0_M2M_CLIENT_SECRET"
SECRET_NAMES = (STIGG_API_KEY_SECRET, M2M_CLIENT_ID_SECRET, M2M_CLIENT_SECRET_SECRET)

# api.cache entry holding the Management API token across executions (keys <= 64 bytes).
M2M_TOKEN_CACHE_KEY = "stiggctl:m2m-token"

DAY_MS = 86_400_000
# Auth0 stops an Action after 20 s; the whole Stigg work must end well before.
MAX_BUDGET_MS = 15_000

_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*(?::\d{1,5})?$")


class Mode(enum.StrEnum):
    B2C = "b2c"  # individuals: customer = user
    B2B = "b2b"  # organizations: customer = organization
    BOTH = "both"

    @property
    def handles_individuals(self) -> bool:
        return self in (Mode.B2C, Mode.BOTH)

    @property
    def handles_organizations(self) -> bool:
        return self in (Mode.B2B, Mode.BOTH)


class FailPolicy(enum.StrEnum):
    OPEN = "open"  # Stigg slow or down: allow the login
    CLOSED = "closed"  # Stigg slow or down: deny with the retry message


@dataclass(frozen=True)
class ActionSettings:
    mode: Mode
    application_id: str  # the Auth0 application's client id; "*" or "" for every application
    b2c_plan_id: str | None = None
    b2b_plan_id: str | None = None
    # A tenant domain (acme.eu.auth0.com) or a base URL with scheme (the sandbox).
    auth0_domain: str = ""
    active_users_feature_id: str = DEFAULT_ACTIVE_USERS_FEATURE_ID
    stigg_api_url: str = DEFAULT_STIGG_API_URL
    event_name: str = DEFAULT_EVENT_NAME
    # Metadata keys. The per-organization keys live in the user's app_metadata and contain
    # {orgId}; "{orgId}:last_login" is the key of Stigg's earlier public action, kept so that
    # users migrating from it keep their history.
    user_provisioned_key: str = "stigg_customer_provisioned"
    org_provisioned_key: str = "customer_provisioned"
    last_login_key: str = "{orgId}:last_login"
    period_end_key: str = "{orgId}:stigg_period_end"
    fail_policy: FailPolicy = FailPolicy.OPEN
    call_timeout_ms: int = 3_000
    budget_ms: int = 8_000
    revalidate_after_ms: int = DAY_MS
    deny_message: str = DEFAULT_DENY_MESSAGE
    retry_message: str = DEFAULT_RETRY_MESSAGE
    template_version: str = TEMPLATE_VERSION

    def __post_init__(self) -> None:
        # The profile hands over plain strings; keep the enums the rest of the code relies on.
        object.__setattr__(self, "mode", _enum(Mode, self.mode, "mode"))
        object.__setattr__(self, "fail_policy", _enum(FailPolicy, self.fail_policy, "fail policy"))
        problems = self._problems()
        if problems:
            raise _invalid("; ".join(problems))

    @property
    def handles_all_applications(self) -> bool:
        return self.application_id in ("", "*")

    @property
    def auth0_base_url(self) -> str:
        """The tenant's base URL: the domain as given when it has a scheme, else https."""
        domain = self.auth0_domain.strip().rstrip("/")
        if not domain or "://" in domain:
            return domain
        return f"https://{domain}"

    @property
    def management_audience(self) -> str:
        return f"{self.auth0_base_url}/api/v2/"

    @property
    def secret_names(self) -> tuple[str, ...]:
        """The secrets the Action reads: exactly what deploy-action must set."""
        if self.mode.handles_organizations:
            return SECRET_NAMES
        return (STIGG_API_KEY_SECRET,)

    def plan_id_for(self, *, organization: bool) -> str | None:
        return self.b2b_plan_id if organization else self.b2c_plan_id

    def _problems(self) -> list[str]:
        problems: list[str] = []
        if self.mode.handles_individuals and not self.b2c_plan_id:
            problems.append(f"mode {self.mode.value} needs the plan id for individuals (B2C)")
        if self.mode.handles_organizations:
            if not self.b2b_plan_id:
                problems.append(f"mode {self.mode.value} needs the plan id for organizations (B2B)")
            domain = self.auth0_domain.strip().rstrip("/")
            if not domain:
                problems.append("the Auth0 domain is needed to update organization metadata")
            elif not (_URL.match(domain) if "://" in domain else _DOMAIN.match(domain)):
                problems.append(f"Auth0 domain {self.auth0_domain!r} is neither a domain nor a URL")
        if not _URL.match(self.stigg_api_url):
            problems.append(f"Stigg API URL {self.stigg_api_url!r} is not an http(s) URL")
        for label, value in (
            ("Active Users feature id", self.active_users_feature_id),
            ("event name", self.event_name),
            ("deny message", self.deny_message),
            ("retry message", self.retry_message),
        ):
            if not value.strip():
                problems.append(f"the {label} is empty")
        problems.extend(self._key_problems())
        if not 1 <= self.call_timeout_ms <= self.budget_ms <= MAX_BUDGET_MS:
            problems.append(
                f"timeouts must satisfy 1 <= per call ({self.call_timeout_ms} ms) <= budget "
                f"({self.budget_ms} ms) <= {MAX_BUDGET_MS} ms"
            )
        if not 1 <= self.revalidate_after_ms <= DAY_MS:
            problems.append("the returning-user shortcut must be re-validated at least daily")
        return problems

    def _key_problems(self) -> list[str]:
        problems: list[str] = []
        app_metadata_keys = {
            "user provisioned key": self.user_provisioned_key,
            "last login key": self.last_login_key,
            "period end key": self.period_end_key,
        }
        for label, key in app_metadata_keys.items():
            # Auth0 rejects app_metadata keys with '.' or '$'.
            if not key or "." in key or "$" in key:
                problems.append(f"the {label} {key!r} must be non-empty, without '.' or '$'")
        for label in ("last login key", "period end key"):
            if app_metadata_keys[label].count(ORG_ID_PLACEHOLDER) != 1:
                problems.append(f"the {label} must contain {ORG_ID_PLACEHOLDER} exactly once")
        if ORG_ID_PLACEHOLDER in self.user_provisioned_key:
            problems.append(f"the user provisioned key must not contain {ORG_ID_PLACEHOLDER}")
        if self.last_login_key == self.period_end_key:
            problems.append("the last login and period end keys must differ")
        if not self.org_provisioned_key.strip():
            problems.append("the organization provisioned key is empty")
        return problems


def organization_key(template: str, organization_id: str) -> str:
    """A per-organization app_metadata key, e.g. "{orgId}:last_login" -> "org_1:last_login"."""
    return template.replace(ORG_ID_PLACEHOLDER, organization_id)


def _enum(kind: type[enum.Enum], value: object, label: str):
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise _invalid(f"{label} {value!r} is not one of {choices}") from None


def _invalid(problem: str) -> StiggctlError:
    return StiggctlError(
        ErrorCode.CONFIG_ERROR,
        f"Invalid Action settings: {problem}.",
        "Fix the profile (run `stiggctl setup` again) and retry.",
    )
