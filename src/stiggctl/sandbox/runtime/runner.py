"""Runs the actions bound to Auth0's post-login trigger in Node.js, the way Auth0 does.

One `node` process per login (or per code check) runs runner.js: JSON in on stdin, one
message per line out on stdout. Every message line carries a random nonce chosen for the run,
and runner.js routes the actions' own writes to their captured console, so nothing an action
prints can pass for a result. Messages stream as things happen; a run killed at its deadline
still reports what it did up to then.

Semantics follow Auth0's post-login runtime: actions run in order, each in a module scope
of its own with its own `event.secrets`; `api.access.deny` lets the denying action finish and
skips the later ones; an action that throws fails the login; the whole run has `timeout_s`
(Auth0: 20 s). Metadata and claims are returned for a run that completed (allowed or
denied): a login that failed on an error or a timeout saves nothing (Auth0 does not say
otherwise; unverified). Cache changes are applied to the `ActionCache` in every case: Auth0's
cache is a service that an action writes to directly.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets as secrets_module
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any, Literal

from stiggctl.errors import ErrorCode, StiggctlError
from stiggctl.sandbox.runtime.cache import ActionCache

ActionStatus = Literal["ok", "denied", "error", "timeout", "skipped"]

AUTH0_TIMEOUT_S = 20.0
CHECK_TIMEOUT_S = 5.0
# Auth0 keeps this many characters of an action's console output in its logs.
AUTH0_CONSOLE_CHARS = 256

# Secrets whose names say they are credentials are masked wherever the run's report shows
# text (console, errors, URLs, recorded api calls); the effects (metadata) stay exact.
_CREDENTIAL_NAME = re.compile(r"secret|key|token|passw|credential|private", re.IGNORECASE)
_REDACTED = "[redacted]"


@dataclass(frozen=True)
class ActionSpec:
    id: str
    name: str
    code: str = field(repr=False)
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass
class ActionRun:
    id: str
    name: str
    status: ActionStatus = "skipped"
    error: str | None = None
    duration_ms: float = 0.0
    console: list[str] = field(default_factory=list)
    # True when Auth0's logs would have cut this console output (256 characters per action).
    console_truncated: bool = False
    # Each: {"method", "url", "status", "duration_ms"} and "error" when no answer came. The
    # duration runs until the response headers arrived; a run's first call also includes
    # Node's one-time set-up of fetch (some 20-40 ms), as on a cold Auth0 execution.
    http_calls: list[dict[str, Any]] = field(default_factory=list)
    # Each api call in order: {"method": "user.setAppMetadata", "args": [...]}, with "result"
    # for cache calls and "late": true for calls made after the handler had finished.
    api_calls: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoginRun:
    allowed: bool
    deny_reason: str | None
    denied_by: str | None
    error: str | None  # why the login failed, when an action threw or the run timed out
    actions: list[ActionRun]
    # First-level updates in call order; None means delete the key (as Auth0's PATCH does).
    app_metadata: dict[str, Any]
    user_metadata: dict[str, Any]
    id_token_claims: dict[str, Any]
    access_token_claims: dict[str, Any]
    duration_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_code(code: str, *, timeout_s: float = CHECK_TIMEOUT_S, node: str = "node") -> list[str]:
    """Build errors for an action's code: it does not parse, its top-level code fails, or it
    exports no `onExecutePostLogin` function. Empty when the code is fine.

    The module's top-level code is evaluated (that is the only sure way to see its exports)
    with every network path refused: a check never reaches the network.
    """
    outcome = _run_node({"mode": "check", "code": code}, node=node, timeout_s=timeout_s)
    for message in outcome.messages:
        if message.get("t") == "check":
            return [str(error) for error in message["errors"]]
    if outcome.timed_out:
        return [f"The module's top-level code did not finish within {timeout_s:g} s"]
    if not _runner_started(outcome):
        raise _runtime_failure(outcome)
    return [f"The module's top-level code ended the process (exit status {outcome.returncode})"]


def run_post_login(
    actions: list[ActionSpec],
    event: dict[str, Any],
    cache: ActionCache,
    *,
    timeout_s: float = AUTH0_TIMEOUT_S,
    clock: Callable[[], float] = time.time,
    node: str = "node",
    ca_file: str | None = None,
) -> LoginRun:
    """Run `actions` in order on `event` (which gets each action's own `secrets`).

    `clock` is the sandbox's time (epoch seconds): the actions' `Date` starts from it and
    their cache entries expire by it, so pass the same clock as the cache's. `ca_file`: a
    CA that the actions' `fetch` trusts besides the usual ones (a sandbox served over TLS).
    """
    started = time.perf_counter()
    report = _RunReport(actions)
    if actions:
        payload = {
            "mode": "login",
            "now_ms": int(clock() * 1000),
            "event": event,
            "cache": cache.entries(),
            "actions": [
                {"id": a.id, "name": a.name, "code": a.code, "secrets": a.secrets} for a in actions
            ],
        }
        outcome = _run_node(payload, node=node, timeout_s=timeout_s, ca_file=ca_file)
        if not _runner_started(outcome):
            raise _runtime_failure(outcome)
        for message in outcome.messages:
            report.handle(message)
        report.finish(outcome, timeout_s)
        report.apply_cache_changes(cache)
    login = report.login_run(round((time.perf_counter() - started) * 1000, 1))
    return _redacted(login, _credential_values(actions))


class _RunReport:
    """Builds a LoginRun from the stream of messages of runner.js."""

    def __init__(self, actions: list[ActionSpec]) -> None:
        self.runs = [ActionRun(id=a.id, name=a.name) for a in actions]
        self.running: int | None = None
        self.done = not actions  # no action bound: nothing to run, the login goes on
        self.effects: list[tuple[int, str, list[Any]]] = []
        self.cache_changes: list[dict[str, Any]] = []
        self.http: dict[tuple[int, int], dict[str, Any]] = {}
        self.deny_reason: str | None = None

    def handle(self, message: dict[str, Any]) -> None:
        kind = message.get("t")
        index = message.get("i")
        run = self.runs[index] if isinstance(index, int) else None
        if kind == "start" and run is not None:
            self.running = index
        elif kind == "log" and run is not None:
            run.console.append(message["line"])
        elif kind == "http" and run is not None:
            call = {"method": message["method"], "url": message["url"], "status": None}
            call["duration_ms"] = None
            self.http[(index, message["call"])] = call
            run.http_calls.append(call)
        elif kind == "http_end" and (call := self.http.get((index, message.get("call")))):
            call["status"] = message.get("status")
            call["duration_ms"] = message.get("ms")
            if "error" in message:
                call["error"] = message["error"]
        elif kind == "api" and run is not None:
            record = {k: message[k] for k in ("method", "args", "result", "late") if k in message}
            run.api_calls.append(record)
            if not message.get("late"):
                self.effects.append((index, message["method"], message["args"]))
        elif kind == "cache":
            self.cache_changes.append(message)
        elif kind == "end" and run is not None:
            run.status = message["status"]
            run.error = message.get("error")
            run.duration_ms = message.get("ms", 0.0)
            if run.status == "denied":
                self.deny_reason = message.get("deny_reason")
            self.running = None
        elif kind == "done":
            self.done = True
        elif kind == "stray" and self.running is not None:
            # Output that bypassed the runner (written to the file descriptor, or by a child
            # process): it belongs to the action running at that moment.
            self.runs[self.running].console.append(message["line"])

    def finish(self, outcome: _NodeOutcome, timeout_s: float) -> None:
        if not self.done:
            unfinished = self.running if self.running is not None else self._first_not_run()
            if unfinished is not None:
                run = self.runs[unfinished]
                if outcome.timed_out:
                    run.status = "timeout"
                    run.error = f"The login's actions did not finish within {timeout_s:g} s"
                else:
                    run.status = "error"
                    run.error = _exit_description(outcome)
        for call in self.http.values():
            if call["status"] is None and "error" not in call:
                call["error"] = "No response before the run ended"
        for run in self.runs:
            text = "\n".join(run.console)
            run.console_truncated = len(text) > AUTH0_CONSOLE_CHARS

    def _first_not_run(self) -> int | None:
        for index, run in enumerate(self.runs):
            if run.status == "skipped":
                return index
        return None

    def apply_cache_changes(self, cache: ActionCache) -> None:
        # Another login may have changed the cache meanwhile: a change that no longer fits
        # is dropped, as Auth0's cache may drop any entry.
        for change in self.cache_changes:
            if change.get("op") == "set":
                cache.set(change["key"], change["value"], expires_at_ms=change["expires_at"])
            elif change.get("op") == "delete":
                cache.delete(change["key"])

    def login_run(self, duration_ms: float) -> LoginRun:
        denied = next((r for r in self.runs if r.status == "denied"), None)
        failed = next((r for r in self.runs if r.status in ("error", "timeout")), None)
        completed = self.done and failed is None
        updates: dict[str, dict[str, Any]] = {
            "user.setAppMetadata": {},
            "user.setUserMetadata": {},
            "idToken.setCustomClaim": {},
            "accessToken.setCustomClaim": {},
        }
        if completed:
            for _, method, args in self.effects:
                if method in updates and len(args) == 2:
                    updates[method][str(args[0])] = args[1]
        return LoginRun(
            allowed=completed and denied is None,
            deny_reason=self.deny_reason if denied and completed else None,
            denied_by=denied.name if denied and completed else None,
            error=f"{failed.name}: {failed.error}" if failed else None,
            actions=self.runs,
            app_metadata=updates["user.setAppMetadata"],
            user_metadata=updates["user.setUserMetadata"],
            id_token_claims=updates["idToken.setCustomClaim"],
            access_token_claims=updates["accessToken.setCustomClaim"],
            duration_ms=duration_ms,
        )


@dataclass
class _NodeOutcome:
    messages: list[dict[str, Any]]  # in stream order, with {"t": "stray", "line"} for others
    stdout: bytes
    stderr: bytes
    returncode: int | None
    timed_out: bool


def _run_node(
    payload: dict[str, Any], *, node: str, timeout_s: float, ca_file: str | None = None
) -> _NodeOutcome:
    executable = shutil.which(node)
    if executable is None:
        raise StiggctlError(
            ErrorCode.CONFIG_ERROR,
            f"Node.js ({node}) was not found: the sandbox runs Auth0 actions with it.",
            "Install Node.js 20 or later and make sure `node` is on PATH.",
        )
    nonce = secrets_module.token_hex(16)
    stdin = json.dumps({**payload, "nonce": nonce}).encode()
    script = resources.files(__package__).joinpath("runner.js")
    with resources.as_file(script) as script_path:
        process = subprocess.Popen(
            [executable, str(script_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_node_environment(ca_file),
            # Its own process group, so a timeout also ends whatever the actions started.
            start_new_session=os.name == "posix",
        )
        try:
            stdout, stderr = process.communicate(stdin, timeout=timeout_s)
            timed_out = False
        except subprocess.TimeoutExpired:
            _kill(process)
            stdout, stderr = process.communicate()
            timed_out = True
        except BaseException:  # Ctrl-C included: its own session shields node from the signal
            _kill(process)
            process.wait()
            raise
    messages = _parse_stream(stdout, nonce)
    if any(m.get("t") == "done" for m in messages):
        timed_out = False  # finished in time; only a leftover child held the pipe open
    return _NodeOutcome(messages, stdout, stderr, process.returncode, timed_out)


def _node_environment(ca_file: str | None = None) -> dict[str, str]:
    # Nothing of this process's environment (which may hold the tool's own credentials)
    # reaches the actions; UTC as on Auth0's servers.
    environment = {"TZ": "UTC", "PATH": os.environ.get("PATH", "")}
    if ca_file:
        environment["NODE_EXTRA_CA_CERTS"] = ca_file
    if "SYSTEMROOT" in os.environ:  # Windows needs it for sockets
        environment["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return environment


def _kill(process: subprocess.Popen[bytes]) -> None:
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()


def _parse_stream(stdout: bytes, nonce: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    # Split on "\n" only: JSON text may hold U+2028 and other characters splitlines() cuts at.
    for line in stdout.decode("utf-8", "replace").split("\n"):
        at = line.find(nonce)
        if at < 0:
            if line:
                messages.append({"t": "stray", "line": line})
            continue
        if at > 0:
            messages.append({"t": "stray", "line": line[:at]})
        try:
            messages.append(json.loads(line[at + len(nonce) :]))
        except ValueError:
            messages.append({"t": "stray", "line": line})
    return messages


def _runner_started(outcome: _NodeOutcome) -> bool:
    # A timeout may come before the runner said anything (a machine under load): that is a
    # slow login, not a broken runtime.
    return outcome.timed_out or any(m.get("t") == "ready" for m in outcome.messages)


def _exit_description(outcome: _NodeOutcome) -> str:
    detail = _stderr_tail(outcome)
    text = f"The action runtime ended unexpectedly (exit status {outcome.returncode})"
    return f"{text}: {detail}" if detail else text


def _stderr_tail(outcome: _NodeOutcome) -> str:
    fatal = [m["error"] for m in outcome.messages if m.get("t") == "fatal"]
    if fatal:
        return fatal[0].splitlines()[0]
    lines = [line for line in outcome.stderr.decode("utf-8", "replace").splitlines() if line]
    return lines[-1] if lines else ""


def _runtime_failure(outcome: _NodeOutcome) -> StiggctlError:
    return StiggctlError(
        ErrorCode.INTERNAL_ERROR,
        _exit_description(outcome),
        "Check that `node --version` is 20 or later.",
    )


def _credential_values(actions: list[ActionSpec]) -> list[str]:
    values = {
        value
        for action in actions
        for name, value in action.secrets.items()
        if _CREDENTIAL_NAME.search(name) and isinstance(value, str) and len(value) >= 4
    }
    # Longest first, so a secret that contains another is masked whole.
    return sorted(values, key=len, reverse=True)


def _mask(value: Any, credentials: list[str]) -> Any:
    if isinstance(value, str):
        for credential in credentials:
            value = value.replace(credential, _REDACTED)
        return value
    if isinstance(value, list):
        return [_mask(item, credentials) for item in value]
    if isinstance(value, dict):
        return {key: _mask(item, credentials) for key, item in value.items()}
    return value


def _redacted(login: LoginRun, credentials: list[str]) -> LoginRun:
    if not credentials:
        return login
    for run in login.actions:
        run.error = _mask(run.error, credentials)
        run.console = _mask(run.console, credentials)
        run.http_calls = _mask(run.http_calls, credentials)
        run.api_calls = _mask(run.api_calls, credentials)
    login.error = _mask(login.error, credentials)
    login.deny_reason = _mask(login.deny_reason, credentials)
    return login
