"""Effective settings of a profile: flags > environment > profile file > defaults.

The environment variable names are pinned (scripts depend on them): each setting `x` is
`STIGGCTL_X`. The secrets are not settings: see credentials.py.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from stiggctl.config import profiles
from stiggctl.core.action_settings import (
    DEFAULT_ACTIVE_USERS_FEATURE_ID,
    DEFAULT_DENY_MESSAGE,
    DEFAULT_STIGG_API_URL,
)
from stiggctl.errors import ErrorCode, StiggctlError

ENV_PREFIX = "STIGGCTL_"
REGIONS = ("us", "eu", "au", "jp", "uk", "ca", "us-legacy")
MODES = ("b2c", "b2b", "both")
DEFAULT_ACTION_NAME = "Stigg Integration (stiggctl)"

_TENANT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$")
_HOST = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_BASE_URL = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(?::(\d{1,5}))?/?$")


Origin = Literal["flag", "env", "file", "default"]


class Settings(BaseSettings):
    """Non-secret settings of one profile."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
        # An empty variable means "unset", as in most tools.
        env_ignore_empty=True,
    )

    auth0_domain: str | None = None
    auth0_tenant: str | None = None
    auth0_region: str | None = None
    auth0_client_id: str | None = None
    # The Action's own M2M application (only update:organizations); unset, the Action holds
    # stiggctl's client, which carries every scope stiggctl needs.
    action_client_id: str | None = None
    stigg_api_url: str = DEFAULT_STIGG_API_URL
    application_id: str | None = None
    mode: str | None = None
    b2c_plan: str | None = None
    b2b_plan: str | None = None
    active_users_feature: str = DEFAULT_ACTIVE_USERS_FEATURE_ID
    action_name: str = DEFAULT_ACTION_NAME
    fail_policy: str = "open"
    deny_message: str = DEFAULT_DENY_MESSAGE

    @field_validator("auth0_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower().rstrip("/")
        if value.startswith(("http://", "https://")):
            if not _BASE_URL.match(value):
                raise ValueError(
                    f"{value!r} is not a base URL: expected scheme://host[:port] with no path, "
                    "such as http://127.0.0.1:8765"
                )
            return value
        if "/" in value or not _HOST.match(value):
            raise ValueError(
                f"{value!r} is not a domain: expected a host name such as acme.eu.auth0.com"
            )
        return value

    @field_validator("action_client_id")
    @classmethod
    def _action_client_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value or any(char.isspace() for char in value):
            raise ValueError(f"{value!r} is not a client id (no spaces, not empty)")
        return value

    @field_validator("auth0_tenant")
    @classmethod
    def _tenant(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _TENANT.match(value):
            raise ValueError(
                f"{value!r} is not a tenant name: 3 to 63 lowercase letters, digits and '-', "
                "not starting or ending with '-'"
            )
        return value

    @field_validator("auth0_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value not in REGIONS:
            raise ValueError(f"{value!r} is not a region: one of {', '.join(REGIONS)}")
        return value

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value not in MODES:
            raise ValueError(f"{value!r} is not a mode: one of {', '.join(MODES)}")
        return value

    @field_validator("fail_policy")
    @classmethod
    def _fail_policy(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("open", "closed"):
            raise ValueError(f"{value!r} is not a fail policy: open or closed")
        return value

    @field_validator("stigg_api_url")
    @classmethod
    def _stigg_url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://[^\s/]+(/\S*)?$", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _ProfileSource(settings_cls))

    # Derived values -------------------------------------------------------------------

    @property
    def auth0_base_url(self) -> str | None:
        """`https://{domain}` or the sandbox's base URL; None when no tenant is configured."""
        if self.auth0_domain:
            if self.auth0_domain.startswith(("http://", "https://")):
                return self.auth0_domain
            return f"https://{self.auth0_domain}"
        if self.auth0_tenant and self.auth0_region:
            if self.auth0_region == "us-legacy":
                return f"https://{self.auth0_tenant}.auth0.com"
            return f"https://{self.auth0_tenant}.{self.auth0_region}.auth0.com"
        return None


_PROFILE_VALUES: ContextVar[dict[str, Any] | None] = ContextVar("profile_values", default=None)


class _ProfileSource(PydanticBaseSettingsSource):
    """The active profile's table of the TOML file, as read by `load_settings`."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return (_PROFILE_VALUES.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_PROFILE_VALUES.get() or {})


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


SETTING_NAMES: tuple[str, ...] = tuple(Settings.model_fields)


@dataclass(frozen=True)
class LoadedSettings:
    settings: Settings
    profile: str
    origins: dict[str, Origin]


def load_settings(profile: str = "default", flags: dict[str, Any] | None = None) -> LoadedSettings:
    """The effective settings of `profile`, and where each value came from."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    file_values = profiles.read_profile(profile)
    unknown = sorted(set(file_values) - set(SETTING_NAMES))
    if unknown:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"Unknown setting {unknown[0]!r} in profile {profile!r} of {profiles.config_path()}.",
            f"Known settings: {', '.join(SETTING_NAMES)}.",
        )
    origins: dict[str, Origin] = {}
    for name in SETTING_NAMES:
        if name in flags:
            origins[name] = "flag"
        elif os.environ.get(env_name(name)):
            origins[name] = "env"
        elif name in file_values:
            origins[name] = "file"
        else:
            origins[name] = "default"
    token = _PROFILE_VALUES.set(file_values)
    try:
        settings = Settings(**flags)
    except ValidationError as exc:
        raise _invalid(exc, origins, profile) from None
    finally:
        _PROFILE_VALUES.reset(token)
    return LoadedSettings(settings=settings, profile=profile, origins=origins)


def _invalid(exc: ValidationError, origins: dict[str, Origin], profile: str) -> StiggctlError:
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    reason = str(first["msg"]).removeprefix("Value error, ")
    where = {
        "flag": f"--{field.replace('_', '-')}",
        "env": env_name(field),
        "file": f"{field} in profile {profile!r} of {profiles.config_path()}",
        "default": field,
    }.get(origins.get(field, "default"), field)
    if not field:
        where = f"profile {profile!r}"
    return StiggctlError(
        ErrorCode.CONFIG_ERROR,
        f"Invalid setting {where}: {reason}.",
        "Fix the value (see `stiggctl config show`).",
    )
