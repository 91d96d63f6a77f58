"""The sandbox: Auth0 and Stigg emulators, the post-login runtime and fault injection behind
one HTTP port on 127.0.0.1.

Routes: Stigg at `POST /graphql`; the sandbox's control plane at `/_sandbox/...`; everything
else is Auth0 (`/oauth/token`, `/api/v2/...`, export downloads).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.faults import Fault, FaultPlan
from stiggctl.sandbox.http import Request, Response, json_response

Seed = Literal["demo", "empty"]
STATE_VERSION = 1
M2M_CLIENT_ID = "stiggctl-m2m-client"
ACTION_CLIENT_ID = "stiggctl-action-client"


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` whole or not at all, readable by its owner only: the sandbox's state
    and info files hold its credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 0
    seed: Seed = "demo"
    state_file: Path | None = None
    faults: FaultPlan = field(default_factory=FaultPlan)
    build_seconds: float = 0.6
    rate_limit_per_second: float | None = None
    clock: Clock = field(default_factory=Clock)
    node: str = "node"
    # Serve HTTPS with a certificate for 127.0.0.1/localhost from a CA made at start-up, so
    # SDKs and tools that insist on https://{domain} can be pointed at the sandbox.
    tls: bool = False
    ca_file: Path | None = None  # where to write that CA's certificate (PEM)
    # Seed a second M2M client for the Action alone (update:organizations only).
    action_client: bool = False


class Sandbox:
    """The emulators and their state; `SandboxServer` puts them on the network."""

    def __init__(self, options: SandboxOptions) -> None:
        from stiggctl.sandbox.auth0 import Auth0Emulator
        from stiggctl.sandbox.runtime import ActionCache
        from stiggctl.sandbox.stigg import StiggEmulator

        self.options = options
        self.clock = options.clock
        self.faults = options.faults
        self.auth0 = Auth0Emulator(
            clock=self.clock,
            build_seconds=options.build_seconds,
            rate_limit_per_second=options.rate_limit_per_second,
            rate_clock=time.time,
        )
        self.credentials: dict[str, str] = {}
        self.stigg: StiggEmulator | None = None
        self.cache = ActionCache(clock=self.clock)
        self.logins: list[dict[str, Any]] = []
        # Every vendor request answered (method, path, status), for tests and benchmarks
        # that count calls and writes; bounded so a long-running sandbox stays small.
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._state_lock = threading.Lock()
        self._login_lock = threading.Lock()
        self.ca_file: Path | None = None
        restored = self._restore(options.state_file)
        if not restored:
            self._seed(options.seed)

    # State ------------------------------------------------------------------------------

    def _make_stigg(self, api_key: str):
        from stiggctl.sandbox.stigg import StiggEmulator

        return StiggEmulator(api_keys={api_key}, clock=self.clock)

    def _seed(self, seed: Seed) -> None:
        from stiggctl.sandbox.auth0 import seed as auth0_seed
        from stiggctl.sandbox.stigg import seed as stigg_seed

        self.credentials = {
            "auth0_client_id": M2M_CLIENT_ID,
            "auth0_client_secret": "sandbox-" + secrets.token_urlsafe(24),
            "stigg_api_key": "server-sandbox-" + secrets.token_urlsafe(18),
        }
        if self.options.action_client:
            self.credentials["action_client_id"] = ACTION_CLIENT_ID
            self.credentials["action_client_secret"] = "sandbox-action-" + secrets.token_urlsafe(24)
        self.stigg = self._make_stigg(self.credentials["stigg_api_key"])
        seed_auth0 = auth0_seed.seed_demo if seed == "demo" else auth0_seed.seed_empty
        seed_stigg = stigg_seed.seed_demo if seed == "demo" else stigg_seed.seed_empty
        seed_auth0(
            self.auth0,
            m2m_client_id=self.credentials["auth0_client_id"],
            m2m_client_secret=self.credentials["auth0_client_secret"],
            action_client_id=self.credentials.get("action_client_id"),
            action_client_secret=self.credentials.get("action_client_secret"),
        )
        seed_stigg(self.stigg)

    def _restore(self, path: Path | None) -> bool:
        if path is None or not path.exists():
            return False
        from stiggctl.errors import ErrorCode, StiggctlError

        try:
            data = json.loads(path.read_text())
            if data.get("version") != STATE_VERSION:
                raise ValueError(f"state version {data.get('version')!r} is not {STATE_VERSION}")
            self.credentials = data["credentials"]
            self.stigg = self._make_stigg(self.credentials["stigg_api_key"])
            self.auth0.restore(data["auth0"])
            self.stigg.restore(data["stigg"])
            self.cache.restore(data.get("cache", {}))
            self.clock.advance(float(data.get("clock_offset", 0.0)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StiggctlError(
                ErrorCode.CONFIG_ERROR,
                f"Cannot restore the sandbox state from {path}: {exc}.",
                "Remove the file to start from a fresh seed, or give another --state path.",
            ) from None
        return True

    def snapshot(self) -> dict[str, Any]:
        assert self.stigg is not None
        return {
            "version": STATE_VERSION,
            "credentials": self.credentials,
            "auth0": self.auth0.snapshot(),
            "stigg": self.stigg.snapshot(),
            "cache": self.cache.snapshot(),
            "clock_offset": self.clock() - time.time(),
        }

    def save(self) -> None:
        path = self.options.state_file
        if path is None:
            return
        with self._state_lock:
            write_private_file(path, json.dumps(self.snapshot()).encode())

    # Requests ---------------------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if req.path.startswith("/_sandbox/"):
            return self._control(req)
        if req.path == "/graphql":
            assert self.stigg is not None
            return self.stigg.handle(req)
        return self.auth0.handle(req)

    def _control(self, req: Request) -> Response:
        route = (req.method, req.path.rstrip("/"))
        try:
            if route == ("GET", "/_sandbox/info"):
                return json_response(self.info_public())
            if route == ("GET", "/_sandbox/health"):
                return json_response({"ok": True})
            if route == ("POST", "/_sandbox/login"):
                return self._login_route(req)
            if route == ("GET", "/_sandbox/requests"):
                return json_response({"requests": list(self.requests)})
            if route == ("DELETE", "/_sandbox/requests"):
                self.requests.clear()
                return json_response({"requests": []})
            if route == ("GET", "/_sandbox/logins"):
                return json_response({"logins": self.logins[-100:]})
            if route == ("GET", "/_sandbox/faults"):
                return json_response(self.faults.to_dict())
            if route == ("PUT", "/_sandbox/faults"):
                self.faults.replace(FaultPlan.from_dict(req.json() or {}))
                return json_response(self.faults.to_dict())
            if route == ("GET", "/_sandbox/clock"):
                return json_response({"now": self.clock()})
            if route == ("POST", "/_sandbox/clock/advance"):
                body = req.json() or {}
                self.clock.advance(float(body.get("seconds", 0)))
                self.save()
                return json_response({"now": self.clock()})
        except (ValueError, TypeError) as exc:
            return json_response({"error": "bad_request", "message": str(exc)}, 400)
        return json_response({"error": "not_found", "message": f"No route {req.path}"}, 404)

    def _login_route(self, req: Request) -> Response:
        body = req.json() or {}
        if not isinstance(body, dict) or not body.get("user_id"):
            return json_response({"error": "bad_request", "message": "user_id is required"}, 400)
        unknown = set(body) - {"user_id", "org_id", "client_id", "protocol", "ip"}
        if unknown:
            return json_response(
                {"error": "bad_request", "message": f"unknown fields: {sorted(unknown)}"}, 400
            )
        from stiggctl.sandbox.auth0 import SandboxError

        try:
            result = self.login(
                body["user_id"],
                org_id=body.get("org_id"),
                client_id=body.get("client_id"),
                protocol=body.get("protocol") or "oidc-basic-profile",
                ip=body.get("ip") or "127.0.0.1",
            )
        except SandboxError as exc:
            return json_response({"error": "bad_request", "message": str(exc)}, exc.status)
        return json_response(result)

    def login(
        self,
        user_id: str,
        *,
        org_id: str | None = None,
        client_id: str | None = None,
        protocol: str = "oidc-basic-profile",
        ip: str = "127.0.0.1",
        timeout_s: float = 20.0,
    ) -> dict[str, Any]:
        """One login through the post-login trigger, as Auth0 runs it; effects applied."""
        from stiggctl.sandbox.runtime import ActionSpec, run_post_login

        event = self.auth0.build_post_login_event(
            user_id, org_id=org_id, client_id=client_id, protocol=protocol, ip=ip
        )
        actions = [
            ActionSpec(id=a["id"], name=a["name"], code=a["code"], secrets=a["secrets"])
            for a in self.auth0.post_login_actions()
        ]
        # One login at a time: Auth0 serialises nothing, but the action cache and the
        # metadata write-back of a login must not interleave with another's in the sandbox.
        with self._login_lock:
            run = run_post_login(
                actions,
                event,
                self.cache,
                timeout_s=timeout_s,
                clock=self.clock,
                node=self.options.node,
                ca_file=str(self.ca_file) if self.ca_file else None,
            )
            self.auth0.complete_login(
                user_id,
                allowed=run.allowed,
                app_metadata=run.app_metadata,
                user_metadata=run.user_metadata,
                ip=ip,
            )
        result = {
            "user_id": user_id,
            "org_id": org_id,
            "client_id": event.get("client", {}).get("client_id"),
            "protocol": protocol,
            **run.to_dict(),
        }
        self.logins.append(result)
        self.save()
        return result

    def record(self, req: Request, status: int, arrived: float) -> None:
        """One answered vendor request; `arrived`/`answered` are time.perf_counter() seconds
        (latency included), so overlapping calls and round trips can be told apart."""
        self.requests.append(
            {
                "method": req.method,
                "path": req.path,
                "status": status,
                "arrived": arrived,
                "answered": time.perf_counter(),
            }
        )

    def auth0_applications(self) -> list[dict[str, Any]]:
        """The tenant's login applications (not the M2M client), for the banner and env."""
        return [
            {
                "client_id": c["client_id"],
                "name": c["name"],
                "app_type": c.get("app_type"),
                "organization_usage": c.get("organization_usage", "deny"),
            }
            for c in self.auth0.list_clients()
            if c.get("app_type") != "non_interactive"
        ]

    def info_public(self) -> dict[str, Any]:
        return {"base_url": self.auth0.base_url, "seed": self.options.seed}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes: with Nagle's algorithm the body would wait
    # for the client's delayed ACK of the headers (about 40 ms on Linux) on every request.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log would drown the console; `--verbose` could print it

    def _serve(self) -> None:
        arrived = time.perf_counter()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request.build(self.command, self.path, dict(self.headers.items()), body)
        sandbox = self.server.sandbox
        if not req.path.startswith("/_sandbox/"):
            decision = sandbox.faults.decide(req.method, req.path)
            if decision.latency_ms:
                time.sleep(decision.latency_ms / 1000)
            if decision.fault is not None:
                if decision.fault.kind == "drop":
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                # Rate-limit headers speak of real time, whatever the sandbox's clock says.
                response = fault_response(req, decision.fault, time.time())
                sandbox.record(req, response.status, arrived)
                self._send(response)
                return
        try:
            response = sandbox.handle(req)
        except Exception as exc:  # a bug in an emulator must not kill the connection silently
            response = json_response(
                {"statusCode": 500, "error": "Internal Server Error", "message": repr(exc)}, 500
            )
        if not req.path.startswith("/_sandbox/"):
            sandbox.record(req, response.status, arrived)
        self._send(response)
        if req.method not in ("GET", "HEAD") and not req.path.startswith("/_sandbox/"):
            sandbox.save()

    def _send(self, response: Response) -> None:
        payload, content_type = response.encode()
        self.send_response(response.status, HTTPStatus(response.status).phrase)
        headers = {k.lower(): v for k, v in response.headers.items()}
        if content_type and "content-type" not in headers:
            headers["content-type"] = content_type
        headers["content-length"] = str(len(payload))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


def fault_response(req: Request, fault: Fault, now: float) -> Response:
    """An injected failure, in the shape the real service gives it."""
    reset = str(int(now) + max(fault.retry_after, 1))
    if req.path == "/graphql":
        if fault.kind == "rate_limit":
            return json_response(
                {"errors": [{"message": "Too many requests", "code": "TOO_MANY_REQUESTS"}]},
                429,
                **{"retry-after": str(fault.retry_after)},
            )
        return json_response({"message": HTTPStatus(fault.status).phrase}, fault.status)
    if fault.kind == "rate_limit":
        return json_response(
            {
                "statusCode": 429,
                "error": "Too Many Requests",
                "message": "Global limit has been reached",
                "errorCode": "too_many_requests",
            },
            429,
            **{
                "retry-after": str(fault.retry_after),
                "x-ratelimit-limit": "2",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": reset,
            },
        )
    phrase = HTTPStatus(fault.status).phrase
    return json_response(
        {"statusCode": fault.status, "error": phrase, "message": phrase},
        fault.status,
        **{"x-ratelimit-limit": "50", "x-ratelimit-remaining": "49", "x-ratelimit-reset": reset},
    )


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sandbox: Sandbox

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up or refuses the sandbox's certificate is its own business;
        # anything else is a bug worth the traceback.
        import ssl
        import sys

        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """A running sandbox. Use as a context manager in tests; `serve_forever` in the CLI."""

    def __init__(self, options: SandboxOptions | None = None) -> None:
        self.options = options or SandboxOptions()
        self.sandbox = Sandbox(self.options)
        self.httpd = _HTTPServer((self.options.host, self.options.port), _Handler)
        self.httpd.sandbox = self.sandbox
        host, port = self.httpd.server_address[:2]
        self._temp_dir: tempfile.TemporaryDirectory[str] | None = None
        scheme = "http"
        if self.options.tls:
            try:
                self._serve_tls()
            except BaseException:
                self.httpd.server_close()  # the port is bound already: give it back
                raise
            scheme = "https"
        self.base_url = f"{scheme}://{host}:{port}"
        self.sandbox.auth0.base_url = self.base_url
        self._thread: threading.Thread | None = None

    def _serve_tls(self) -> None:
        import ssl

        try:
            import trustme
        except ImportError:
            from stiggctl.errors import ErrorCode, StiggctlError

            raise StiggctlError(
                ErrorCode.CONFIG_ERROR,
                "Serving the sandbox over TLS needs the trustme package.",
                "pip install 'stiggctl[tls]'",
            ) from None
        authority = trustme.CA(organization_name="stiggctl sandbox")
        certificate = authority.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        ca_file = self.options.ca_file
        if ca_file is None:
            self._temp_dir = tempfile.TemporaryDirectory(prefix="stiggctl-sandbox-")
            ca_file = Path(self._temp_dir.name) / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        self.sandbox.ca_file = ca_file
        # The handshake happens on the handler's thread, so a slow client cannot hold up
        # accept() for everyone else.
        self.httpd.socket = context.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def info(self) -> dict[str, Any]:
        """Addresses and credentials: what `--info-file` holds and `sandbox env` exports."""
        creds = self.sandbox.credentials
        return {
            "base_url": self.base_url,
            "pid": os.getpid(),
            "seed": self.options.seed,
            "auth0": {
                "domain": self.base_url,
                "client_id": creds["auth0_client_id"],
                "client_secret": creds["auth0_client_secret"],
                # A second M2M client with only what the Action needs (least privilege).
                "action_client_id": creds.get("action_client_id"),
                "action_client_secret": creds.get("action_client_secret"),
                "management_api": f"{self.base_url}/api/v2/",
            },
            "stigg": {
                "api_url": f"{self.base_url}/graphql",
                "api_key": creds["stigg_api_key"],
            },
            "applications": self.sandbox.auth0_applications(),
            "tls": {"ca_file": str(self.sandbox.ca_file)} if self.sandbox.ca_file else None,
        }

    def start(self) -> SandboxServer:
        # A short poll interval makes stop() quick; the loop idles in select() meanwhile.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="stiggctl-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
            self._thread = None
        self.httpd.server_close()
        self.sandbox.save()
        if self._temp_dir is not None:
            self._temp_dir.cleanup()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
