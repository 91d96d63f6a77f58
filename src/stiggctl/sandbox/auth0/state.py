"""The tenant: every record the emulator keeps, as plain JSON data, plus time and ids.

Records are stored the way `snapshot()` writes them (dicts, lists, strings, numbers), so a
`--state` file is the data itself and `restore()` needs no conversion. Times are epoch
seconds from the injected clock; the API's ISO strings are made at the edge.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

STATE_FORMAT = 1
DEFAULT_CONNECTION = {
    "id": "con_sandboxDb0000001",
    "name": "Username-Password-Authentication",
    "strategy": "auth0",
}
# Epoch seconds near 1.7e9 carry only about a microsecond of precision: a clock advanced by
# exactly the build time must find the build finished.
TIME_TOLERANCE = 1e-6
_ID_NAMESPACE = uuid.UUID("6f1d3a52-4d0c-4d7e-9a39-5f0f1c2b7e10")


def iso(ts: float) -> str:
    """Epoch seconds as Auth0 writes dates: `2024-05-01T12:00:00.000Z`."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def secret_digest(secret: str) -> str:
    # Client secrets are kept only as digests so that a snapshot never holds one.
    return hashlib.sha256(secret.encode()).hexdigest()


def empty_state() -> dict[str, Any]:
    return {
        "format": STATE_FORMAT,
        "tenant_name": "sandbox",
        "signing_key": secrets.token_hex(32),
        "counter": 0,
        "tokens_issued": 0,
        "connections": [dict(DEFAULT_CONNECTION)],
        "clients": {},
        "grants": {},
        "actions": {},
        "bindings": {},
        "users": {},
        "organizations": {},
        "members": {},
        "jobs": {},
    }


class Tenant:
    """The data of one tenant and the services every resource needs (time, ids, config)."""

    def __init__(
        self,
        clock: Callable[[], float],
        build_seconds: float,
        code_checker: Callable[[str], list[str]] | None,
    ) -> None:
        self.clock = clock
        self.build_seconds = build_seconds
        self._code_checker = code_checker
        self.base_url = "http://127.0.0.1"
        self.data = empty_state()

    # ---- configuration ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.data["tenant_name"]

    @property
    def hostname(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/"

    @property
    def management_audience(self) -> str:
        return f"{self.base_url}/api/v2/"

    @property
    def signing_key(self) -> bytes:
        return bytes.fromhex(self.data["signing_key"])

    # ---- time and ids ----------------------------------------------------------------------

    def now(self) -> float:
        return self.clock()

    def elapsed_since(self, start: float) -> float:
        return self.clock() - start + TIME_TOLERANCE

    def now_iso(self) -> str:
        return iso(self.clock())

    def next_seq(self) -> int:
        """A number larger than any given before (creation order, checkpoints)."""
        self.data["counter"] += 1
        return self.data["counter"]

    def new_uuid(self, kind: str) -> str:
        # Deterministic (a counter kept in the state) so that tests and demos repeat exactly.
        return str(uuid.uuid5(_ID_NAMESPACE, f"{kind}:{self.next_seq()}"))

    def new_prefixed_id(self, prefix: str) -> str:
        """`job_...`, `org_...`: Auth0's prefix and 16 alphanumeric characters."""
        digest = hashlib.sha256(f"{prefix}:{self.next_seq()}".encode()).hexdigest()
        return f"{prefix}_{digest[:16]}"

    # ---- builds ----------------------------------------------------------------------------

    def check_code(self, code: str) -> list[str]:
        """Build errors for `code` (empty when it builds)."""
        checker = self._code_checker
        try:
            if checker is None:
                from stiggctl.sandbox.runtime import check_code as checker
            return list(checker(code))
        except Exception as exc:  # a checker that cannot run is a build that cannot finish
            return [f"Build failed: {exc}"]

    # ---- snapshot --------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.data)

    def restore(self, data: dict[str, Any]) -> None:
        if data.get("format") != STATE_FORMAT:
            raise ValueError(
                f"unsupported Auth0 sandbox state format {data.get('format')!r} "
                f"(expected {STATE_FORMAT})"
            )
        fresh = empty_state()
        missing = set(fresh) - set(data)
        if missing:
            raise ValueError(f"Auth0 sandbox state lacks {', '.join(sorted(missing))}")
        self.data = copy.deepcopy(data)
