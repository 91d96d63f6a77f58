"""Render the post-login Action from action_template/ and an `ActionSettings`.

Pure apart from reading the template file. The renderer takes no secrets at all: the code
reads them from `event.secrets`, and `RenderedAction.secret_names` tells deploy-action which
ones to set. Every non-secret setting goes into the code as ONE JSON literal, escaped so that
no value can end the literal or the script around it.

The first line of the code is a header comment with the template version and a fingerprint
(sha256 of everything after the header), so that deploy-action and doctor can tell a
deployed Action that differs from what the profile renders, or that was edited by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stiggctl
from stiggctl.core.action_settings import (
    M2M_CLIENT_ID_SECRET,
    M2M_CLIENT_SECRET_SECRET,
    M2M_TOKEN_CACHE_KEY,
    STIGG_API_KEY_SECRET,
    TEMPLATE_VERSION,
    ActionSettings,
)
from stiggctl.errors import ErrorCode, StiggctlError

TEMPLATE_FILE = "post-login.js"
SETTINGS_PLACEHOLDER = "__STIGGCTL_SETTINGS__"
_PLACEHOLDER = re.compile(r"__STIGGCTL_[A-Z0-9_]+__")
_HEADER = re.compile(
    r"^/\* stiggctl post-login action \| template (?P<version>[0-9A-Za-z.+-]+) "
    r"\| sha256:(?P<fingerprint>[0-9a-f]{64}) \*/\n"
)
# Characters that could close a surrounding context should anyone embed the code (`</script>`
# in a page, `*/` in a comment): written as JSON unicode escapes, the same string to JavaScript.
_UNSAFE_IN_LITERAL = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "*": "\\u002a"}


@dataclass(frozen=True)
class RenderedAction:
    code: str
    fingerprint: str  # sha256 hex of the code after the header line
    template_version: str
    secret_names: tuple[str, ...]  # the event.secrets the code reads: set exactly these


@dataclass(frozen=True)
class ActionHeader:
    template_version: str
    fingerprint: str  # as written in the header
    body_matches: bool  # False when the code was changed after rendering


def template_dir() -> Path:
    """action_template/: inside an installed wheel, else at the root of a source checkout."""
    package = Path(stiggctl.__file__).resolve().parent
    for candidate in (package / "action_template", package.parents[1] / "action_template"):
        if (candidate / TEMPLATE_FILE).is_file():
            return candidate
    raise StiggctlError(
        ErrorCode.INTERNAL_ERROR,
        f"The Action template {TEMPLATE_FILE} is missing from this installation.",
        "Reinstall stiggctl.",
    )


def render_action(settings: ActionSettings) -> RenderedAction:
    return render_template((template_dir() / TEMPLATE_FILE).read_text(encoding="utf-8"), settings)


def render_template(template: str, settings: ActionSettings) -> RenderedAction:
    if settings.template_version != TEMPLATE_VERSION:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"The settings ask for Action template {settings.template_version!r}; this stiggctl "
            f"renders template {TEMPLATE_VERSION}.",
            "Install the stiggctl version that matches the profile, or update the profile.",
        )
    unknown = sorted(set(_PLACEHOLDER.findall(template)) - {SETTINGS_PLACEHOLDER})
    if template.count(SETTINGS_PLACEHOLDER) != 1 or unknown:
        raise StiggctlError(
            ErrorCode.INTERNAL_ERROR,
            "The Action template does not have exactly one settings placeholder"
            + (f" and has unresolved placeholders: {', '.join(unknown)}" if unknown else "")
            + ".",
            "Reinstall stiggctl; the template shipped with it is damaged.",
        )
    body = template.replace(SETTINGS_PLACEHOLDER, settings_literal(settings))
    fingerprint = hashlib.sha256(body.encode("utf-8")).hexdigest()
    header = (
        f"/* stiggctl post-login action | template {settings.template_version} "
        f"| sha256:{fingerprint} */\n"
    )
    return RenderedAction(
        code=header + body,
        fingerprint=fingerprint,
        template_version=settings.template_version,
        secret_names=settings.secret_names,
    )


def read_header(code: str) -> ActionHeader | None:
    """The header of rendered (for example deployed) code, or None when it has none."""
    match = _HEADER.match(code)
    if match is None:
        return None
    body = code[match.end() :]
    return ActionHeader(
        template_version=match["version"],
        fingerprint=match["fingerprint"],
        body_matches=hashlib.sha256(body.encode("utf-8")).hexdigest() == match["fingerprint"],
    )


def settings_literal(settings: ActionSettings) -> str:
    """The settings as the JSON literal written into the code (ASCII only, nothing to break out)."""
    text = json.dumps(template_values(settings), ensure_ascii=True, sort_keys=True, indent=2)
    # ensure_ascii already turns U+2028/U+2029 and every non-ASCII character into \\u escapes.
    return "".join(_UNSAFE_IN_LITERAL.get(char, char) for char in text)


def template_values(settings: ActionSettings) -> dict[str, Any]:
    """The names the template reads from SETTINGS."""
    return {
        "templateVersion": settings.template_version,
        "mode": settings.mode.value,
        "applicationId": settings.application_id,
        "b2cPlanId": settings.b2c_plan_id,
        "b2bPlanId": settings.b2b_plan_id,
        "activeUsersFeatureId": settings.active_users_feature_id,
        "eventName": settings.event_name,
        "stiggApiUrl": settings.stigg_api_url,
        "auth0BaseUrl": settings.auth0_base_url,
        "managementAudience": settings.management_audience,
        "keys": {
            "userProvisioned": settings.user_provisioned_key,
            "orgProvisioned": settings.org_provisioned_key,
            "lastLogin": settings.last_login_key,
            "periodEnd": settings.period_end_key,
        },
        "failPolicy": settings.fail_policy.value,
        "callTimeoutMs": settings.call_timeout_ms,
        "budgetMs": settings.budget_ms,
        "revalidateAfterMs": settings.revalidate_after_ms,
        "denyMessage": settings.deny_message,
        "retryMessage": settings.retry_message,
        "secrets": {
            "stiggApiKey": STIGG_API_KEY_SECRET,
            "m2mClientId": M2M_CLIENT_ID_SECRET,
            "m2mClientSecret": M2M_CLIENT_SECRET_SECRET,
        },
        "m2mTokenCacheKey": M2M_TOKEN_CACHE_KEY,
    }
