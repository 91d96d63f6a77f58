"""The two kinds of failure the Auth0 emulator reports.

`ApiError` is an HTTP answer in Auth0's own shape, raised anywhere inside a request and turned
into a `Response` at the edge; `SandboxError` is raised by the Python-side methods (logins
built for the runtime) where there is no HTTP request to answer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """A Management API error: `{"statusCode", "error", "message", "errorCode"?}`."""

    def __init__(
        self,
        status: int,
        message: str,
        error_code: str | None = None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_code = error_code
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "statusCode": self.status,
            "error": HTTPStatus(self.status).phrase,
            "message": self.message,
        }
        if self.error_code:
            body["errorCode"] = self.error_code
        body.update(self.extra)
        return body


class OAuthError(Exception):
    """An Authentication API error (`/oauth/token`): `{"error", "error_description"}`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class SandboxError(Exception):
    """A login the sandbox cannot run as asked (unknown user, organization, client...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __repr__(self) -> str:
        return f"SandboxError({self.status}, {self.message!r})"


def not_found(message: str, error_code: str | None = None) -> ApiError:
    return ApiError(404, message, error_code)


def bad_request(message: str, error_code: str | None = None) -> ApiError:
    return ApiError(400, message, error_code)
