"""Route tables: each resource module lists its endpoints with the scopes they require."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from stiggctl.sandbox.auth0.state import Tenant
from stiggctl.sandbox.http import Request, Response


@dataclass
class Call:
    """One authorised request on its way to a handler."""

    req: Request
    tenant: Tenant
    params: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # under /api/v2, e.g. "/actions/actions/{id}"
    scopes: tuple[str, ...]  # any one suffices (Auth0: "expected any of")
    handler: Handler

    def match(self, method: str, segments: list[str]) -> dict[str, str] | None:
        pattern = [s for s in self.template.split("/") if s]
        if method != self.method or len(pattern) != len(segments):
            return None
        params: dict[str, str] = {}
        for expected, actual in zip(pattern, segments, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                params[expected[1:-1]] = actual
            elif expected != actual:
                return None
        return params


def find_route(routes: list[Route], method: str, segments: list[str]) -> tuple[Route, dict] | None:
    for route in routes:
        params = route.match(method, segments)
        if params is not None:
            return route, params
    return None
