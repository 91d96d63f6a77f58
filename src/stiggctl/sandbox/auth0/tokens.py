"""JWT access tokens for the sandbox's Management API: HS256 with a per-tenant key.

Real Auth0 signs with RS256 and publishes the key; nothing in stiggctl verifies the signature
itself, so a symmetric key kept in the tenant's state is enough to tell our tokens from forged
or foreign ones, and keeps tokens valid across a `--state` restart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class TokenError(Exception):
    """The token is not one of ours (malformed, bad signature) or has expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(claims: dict[str, Any], key: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": "sandbox"}
    signing_input = ".".join(
        _b64encode(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64encode(signature)}"


def verify(token: str, key: bytes, *, now: float) -> dict[str, Any]:
    """The token's claims; raises `TokenError` unless it is ours and unexpired at `now`."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    expected = hmac.new(key, signing_input, hashlib.sha256).digest()
    try:
        signature = _b64decode(parts[2])
        header = json.loads(_b64decode(parts[0]))
        claims = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise TokenError("malformed token") from None
    if not hmac.compare_digest(signature, expected) or header.get("alg") != "HS256":
        raise TokenError("bad signature")
    if not isinstance(claims, dict):
        raise TokenError("malformed token")
    if float(claims.get("exp", 0)) <= now:
        raise TokenError("expired", expired=True)
    return claims
