"""Typed views of the Auth0 Management API resources that stiggctl reads and writes.

Every model allows extra fields (`extra="allow"`): Auth0 adds fields over time and that
must never break a command. Only what stiggctl uses is declared.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ActionBuildStatus = Literal["pending", "building", "packaged", "built", "retrying", "failed"]
BindingRefType = Literal["action_id", "action_name", "binding_id"]


class Auth0Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class ActionTrigger(Auth0Model):
    id: str
    version: str | None = None


class ActionDependency(Auth0Model):
    name: str
    version: str | None = None


class ActionSecretInfo(Auth0Model):
    """A secret as Auth0 reports it: its name only, never its value."""

    name: str
    updated_at: str | None = None


class ActionBuildError(Auth0Model):
    id: str | None = None
    msg: str | None = None
    url: str | None = None


class ActionVersion(Auth0Model):
    id: str
    action_id: str | None = None
    number: int | None = None
    status: ActionBuildStatus | str | None = None
    deployed: bool = False
    code: str | None = None
    runtime: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    built_at: str | None = None
    errors: list[ActionBuildError] = Field(default_factory=list)
    secrets: list[ActionSecretInfo] = Field(default_factory=list)
    dependencies: list[ActionDependency] = Field(default_factory=list)
    supported_triggers: list[ActionTrigger] = Field(default_factory=list)


class Action(Auth0Model):
    id: str
    name: str
    code: str | None = None
    runtime: str | None = None
    status: ActionBuildStatus | str | None = None
    all_changes_deployed: bool = False
    deployed_version: ActionVersion | None = None
    supported_triggers: list[ActionTrigger] = Field(default_factory=list)
    secrets: list[ActionSecretInfo] = Field(default_factory=list)
    dependencies: list[ActionDependency] = Field(default_factory=list)
    created_at: str | None = None
    updated_at: str | None = None
    built_at: str | None = None


class Binding(Auth0Model):
    """One entry of a trigger's ordered bindings list (list order is execution order)."""

    id: str | None = None
    trigger_id: str | None = None
    display_name: str | None = None
    action: Action | None = None
    created_at: str | None = None
    updated_at: str | None = None


class BindingRef(Auth0Model):
    type: BindingRefType
    value: str


class BindingUpdate(Auth0Model):
    """One entry of the list written by `replace_bindings`."""

    ref: BindingRef
    display_name: str | None = None

    @classmethod
    def for_action_id(cls, action_id: str, display_name: str | None = None) -> BindingUpdate:
        return cls(ref=BindingRef(type="action_id", value=action_id), display_name=display_name)

    @classmethod
    def keeping(cls, binding: Binding) -> BindingUpdate:
        """The update entry that keeps an existing binding as it is."""
        if binding.action is None:
            raise ValueError("a binding without its action cannot be rewritten")
        return cls.for_action_id(binding.action.id, binding.display_name)


class Trigger(Auth0Model):
    id: str
    version: str | None = None
    status: str | None = None
    runtimes: list[str] = Field(default_factory=list)
    default_runtime: str | None = None


# Fields of a client (application) that carry its credentials. Dropped on arrival so that no
# output, log or repr can ever show another application's secret.
_CLIENT_SECRET_FIELDS = ("client_secret", "signing_keys", "encryption_key")


class Client(Auth0Model):
    client_id: str
    name: str | None = None
    app_type: str | None = None
    organization_usage: Literal["deny", "allow", "require"] | str | None = None
    organization_require_behavior: str | None = None
    is_first_party: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_credentials(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in _CLIENT_SECRET_FIELDS}
        return data


class User(Auth0Model):
    user_id: str
    email: str | None = None
    name: str | None = None
    app_metadata: dict[str, Any] = Field(default_factory=dict)
    user_metadata: dict[str, Any] = Field(default_factory=dict)
    # Absent until the user's first login.
    last_login: str | None = None
    logins_count: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Organization(Auth0Model):
    id: str
    name: str | None = None
    display_name: str | None = None
    # Auth0 omits `metadata` when it is empty; values are strings.
    metadata: dict[str, str] = Field(default_factory=dict)


class OrganizationMember(Auth0Model):
    user_id: str
    email: str | None = None
    name: str | None = None
    picture: str | None = None


class Job(Auth0Model):
    id: str
    type: str | None = None
    status: str  # pending | processing | completed | failed
    location: str | None = None
    format: str | None = None
    percentage_done: int | None = None
    time_left_seconds: int | None = None
    connection_id: str | None = None
    created_at: str | None = None
