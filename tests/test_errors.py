"""The one mapping from HTTP statuses and transport failures to the error vocabulary."""

from __future__ import annotations

import pytest

from stiggctl.errors import ErrorCode, ExitCode, StiggctlError, from_exception, from_http_status


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (400, ErrorCode.INVALID_INPUT, ExitCode.ERROR),
        (401, ErrorCode.AUTHENTICATION_FAILED, ExitCode.AUTH),
        (403, ErrorCode.PERMISSION_DENIED, ExitCode.AUTH),
        (404, ErrorCode.NOT_FOUND, ExitCode.ERROR),
        (408, ErrorCode.TIMEOUT, ExitCode.ERROR),
        (409, ErrorCode.CONFLICT, ExitCode.ERROR),
        (429, ErrorCode.RATE_LIMITED, ExitCode.ERROR),
        (500, ErrorCode.API_ERROR, ExitCode.ERROR),
        (503, ErrorCode.API_ERROR, ExitCode.ERROR),
        (504, ErrorCode.TIMEOUT, ExitCode.ERROR),
    ],
)
def test_http_status_mapping(status, code, exit_code):
    err = from_http_status(status, "something", service="Auth0")
    assert (err.code, err.exit_code, err.status) == (code, exit_code, status)
    assert err.message == "Auth0: something"


def test_explicit_hint_is_kept():
    err = from_http_status(403, "Insufficient scope", service="Auth0", hint="grant read:actions")
    assert err.hint == "grant read:actions"


def test_envelope():
    err = StiggctlError(ErrorCode.NOT_FOUND, "No such action.", "Run deploy-action.")
    assert err.to_dict() == {
        "code": "not_found",
        "message": "No such action.",
        "hint": "Run deploy-action.",
    }


def test_transport_exceptions():
    import httpx

    assert (
        from_exception(httpx.ConnectError("refused"), service="Stigg").code
        is ErrorCode.NETWORK_ERROR
    )
    assert from_exception(httpx.ReadTimeout("slow"), service="Stigg").code is ErrorCode.TIMEOUT
    assert from_exception(ConnectionResetError(), service="Stigg").code is ErrorCode.NETWORK_ERROR
    assert from_exception(ValueError("x"), service="Stigg").code is ErrorCode.INTERNAL_ERROR
    same = StiggctlError(ErrorCode.CONFLICT, "x")
    assert from_exception(same, service="Stigg") is same


def test_exit_codes_are_documented_values():
    assert [int(c) for c in ExitCode] == [0, 1, 2, 3, 4, 130]
