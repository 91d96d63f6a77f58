"""The post-login runtime: actions run in Node.js with Auth0's `event` and `api` semantics."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

import pytest

from stiggctl.errors import ErrorCode, StiggctlError
from stiggctl.sandbox.clock import Clock
from stiggctl.sandbox.runtime import (
    ActionCache,
    ActionSpec,
    LoginRun,
    check_code,
    run_post_login,
)

pytestmark = pytest.mark.node
requires_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")

START = 1_700_000_000.0
START_MS = 1_700_000_000_000


def handler(body: str) -> str:
    return f"exports.onExecutePostLogin = async (event, api) => {{\n{body}\n}};\n"


def spec(name: str, body: str, secrets: dict[str, str] | None = None) -> ActionSpec:
    return ActionSpec(id=f"act_{name}", name=name, code=handler(body), secrets=secrets or {})


@pytest.fixture
def clock() -> Clock:
    return Clock(start=START)


@pytest.fixture
def cache(clock: Clock) -> ActionCache:
    return ActionCache(clock=clock)


@pytest.fixture
def login(cache: ActionCache, clock: Clock):
    def run(*actions: ActionSpec, event: dict | None = None, timeout_s: float = 20.0) -> LoginRun:
        user = {"user_id": "auth0|1", "app_metadata": {}, "user_metadata": {}}
        return run_post_login(
            list(actions),
            event if event is not None else {"user": user},
            cache,
            timeout_s=timeout_s,
            clock=clock,
        )

    return run


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, bytes]]
    release: threading.Event

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.requests.append((self.command, self.path, body))
        if self.path == "/hang":
            self.release.wait()
        status = 404 if self.path == "/missing" else 200
        payload = json.dumps({"path": self.path}).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the run that asked was killed at its deadline

    do_GET = do_POST = _answer

    def log_message(self, format, *args):
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    requests: list[tuple[str, str, bytes]] = []
    release = threading.Event()
    recorder = type("Recorder", (_Recorder,), {"requests": requests, "release": release})
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# check_code


@requires_node
def test_check_code_accepts_a_handler():
    assert check_code(handler("api.access.deny('no');")) == []
    assert (
        check_code(
            "async function onExecutePostLogin() {}\nmodule.exports = { onExecutePostLogin };"
        )
        == []
    )


@requires_node
@pytest.mark.parametrize(
    ("code", "errors"),
    [
        (
            "exports.onExecutePostLogin = async (event, api) => {\n  if (\n};\n",
            ["SyntaxError: Unexpected token '}' (line 3)"],
        ),
        (
            "export const onExecutePostLogin = async () => {};",
            ["SyntaxError: Unexpected token 'export' (line 1)"],
        ),
        (
            "exports.onExecutePreUserRegistration = async () => {};",
            [
                "The code does not export an onExecutePostLogin function "
                "(exports.onExecutePostLogin = async (event, api) => { ... })"
            ],
        ),
        (
            "exports.onExecutePostLogin = 'soon';",
            ["exports.onExecutePostLogin is a string, not a function"],
        ),
        (
            "const x = 1;\nthrow new TypeError('bad config');",
            ["The module's top-level code failed: TypeError: bad config (line 2, column 7)"],
        ),
        (
            "const axios = require('axios');\nexports.onExecutePostLogin = async () => {};",
            [
                "The module's top-level code failed: Error: Cannot find module 'axios': actions "
                "in the sandbox can require Node.js built-in modules only (line 1, column 15)"
            ],
        ),
    ],
)
def test_check_code_reports_build_errors(code, errors):
    assert check_code(code) == errors


@requires_node
def test_check_code_never_reaches_the_network(http_server):
    base_url, requests = http_server
    code = (
        f"fetch('{base_url}/fetch').catch(() => {{}});\n"
        f"require('node:http').get('{base_url}/http');\n"
        "exports.onExecutePostLogin = async () => {};"
    )
    assert check_code(code) == [
        "The module's top-level code failed: Error: Network access is not allowed while the "
        "code is being checked (line 2, column 22)"
    ]
    assert requests == []


@requires_node
def test_check_code_stops_code_that_never_finishes():
    assert check_code("while (true) {}", timeout_s=0.5) == [
        "The module's top-level code did not finish within 0.5 s"
    ]


# run_post_login: flow


@requires_node
def test_all_actions_run_in_order_and_the_login_is_allowed(login):
    result = login(
        spec("first", "console.log('first ran');"),
        spec("second", "console.log('second ran');"),
    )
    assert result.allowed is True
    assert result.error is None
    assert [(a.id, a.name, a.status, a.console) for a in result.actions] == [
        ("act_first", "first", "ok", ["first ran"]),
        ("act_second", "second", "ok", ["second ran"]),
    ]
    assert json.loads(json.dumps(result.to_dict()))["actions"][1]["status"] == "ok"


def test_no_actions_allow_the_login_without_node(cache, clock):
    result = run_post_login([], {"user": {}}, cache, clock=clock, node="no-such-node-binary")
    assert (result.allowed, result.actions, result.app_metadata) == (True, [], {})


def test_a_missing_node_is_a_config_error(cache, clock):
    with pytest.raises(StiggctlError) as raised:
        run_post_login([spec("a", "")], {}, cache, clock=clock, node="no-such-node-binary")
    assert raised.value.code is ErrorCode.CONFIG_ERROR
    assert raised.value.message == (
        "Node.js (no-such-node-binary) was not found: the sandbox runs Auth0 actions with it."
    )


@pytest.mark.skipif(os.name != "posix", reason="a shell script stands in for node")
def test_a_runtime_that_cannot_start_is_an_internal_error(cache, clock, tmp_path):
    broken_node = tmp_path / "node"
    broken_node.write_text("#!/bin/sh\necho 'node: bad option: --frobnicate' >&2\nexit 9\n")
    broken_node.chmod(0o755)
    with pytest.raises(StiggctlError) as raised:
        run_post_login([spec("a", "")], {}, cache, clock=clock, node=str(broken_node))
    assert raised.value.code is ErrorCode.INTERNAL_ERROR
    assert raised.value.message == (
        "The action runtime ended unexpectedly (exit status 9): node: bad option: --frobnicate"
    )
    with pytest.raises(StiggctlError):
        check_code("exports.onExecutePostLogin = async () => {};", node=str(broken_node))


@requires_node
def test_event_text_survives_the_round_trip(login):
    name = "Zoë \u2028 \u2029 \x1e \x85 \U0001f600"
    result = login(
        spec(
            "echo",
            "console.log(event.user.name);\napi.idToken.setCustomClaim('name', event.user.name);",
        ),
        event={"user": {"user_id": "auth0|1", "name": name}},
    )
    assert result.actions[0].console == [name]
    assert result.id_token_claims == {"name": name}


@requires_node
def test_deny_lets_the_action_finish_and_skips_later_actions(login):
    result = login(
        spec("provision", "api.user.setAppMetadata('provisioned', true);"),
        spec(
            "limit",
            "api.access.deny('Access Denied: active user limit reached');\n"
            "api.user.setAppMetadata('denied_at', 'period-1');\n"
            "console.log('still running');",
        ),
        spec("never", "api.user.setAppMetadata('never', true);"),
    )
    assert result.allowed is False
    assert result.deny_reason == "Access Denied: active user limit reached"
    assert result.denied_by == "limit"
    assert [a.status for a in result.actions] == ["ok", "denied", "skipped"]
    assert result.actions[1].console == ["still running"]
    assert result.actions[2].api_calls == []
    assert result.app_metadata == {"provisioned": True, "denied_at": "period-1"}
    assert result.error is None


@requires_node
def test_metadata_merges_across_actions_and_null_deletes(login):
    result = login(
        spec(
            "one",
            "api.user.setAppMetadata('plan', 'free').user.setAppMetadata('tmp', 1);\n"
            "api.user.setAppMetadata('flag', true);\n"
            "api.user.setUserMetadata('theme', 'dark');",
        ),
        spec(
            "two",
            "console.log(JSON.stringify(event.user.app_metadata));\n"
            "api.user.setAppMetadata('tmp', null);\n"
            "api.user.setAppMetadata('plan', {id: 'pro'});\n"
            "api.user.setAppMetadata('gone', undefined);",
        ),
        event={"user": {"user_id": "auth0|1", "app_metadata": {"old": 1}, "user_metadata": {}}},
    )
    assert result.actions[1].console == ['{"old":1,"plan":"free","tmp":1,"flag":true}']
    assert result.app_metadata == {"plan": {"id": "pro"}, "tmp": None, "flag": True, "gone": None}
    assert result.user_metadata == {"theme": "dark"}
    assert result.actions[1].api_calls == [
        {"method": "user.setAppMetadata", "args": ["tmp", None]},
        {"method": "user.setAppMetadata", "args": ["plan", {"id": "pro"}]},
        {"method": "user.setAppMetadata", "args": ["gone", None]},
    ]


@requires_node
def test_custom_claims_later_calls_win(login):
    result = login(
        spec(
            "claims",
            "api.idToken.setCustomClaim('https://x/plan', 'free');\n"
            "api.accessToken.setCustomClaim('https://x/limits', {mau: 5});",
        ),
        spec("override", "api.idToken.setCustomClaim('https://x/plan', 'pro');"),
    )
    assert result.id_token_claims == {"https://x/plan": "pro"}
    assert result.access_token_claims == {"https://x/limits": {"mau": 5}}


@requires_node
def test_each_action_sees_only_its_own_secrets(login):
    result = login(
        spec("a", "console.log(JSON.stringify(event.secrets));", {"REGION": "eu"}),
        spec("b", "console.log(JSON.stringify(event.secrets));", {"DOMAIN": "t.eu.auth0.com"}),
        event={"user": {}, "secrets": {"LEAKED": "from-the-caller"}},
    )
    assert result.actions[0].console == ['{"REGION":"eu"}']
    assert result.actions[1].console == ['{"DOMAIN":"t.eu.auth0.com"}']


@requires_node
def test_credentials_are_masked_in_the_report(login):
    secrets = {"STIGG_API_KEY": "sk_live_abcdef", "AUTH0_DOMAIN": "t.eu.auth0.com"}
    action = spec(
        "leaky",
        "console.log(event.secrets.STIGG_API_KEY, event.secrets.AUTH0_DOMAIN);\n"
        "api.user.setAppMetadata('copied', event.secrets.STIGG_API_KEY);\n"
        "throw new Error('bad key ' + event.secrets.STIGG_API_KEY);",
        secrets,
    )
    result = login(action)
    assert result.actions[0].console == ["[redacted] t.eu.auth0.com"]
    assert result.actions[0].error == "Error: bad key [redacted] (line 4, column 7)"
    assert result.actions[0].api_calls == [
        {"method": "user.setAppMetadata", "args": ["copied", "[redacted]"]}
    ]
    assert "sk_live_abcdef" not in json.dumps(result.to_dict())
    assert "sk_live_abcdef" not in repr(action)
    assert "sk_live_abcdef" not in repr(result)


@requires_node
def test_a_throwing_action_fails_the_login(login):
    result = login(
        spec("first", "api.user.setAppMetadata('saved', false);"),
        spec("broken", "api.idToken.setCustomClaim('c', 1);\nthrow new Error('boom');"),
        spec("after", ""),
    )
    assert result.allowed is False
    assert result.deny_reason is None
    assert result.error == "broken: Error: boom (line 3, column 7)"
    assert [a.status for a in result.actions] == ["ok", "error", "skipped"]
    assert result.actions[1].error == "Error: boom (line 3, column 7)"
    # A login that failed saves nothing; the trace still shows what was asked.
    assert (result.app_metadata, result.id_token_claims) == ({}, {})
    assert result.actions[1].api_calls == [{"method": "idToken.setCustomClaim", "args": ["c", 1]}]


@requires_node
def test_an_unhandled_rejection_fails_the_action(login):
    result = login(spec("sloppy", "Promise.reject(new RangeError('lost'));"))
    assert result.actions[0].status == "error"
    assert result.actions[0].error == "RangeError: lost (line 2, column 16)"


@requires_node
def test_a_missing_handler_fails_at_run_time(login):
    action = ActionSpec("act_x", "x", "exports.other = 1;")
    result = login(action)
    assert result.actions[0].status == "error"
    assert result.actions[0].error == (
        "Error: The code does not export an onExecutePostLogin function "
        "(exports.onExecutePostLogin = async (event, api) => { ... })"
    )


@requires_node
def test_each_action_has_its_own_module_scope_and_builtins(login):
    first = ActionSpec(
        "act_1",
        "one",
        "const crypto = require('node:crypto');\nlet calls = 0;\n"
        "exports.onExecutePostLogin = async (event, api) => {\n"
        "  calls += 1;\n"
        "  api.idToken.setCustomClaim('one', crypto.createHash('sha256').update('a')"
        ".digest('hex').slice(0, 8) + ':' + calls);\n};",
    )
    second = ActionSpec(
        "act_2",
        "two",
        "const crypto = require('crypto');\nlet calls = 10;\n"
        "async function onExecutePostLogin(event, api) {\n"
        "  api.idToken.setCustomClaim('two', typeof calls + ':' + calls);\n}\n"
        "module.exports = { onExecutePostLogin };",
    )
    result = login(first, second)
    assert result.id_token_claims == {"one": "ca978112:1", "two": "number:10"}


@requires_node
def test_date_follows_the_sandbox_clock(login):
    result = login(
        spec(
            "time",
            "api.idToken.setCustomClaim('now', Date.now());\n"
            "api.idToken.setCustomClaim('iso', new Date().toISOString().slice(0, 16));",
        )
    )
    now = result.id_token_claims["now"]
    assert START_MS <= now < START_MS + 10_000
    assert result.id_token_claims["iso"] == "2023-11-14T22:13"


@requires_node
def test_recorded_calls_chain_like_auth0s_api(login):
    result = login(
        spec(
            "mfa",
            "api.multifactor.enable('any', {allowRememberBrowser: false})"
            ".redirect.sendUserTo('https://example.com/x', {query: {a: 1}});\n"
            "api.idToken.setCustomClaim('executed', api.rules.wasExecuted('rul_1'));",
        )
    )
    assert result.actions[0].status == "ok"
    assert result.actions[0].api_calls == [
        {"method": "multifactor.enable", "args": ["any", {"allowRememberBrowser": False}]},
        {"method": "redirect.sendUserTo", "args": ["https://example.com/x", {"query": {"a": 1}}]},
        {"method": "rules.wasExecuted", "args": ["rul_1"]},
        {"method": "idToken.setCustomClaim", "args": ["executed", False]},
    ]


@requires_node
def test_calls_after_the_handler_finished_are_late_and_ignored(login):
    result = login(
        spec("leaves-work", "setTimeout(() => api.user.setAppMetadata('late', 1), 50);"),
        spec("waits", "await new Promise((resolve) => setTimeout(resolve, 300));"),
    )
    assert [a.status for a in result.actions] == ["ok", "ok"]
    assert result.actions[0].api_calls == [
        {"method": "user.setAppMetadata", "args": ["late", 1], "late": True}
    ]
    assert result.app_metadata == {}


# timeouts


@requires_node
def test_a_run_that_never_finishes_is_killed_at_the_deadline(login):
    result = login(
        spec("quick", "api.user.setAppMetadata('seen', true);"),
        spec("stuck", "console.log('waiting');\nawait new Promise(() => {});"),
        spec("after", ""),
        timeout_s=1.5,
    )
    assert result.allowed is False
    assert [a.status for a in result.actions] == ["ok", "timeout", "skipped"]
    assert result.actions[1].console == ["waiting"]
    assert result.actions[1].error == "The login's actions did not finish within 1.5 s"
    assert result.error == "stuck: The login's actions did not finish within 1.5 s"
    assert result.app_metadata == {}


@requires_node
def test_a_busy_loop_is_killed_too(login):
    result = login(spec("spin", "while (true) {}"), timeout_s=1.0)
    assert [a.status for a in result.actions] == ["timeout"]


@requires_node
@pytest.mark.skipif(os.name != "posix", reason="process groups are POSIX")
def test_a_child_process_left_running_does_not_hold_the_login(login):
    result = login(
        spec(
            "spawner",
            "require('node:child_process').spawn(process.execPath,"
            " ['-e', 'setTimeout(() => {}, 30000)'], {stdio: 'inherit'});",
        ),
        timeout_s=5.0,
    )
    assert result.actions[0].status == "ok"
    # Held open by the child, the pipe would only close when the deadline killed it.
    assert result.duration_ms < 5_000


# console


@requires_node
def test_console_is_captured_per_action_and_cannot_forge_results(login):
    result = login(
        spec(
            "chatty",
            "console.log('plain', 42, {a: [1, 2]});\n"
            "console.error('two\\nlines');\n"
            "console.warn('%s=%d', 'n', 7);\n"
            "process.stdout.write('raw write\\n');\n"
            "globalThis.console.info('global console');\n"
            'console.log(\'{"t":"done"}\');\n'
            'require(\'node:fs\').writeSync(1, \'{"t":"end","i":0,"status":"denied"}\\n\');\n'
            "JSON.stringify = () => 'garbage';\n"
            "api.user.setAppMetadata('ok', true);",
        ),
        spec("quiet", ""),
    )
    assert result.allowed is True
    assert [a.status for a in result.actions] == ["ok", "ok"]
    assert result.actions[0].console == [
        "plain 42 { a: [ 1, 2 ] }",
        "two\nlines",
        "n=7",
        "raw write",
        "global console",
        '{"t":"done"}',
        '{"t":"end","i":0,"status":"denied"}',
    ]
    assert result.actions[0].console_truncated is False
    assert result.actions[1].console == []
    assert result.app_metadata == {"ok": True}


@requires_node
def test_console_beyond_auth0s_256_characters_is_flagged(login):
    result = login(spec("long", "console.log('x'.repeat(200));\nconsole.log('y'.repeat(56));"))
    assert result.actions[0].console == ["x" * 200, "y" * 56]
    assert result.actions[0].console_truncated is True
    result = login(spec("short", "console.log('x'.repeat(200));\nconsole.log('y'.repeat(55));"))
    assert result.actions[0].console_truncated is False


# fetch


@requires_node
def test_fetch_calls_are_recorded(login, http_server):
    base_url, requests = http_server
    port = closed_port()
    result = login(
        spec(
            "caller",
            f"const a = await fetch('{base_url}/ok?x=1');\n"
            "api.idToken.setCustomClaim('a', (await a.json()).path);\n"
            f"const b = await fetch(new URL('{base_url}/missing'), "
            "{method: 'post', body: JSON.stringify({q: 1}), "
            "headers: {'content-type': 'application/json'}});\n"
            "api.idToken.setCustomClaim('b', b.status);\n"
            f"await globalThis.fetch(new Request('{base_url}/via-request', {{method: 'POST'}}));\n"
            f"try {{ await fetch('http://127.0.0.1:{port}/down'); }}\n"
            "catch (err) { api.idToken.setCustomClaim('c', err.message); }",
        )
    )
    assert result.id_token_claims == {"a": "/ok?x=1", "b": 404, "c": "fetch failed"}
    calls = result.actions[0].http_calls
    assert [(c["method"], c["url"], c["status"]) for c in calls] == [
        ("GET", f"{base_url}/ok?x=1", 200),
        ("POST", f"{base_url}/missing", 404),
        ("POST", f"{base_url}/via-request", 200),
        ("GET", f"http://127.0.0.1:{port}/down", None),
    ]
    assert [("error" in c) for c in calls] == [False, False, False, True]
    assert calls[3]["error"].startswith("TypeError: fetch failed (ECONNREFUSED: ")
    assert all(isinstance(c["duration_ms"], int | float) and c["duration_ms"] >= 0 for c in calls)
    assert requests == [
        ("GET", "/ok?x=1", b""),
        ("POST", "/missing", b'{"q":1}'),
        ("POST", "/via-request", b""),
    ]


@requires_node
def test_a_call_without_answer_at_the_deadline_is_recorded(login, http_server):
    base_url, _ = http_server
    result = login(spec("hangs", f"await fetch('{base_url}/hang');"), timeout_s=1.5)
    assert result.actions[0].status == "timeout"
    assert result.actions[0].http_calls == [
        {
            "method": "GET",
            "url": f"{base_url}/hang",
            "status": None,
            "duration_ms": None,
            "error": "No response before the run ended",
        }
    ]


# api.cache


@requires_node
def test_cache_persists_across_logins_and_expires_with_the_clock(login, cache, clock):
    remember = spec(
        "token",
        "const hit = api.cache.get('m2m');\n"
        "if (hit) { api.idToken.setCustomClaim('cached', hit); return; }\n"
        "const answer = api.cache.set('m2m', 'tok-' + Date.now(), {ttl: 60000});\n"
        "api.idToken.setCustomClaim('set', answer);",
    )
    first = login(remember)
    value = first.id_token_claims["set"]["record"]["value"]
    assert first.id_token_claims == {
        "set": {"type": "success", "record": {"value": value, "expires_at": START_MS + 60_000}}
    }
    assert cache.get("m2m") == {"value": value, "expires_at": START_MS + 60_000}
    second = login(remember)
    assert second.id_token_claims == {"cached": {"value": value, "expires_at": START_MS + 60_000}}
    assert second.actions[0].api_calls == [
        {"method": "cache.get", "args": ["m2m"], "result": "hit"},
        {
            "method": "idToken.setCustomClaim",
            "args": ["cached", {"value": value, "expires_at": START_MS + 60_000}],
        },
    ]
    clock.advance(60)
    third = login(remember)
    assert list(third.id_token_claims) == ["set"]
    assert third.actions[0].api_calls[0] == {
        "method": "cache.get",
        "args": ["m2m"],
        "result": "miss",
    }


@requires_node
def test_cache_set_is_not_traced_with_its_value(login):
    result = login(spec("t", "api.cache.set('token', 'eyJ.secret.jwt');"))
    assert result.actions[0].api_calls == [
        {"method": "cache.set", "args": ["token"], "result": "success"}
    ]


@requires_node
def test_cache_changes_are_written_back_even_when_the_login_fails(login, cache):
    cache.set("old", "1")
    result = login(
        spec(
            "t",
            "api.cache.set('new', '2', {expires_at: Date.now() + 5000});\n"
            "api.cache.delete('old');\nthrow new Error('later failure');",
        )
    )
    assert result.actions[0].status == "error"
    assert cache.get("old") is None
    assert cache.get("new")["value"] == "2"


# The runner answers cache calls itself (synchronously); its answers must match ActionCache.
CACHE_SCENARIO = [
    ("set", "a", "x" * 4095, None),
    ("set", "k" * 65, "v", None),
    ("set", "big", "v" * 4097, None),
    ("set", "b", "x" * 4096, None),
    ("set", "b", "x" * 4000, {"ttl": 1000}),
    ("set", "bad", "v", {"ttl": -5}),
    ("set", "past", "v", {"expires_at": START_MS - 1}),
    ("set", "long", "v", {"ttl": 10 * 86_400_000}),
    ("set", "num", 7, None),
    ("delete", "a", None, None),
    ("delete", "a", None, None),
    *[("set", f"n{i}", "v", None) for i in range(19)],
    ("get", "b", None, None),
    ("get", "a", None, None),
]


def _python_answers(cache: ActionCache) -> list:
    answers = []
    for op, key, value, options in CACHE_SCENARIO:
        if op == "set":
            options = options or {}
            answers.append(
                cache.set(
                    key, value, ttl_ms=options.get("ttl"), expires_at_ms=options.get("expires_at")
                )
            )
        elif op == "delete":
            answers.append(cache.delete(key))
        else:
            answers.append(cache.get(key))
    return answers


@requires_node
def test_cache_answers_in_node_match_action_cache(login, clock):
    steps = json.dumps(CACHE_SCENARIO)
    result = login(
        spec(
            "cache",
            f"const answers = {steps}.map(([op, key, value, options]) =>\n"
            "  op === 'set' ? api.cache.set(key, value, options || undefined)\n"
            "  : op === 'delete' ? api.cache.delete(key) : (api.cache.get(key) ?? null));\n"
            "api.idToken.setCustomClaim('answers', answers);",
        )
    )
    expected = _python_answers(ActionCache(clock=clock))
    assert result.id_token_claims["answers"] == expected
    assert [a["type"] if a and "type" in a else a for a in expected][:10] == [
        "success",
        "error",
        "error",
        "error",
        "success",
        "error",
        "error",
        "success",
        "error",
        "success",
    ]
    assert expected[7] == {
        "type": "success",
        "record": {"value": "v", "expires_at": START_MS + 86_400_000},
    }
    assert expected[-4:] == [
        {"type": "success", "record": {"value": "v", "expires_at": START_MS + 900_000}},
        {"type": "error", "code": "CacheSizeExceeded"},
        {"value": "x" * 4000, "expires_at": START_MS + 1000},
        None,
    ]


def test_the_runner_script_ships_inside_the_package():
    script = resources.files("stiggctl.sandbox.runtime").joinpath("runner.js")
    assert script.is_file()
    assert "onExecutePostLogin" in script.read_text(encoding="utf-8")
