"""Waiting for Auth0: an action's build, and a deployed version going live.

Auth0 has no callback for either: poll with a growing interval (a build takes about 2 s, so
the first looks come quickly and later ones slow down to spare the rate limit), show the
state on the spinner, and give up at one deadline shared by every wait of the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import Action, ActionVersion
from stiggctl.errors import ErrorCode, StiggctlError
from stiggctl.output import Output

T = TypeVar("T")

RERUN_HINT = (
    "Run the command again: it continues from where this run stopped, and the version that "
    "was live stays live meanwhile."
)


@dataclass
class Waiter:
    """Polls until a condition holds, or the run's deadline passes."""

    timeout: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    first_interval: float = 0.5
    growth: float = 1.6
    max_interval: float = 2.0
    deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.timeout

    @classmethod
    def for_tenant(cls, base_url: str, timeout: float) -> Waiter:
        """A tenant on the internet is polled gently (a free tenant allows 2 requests/s and a
        build takes about 2 s); a sandbox on this machine can be looked at every 50 ms."""
        local = urlsplit(base_url).hostname in ("127.0.0.1", "localhost", "::1")
        return cls(timeout, first_interval=0.05 if local else 0.5)

    def until(
        self, poll: Callable[[], T | None], describe: Callable[[], str], *, look_first: bool = True
    ) -> T:
        """`poll()` until it returns something; `describe()` says what was still awaited.

        `look_first=False` waits one interval before the first look, for a state that was
        just reported unfinished (a build that has just been started).
        """
        interval = self.first_interval
        if not look_first:
            self.sleep(min(interval, max(self.deadline - self.clock(), 0.0)))
            interval = min(interval * self.growth, self.max_interval)
        while True:
            result = poll()
            if result is not None:
                return result
            remaining = self.deadline - self.clock()
            if remaining <= 0:
                raise StiggctlError(
                    ErrorCode.TIMEOUT,
                    f"{describe()} after {self.timeout:g}s (--timeout).",
                    RERUN_HINT,
                )
            self.sleep(min(interval, remaining))
            interval = min(interval * self.growth, self.max_interval)


def wait_for_build(auth0: Auth0Client, waiter: Waiter, out: Output, action: Action) -> Action:
    """The action once its draft is built; a failed build raises with Auth0's build errors."""
    last = {"status": action.status or "pending"}

    with out.status(f"Building {action.name!r}: {last['status']}") as show:

        def poll() -> Action | None:
            current = auth0.get_action(action.id)
            last["status"] = str(current.status)
            show(f"Building {action.name!r}: {current.status}")
            if current.status == "failed":
                raise build_failed(auth0, current)
            return current if current.status == "built" else None

        return waiter.until(
            poll,
            lambda: f"The build of {action.name!r} was still {last['status']}",
            look_first=action.status in (None, "built", "failed"),
        )


def wait_until_live(
    auth0: Auth0Client, waiter: Waiter, out: Output, action: Action, version: ActionVersion
) -> Action:
    """The action once `version` (or a later one, deployed by another run) is live."""
    number = version.number or 0
    with out.status(f"Deploying {action.name!r} v{number}") as show:

        def poll() -> Action | None:
            current = auth0.get_action(action.id)
            live = current.deployed_version
            show(f"Deploying {action.name!r} v{number} (live: v{live.number if live else '-'})")
            if live is not None and (live.id == version.id or (live.number or 0) >= number):
                return current
            return None

        return waiter.until(
            poll,
            lambda: f"Version {number} of {action.name!r} was not live yet",
            look_first=version.deployed,
        )


def build_errors(auth0: Auth0Client, action_id: str) -> list[str]:
    """The draft's build errors, where Auth0 reports them.

    The action object carries only the status; the errors are on the draft version, read as
    version id `draft` (the id Auth0 uses for the draft in its version routes). A tenant that
    does not answer it gives no details rather than a second failure.
    """
    try:
        draft = auth0.get_action_version(action_id, "draft")
    except StiggctlError as exc:
        if exc.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_INPUT):
            return []
        raise
    return [error.msg or error.id or "unknown error" for error in draft.errors]


def build_failed(auth0: Auth0Client, action: Action) -> StiggctlError:
    errors = build_errors(auth0, action.id)
    live = action.deployed_version
    stays = f"v{live.number} stays live" if live else "nothing was deployed"
    detail = f": {'; '.join(errors)}" if errors else ""
    return StiggctlError(
        ErrorCode.BUILD_FAILED,
        f"The build of {action.name!r} failed{detail} ({stays}).",
        "See the build log in the Auth0 dashboard (Actions > Library > "
        f"{action.name}); fix the profile or the template, then deploy again.",
        details={"action_id": action.id, "build_errors": errors},
    )
