"""`Auth0Emulator`: the sandbox's stateful Auth0 (authentication + Management API v2).

The server (sandbox/server.py) owns the socket and hands every request under
`ROUTE_PREFIXES` to `handle()`. Every answer carries the rate-limit headers; Management API
calls are checked for a valid bearer token and the scopes of the caller's client grant, with
Auth0's status codes and error bodies. The Python-side methods serve the login runtime, the
seeds, the control plane and tests.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from stiggctl.sandbox.auth0 import actions, clients, exports, login, oauth, organizations, users
from stiggctl.sandbox.auth0.errors import ApiError, OAuthError, SandboxError
from stiggctl.sandbox.auth0.ratelimit import TokenBucket
from stiggctl.sandbox.auth0.routing import Call, find_route
from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.auth0.tokens import TokenError, verify
from stiggctl.sandbox.http import Request, Response, json_response

MANAGEMENT_PREFIX = "/api/v2/"
TOKEN_PATH = "/oauth/token"
# The paths the server routes here: the token endpoint, the Management API, and the
# pre-signed downloads of user exports (S3 on live tenants).
ROUTE_PREFIXES = (TOKEN_PATH, MANAGEMENT_PREFIX, exports.EXPORTS_PATH + "/")
ROUTES = actions.ROUTES + clients.ROUTES + exports.ROUTES + organizations.ROUTES + users.ROUTES
INVALID_TOKEN = "Invalid token"
EXPIRED_TOKEN = "Expired token received for JSON Web Token validation"


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, extra={"attributes": {"error": message}})


class Auth0Emulator:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        build_seconds: float = 0.6,
        code_checker: Callable[[str], list[str]] | None = None,
        rate_limit_per_second: float | None = None,
        rate_clock: Callable[[], float] | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._tenant = Tenant(clock, build_seconds, code_checker)
        # The rate limit is about real seconds between requests: the sandbox runs it on the
        # wall clock (`rate_clock`), so time travel never sends clients an x-ratelimit-reset
        # days away. Tests that drive it with a frozen clock leave it unset.
        self._bucket = TokenBucket(rate_clock or clock, rate_limit_per_second)

    # ---- configuration ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The tenant's "domain" (`http://127.0.0.1:PORT`), set by the server once bound."""
        return self._tenant.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        with self._lock:
            self._tenant.base_url = value.rstrip("/")

    @property
    def tenant_name(self) -> str:
        return self._tenant.name

    @tenant_name.setter
    def tenant_name(self, value: str) -> None:
        with self._lock:
            self._tenant.data["tenant_name"] = value

    @property
    def tokens_issued(self) -> int:
        """How many access tokens `/oauth/token` has minted (free tenants have a quota)."""
        with self._lock:
            return self._tenant.data["tokens_issued"]

    # ---- HTTP ------------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        with self._lock:
            management = req.path.startswith(MANAGEMENT_PREFIX)
            admission = self._bucket.take() if management else self._bucket.peek()
            try:
                if not admission.allowed:
                    raise ApiError(429, "Global limit has been reached", "too_many_requests")
                response = self._dispatch(req, management)
            except ApiError as error:
                response = json_response(error.body(), error.status)
            except OAuthError as error:
                response = json_response(error.body(), error.status)
            response.headers.update(admission.headers())
            if response.body is not None and not isinstance(response.body, bytes):
                # The server encodes the body after the lock is released: hand it a copy
                # that no later request can change underneath it.
                response.body = copy.deepcopy(response.body)
            return response

    def _dispatch(self, req: Request, management: bool) -> Response:
        if management:
            return self._management(req)
        if req.path.rstrip("/") == TOKEN_PATH and req.method == "POST":
            return oauth.issue_token(self._tenant, req)
        if req.path.startswith(exports.EXPORTS_PATH + "/") and req.method == "GET":
            return exports.download(self._tenant, req)
        raise ApiError(404, "Not Found")

    def _management(self, req: Request) -> Response:
        segments = req.segments()[2:]  # after "api", "v2"
        found = find_route(list(ROUTES), req.method, segments)
        if found is None:
            raise ApiError(404, "Not Found")
        route, params = found
        scopes = self._authorize(req)
        if not scopes.intersection(route.scopes):
            raise ApiError(
                403,
                f"Insufficient scope, expected any of: {','.join(route.scopes)}",
                "insufficient_scope",
            )
        return route.handler(Call(req=req, tenant=self._tenant, params=params))

    def _authorize(self, req: Request) -> frozenset[str]:
        """The scopes of the request's bearer token; 401 unless it is a valid one of ours."""
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Missing authentication")
        tenant = self._tenant
        try:
            claims = verify(token.strip(), tenant.signing_key, now=tenant.now())
        except TokenError as error:
            raise _unauthorized(EXPIRED_TOKEN if error.expired else INVALID_TOKEN) from None
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if claims.get("iss") != tenant.issuer or tenant.management_audience not in audiences:
            raise _unauthorized(INVALID_TOKEN)
        return frozenset(str(claims.get("scope", "")).split())

    # ---- state -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self._tenant.snapshot()

    def restore(self, data: dict[str, Any]) -> None:
        with self._lock:
            self._tenant.restore(data)

    # ---- the login runtime's view ----------------------------------------------------------

    def post_login_actions(self) -> list[dict[str, Any]]:
        """The actions bound to post-login, in execution order: `{id, name, code, secrets,
        runtime, version}` with the deployed version's code and the action's secrets."""
        with self._lock:
            return login.post_login_actions(self._tenant)

    def build_post_login_event(
        self,
        user_id: str,
        *,
        org_id: str | None = None,
        client_id: str | None = None,
        protocol: str = "oidc-basic-profile",
        ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """The post-login `event` as Auth0 builds it; `SandboxError` for a login Auth0 would
        not let happen (unknown user, organization or client, not a member, an application
        whose `organization_usage` forbids this kind of login). Without `client_id`, the
        first application that accepts this kind of login."""
        with self._lock:
            return login.build_post_login_event(
                self._tenant, user_id, org_id=org_id, client_id=client_id, protocol=protocol, ip=ip
            )

    def complete_login(
        self,
        user_id: str,
        *,
        allowed: bool,
        app_metadata: dict[str, Any],
        user_metadata: dict[str, Any],
        ip: str = "127.0.0.1",
    ) -> dict[str, Any]:
        """Save the metadata the actions set (first-level merge, None deletes), and, for an
        allowed login, `last_login`, `last_ip` and `logins_count`. Returns the user."""
        with self._lock:
            return login.complete_login(
                self._tenant,
                user_id,
                allowed=allowed,
                app_metadata=app_metadata,
                user_metadata=user_metadata,
                ip=ip,
            )

    # ---- read helpers ----------------------------------------------------------------------

    def get_user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._tenant.data["users"].get(user_id)
            return users.user_view(record) if record else None

    def list_users(self) -> list[dict[str, Any]]:
        with self._lock:
            return [users.user_view(u) for u in self._tenant.data["users"].values()]

    def get_org(self, org_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._tenant.data["organizations"].get(org_id)
            return organizations.org_view(record) if record else None

    def list_orgs(self) -> list[dict[str, Any]]:
        with self._lock:
            return [organizations.org_view(o) for o in self._tenant.data["organizations"].values()]

    def members(self, org_id: str) -> list[str]:
        """The user ids of an organization's members, in the order they joined."""
        with self._lock:
            members = self._tenant.data["members"].get(org_id, {})
            return sorted(members, key=lambda user_id: members[user_id])

    def user_organizations(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [
                organizations.org_view(o)
                for o in organizations.organizations_of(self._tenant, user_id)
            ]

    def get_client(self, client_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._tenant.data["clients"].get(client_id)
            return clients.client_view(self._tenant, record) if record else None

    def list_clients(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                clients.client_view(self._tenant, c) for c in self._tenant.data["clients"].values()
            ]

    def get_action(self, action_id: str) -> dict[str, Any] | None:
        with self._lock:
            record = self._tenant.data["actions"].get(action_id)
            return actions.action_view(self._tenant, record) if record else None

    def find_action(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            for record in self._tenant.data["actions"].values():
                if record["name"] == name:
                    return actions.action_view(self._tenant, record)
            return None

    # ---- write helpers (seeds, control plane) ----------------------------------------------

    def add_client(
        self,
        client_id: str,
        name: str,
        app_type: str,
        *,
        organization_usage: str = "deny",
        organization_require_behavior: str = "no_prompt",
        client_secret: str | None = None,
        grant_scopes: list[str] | tuple[str, ...] | None = None,
        client_metadata: dict[str, str] | None = None,
        callbacks: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add an application; `grant_scopes` grants it the Management API with those
        scopes (a client grant). The secret is kept only as a digest."""
        with self._lock:
            data = self._tenant.data
            if client_id in data["clients"]:
                raise SandboxError(409, f"Client {client_id} already exists.")
            record = clients.new_client(
                client_id,
                name,
                app_type,
                organization_usage=organization_usage,
                organization_require_behavior=organization_require_behavior,
                client_secret=client_secret,
                client_metadata=client_metadata,
                callbacks=callbacks,
            )
            data["clients"][client_id] = record
            if grant_scopes is not None:
                data["grants"][client_id] = list(grant_scopes)
            return clients.client_view(self._tenant, record)

    def set_grant(self, client_id: str, scopes: list[str] | None) -> None:
        """Grant a client the Management API with `scopes`, or revoke its grant (None)."""
        with self._lock:
            if client_id not in self._tenant.data["clients"]:
                raise SandboxError(404, f"Unknown client: {client_id}")
            if scopes is None:
                self._tenant.data["grants"].pop(client_id, None)
            else:
                self._tenant.data["grants"][client_id] = list(scopes)

    def add_user(
        self,
        user_id: str,
        *,
        email: str,
        name: str | None = None,
        nickname: str | None = None,
        given_name: str | None = None,
        family_name: str | None = None,
        app_metadata: dict[str, Any] | None = None,
        user_metadata: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            data = self._tenant.data
            if user_id in data["users"]:
                raise SandboxError(409, f"User {user_id} already exists.")
            record = users.new_user(
                self._tenant,
                user_id,
                email=email,
                name=name,
                nickname=nickname,
                given_name=given_name,
                family_name=family_name,
                app_metadata=app_metadata,
                user_metadata=user_metadata,
            )
            data["users"][user_id] = record
            return users.user_view(record)

    def add_org(
        self,
        name: str,
        display_name: str,
        *,
        org_id: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            tenant = self._tenant
            org_id = org_id or tenant.new_prefixed_id("org")
            existing = tenant.data["organizations"].values()
            if org_id in tenant.data["organizations"] or any(o["name"] == name for o in existing):
                raise SandboxError(409, f"Organization {org_id} ({name}) already exists.")
            record = organizations.new_org(tenant, org_id, name, display_name, metadata)
            tenant.data["organizations"][org_id] = record
            return organizations.org_view(record)

    def add_member(self, org_id: str, user_id: str) -> None:
        with self._lock:
            if org_id not in self._tenant.data["organizations"]:
                raise SandboxError(404, f"Unknown organization: {org_id}")
            if user_id not in self._tenant.data["users"]:
                raise SandboxError(404, f"Unknown user: {user_id}")
            organizations.add_members(self._tenant, org_id, [user_id])

    def add_action(
        self,
        name: str,
        code: str,
        *,
        secrets: dict[str, str] | None = None,
        runtime: str = actions.DEFAULT_RUNTIME,
        deploy: bool = True,
        bind: bool = True,
    ) -> dict[str, Any]:
        """An action already built (its code trusted), deployed and bound at the end of
        post-login unless told otherwise: what a tenant looks like before stiggctl arrives."""
        with self._lock:
            try:
                record = actions.install_action(
                    self._tenant,
                    name,
                    code,
                    secrets=secrets,
                    runtime=runtime,
                    deploy=deploy,
                    bind=bind,
                )
            except ApiError as error:
                raise SandboxError(error.status, error.message) from None
            return actions.action_view(self._tenant, record)
