"""Reading what deploy-action and the action commands work from: the profile's rendering and
secret values, the action and the post-login bindings as Auth0 reports them."""

from __future__ import annotations

from collections.abc import Iterable

from stiggctl.app import AppContext
from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import Action, ActionVersion, Binding
from stiggctl.core.action_settings import (
    M2M_CLIENT_ID_SECRET,
    M2M_CLIENT_SECRET_SECRET,
    STIGG_API_KEY_SECRET,
)
from stiggctl.core.bindings import BoundAction
from stiggctl.core.deploy_plan import ActionState, VersionState
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


def profile_secrets(app_ctx: AppContext, names: Iterable[str]) -> SecretValues:
    """The values the Action reads from event.secrets, from the profile's credentials."""
    values = SecretValues()
    for name in names:
        if name == STIGG_API_KEY_SECRET:
            values[name] = app_ctx.credentials.require("stigg_api_key").reveal()
        elif name == M2M_CLIENT_SECRET_SECRET:
            values[name] = app_ctx.credentials.require("auth0_client_secret").reveal()
        elif name == M2M_CLIENT_ID_SECRET:
            client_id = app_ctx.settings.auth0_client_id
            if not client_id:
                raise StiggctlError(
                    ErrorCode.MISSING_CREDENTIAL,
                    f"No Auth0 client id configured for profile {app_ctx.profile!r}.",
                    "Set STIGGCTL_AUTH0_CLIENT_ID, or run `stiggctl setup`.",
                )
            values[name] = client_id
        else:
            raise StiggctlError(
                ErrorCode.INTERNAL_ERROR,
                f"The Action reads a secret stiggctl cannot provide: {name}.",
                "Reinstall stiggctl; its template and its code disagree.",
            )
    return values


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
