"""The request and response shapes shared by the sandbox's emulators and its HTTP server.

Emulators are plain objects that turn a `Request` into a `Response`; the server (server.py)
owns sockets, threads and fault injection. Keeping HTTP out of the emulators lets tests drive
them directly and keeps one place where bytes meet the network.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote


@dataclass
class Request:
    method: str
    path: str  # raw path, without the query string; segments still percent-encoded
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # keys lower-cased
    body: bytes = b""

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Request:
        path, _, qs = target.partition("?")
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(qs, keep_blank_values=True),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
        )

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def segments(self) -> list[str]:
        """Path segments, percent-decoded (so `auth0%7C1` becomes `auth0|1`)."""
        return [unquote(s) for s in self.path.strip("/").split("/") if s]

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable value, bytes, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, str | None]:
        """The body as bytes and its content type."""
        if self.body is None:
            return b"", None
        if isinstance(self.body, bytes):
            return self.body, self.headers.get("content-type", "application/octet-stream")
        return json.dumps(self.body).encode(), "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, **headers: str) -> Response:
    return Response(status=status, body=body, headers=dict(headers))
