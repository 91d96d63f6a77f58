"""Auth0 Management API client (sync, httpx), safe to share across threads.

One client per run: it mints one client-credentials token, lazily, on the first call that
needs it (free tenants have a monthly M2M token quota), for the audience
`{base_url}/api/v2/` (the canonical domain, never a custom one). Every call goes through
the shared `RetryPolicy` and a `RateLimitGate` honouring Auth0's `x-ratelimit-*` headers,
and every failure comes out as a `StiggctlError` of the error vocabulary.

The client secret and the access token never appear in an exception, a repr or a log.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urljoin

import httpx

from stiggctl.clients.auth0_models import (
    Action,
    ActionVersion,
    Binding,
    BindingUpdate,
    Client,
    Job,
    Organization,
    OrganizationMember,
    Trigger,
    User,
)
from stiggctl.clients.common import ModelT, http_client, json_or_none, parse_model
from stiggctl.clients.concurrency import RateLimitGate
from stiggctl.clients.retry import RetryPolicy
from stiggctl.errors import ErrorCode, StiggctlError, from_exception, from_http_status

SERVICE = "Auth0"
CLIENT_ID_SETTING = "STIGGCTL_AUTH0_CLIENT_ID"
CLIENT_SECRET_SETTING = "STIGGCTL_AUTH0_CLIENT_SECRET"
POST_LOGIN = "post-login"
# Offset paging (page/per_page) only reaches the first 1000 records of a list.
OFFSET_PAGING_LIMIT = 1000
# Mint a new token this long before the old one expires (tokens live 24 h).
_TOKEN_EXPIRY_MARGIN = 300.0
_GRANT_SCOPE_HINT = (
    "In the Auth0 dashboard open Applications > APIs > Auth0 Management API > "
    "Machine To Machine Applications, expand the row of client {client_id} and tick {scopes}; "
    "then run the command again."
)
_EXPECTED_SCOPES = re.compile(r"expected (?:any|all) of:\s*(.+)$", re.IGNORECASE)
DEFAULT_EXPORT_FIELDS = (
    "user_id",
    "email",
    "name",
    "app_metadata",
    "last_login",
    "logins_count",
    "created_at",
)

T = TypeVar("T")


class OffsetListing(Generic[T]):
    """The items of an offset-paged list, fetched page by page while iterating.

    Auth0 serves only the first 1000 records of such a list. After iterating, `truncated`
    says whether that limit cut the list short (use an export job, or a narrower query, to
    see the rest) and `total` is the size Auth0 reported, when it did.
    """

    def __init__(
        self, fetch_page: Callable[[int, int], tuple[list[T], int | None]], per_page: int
    ) -> None:
        if not 1 <= per_page <= 100:
            raise ValueError("per_page must be between 1 and 100")
        self._fetch_page = fetch_page
        self.per_page = per_page
        self.truncated = False
        self.total: int | None = None

    def __iter__(self) -> Iterator[T]:
        self.truncated = False
        seen = 0
        page = 0
        while True:
            if (page + 1) * self.per_page > OFFSET_PAGING_LIMIT:
                self.truncated = self.total is None or self.total > seen
                return
            items, self.total = self._fetch_page(page, self.per_page)
            yield from items
            seen += len(items)
            if len(items) < self.per_page or (self.total is not None and seen >= self.total):
                return
            page += 1


class Auth0Client:
    """The Management API calls stiggctl needs, typed, retried and mapped to our errors."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        base_url = base_url.rstrip("/")
        if not base_url.startswith(("https://", "http://")):
            raise StiggctlError(
                ErrorCode.CONFIG_ERROR,
                f"The Auth0 URL {base_url!r} lacks https://.",
                "Give the tenant's domain as https://TENANT.REGION.auth0.com.",
            )
        self.base_url = base_url
        self.audience = f"{base_url}/api/v2/"
        self.client_id = client_id
        self._client_secret = client_secret
        self._retry = retry or RetryPolicy()
        self._gate = RateLimitGate(
            sleep=self._retry.sleep, clock=self._retry.clock, max_wait=self._retry.max_wait
        )
        self._http = http_client(
            transport=transport, timeout=timeout, headers={"Accept": "application/json"}
        )
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._scopes: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        return f"Auth0Client(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Auth0Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- token -------------------------------------------------------------------------

    def token_scopes(self) -> frozenset[str]:
        """The scopes granted to this client's token (minting it if not done yet)."""
        self._access_token()
        return self._scopes

    def _access_token(self) -> str:
        with self._token_lock:
            if self._token is None or self._retry.clock() >= self._token_expires_at:
                self._mint_token()
            assert self._token is not None
            return self._token

    def _mint_token(self) -> None:
        body = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "audience": self.audience,
        }
        request = self._http.build_request("POST", f"{self.base_url}/oauth/token", json=body)
        # Asking again for a token changes nothing on the server: safe to retry.
        response = self._send(request, idempotent=True)
        if response.is_error:
            raise self._token_error(response)
        payload = json_or_none(response)
        token = payload.get("access_token") if isinstance(payload, dict) else None
        if not isinstance(token, str) or not token:
            raise StiggctlError(
                ErrorCode.API_ERROR,
                "Auth0: the token endpoint answered without an access token.",
                "Check that the Auth0 URL points at the tenant's canonical domain.",
            )
        expires_in = payload.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 86400.0
        self._token = token
        self._token_expires_at = self._retry.clock() + max(lifetime - _TOKEN_EXPIRY_MARGIN, 0.0)
        self._scopes = frozenset(str(payload.get("scope") or "").split())

    def _token_error(self, response: httpx.Response) -> StiggctlError:
        body = json_or_none(response)
        body = body if isinstance(body, dict) else {}
        error = str(body.get("error") or "")
        description = str(body.get("error_description") or body.get("message") or "")
        message = self._redact(f"{error}: {description}" if description else error or "")
        status = response.status_code
        details = {"error": error} if error else None
        if status == 401:
            return StiggctlError(
                ErrorCode.AUTHENTICATION_FAILED,
                f"Auth0 rejected the client credentials of client {self.client_id} ({message}).",
                "Check the M2M application's client id and secret "
                f"({CLIENT_ID_SETTING} / {CLIENT_SECRET_SETTING}, or `stiggctl setup`).",
                status=status,
                details=details,
            )
        if status == 403:
            return StiggctlError(
                ErrorCode.PERMISSION_DENIED,
                f"Auth0 refused a Management API token to client {self.client_id} ({message}).",
                "Authorize the application for the Auth0 Management API: in the Auth0 dashboard "
                "open Applications > APIs > Auth0 Management API > Machine To Machine "
                f"Applications and switch on client {self.client_id} (this creates its "
                "client grant), with the scopes stiggctl needs.",
                status=status,
                details=details,
            )
        return from_http_status(
            status,
            f"token request failed ({message or response.reason_phrase})",
            service=SERVICE,
            details=details,
        )

    # -- transport ---------------------------------------------------------------------

    def _send(
        self, request: httpx.Request, *, idempotent: bool | None = None, stream: bool = False
    ) -> httpx.Response:
        def attempt() -> httpx.Response:
            self._gate.wait()
            response = self._http.send(request, stream=stream)
            self._gate.observe(response.headers)
            return response

        try:
            return self._retry.send(
                attempt, method=request.method, idempotent=idempotent, service=SERVICE
            )
        except httpx.TransportError as exc:
            raise from_exception(exc, service=SERVICE) from exc

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one Management API request; the parsed JSON body (None when empty)."""
        headers = {"Authorization": f"Bearer {self._access_token()}"}
        request = self._http.build_request(
            method,
            f"{self.base_url}/api/v2{path}",
            params=_query(params),
            json=body,
            headers=headers,
        )
        response = self._send(request, idempotent=idempotent)
        if response.is_error:
            raise self._api_error(response, method, path)
        return json_or_none(response) if response.content else None

    def _api_error(self, response: httpx.Response, method: str, path: str) -> StiggctlError:
        body = json_or_none(response)
        body = body if isinstance(body, dict) else {}
        message = self._redact(
            str(body.get("message") or body.get("error") or response.reason_phrase or "")
        )
        error_code = body.get("errorCode")
        status = response.status_code
        details: dict[str, Any] = {"request": f"{method} {path}"}
        if error_code:
            details["error_code"] = error_code
        hint: str | None = None
        if status == 403 and (
            error_code == "insufficient_scope" or "insufficient scope" in message.lower()
        ):
            scopes = expected_scopes(message)
            details["missing_scopes"] = scopes
            wanted = " or ".join(scopes) if scopes else "the scope it names"
            message = f"the M2M application lacks the scope {wanted} ({method} {path})"
            hint = _GRANT_SCOPE_HINT.format(client_id=self.client_id, scopes=wanted)
        elif status == 401:
            hint = (
                "Auth0 rejected the Management API token. Use the tenant's canonical domain "
                "(TENANT.REGION.auth0.com) as the Auth0 URL, not a custom domain, and check "
                f"{CLIENT_ID_SETTING} / {CLIENT_SECRET_SETTING}."
            )
        elif status == 409 and method == "DELETE" and path.startswith("/actions/actions/"):
            hint = "The action is bound to a trigger: unbind it first, or delete with force."
        elif status == 429:
            hint = "Auth0 rate limit reached even after waiting; try again in a minute."
        return from_http_status(status, message, service=SERVICE, hint=hint, details=details)

    def _redact(self, text: str) -> str:
        for secret in (self._client_secret, self._token):
            if secret:
                text = text.replace(secret, "***")
        return text

    # -- actions -----------------------------------------------------------------------

    def list_actions(
        self,
        *,
        name: str | None = None,
        trigger_id: str | None = POST_LOGIN,
        deployed: bool | None = None,
    ) -> list[Action]:
        """Actions of the tenant (at most 100 exist), optionally filtered by exact name."""
        params = {"actionName": name, "triggerId": trigger_id, "deployed": deployed}
        actions = [
            _parse(Action, item)
            for item in self._numbered_pages("/actions/actions", "actions", params)
        ]
        # `actionName` is documented as a filter, not as an exact match: make it one.
        return [a for a in actions if name is None or a.name == name]

    def find_action(self, name: str, *, trigger_id: str = POST_LOGIN) -> Action | None:
        """The action of that exact name on the trigger, or None."""
        found = self.list_actions(name=name, trigger_id=trigger_id)
        return found[0] if found else None

    def get_action(self, action_id: str) -> Action:
        return _parse(Action, self._call("GET", f"/actions/actions/{_id(action_id)}"))

    def create_action(
        self,
        *,
        name: str,
        code: str,
        secrets: Mapping[str, str] | None = None,
        dependencies: Mapping[str, str] | None = None,
        runtime: str = "node22",
        trigger_id: str = POST_LOGIN,
        trigger_version: str = "v3",
    ) -> Action:
        """Create an action (its draft starts building at once; status `pending`)."""
        body: dict[str, Any] = {
            "name": name,
            "supported_triggers": [{"id": trigger_id, "version": trigger_version}],
            "code": code,
            "runtime": runtime,
            "dependencies": _dependencies(dependencies or {}),
            "secrets": _secrets(secrets or {}),
        }
        return _parse(Action, self._call("POST", "/actions/actions", body=body))

    def update_action(
        self,
        action_id: str,
        *,
        code: str | None = None,
        secrets: Mapping[str, str] | None = None,
        dependencies: Mapping[str, str] | None = None,
        runtime: str | None = None,
    ) -> Action:
        """Update the draft with the fields given.

        `secrets` and `dependencies` replace Auth0's whole lists: pass every secret.
        """
        body: dict[str, Any] = {}
        if code is not None:
            body["code"] = code
        if runtime is not None:
            body["runtime"] = runtime
        if dependencies is not None:
            body["dependencies"] = _dependencies(dependencies)
        if secrets is not None:
            body["secrets"] = _secrets(secrets)
        return _parse(Action, self._call("PATCH", f"/actions/actions/{_id(action_id)}", body=body))

    def delete_action(self, action_id: str, *, force: bool = False) -> None:
        """Delete an action; a bound one only with `force` (else a conflict error)."""
        params = {"force": True} if force else None
        self._call("DELETE", f"/actions/actions/{_id(action_id)}", params=params)

    def deploy_action(self, action_id: str) -> ActionVersion:
        """Deploy the built draft as a new version (`deployed` turns true shortly after)."""
        return _parse(
            ActionVersion, self._call("POST", f"/actions/actions/{_id(action_id)}/deploy")
        )

    def list_action_versions(self, action_id: str) -> list[ActionVersion]:
        path = f"/actions/actions/{_id(action_id)}/versions"
        return [_parse(ActionVersion, item) for item in self._numbered_pages(path, "versions", {})]

    def get_action_version(self, action_id: str, version_id: str) -> ActionVersion:
        path = f"/actions/actions/{_id(action_id)}/versions/{_id(version_id)}"
        return _parse(ActionVersion, self._call("GET", path))

    def deploy_action_version(
        self, action_id: str, version_id: str, *, update_draft: bool = False
    ) -> ActionVersion:
        """Roll back: deploy an earlier version, as a new version number copying it."""
        path = f"/actions/actions/{_id(action_id)}/versions/{_id(version_id)}/deploy"
        return _parse(ActionVersion, self._call("POST", path, body={"update_draft": update_draft}))

    def list_triggers(self) -> list[Trigger]:
        payload = self._call("GET", "/actions/triggers") or {}
        return [_parse(Trigger, t) for t in payload.get("triggers", [])]

    def get_bindings(self, trigger_id: str = POST_LOGIN) -> list[Binding]:
        """The trigger's bindings in execution order."""
        path = f"/actions/triggers/{_id(trigger_id)}/bindings"
        return [_parse(Binding, b) for b in self._numbered_pages(path, "bindings", {})]

    def replace_bindings(
        self, bindings: Sequence[BindingUpdate], trigger_id: str = POST_LOGIN
    ) -> list[Binding]:
        """Write the trigger's whole ordered bindings list (Auth0 has no ETag: read back)."""
        body = {"bindings": [b.model_dump(exclude_none=True) for b in bindings]}
        path = f"/actions/triggers/{_id(trigger_id)}/bindings"
        payload = self._call("PATCH", path, body=body) or {}
        return [_parse(Binding, b) for b in payload.get("bindings", [])]

    # -- clients (applications) --------------------------------------------------------

    def list_clients(
        self, *, app_types: Sequence[str] | None = None, per_page: int = 50
    ) -> OffsetListing[Client]:
        params: dict[str, Any] = {"app_type": ",".join(app_types) if app_types else None}
        return self._offset_listing("/clients", "clients", params, Client, per_page)

    def get_client(self, client_id: str) -> Client:
        return _parse(Client, self._call("GET", f"/clients/{_id(client_id)}"))

    # -- users -------------------------------------------------------------------------

    def get_user(self, user_id: str) -> User:
        return _parse(User, self._call("GET", f"/users/{_id(user_id)}"))

    def update_user_app_metadata(self, user_id: str, app_metadata: Mapping[str, Any]) -> User:
        """Merge keys into app_metadata (first level only; a None value deletes the key)."""
        body = {"app_metadata": dict(app_metadata)}
        return _parse(User, self._call("PATCH", f"/users/{_id(user_id)}", body=body))

    def list_users(self, *, query: str | None = None, per_page: int = 50) -> OffsetListing[User]:
        """Users matching a Lucene `query` (first 1000 only: beyond, use an export job)."""
        params = {"q": query, "search_engine": "v3"}
        return self._offset_listing("/users", "users", params, User, per_page)

    def list_user_organizations(self, user_id: str) -> list[Organization]:
        path = f"/users/{_id(user_id)}/organizations"
        return list(self._offset_listing(path, "organizations", {}, Organization, 50))

    def create_users_export(
        self,
        *,
        fields: Sequence[str] = DEFAULT_EXPORT_FIELDS,
        connection_id: str | None = None,
        limit: int | None = None,
    ) -> Job:
        """Start a users export job (NDJSON, gzip-compressed): the way past 1000 users."""
        body: dict[str, Any] = {"format": "json", "fields": [{"name": f} for f in fields]}
        if connection_id is not None:
            body["connection_id"] = connection_id
        if limit is not None:
            body["limit"] = limit
        return _parse(Job, self._call("POST", "/jobs/users-exports", body=body))

    def get_job(self, job_id: str) -> Job:
        return _parse(Job, self._call("GET", f"/jobs/{_id(job_id)}"))

    def wait_for_job(
        self,
        job_id: str,
        *,
        poll_interval: float = 2.0,
        timeout: float = 600.0,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll a job until it is completed; failed or too slow jobs raise."""
        clock, sleep = self._retry.clock, self._retry.sleep
        deadline = clock() + timeout
        while True:
            job = self.get_job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job.status == "completed":
                return job
            if job.status == "failed":
                raise StiggctlError(
                    ErrorCode.API_ERROR,
                    f"Auth0: job {job_id} failed.",
                    "Start the export again; if it keeps failing, check the tenant's logs.",
                    details={"job": job.model_dump(exclude_none=True)},
                )
            if clock() + poll_interval > deadline:
                raise StiggctlError(
                    ErrorCode.TIMEOUT,
                    f"Auth0: job {job_id} still {job.status} after {timeout:g}s.",
                    "Large tenants export slowly; try again with a longer wait.",
                )
            sleep(poll_interval)

    def iter_export_users(self, location: str) -> Iterator[User]:
        """Stream the users of a completed export job's file, one at a time.

        `location` is the job's pre-signed download URL (valid about 60 s): it gets no
        Authorization header. The file is gzip-compressed NDJSON; an uncompressed file is
        read as well.
        """
        url = urljoin(f"{self.base_url}/", location)
        request = self._http.build_request("GET", url)
        response = self._send(request, stream=True)
        try:
            if response.is_error:
                response.read()
                raise from_http_status(
                    response.status_code,
                    "could not download the export file",
                    service=SERVICE,
                    hint="The download link expires about 60 s after the job completes; "
                    "run the export again.",
                )
            for record in _ndjson_records(response.iter_bytes()):
                yield _parse(User, record)
        except httpx.TransportError as exc:
            raise from_exception(exc, service=SERVICE) from exc
        except json.JSONDecodeError as exc:
            raise StiggctlError(
                ErrorCode.API_ERROR,
                f"Auth0: the export file is not newline-delimited JSON (line {exc.lineno}).",
                "Export with format json, then try again.",
            ) from None
        finally:
            response.close()

    # -- organizations -----------------------------------------------------------------

    def get_organization(self, org_id: str) -> Organization:
        return _parse(Organization, self._call("GET", f"/organizations/{_id(org_id)}"))

    def iter_organizations(self, *, take: int = 50) -> Iterator[Organization]:
        """Every organization of the tenant, streamed with checkpoint paging."""
        for item in self._checkpoint_items("/organizations", "organizations", take):
            yield _parse(Organization, item)

    def update_organization_metadata(
        self, org_id: str, metadata: Mapping[str, str | None]
    ) -> Organization:
        """Write the organization's metadata.

        Auth0 REPLACES the whole map: pass the current map with your change applied.
        """
        body = {"metadata": dict(metadata)}
        return _parse(Organization, self._call("PATCH", f"/organizations/{_id(org_id)}", body=body))

    def iter_organization_members(
        self, org_id: str, *, take: int = 50
    ) -> Iterator[OrganizationMember]:
        path = f"/organizations/{_id(org_id)}/members"
        for item in self._checkpoint_items(path, "members", take):
            yield _parse(OrganizationMember, item)

    # -- paging ------------------------------------------------------------------------

    def _numbered_pages(
        self, path: str, key: str, params: Mapping[str, Any], per_page: int = 50
    ) -> Iterator[Any]:
        """Items of the small page-numbered lists of the actions API (`{key, total}`)."""
        page = 0
        seen = 0
        while True:
            payload = self._call("GET", path, params={**params, "page": page, "per_page": per_page})
            items, total = _page_items(payload, key)
            yield from items
            seen += len(items)
            if len(items) < per_page or (total is not None and seen >= total):
                return
            page += 1

    def _offset_listing(
        self,
        path: str,
        key: str,
        params: Mapping[str, Any],
        model: type[ModelT],
        per_page: int,
    ) -> OffsetListing[ModelT]:
        def fetch(page: int, size: int) -> tuple[list[ModelT], int | None]:
            query = {**params, "page": page, "per_page": size, "include_totals": True}
            items, total = _page_items(self._call("GET", path, params=query), key)
            return [_parse(model, item) for item in items], total

        return OffsetListing(fetch, per_page)

    def _checkpoint_items(self, path: str, key: str, take: int) -> Iterator[Any]:
        """Follow `next` checkpoints until the last page (no `next`, or an empty page)."""
        if not 1 <= take <= 100:
            raise ValueError("take must be between 1 and 100")
        checkpoint: str | None = None
        while True:
            params: dict[str, Any] = {"take": take, "from": checkpoint}
            payload = self._call("GET", path, params=params)
            items, _ = _page_items(payload, key)
            yield from items
            checkpoint = payload.get("next") if isinstance(payload, dict) else None
            if not checkpoint or not items:
                return


def expected_scopes(message: str) -> list[str]:
    """The scopes named by Auth0's "Insufficient scope, expected any of: a,b" message."""
    match = _EXPECTED_SCOPES.search(message)
    if not match:
        return []
    return [s for s in re.split(r"[,\s]+", match.group(1).strip().rstrip(".")) if s]


def _id(value: str) -> str:
    """A path segment: ids such as `auth0|abc` become `auth0%7Cabc`."""
    return quote(value, safe="")


def _query(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    query = {}
    for key, value in params.items():
        if value is None:
            continue
        query[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return query


def _page_items(payload: Any, key: str) -> tuple[list[Any], int | None]:
    """Items and total of a page: a bare array, or an object holding `key` (and `total`)."""
    if isinstance(payload, list):
        return payload, None
    if isinstance(payload, dict):
        total = payload.get("total")
        return list(payload.get(key) or []), total if isinstance(total, int) else None
    return [], None


def _secrets(secrets: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in secrets.items()]


def _dependencies(dependencies: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "version": version} for name, version in dependencies.items()]


def _ndjson_records(chunks: Iterable[bytes]) -> Iterator[Any]:
    """JSON values of newline-delimited JSON, decompressing gzip on the fly if it is gzip."""
    buffer = b""
    for line_chunk in _gunzip_if_needed(chunks):
        buffer += line_chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)
    if buffer.strip():
        yield json.loads(buffer)


def _gunzip_if_needed(chunks: Iterable[bytes]) -> Iterator[bytes]:
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= 2:
            break
    if not head.startswith(b"\x1f\x8b"):
        yield head
        yield from stream
        return
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    for chunk in itertools.chain([head], stream):
        yield decompressor.decompress(chunk)
        # A gzip file may hold several members one after the other.
        while decompressor.eof and decompressor.unused_data:
            rest = decompressor.unused_data
            decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            yield decompressor.decompress(rest)
    yield decompressor.flush()
    if not decompressor.eof:
        raise StiggctlError(
            ErrorCode.API_ERROR,
            "Auth0: the export file ended early (truncated gzip).",
            "Run the export again.",
        )


def _parse(model: type[ModelT], payload: Any) -> ModelT:
    hint = "Check that the Auth0 URL is the tenant's domain."
    return parse_model(model, payload, service="Auth0", hint=hint)
