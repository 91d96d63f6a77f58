"""The secrets: the Auth0 client secret, the Stigg API key, and the client secret of the
Action's own M2M application (optional: see `action_client_id` in settings.py).

Resolution: the environment first; then the OS keyring (service `stiggctl`, one entry per
profile and secret). The keyring is never touched when the secret comes from the
environment, nor in CI or with --no-input: headless keyrings can hang or fail, and a
script should be told which variable to set. There is no plaintext fallback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from stiggctl.errors import ErrorCode, StiggctlError

KEYRING_SERVICE = "stiggctl"

SECRETS: dict[str, str] = {
    "auth0_client_secret": "STIGGCTL_AUTH0_CLIENT_SECRET",
    "stigg_api_key": "STIGGCTL_STIGG_API_KEY",
    "action_client_secret": "STIGGCTL_ACTION_CLIENT_SECRET",
}
LABELS = {
    "auth0_client_secret": "Auth0 client secret",
    "stigg_api_key": "Stigg API key",
    "action_client_secret": "client secret of the Action's M2M application",
}

SecretOrigin = Literal["env", "keyring", "missing", "not read"]


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class ResolvedSecret:
    name: str
    origin: SecretOrigin
    secret: Secret | None


def _keyring_entry(profile: str, name: str) -> str:
    return f"{profile}:{name}"


def _keyring_failure(name: str, exc: Exception) -> StiggctlError:
    return StiggctlError(
        ErrorCode.KEYRING_UNAVAILABLE,
        f"The OS keyring is not available ({type(exc).__name__}); "
        f"cannot read or store the {LABELS[name]}.",
        f"Set {SECRETS[name]} in the environment instead, or install and unlock a keyring "
        "backend (see `keyring --list-backends`).",
    )


class CredentialStore:
    """Finds and stores the secrets of one profile."""

    def __init__(self, profile: str, *, keyring_allowed: bool) -> None:
        self.profile = profile
        self.keyring_allowed = keyring_allowed

    def in_environment(self, name: str) -> bool:
        """Whether the secret's variable is set (the keyring is not looked at)."""
        return bool(os.environ.get(SECRETS[name]))

    def resolve(self, name: str) -> ResolvedSecret:
        env_var = SECRETS[name]
        value = os.environ.get(env_var)
        if value:
            return ResolvedSecret(name, "env", Secret(value))
        if not self.keyring_allowed:
            return ResolvedSecret(name, "not read", None)
        import keyring
        import keyring.errors

        try:
            stored = keyring.get_password(KEYRING_SERVICE, _keyring_entry(self.profile, name))
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise _keyring_failure(name, exc) from None
        if stored:
            return ResolvedSecret(name, "keyring", Secret(stored))
        return ResolvedSecret(name, "missing", None)

    def require(self, name: str) -> Secret:
        """The secret, or an authentication error (exit 4) saying how to provide it."""
        resolved = self.resolve(name)
        if resolved.secret is not None:
            return resolved.secret
        env_var = SECRETS[name]
        if resolved.origin == "not read":
            hint = (
                f"Set {env_var}. In CI or with --no-input the keyring is not read; "
                "run interactively to use the secret stored by `stiggctl setup`."
            )
        else:
            hint = f"Run `stiggctl setup --profile {self.profile}`, or set {env_var}."
        raise StiggctlError(
            ErrorCode.MISSING_CREDENTIAL,
            f"No {LABELS[name]} for profile {self.profile!r}.",
            hint,
            details={"env": env_var},
        )

    def store(self, name: str, value: str) -> None:
        if not self.keyring_allowed:
            raise StiggctlError(
                ErrorCode.KEYRING_UNAVAILABLE,
                f"Not storing the {LABELS[name]}: the keyring is not used in CI or with "
                "--no-input.",
                f"Provide it through {SECRETS[name]} instead.",
            )
        import keyring
        import keyring.errors

        try:
            keyring.set_password(KEYRING_SERVICE, _keyring_entry(self.profile, name), value)
        except (keyring.errors.KeyringError, RuntimeError) as exc:
            raise _keyring_failure(name, exc) from None
