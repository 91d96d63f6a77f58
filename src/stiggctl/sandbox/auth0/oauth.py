"""`POST /oauth/token`: the client-credentials grant that mints Management API tokens."""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import parse_qsl, unquote

from stiggctl.sandbox.auth0.errors import OAuthError
from stiggctl.sandbox.auth0.state import Tenant, secret_digest
from stiggctl.sandbox.auth0.tokens import mint
from stiggctl.sandbox.http import Request, Response, json_response

TOKEN_LIFETIME_SECONDS = 86400


def _parameters(req: Request) -> dict[str, str]:
    content_type = (req.header("content-type") or "").lower()
    try:
        if "application/json" in content_type:
            body = req.json() or {}
            if not isinstance(body, dict):
                raise ValueError("not an object")
            params = {k: v for k, v in body.items() if isinstance(v, str)}
        else:
            params = dict(parse_qsl(req.body.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        raise OAuthError(400, "invalid_request", "Invalid request body") from None
    # client_secret_basic: credentials in the Authorization header instead of the body.
    authorization = req.header("authorization") or ""
    if authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise OAuthError(400, "invalid_request", "Invalid authorization header") from None
        client_id, _, client_secret = decoded.partition(":")
        params.setdefault("client_id", unquote(client_id))
        params.setdefault("client_secret", unquote(client_secret))
    return params


def issue_token(tenant: Tenant, req: Request) -> Response:
    params = _parameters(req)
    for required in ("grant_type", "client_id"):
        if not params.get(required):
            raise OAuthError(400, "invalid_request", f"Missing required parameter: {required}")
    if params["grant_type"] != "client_credentials":
        raise OAuthError(
            400, "unsupported_grant_type", f"Unsupported grant type: {params['grant_type']}"
        )
    client = tenant.data["clients"].get(params["client_id"])
    digest = secret_digest(params.get("client_secret", ""))
    if client is None or not hmac.compare_digest(client.get("secret_sha256", ""), digest):
        raise OAuthError(401, "access_denied", "Unauthorized")
    if "client_credentials" not in client["grant_types"]:
        raise OAuthError(
            403,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        )
    audience = params.get("audience")
    if not audience:
        # A tenant without a default audience: the legacy API v1 is all that is left.
        raise OAuthError(403, "access_denied", "Non-global clients are not allowed access to APIv1")
    if audience != tenant.management_audience:
        raise OAuthError(403, "access_denied", f"Service not found: {audience}")
    granted = tenant.data["grants"].get(client["client_id"])
    if granted is None:
        raise OAuthError(
            403,
            "access_denied",
            f'Client is not authorized to access "{audience}". You need to create a '
            '"client-grant" associated to this API. '
            "See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants",
        )
    scopes = list(granted)
    if params.get("scope"):
        requested = params["scope"].split()
        scopes = [s for s in scopes if s in requested]
    now = int(tenant.now())
    claims: dict[str, Any] = {
        "iss": tenant.issuer,
        "sub": f"{client['client_id']}@clients",
        "aud": audience,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "scope": " ".join(scopes),
        "gty": "client-credentials",
        "azp": client["client_id"],
    }
    tenant.data["tokens_issued"] += 1
    return json_response(
        {
            "access_token": mint(claims, tenant.signing_key),
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "scope": claims["scope"],
        }
    )
