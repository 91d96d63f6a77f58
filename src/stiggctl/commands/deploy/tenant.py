"""Reading what deploy-action and the action commands work from: the profile's rendering and
secret values, the action and the post-login bindings as Auth0 reports them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stiggctl.app import AppContext
from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import Action, ActionVersion, Binding
from stiggctl.core.action_settings import (
    M2M_CLIENT_ID_SECRET,
    M2M_CLIENT_SECRET_SECRET,
    STIGG_API_KEY_SECRET,
)
from stiggctl.core.bindings import BoundAction
from stiggctl.core.deploy_plan import ActionState, Drift, VersionState, drift
from stiggctl.core.doctor import action_client_has_own, shared_client_warning
from stiggctl.core.render import RenderedAction
from stiggctl.errors import ErrorCode, StiggctlError


class SecretValues(dict[str, str]):
    """The Action's secret values by name; never shows them in a repr or a traceback."""

    def __repr__(self) -> str:
        return f"SecretValues({sorted(self)!r})"

    __str__ = __repr__


def action_name(app_ctx: AppContext, override: str | None) -> str:
    name = (override or app_ctx.settings.action_name).strip()
    if not name:
        raise StiggctlError(
            ErrorCode.INVALID_INPUT,
            "The action name is empty.",
            "Give --name, or set STIGGCTL_ACTION_NAME.",
        )
    return name


def profile_rendering(app_ctx: AppContext) -> RenderedAction:
    """The Action as the profile renders it (a clear error naming any missing setting)."""
    from stiggctl.config.action import action_settings
    from stiggctl.core.render import render_action

    return render_action(action_settings(app_ctx.settings))


@dataclass(frozen=True)
class ActionClient:
    """The M2M application whose credentials the Action holds (to update organizations)."""

    client_id: str
    own: bool  # its own application; False: stiggctl's, with every scope stiggctl needs

    @property
    def warning(self) -> str | None:
        return None if self.own else shared_client_warning(self.client_id)

    def to_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "own": self.own}


def profile_secrets(app_ctx: AppContext, names: Iterable[str]) -> SecretValues:
    """The values the Action reads from event.secrets, from the profile's credentials."""
    return action_secrets(app_ctx, names)[0]


def live_drift(
    app_ctx: AppContext, rendered: RenderedAction, live: ActionVersion | None
) -> tuple[Drift, bool]:
    """How the version that runs compares with the profile's rendering, and whether the
    secrets were compared: not when their values are not at hand."""
    try:
        secrets: SecretValues | None = profile_secrets(app_ctx, rendered.secret_names)
    except StiggctlError:
        secrets = None
    deployed_names = [s.name for s in live.secrets] if live is not None else []
    code = live.code if live is not None else None
    return drift(rendered, code, secrets, deployed_names), secrets is not None


def action_secrets(
    app_ctx: AppContext, names: Iterable[str]
) -> tuple[SecretValues, ActionClient | None]:
    """The Action's secret values, and the M2M client they hold (None when it reads none)."""
    values = SecretValues()
    client: ActionClient | None = None
    for name in names:
        if name == STIGG_API_KEY_SECRET:
            values[name] = app_ctx.credentials.require("stigg_api_key").reveal()
        elif name in (M2M_CLIENT_ID_SECRET, M2M_CLIENT_SECRET_SECRET):
            if client is None:
                client, secret = _m2m_credentials(app_ctx)
                values[M2M_CLIENT_ID_SECRET] = client.client_id
                values[M2M_CLIENT_SECRET_SECRET] = secret
        else:
            raise StiggctlError(
                ErrorCode.INTERNAL_ERROR,
                f"The Action reads a secret stiggctl cannot provide: {name}.",
                "Reinstall stiggctl; its template and its code disagree.",
            )
    return values, client


def _m2m_credentials(app_ctx: AppContext) -> tuple[ActionClient, str]:
    """The Action's own M2M client when the profile names one, else stiggctl's.

    Half a configuration is an error, not a reason to fall back: falling back would hand the
    Action stiggctl's full-scope credentials, in place of its own, over a typo in CI.
    """
    settings = app_ctx.settings
    credentials = app_ctx.credentials
    stiggctl_id = settings.auth0_client_id
    if not stiggctl_id:
        raise StiggctlError(
            ErrorCode.MISSING_CREDENTIAL,
            f"No Auth0 client id configured for profile {app_ctx.profile!r}.",
            "Set STIGGCTL_AUTH0_CLIENT_ID, or run `stiggctl setup`.",
        )
    action_id = settings.action_client_id
    if action_id and action_client_has_own(action_id, stiggctl_id):
        secret = credentials.require("action_client_secret").reveal()
        return ActionClient(action_id, own=True), secret
    if not action_id and credentials.in_environment("action_client_secret"):
        raise action_secret_without_client()
    secret = credentials.require("auth0_client_secret").reveal()
    return ActionClient(stiggctl_id, own=False), secret


def action_secret_without_client() -> StiggctlError:
    return StiggctlError(
        ErrorCode.MISSING_CREDENTIAL,
        "STIGGCTL_ACTION_CLIENT_SECRET is set, but the profile names no action_client_id: "
        "the M2M application it belongs to is unknown.",
        "Set STIGGCTL_ACTION_CLIENT_ID to the client id of the Action's M2M application "
        "(or unset STIGGCTL_ACTION_CLIENT_SECRET to let the Action hold stiggctl's client).",
        details={"env": "STIGGCTL_ACTION_CLIENT_ID"},
    )


def version_state(version: ActionVersion) -> VersionState:
    return VersionState(
        id=version.id,
        number=version.number or 0,
        code=version.code or "",
        status=str(version.status) if version.status else None,
        deployed=version.deployed,
        runtime=version.runtime,
    )


def action_state(action: Action) -> ActionState:
    deployed = action.deployed_version
    return ActionState(
        id=action.id,
        name=action.name,
        draft_code=action.code or "",
        draft_status=str(action.status) if action.status else None,
        runtime=action.runtime,
        secret_names=frozenset(secret.name for secret in action.secrets),
        all_changes_deployed=action.all_changes_deployed,
        deployed=version_state(deployed) if deployed is not None else None,
    )


def bound_action(binding: Binding) -> BoundAction:
    action = binding.action
    return BoundAction(
        action_id=action.id if action else "",
        display_name=binding.display_name or (action.name if action else ""),
    )


def read_bindings(auth0: Auth0Client) -> list[BoundAction]:
    """The post-login bindings in execution order."""
    return [bound_action(b) for b in auth0.get_bindings()]
