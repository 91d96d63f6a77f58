"""Shared helpers for the Auth0 emulator's tests (no tests here): an emulator on a frozen
clock, a tiny API driver over `handle()`, and the contract's JSON schemas."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from stiggctl.sandbox.auth0 import Auth0Emulator
from stiggctl.sandbox.auth0.seed import seed_demo, seed_empty
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.http import Request, Response

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
BASE_URL = "http://127.0.0.1:48123"
AUDIENCE = f"{BASE_URL}/api/v2/"
M2M_ID = "m2mTestClient0000000000000000001"
M2M_SECRET = "m2m-secret-value-that-must-never-leak"
GOOD_CODE = "exports.onExecutePostLogin = async (event, api) => {};\n"
BROKEN_CODE = "exports.onExecutePostLogin = async (event, api) => {"


def fake_checker(code: str) -> list[str]:
    """Stands in for the runtime's check_code: the tests decide what fails to build."""
    return ["SyntaxError: Unexpected end of input"] if code == BROKEN_CODE else []


def make_emulator(
    *,
    seed: str | None = "demo",
    build_seconds: float = 0.6,
    rate_limit_per_second: float | None = None,
    code_checker: Callable[[str], list[str]] | None = fake_checker,
) -> tuple[Auth0Emulator, Clock]:
    """An emulator on a frozen clock; `code_checker=None` keeps the emulator's default."""
    clock = Clock(start=START)
    emu = Auth0Emulator(
        clock=clock,
        build_seconds=build_seconds,
        code_checker=code_checker,
        rate_limit_per_second=rate_limit_per_second,
    )
    emu.base_url = BASE_URL
    if seed == "demo":
        seed_demo(emu, m2m_client_id=M2M_ID, m2m_client_secret=M2M_SECRET)
    elif seed == "empty":
        seed_empty(emu, m2m_client_id=M2M_ID, m2m_client_secret=M2M_SECRET)
    return emu, clock


def token_request(
    emu: Auth0Emulator,
    params: dict[str, str],
    *,
    form: bool = False,
    headers: dict[str, str] | None = None,
) -> Response:
    if form:
        body = urlencode(params).encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(params).encode()
        content_type = "application/json"
    all_headers = {"content-type": content_type, **(headers or {})}
    return emu.handle(Request.build("POST", "/oauth/token", all_headers, body))


def mint_token(emu: Auth0Emulator, client_id: str = M2M_ID, client_secret: str = M2M_SECRET) -> str:
    response = token_request(
        emu,
        {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "audience": AUDIENCE,
        },
    )
    assert response.status == 200, response.body
    return response.body["access_token"]


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def user_path(user_id: str) -> str:
    return f"/api/v2/users/{quote(user_id, safe='')}"


class Api:
    """Calls `handle()` the way an HTTP client would: bearer token, JSON bodies."""

    def __init__(self, emu: Auth0Emulator, token: str | None = None) -> None:
        self.emu = emu
        self.token = token if token is not None else mint_token(emu)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        raw: bytes | None = None,
    ) -> Response:
        # Paths are written relative to the Management API unless they say otherwise.
        target = path if path.startswith(("/api/v2", "/_")) else "/api/v2" + path
        if query:
            target += "?" + urlencode(query)
        headers = {"authorization": f"Bearer {self.token}", "content-type": "application/json"}
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        return self.emu.handle(Request.build(method, target, headers, payload))

    def get(self, path: str, **query: Any) -> Response:
        return self.call("GET", path, query=query or None)

    def post(self, path: str, body: Any = None, **query: Any) -> Response:
        return self.call("POST", path, body, query=query or None)

    def patch(self, path: str, body: Any) -> Response:
        return self.call("PATCH", path, body)

    def delete(self, path: str, **query: Any) -> Response:
        return self.call("DELETE", path, query=query or None)


def api_error(status: int, error: str, message: str, code: str | None = None) -> dict:
    body: dict[str, Any] = {"statusCode": status, "error": error, "message": message}
    if code is not None:
        body["errorCode"] = code
    return body


class Contract:
    """Auth0's OpenAPI subset: JSON Schema (Draft 2020-12) validation of bodies, with
    `#/components/schemas/...` references resolved against the document."""

    URI = "urn:auth0-management-api"
    # Live tenants answer 200 where the published spec says 202 (see the contracts README).
    LIVE_STATUS: ClassVar[dict[str, str]] = {"202": "200"}

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(self.URI, resource)

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        return Draft202012Validator(schema, registry=self.registry)

    def component(self, name: str) -> dict[str, Any]:
        return {"$ref": f"{self.URI}#/components/schemas/{name}"}

    def _operation(self, method: str, template: str) -> dict[str, Any]:
        return self.spec["paths"][template][method.lower()]

    def _relative(self, schema: Any) -> Any:
        """`schema` with its document-relative references (`#/...`) made absolute."""
        if isinstance(schema, dict):
            return {
                key: self.URI + value
                if key == "$ref" and isinstance(value, str) and value.startswith("#")
                else self._relative(value)
                for key, value in schema.items()
            }
        if isinstance(schema, list):
            return [self._relative(item) for item in schema]
        return schema

    def errors(self, schema: dict[str, Any], instance: Any) -> list[str]:
        return [e.message for e in self._validator(schema).iter_errors(instance)]

    def response_schema(self, method: str, template: str, status: int) -> dict[str, Any]:
        responses = self._operation(method, template)["responses"]
        key = next((k for k in responses if self.LIVE_STATUS.get(k, k) == str(status)), str(status))
        schema = responses[key]["content"]["application/json"]["schema"]
        return self._loosen_one_of(schema)

    def _loosen_one_of(self, schema: dict[str, Any]) -> dict[str, Any]:
        # The list responses are `oneOf` [array, offset body, checkpoint body], and the
        # object branches overlap (`{"organizations": [...]}`, a last checkpoint page, fits
        # both), so a correct body can match two branches; what matters is that it matches
        # one. The branch a test expects is checked with `component()` where it matters.
        ref = schema.get("$ref")
        target = schema
        if ref is not None:
            target = self.spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        if "oneOf" in target:
            return {"anyOf": [self._relative(branch) for branch in target["oneOf"]]}
        if "oneOf" in schema:
            return {"anyOf": [self._relative(branch) for branch in schema["oneOf"]]}
        return self._relative(schema)

    def request_schema(self, method: str, template: str) -> dict[str, Any]:
        body = self._operation(method, template)["requestBody"]
        return self._relative(body["content"]["application/json"]["schema"])

    def check_response(self, method: str, template: str, response: Response) -> None:
        schema = self.response_schema(method, template, response.status)
        problems = self.errors(schema, response.body)
        assert problems == [], f"{method} {template}: {problems}"

    def check_request(self, method: str, template: str, body: Any) -> None:
        problems = self.errors(self.request_schema(method, template), body)
        assert problems == [], f"{method} {template} request: {problems}"
