"""One error vocabulary for the whole tool.

Every failure a user can meet is a `StiggctlError` with a stable `code` (scripts match
on it), a message saying what went wrong and a hint saying what to do. The mapping from
HTTP statuses and low-level exceptions lives here and nowhere else.

This module is imported on every start: it must stay free of heavy imports.
"""

from __future__ import annotations

import enum
from typing import Any


class ExitCode(enum.IntEnum):
    """Documented exit statuses (see README, "Exit codes")."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CHECK_FAILED = 3  # a doctor check failed, or a (simulated) login was denied
    AUTH = 4  # authentication or authorization failed, or a credential is missing
    INTERRUPTED = 130


class ErrorCode(enum.StrEnum):
    INVALID_INPUT = "invalid_input"
    USAGE_ERROR = "usage_error"
    CONFIG_ERROR = "config_error"
    MISSING_CREDENTIAL = "missing_credential"
    KEYRING_UNAVAILABLE = "keyring_unavailable"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    NETWORK_ERROR = "network_error"
    TIMEOUT = "timeout"
    API_ERROR = "api_error"
    BUILD_FAILED = "build_failed"
    CHECK_FAILED = "check_failed"
    LOGIN_DENIED = "login_denied"
    INTERRUPTED = "interrupted"
    INTERNAL_ERROR = "internal_error"


_EXIT_CODES: dict[ErrorCode, ExitCode] = {
    ErrorCode.USAGE_ERROR: ExitCode.USAGE,
    ErrorCode.MISSING_CREDENTIAL: ExitCode.AUTH,
    ErrorCode.AUTHENTICATION_FAILED: ExitCode.AUTH,
    ErrorCode.PERMISSION_DENIED: ExitCode.AUTH,
    ErrorCode.CHECK_FAILED: ExitCode.CHECK_FAILED,
    ErrorCode.LOGIN_DENIED: ExitCode.CHECK_FAILED,
    ErrorCode.INTERRUPTED: ExitCode.INTERRUPTED,
}


class StiggctlError(Exception):
    """A failure to report to the user: what went wrong (message) and what to do (hint)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.details = details or {}

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES.get(self.code, ExitCode.ERROR)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message, "hint": self.hint}
        if self.details:
            body["details"] = self.details
        return body

    def __repr__(self) -> str:
        return f"StiggctlError({self.code.value!r}, {self.message!r})"


def from_http_status(
    status: int,
    message: str,
    *,
    service: str,
    hint: str | None = None,
    details: dict[str, Any] | None = None,
) -> StiggctlError:
    """Map an HTTP status of a vendor API to the error vocabulary (the only such mapping)."""
    if status == 401:
        code = ErrorCode.AUTHENTICATION_FAILED
        hint = hint or f"Check the {service} credentials of this profile (`stiggctl config show`)."
    elif status == 403:
        code = ErrorCode.PERMISSION_DENIED
        hint = hint or f"The {service} credentials lack a permission; see the message."
    elif status == 404:
        code = ErrorCode.NOT_FOUND
    elif status == 409:
        code = ErrorCode.CONFLICT
    elif status == 429:
        code = ErrorCode.RATE_LIMITED
        hint = hint or f"{service} rate limit reached; try again in a moment."
    elif status in (408, 504):
        code = ErrorCode.TIMEOUT
        hint = hint or f"{service} did not answer in time; try again."
    elif status >= 500:
        code = ErrorCode.API_ERROR
        hint = hint or f"{service} failed on its side; try again later."
    elif 400 <= status < 500:
        code = ErrorCode.INVALID_INPUT
    else:
        code = ErrorCode.API_ERROR
    return StiggctlError(code, f"{service}: {message}", hint, status=status, details=details)


def from_exception(exc: BaseException, *, service: str) -> StiggctlError:
    """Map a transport-level exception (httpx, OS) to the error vocabulary."""
    if isinstance(exc, StiggctlError):
        return exc
    name = type(exc).__name__
    if "Timeout" in name:
        return StiggctlError(
            ErrorCode.TIMEOUT,
            f"{service} did not answer in time ({name}).",
            "Check the network, or raise the timeout.",
        )
    if isinstance(exc, OSError) or name in {
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
        "NetworkError",
        "ProtocolError",
    }:
        return StiggctlError(
            ErrorCode.NETWORK_ERROR,
            f"Could not reach {service}: {exc or name}.",
            "Check the URL in the profile and the network connection.",
        )
    return StiggctlError(ErrorCode.INTERNAL_ERROR, f"{service}: unexpected {name}: {exc}")
