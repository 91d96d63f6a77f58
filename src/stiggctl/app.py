"""The application object, made once at start-up from the global options and handed to
every command: which profile, JSON or human output, whether prompting is allowed, verbosity.

Commands reach the settings, the credentials and the API clients through it, so tests can
drive a command with an isolated environment and nothing is loaded that a command does
not use (`stiggctl --help` imports neither pydantic nor httpx nor keyring).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stiggctl.clients.auth0 import Auth0Client
    from stiggctl.clients.stigg import StiggClient
    from stiggctl.config.credentials import CredentialStore
    from stiggctl.config.settings import LoadedSettings
    from stiggctl.output import Output

_TRUE = {"1", "true", "yes", "on"}


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def in_ci() -> bool:
    return env_flag("CI")


@dataclass
class AppContext:
    profile: str = "default"
    json: bool = False
    no_input_requested: bool = False  # --no-input / STIGGCTL_NO_INPUT
    verbose: bool = False
    setting_flags: dict[str, Any] = field(default_factory=dict)

    # Interactivity ---------------------------------------------------------------------

    @property
    def can_prompt(self) -> bool:
        """Prompts need a person: never in CI, with --no-input, or without a terminal."""
        if self.no_input_requested or in_ci():
            return False
        return sys.stdin.isatty() and sys.stdout.isatty()

    @property
    def keyring_allowed(self) -> bool:
        # Only an explicit --no-input or CI keeps the keyring shut: a pipe
        # (`stiggctl mau report --json | jq`) still reads the secrets stored by setup.
        return not (self.no_input_requested or in_ci())

    # Lazily built collaborators ----------------------------------------------------------

    @cached_property
    def out(self) -> Output:
        from stiggctl.output import Output

        return Output(json_mode=self.json, verbose=self.verbose)

    @cached_property
    def loaded(self) -> LoadedSettings:
        from stiggctl.config.settings import load_settings

        return load_settings(self.profile, self.setting_flags)

    @property
    def settings(self):  # -> Settings
        return self.loaded.settings

    @cached_property
    def credentials(self) -> CredentialStore:
        from stiggctl.config.credentials import CredentialStore

        return CredentialStore(self.profile, keyring_allowed=self.keyring_allowed)

    def auth0(self) -> Auth0Client:
        """A Management API client for the profile's tenant (token minted on first use)."""
        from stiggctl.clients.auth0 import Auth0Client
        from stiggctl.errors import ErrorCode, StiggctlError

        settings = self.settings
        if not settings.auth0_base_url:
            missing = "auth0_region" if settings.auth0_tenant else "tenant"
            raise StiggctlError(
                ErrorCode.CONFIG_ERROR,
                f"No Auth0 {missing} configured for profile {self.profile!r}.",
                "Set STIGGCTL_AUTH0_DOMAIN (or STIGGCTL_AUTH0_TENANT and STIGGCTL_AUTH0_REGION), "
                "or run `stiggctl setup`.",
            )
        if not settings.auth0_client_id:
            raise StiggctlError(
                ErrorCode.MISSING_CREDENTIAL,
                f"No Auth0 client id configured for profile {self.profile!r}.",
                "Set STIGGCTL_AUTH0_CLIENT_ID, or run `stiggctl setup`.",
            )
        secret = self.credentials.require("auth0_client_secret")
        return Auth0Client(
            settings.auth0_base_url,
            settings.auth0_client_id,
            secret.reveal(),
            **self.client_options(),
        )

    def stigg(self) -> StiggClient:
        from stiggctl.clients.stigg import StiggClient

        secret = self.credentials.require("stigg_api_key")
        return StiggClient(self.settings.stigg_api_url, secret.reveal(), **self.client_options())

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every vendor client of this run gets (the retry policy, whose
        waits are shown: waiting out a rate limit takes seconds, say so instead of looking
        stuck). For clients built from other credentials, as setup does before saving."""
        from stiggctl.clients.retry import RetryEvent, RetryPolicy

        def on_retry(event: RetryEvent) -> None:
            self.out.note(event.describe())

        return {"retry": RetryPolicy(on_retry=on_retry)}
