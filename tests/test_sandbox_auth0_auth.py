"""The Auth0 emulator's front door: /oauth/token, bearer tokens, scopes, rate limits."""

from __future__ import annotations

import base64
import json

import pytest

from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import CONSUMER_APP_ID, WORKSPACE_APP_ID
from stiggctl.sandbox.http import Request
from tests.test_sandbox_auth0_support import (
    AUDIENCE,
    BASE_URL,
    M2M_ID,
    M2M_SECRET,
    START,
    Api,
    api_error,
    jwt_claims,
    make_emulator,
    mint_token,
    token_request,
)

GOOD_PARAMS = {
    "grant_type": "client_credentials",
    "client_id": M2M_ID,
    "client_secret": M2M_SECRET,
    "audience": AUDIENCE,
}


@pytest.mark.parametrize("form", [False, True])
def test_client_credentials_token_has_auth0s_claims_and_scopes(form):
    emu, _ = make_emulator()
    response = token_request(emu, GOOD_PARAMS, form=form)
    assert response.status == 200
    assert response.body["token_type"] == "Bearer"
    assert response.body["expires_in"] == 86400
    assert response.body["scope"] == " ".join(STIGGCTL_SCOPES)
    claims = jwt_claims(response.body["access_token"])
    assert claims == {
        "iss": f"{BASE_URL}/",
        "sub": f"{M2M_ID}@clients",
        "aud": AUDIENCE,
        "iat": int(START),
        "exp": int(START) + 86400,
        "scope": " ".join(STIGGCTL_SCOPES),
        "gty": "client-credentials",
        "azp": M2M_ID,
    }
    assert emu.tokens_issued == 1


def test_client_secret_basic_is_accepted():
    emu, _ = make_emulator()
    credentials = base64.b64encode(f"{M2M_ID}:{M2M_SECRET}".encode()).decode()
    params = {"grant_type": "client_credentials", "audience": AUDIENCE}
    response = token_request(emu, params, headers={"authorization": f"Basic {credentials}"})
    assert response.status == 200
    assert jwt_claims(response.body["access_token"])["azp"] == M2M_ID


def test_requested_scope_narrows_the_token():
    emu, _ = make_emulator()
    response = token_request(emu, {**GOOD_PARAMS, "scope": "read:users write:everything"})
    assert response.body["scope"] == "read:users"


@pytest.mark.parametrize(
    ("change", "status", "body"),
    [
        (
            {"client_secret": "wrong"},
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            {"client_id": "nobody"},
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            {"grant_type": ""},
            400,
            {
                "error": "invalid_request",
                "error_description": "Missing required parameter: grant_type",
            },
        ),
        (
            {"grant_type": "password"},
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": "Unsupported grant type: password",
            },
        ),
        (
            {"audience": "https://api.example.com/"},
            403,
            {
                "error": "access_denied",
                "error_description": "Service not found: https://api.example.com/",
            },
        ),
        (
            {"audience": ""},
            403,
            {
                "error": "access_denied",
                "error_description": "Non-global clients are not allowed access to APIv1",
            },
        ),
    ],
)
def test_token_errors_have_auth0s_oauth_bodies(change, status, body):
    emu, _ = make_emulator()
    response = token_request(emu, {**GOOD_PARAMS, **change})
    assert (response.status, response.body) == (status, body)
    assert emu.tokens_issued == 0


def test_client_without_a_grant_is_refused_with_403():
    emu, _ = make_emulator()
    params = {
        **GOOD_PARAMS,
        "client_id": CONSUMER_APP_ID,
        "client_secret": f"{CONSUMER_APP_ID}-secret",
    }
    response = token_request(emu, params)
    assert response.status == 403
    assert response.body == {
        "error": "access_denied",
        "error_description": f'Client is not authorized to access "{AUDIENCE}". You need to '
        'create a "client-grant" associated to this API. '
        "See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants",
    }


def test_public_client_cannot_use_client_credentials():
    emu, _ = make_emulator()
    emu.set_grant(WORKSPACE_APP_ID, ["read:users"])
    response = token_request(emu, {**GOOD_PARAMS, "client_id": WORKSPACE_APP_ID})
    assert response.status == 401  # an SPA has no secret: the credentials cannot match


def test_confidential_client_without_the_grant_type_is_unauthorized():
    emu, _ = make_emulator(seed=None)
    emu.add_client("native0", "Phone app", "native", client_secret="s", grant_scopes=["read:users"])
    params = {**GOOD_PARAMS, "client_id": "native0", "client_secret": "s"}
    response = token_request(emu, params)
    assert response.status == 403
    assert response.body == {
        "error": "unauthorized_client",
        "error_description": "Grant type 'client_credentials' not allowed for the client.",
    }


def _get(emu, authorization: str | None, path: str = "/api/v2/clients"):
    headers = {"authorization": authorization} if authorization is not None else {}
    return emu.handle(Request.build("GET", path, headers))


def test_management_api_requires_a_bearer_token():
    emu, _ = make_emulator()
    response = _get(emu, None)
    assert response.status == 401
    assert response.body == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Missing authentication",
        "attributes": {"error": "Missing authentication"},
    }


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."])
def test_foreign_tokens_are_invalid(token):
    emu, _ = make_emulator()
    response = _get(emu, f"Bearer {token}")
    assert response.status == 401
    assert response.body["message"] == "Invalid token"


def test_tampered_token_is_invalid():
    emu, _ = make_emulator()
    header, payload, signature = mint_token(emu).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] += " delete:users"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = _get(emu, f"Bearer {header}.{forged}.{signature}")
    assert response.body == {
        "statusCode": 401,
        "error": "Unauthorized",
        "message": "Invalid token",
        "attributes": {"error": "Invalid token"},
    }


def test_token_expires_after_24_hours():
    emu, clock = make_emulator()
    token = mint_token(emu)
    clock.advance(86400 - 1)
    assert _get(emu, f"Bearer {token}").status == 200
    clock.advance(1)
    response = _get(emu, f"Bearer {token}")
    assert response.status == 401
    assert response.body["message"] == "Expired token received for JSON Web Token validation"


def test_token_of_another_domain_is_invalid():
    emu, _ = make_emulator()
    token = mint_token(emu)
    emu.base_url = "http://127.0.0.1:1"
    assert _get(emu, f"Bearer {token}").body["message"] == "Invalid token"


def test_missing_scope_gets_auth0s_insufficient_scope_body():
    emu, _ = make_emulator()
    emu.set_grant(M2M_ID, ["read:users"])
    api = Api(emu)
    response = api.get("/actions/actions")
    assert response.status == 403
    assert response.body == api_error(
        403, "Forbidden", "Insufficient scope, expected any of: read:actions", "insufficient_scope"
    )
    listed = api.get("/users/x/organizations")
    assert listed.body["message"] == "Insufficient scope, expected any of: read:organizations"


def test_any_listed_scope_suffices():
    emu, _ = make_emulator()
    emu.set_grant(M2M_ID, ["update:users_app_metadata"])
    api = Api(emu)
    response = api.patch("/users/auth0%7Cdemo-alice", {"app_metadata": {"plan": "pro"}})
    assert response.status == 200
    assert response.body["app_metadata"] == {"plan": "pro"}


def test_unknown_route_is_404_after_no_authentication():
    emu, _ = make_emulator()
    response = _get(emu, None, "/api/v2/tenants/settings")
    assert (response.status, response.body) == (
        404,
        {"statusCode": 404, "error": "Not Found", "message": "Not Found"},
    )
    assert emu.handle(Request.build("GET", "/authorize")).status == 404


def test_every_response_carries_the_rate_limit_headers():
    emu, _ = make_emulator()
    token = mint_token(emu)
    responses = [
        token_request(emu, GOOD_PARAMS),
        token_request(emu, {**GOOD_PARAMS, "client_secret": "bad"}),
        _get(emu, f"Bearer {token}"),
        _get(emu, None),
        _get(emu, f"Bearer {token}", "/api/v2/nothing"),
        emu.handle(Request.build("GET", "/_auth0_exports/job_x.json.gz")),
    ]
    for response in responses:
        assert set(response.headers) >= {
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-reset",
        }
        assert int(response.headers["x-ratelimit-reset"]) >= int(START)


def test_rate_limit_refuses_with_429_and_says_when_to_retry():
    emu, clock = make_emulator(rate_limit_per_second=2)
    api = Api(emu)
    first, second, third = (api.get("/clients") for _ in range(3))
    assert (first.status, second.status) == (200, 200)
    assert first.headers["x-ratelimit-limit"] == "2"
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert second.headers["x-ratelimit-remaining"] == "0"
    assert third.status == 429
    assert third.body == api_error(
        429, "Too Many Requests", "Global limit has been reached", "too_many_requests"
    )
    assert third.headers["retry-after"] == "1"
    assert third.headers["x-ratelimit-remaining"] == "0"
    assert third.headers["x-ratelimit-reset"] == str(int(START) + 1)
    clock.advance(0.5)  # refills one request at 2 per second
    assert api.get("/clients").status == 200
    assert api.get("/clients").status == 429


def test_token_endpoint_does_not_spend_the_management_bucket():
    emu, _ = make_emulator(rate_limit_per_second=1)
    for _ in range(3):
        assert token_request(emu, GOOD_PARAMS).status == 200
    assert Api(emu, mint_token(emu)).get("/clients").status == 200


def test_without_a_rate_the_sandbox_never_throttles():
    emu, _ = make_emulator()  # a frozen clock: the nominal bucket never refills by itself
    api = Api(emu)
    answers = [api.get("/clients") for _ in range(200)]
    assert {answer.status for answer in answers} == {200}
    # Never reported empty either: a client honouring x-ratelimit-remaining 0 (stiggctl's
    # own does) would hold back until the reset for nothing.
    assert min(int(answer.headers["x-ratelimit-remaining"]) for answer in answers) >= 1


def test_no_secret_reaches_a_response_or_the_snapshot():
    emu, _ = make_emulator()
    api = Api(emu)
    emu.add_action(
        "Uses a secret",
        "exports.onExecutePostLogin = async () => {};",
        secrets={"K": "s3cr3t-value"},
    )
    answers = [
        api.get("/clients"),
        api.get(f"/clients/{M2M_ID}"),
        api.get("/actions/actions"),
        api.get("/actions/triggers/post-login/bindings"),
    ]
    text = json.dumps([a.body for a in answers])
    assert M2M_SECRET not in text
    assert "s3cr3t-value" not in text
    assert all("client_secret" not in client for client in answers[0].body)
    assert M2M_SECRET not in json.dumps(emu.snapshot())
