"""Auth0Client against a fake Management API: token, errors, paging, exports, secrets."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import pytest

from stiggctl.clients.auth0 import Auth0Client, expected_scopes
from stiggctl.clients.auth0_models import Binding, BindingUpdate, Client
from stiggctl.errors import ErrorCode, ExitCode, StiggctlError
from tests.test_clients_fakes import (
    ACCESS_TOKEN,
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    FakeAuth0,
    FakeTime,
    error_body,
    json_response,
    raising,
)

USER_ID = "auth0|abc"
USER_PATH = "/api/v2/users/auth0%7Cabc"


def query_of(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.url.query.decode())


def assert_no_secret(error: BaseException) -> None:
    texts = [str(error), repr(error)]
    if isinstance(error, StiggctlError):
        texts += [json.dumps(error.to_dict()), str(error.hint), json.dumps(error.details)]
    for text in texts:
        assert CLIENT_SECRET not in text
        assert ACCESS_TOKEN not in text


def user(user_id: str, **fields) -> dict:
    return {"user_id": user_id, **fields}


# -- token ---------------------------------------------------------------------------------


def test_token_minted_once_for_many_calls_with_the_canonical_audience():
    fake = FakeAuth0({("GET", USER_PATH): json_response(200, user(USER_ID))})
    client = fake.client(FakeTime())
    for _ in range(5):
        client.get_user(USER_ID)
    assert fake.token_requests == [
        {
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "audience": "https://acme.eu.auth0.com/api/v2/",
        }
    ]
    assert [r.headers["authorization"] for r in fake.requests] == [f"Bearer {ACCESS_TOKEN}"] * 5


def test_token_is_minted_lazily():
    fake = FakeAuth0()
    fake.client(FakeTime())
    assert fake.token_requests == []


def test_audience_drops_a_trailing_slash_of_the_base_url():
    fake = FakeAuth0()
    client = Auth0Client(
        "http://127.0.0.1:8765/", CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(fake)
    )
    client.token_scopes()
    assert fake.token_requests[0]["audience"] == "http://127.0.0.1:8765/api/v2/"


def test_token_scopes_are_the_granted_ones():
    fake = FakeAuth0()
    assert fake.client(FakeTime()).token_scopes() == frozenset({"read:actions", "read:users"})
    assert len(fake.token_requests) == 1


def test_an_expired_token_is_minted_again():
    fake = FakeAuth0({("GET", USER_PATH): json_response(200, user(USER_ID))})
    time = FakeTime()
    client = fake.client(time)
    client.get_user(USER_ID)
    time.now += 86400 - 301  # still inside the 24 h less the 5 min margin
    client.get_user(USER_ID)
    assert len(fake.token_requests) == 1
    time.now += 2
    client.get_user(USER_ID)
    assert len(fake.token_requests) == 2


def test_bad_client_credentials_are_an_authentication_error():
    fake = FakeAuth0()
    fake.token_response = json_response(
        401, {"error": "access_denied", "error_description": "Unauthorized"}
    )
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    error = caught.value
    assert error.code is ErrorCode.AUTHENTICATION_FAILED
    assert error.exit_code is ExitCode.AUTH
    assert error.message == (
        "Auth0 rejected the client credentials of client m2m-client-id "
        "(access_denied: Unauthorized)."
    )
    assert "STIGGCTL_AUTH0_CLIENT_ID" in error.hint
    assert "STIGGCTL_AUTH0_CLIENT_SECRET" in error.hint
    assert fake.requests == []
    assert_no_secret(error)


def test_a_client_without_grant_is_a_permission_error_explaining_the_grant():
    fake = FakeAuth0()
    fake.token_response = json_response(
        403,
        {
            "error": "access_denied",
            "error_description": 'Client is not authorized to access "https://acme.eu.auth0.com'
            '/api/v2/". You need to create a "client-grant" associated to this API.',
        },
    )
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).token_scopes()
    error = caught.value
    assert error.code is ErrorCode.PERMISSION_DENIED
    assert error.exit_code is ExitCode.AUTH
    assert "client grant" in error.hint
    assert "Auth0 Management API" in error.hint
    assert_no_secret(error)


def test_token_rate_limit_is_retried():
    fake = FakeAuth0()
    fake.token_response = [
        json_response(429, {"error": "too_many_requests"}, {"Retry-After": "1"}),
        json_response(200, {"access_token": ACCESS_TOKEN, "scope": "read:users"}),
    ]
    time = FakeTime()
    assert fake.client(time).token_scopes() == frozenset({"read:users"})
    assert time.sleeps == [1.0]


def test_a_token_answer_without_token_is_an_api_error():
    fake = FakeAuth0()
    fake.token_response = json_response(200, {"token_type": "Bearer"})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).token_scopes()
    assert caught.value.code is ErrorCode.API_ERROR


# -- errors of the Management API -----------------------------------------------------------


def test_insufficient_scope_names_the_missing_scope():
    body = error_body(
        403, "Forbidden", "Insufficient scope, expected any of: read:actions", "insufficient_scope"
    )
    fake = FakeAuth0({("GET", "/api/v2/actions/actions"): json_response(403, body)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).list_actions()
    error = caught.value
    assert error.code is ErrorCode.PERMISSION_DENIED
    assert error.exit_code is ExitCode.AUTH
    assert error.message == (
        "Auth0: the M2M application lacks the scope read:actions (GET /actions/actions)"
    )
    assert error.details["missing_scopes"] == ["read:actions"]
    assert "read:actions" in error.hint
    assert CLIENT_ID in error.hint
    assert "Machine To Machine Applications" in error.hint


def test_expected_scopes_parses_every_listed_scope():
    message = "Insufficient scope, expected any of: update:users,update:users_app_metadata"
    assert expected_scopes(message) == ["update:users", "update:users_app_metadata"]
    assert expected_scopes("Forbidden") == []


def test_a_rejected_management_token_is_an_authentication_error():
    body = error_body(401, "Unauthorized", "Invalid token")
    fake = FakeAuth0({("GET", USER_PATH): json_response(401, body)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    assert caught.value.code is ErrorCode.AUTHENTICATION_FAILED
    assert caught.value.exit_code is ExitCode.AUTH
    assert "canonical domain" in caught.value.hint
    assert_no_secret(caught.value)


def test_not_found():
    body = error_body(404, "Not Found", "The user does not exist.", "inexistent_user")
    fake = FakeAuth0({("GET", USER_PATH): json_response(404, body)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    error = caught.value
    assert error.code is ErrorCode.NOT_FOUND
    assert error.message == "Auth0: The user does not exist."
    assert error.details == {"request": "GET /users/auth0%7Cabc", "error_code": "inexistent_user"}


def test_conflict_on_deleting_a_bound_action():
    body = error_body(409, "Conflict", "Unable to delete an action bound to a trigger.")
    fake = FakeAuth0({("DELETE", "/api/v2/actions/actions/act1"): json_response(409, body)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).delete_action("act1")
    assert caught.value.code is ErrorCode.CONFLICT
    assert caught.value.message == "Auth0: Unable to delete an action bound to a trigger."
    assert "force" in caught.value.hint


def test_rate_limited_after_every_retry():
    headers = {"x-ratelimit-reset": str(int(NOW) + 1), "x-ratelimit-remaining": "0"}
    body = error_body(
        429, "Too Many Requests", "Global limit has been reached", "too_many_requests"
    )
    fake = FakeAuth0({("GET", USER_PATH): json_response(429, body, headers)})
    time = FakeTime()
    with pytest.raises(StiggctlError) as caught:
        fake.client(time).get_user(USER_ID)
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.message == "Auth0: Global limit has been reached"
    assert len(fake.requests) == 5
    # The first 429 closes the gate until the reset: the retry waits there, and later tries
    # (the reset being past) back off.
    assert time.sleeps == [1.0, 0.5, 1.0, 2.0]


def test_server_errors_are_retried_then_surfaced():
    fake = FakeAuth0({("GET", USER_PATH): json_response(500, error_body(500, "Internal", "boom"))})
    time = FakeTime()
    with pytest.raises(StiggctlError) as caught:
        fake.client(time).get_user(USER_ID)
    assert caught.value.code is ErrorCode.API_ERROR
    assert len(fake.requests) == 5
    assert time.sleeps == [0.25, 0.5, 1.0, 2.0]


def test_connection_errors_become_network_errors_after_retries():
    fake = FakeAuth0({("GET", USER_PATH): raising(httpx.ConnectError)})
    fake.token_response = json_response(200, {"access_token": ACCESS_TOKEN})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    assert caught.value.code is ErrorCode.NETWORK_ERROR
    assert len(fake.requests) == 5
    assert_no_secret(caught.value)


def test_a_create_is_not_sent_twice_after_a_read_error():
    fake = FakeAuth0({("POST", "/api/v2/actions/actions"): raising(httpx.ReadError)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).create_action(name="stigg", code="x", secrets={"K": "v"})
    assert caught.value.code is ErrorCode.NETWORK_ERROR
    assert len(fake.requests) == 1


def test_a_read_timeout_is_a_timeout_error():
    fake = FakeAuth0({("GET", USER_PATH): raising(httpx.ReadTimeout)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime(), max_attempts=2).get_user(USER_ID)
    assert caught.value.code is ErrorCode.TIMEOUT
    assert len(fake.requests) == 2


def test_the_rate_limit_gate_holds_the_next_request_until_reset():
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 1)}
    fake = FakeAuth0({("GET", USER_PATH): json_response(200, user(USER_ID), headers)})
    time = FakeTime()
    client = fake.client(time)
    client.get_user(USER_ID)
    assert time.sleeps == []
    client.get_user(USER_ID)
    assert time.sleeps == [1.0]


def test_a_base_url_without_scheme_is_a_config_error():
    with pytest.raises(StiggctlError) as caught:
        Auth0Client("acme.eu.auth0.com", CLIENT_ID, CLIENT_SECRET)
    assert caught.value.code is ErrorCode.CONFIG_ERROR


def test_the_client_repr_shows_no_secret():
    client = FakeAuth0().client(FakeTime())
    client.token_scopes()
    assert repr(client) == (
        "Auth0Client(base_url='https://acme.eu.auth0.com', client_id='m2m-client-id')"
    )


def test_an_echoed_secret_is_redacted_from_error_messages():
    body = error_body(400, "Bad Request", f"bad value {CLIENT_SECRET} and {ACCESS_TOKEN}")
    fake = FakeAuth0({("GET", USER_PATH): json_response(400, body)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert caught.value.message == "Auth0: bad value *** and ***"


# -- actions and bindings ------------------------------------------------------------------


def action(action_id: str, name: str, **fields) -> dict:
    return {
        "id": action_id,
        "name": name,
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        **fields,
    }


def test_list_actions_filters_by_trigger_and_exact_name_across_pages():
    pages = [
        json_response(
            200,
            {"actions": [action(f"a{i}", "stigg") for i in range(50)], "total": 51, "per_page": 50},
        ),
        json_response(200, {"actions": [action("b", "stigg-other")], "total": 51, "per_page": 50}),
    ]
    fake = FakeAuth0({("GET", "/api/v2/actions/actions"): pages})
    found = fake.client(FakeTime()).list_actions(name="stigg")
    assert [a.id for a in found] == [f"a{i}" for i in range(50)]
    assert [query_of(r) for r in fake.requests] == [
        {"actionName": ["stigg"], "triggerId": ["post-login"], "page": ["0"], "per_page": ["50"]},
        {"actionName": ["stigg"], "triggerId": ["post-login"], "page": ["1"], "per_page": ["50"]},
    ]


def test_find_action_returns_none_when_absent():
    fake = FakeAuth0(
        {("GET", "/api/v2/actions/actions"): json_response(200, {"actions": [], "total": 0})}
    )
    assert fake.client(FakeTime()).find_action("stigg") is None


def test_create_action_sends_the_whole_definition():
    created = action("act1", "stigg", status="pending", secrets=[{"name": "STIGG_API_KEY"}])
    fake = FakeAuth0({("POST", "/api/v2/actions/actions"): json_response(201, created)})
    result = fake.client(FakeTime()).create_action(
        name="stigg",
        code="exports.onExecutePostLogin = async () => {};",
        secrets={"STIGG_API_KEY": "server-xyz"},
        dependencies={"left-pad": "1.3.0"},
    )
    assert result.id == "act1"
    assert result.status == "pending"
    assert result.secrets[0].name == "STIGG_API_KEY"
    assert json.loads(fake.requests[0].content) == {
        "name": "stigg",
        "supported_triggers": [{"id": "post-login", "version": "v3"}],
        "code": "exports.onExecutePostLogin = async () => {};",
        "runtime": "node22",
        "dependencies": [{"name": "left-pad", "version": "1.3.0"}],
        "secrets": [{"name": "STIGG_API_KEY", "value": "server-xyz"}],
    }


def test_update_action_sends_only_what_changes():
    fake = FakeAuth0(
        {("PATCH", "/api/v2/actions/actions/act1"): json_response(200, action("act1", "stigg"))}
    )
    fake.client(FakeTime()).update_action("act1", code="new code")
    assert json.loads(fake.requests[0].content) == {"code": "new code"}


def test_deploy_accepts_200_and_202():
    version = {"id": "v1", "action_id": "act1", "number": 1, "deployed": False, "status": "built"}
    fake = FakeAuth0(
        {
            ("POST", "/api/v2/actions/actions/act1/deploy"): [
                json_response(202, version),
                json_response(200, {**version, "number": 2}),
            ]
        }
    )
    client = fake.client(FakeTime())
    assert client.deploy_action("act1").number == 1
    assert client.deploy_action("act1").number == 2
    assert fake.requests[0].content == b""


def test_rollback_deploys_an_old_version():
    path = "/api/v2/actions/actions/act1/versions/v1/deploy"
    fake = FakeAuth0({("POST", path): json_response(200, {"id": "v3", "number": 3})})
    version = fake.client(FakeTime()).deploy_action_version("act1", "v1", update_draft=True)
    assert version.number == 3
    assert json.loads(fake.requests[0].content) == {"update_draft": True}


def test_versions_are_listed_and_read():
    versions = [
        {
            "id": "v2",
            "number": 2,
            "status": "failed",
            "errors": [{"id": "e", "msg": "SyntaxError", "url": "u"}],
        },
        {"id": "v1", "number": 1, "status": "built", "deployed": True},
    ]
    fake = FakeAuth0(
        {
            ("GET", "/api/v2/actions/actions/act1/versions"): json_response(
                200, {"versions": versions, "total": 2, "per_page": 50}
            ),
            ("GET", "/api/v2/actions/actions/act1/versions/v1"): json_response(200, versions[1]),
        }
    )
    client = fake.client(FakeTime())
    listed = client.list_action_versions("act1")
    assert [(v.id, v.status, v.deployed) for v in listed] == [
        ("v2", "failed", False),
        ("v1", "built", True),
    ]
    assert listed[0].errors[0].msg == "SyntaxError"
    assert client.get_action_version("act1", "v1").number == 1


def test_delete_with_force():
    fake = FakeAuth0({("DELETE", "/api/v2/actions/actions/act1"): httpx.Response(204)})
    fake.client(FakeTime()).delete_action("act1", force=True)
    assert query_of(fake.requests[0]) == {"force": ["true"]}


def test_bindings_are_read_and_replaced_as_a_whole_list():
    bound = [
        {"id": "b1", "display_name": "other", "action": action("x", "other")},
        {"id": "b2", "display_name": "stigg", "action": action("act1", "stigg")},
    ]
    path = "/api/v2/actions/triggers/post-login/bindings"
    fake = FakeAuth0(
        {
            ("GET", path): json_response(200, {"bindings": bound[:1], "total": 1, "per_page": 50}),
            ("PATCH", path): json_response(200, {"bindings": bound}),
        }
    )
    client = fake.client(FakeTime())
    current = client.get_bindings()
    assert [b.action.id for b in current] == ["x"]
    written = client.replace_bindings(
        [BindingUpdate.keeping(current[0]), BindingUpdate.for_action_id("act1", "stigg")]
    )
    assert [b.id for b in written] == ["b1", "b2"]
    assert json.loads(fake.api_requests("PATCH", path)[0].content) == {
        "bindings": [
            {"ref": {"type": "action_id", "value": "x"}, "display_name": "other"},
            {"ref": {"type": "action_id", "value": "act1"}, "display_name": "stigg"},
        ]
    }


def test_keeping_a_binding_without_action_is_refused():
    with pytest.raises(ValueError):
        BindingUpdate.keeping(Binding(id="b1"))


def test_triggers_are_listed():
    triggers = {"triggers": [{"id": "post-login", "version": "v3", "status": "CURRENT"}]}
    fake = FakeAuth0({("GET", "/api/v2/actions/triggers"): json_response(200, triggers)})
    assert [t.version for t in fake.client(FakeTime()).list_triggers()] == ["v3"]


# -- clients, users, organizations ----------------------------------------------------------


def test_clients_never_keep_their_secrets():
    listed = {
        "start": 0,
        "limit": 50,
        "total": 1,
        "clients": [
            {
                "client_id": "app1",
                "name": "Web",
                "app_type": "regular_web",
                "organization_usage": "require",
                "client_secret": "other-app-secret",
                "signing_keys": [{"cert": "x"}],
                "callbacks": ["https://a"],
            }
        ],
    }
    fake = FakeAuth0({("GET", "/api/v2/clients"): json_response(200, listed)})
    listing = fake.client(FakeTime()).list_clients(app_types=["spa", "regular_web"])
    clients = list(listing)
    assert clients[0].organization_usage == "require"
    assert clients[0].model_extra == {"callbacks": ["https://a"]}
    assert "other-app-secret" not in repr(clients[0])
    assert "other-app-secret" not in clients[0].model_dump_json()
    assert query_of(fake.requests[0]) == {
        "app_type": ["spa,regular_web"],
        "page": ["0"],
        "per_page": ["50"],
        "include_totals": ["true"],
    }
    assert listing.truncated is False


def test_client_model_drops_secret_fields_directly():
    client = Client.model_validate({"client_id": "a", "client_secret": "s", "encryption_key": {}})
    assert client.model_dump() == {
        "client_id": "a",
        "name": None,
        "app_type": None,
        "organization_usage": None,
        "organization_require_behavior": None,
        "is_first_party": None,
    }


def test_user_ids_are_url_encoded_in_paths():
    fake = FakeAuth0(
        {
            ("GET", USER_PATH): json_response(200, user(USER_ID, app_metadata={"a": 1})),
            ("PATCH", USER_PATH): json_response(200, user(USER_ID, app_metadata={"a": 1, "b": 2})),
        }
    )
    client = fake.client(FakeTime())
    fetched = client.get_user(USER_ID)
    assert fetched.app_metadata == {"a": 1}
    assert fetched.last_login is None
    updated = client.update_user_app_metadata(USER_ID, {"b": 2, "c": None})
    assert updated.app_metadata == {"a": 1, "b": 2}
    assert [r.url.raw_path for r in fake.requests] == [USER_PATH.encode()] * 2
    assert json.loads(fake.requests[1].content) == {"app_metadata": {"b": 2, "c": None}}


def users_pages(total: int):
    def handler(request: httpx.Request) -> httpx.Response:
        query = query_of(request)
        page, per_page = int(query["page"][0]), int(query["per_page"][0])
        if (page + 1) * per_page > 1000:
            body = error_body(
                400, "Bad Request", "You can only page through the first 1000 records"
            )
            return json_response(400, body)
        start = page * per_page
        ids = range(start, min(start + per_page, total))
        return json_response(
            200,
            {
                "start": start,
                "limit": per_page,
                "length": len(ids),
                "total": total,
                "users": [user(f"auth0|{i}") for i in ids],
            },
        )

    return handler


def test_offset_paging_stops_at_the_1000_record_limit_and_says_so():
    fake = FakeAuth0({("GET", "/api/v2/users"): users_pages(2500)})
    listing = fake.client(FakeTime()).list_users(query='email:"*@acme.com"')
    users = list(listing)
    assert len(users) == 1000
    assert users[-1].user_id == "auth0|999"
    assert listing.truncated is True
    assert listing.total == 2500
    assert len(fake.requests) == 20
    assert query_of(fake.requests[0]) == {
        "q": ['email:"*@acme.com"'],
        "search_engine": ["v3"],
        "page": ["0"],
        "per_page": ["50"],
        "include_totals": ["true"],
    }


def test_offset_paging_of_a_short_list_is_complete():
    fake = FakeAuth0({("GET", "/api/v2/users"): users_pages(120)})
    listing = fake.client(FakeTime()).list_users()
    assert [u.user_id for u in listing] == [f"auth0|{i}" for i in range(120)]
    assert listing.truncated is False
    assert len(fake.requests) == 3


def test_offset_paging_of_exactly_1000_is_not_truncated():
    fake = FakeAuth0({("GET", "/api/v2/users"): users_pages(1000)})
    listing = fake.client(FakeTime()).list_users(per_page=100)
    assert len(list(listing)) == 1000
    assert listing.truncated is False
    assert len(fake.requests) == 10


def test_offset_paging_accepts_bare_arrays():
    pages = [
        json_response(200, [{"id": f"org_{i}"} for i in range(50)]),
        json_response(200, [{"id": "org_50"}]),
    ]
    fake = FakeAuth0({("GET", "/api/v2/users/auth0%7Cabc/organizations"): pages})
    orgs = fake.client(FakeTime()).list_user_organizations(USER_ID)
    assert [o.id for o in orgs] == [f"org_{i}" for i in range(51)]


def test_per_page_is_bounded():
    with pytest.raises(ValueError):
        FakeAuth0().client(FakeTime()).list_users(per_page=101)


def test_checkpoint_paging_follows_next_and_streams():
    pages = [
        json_response(200, {"organizations": [{"id": "org_1"}, {"id": "org_2"}], "next": "cp1"}),
        json_response(200, {"organizations": [{"id": "org_3"}], "next": "cp2"}),
        json_response(200, {"organizations": [{"id": "org_4", "metadata": {"k": "v"}}]}),
    ]
    fake = FakeAuth0({("GET", "/api/v2/organizations"): pages})
    orgs = fake.client(FakeTime()).iter_organizations(take=2)
    assert isinstance(orgs, Iterator)
    assert next(orgs).id == "org_1"
    assert len(fake.requests) == 1  # a generator: the next page is fetched only when needed
    rest = list(orgs)
    assert [o.id for o in rest] == ["org_2", "org_3", "org_4"]
    assert rest[-1].metadata == {"k": "v"}
    assert rest[0].metadata == {}
    assert [query_of(r) for r in fake.requests] == [
        {"take": ["2"]},
        {"take": ["2"], "from": ["cp1"]},
        {"take": ["2"], "from": ["cp2"]},
    ]


def test_checkpoint_paging_stops_at_an_empty_page_after_next():
    path = "/api/v2/organizations/org_1/members"
    pages = [
        json_response(200, {"members": [{"user_id": "auth0|1"}], "next": "cp1"}),
        json_response(200, {"members": [], "next": "cp2"}),
        json_response(200, {"members": [{"user_id": "never"}]}),
    ]
    fake = FakeAuth0({("GET", path): pages})
    members = list(fake.client(FakeTime()).iter_organization_members("org_1"))
    assert [m.user_id for m in members] == ["auth0|1"]
    assert len(fake.requests) == 2


def test_organization_metadata_is_written_as_a_whole_map():
    path = "/api/v2/organizations/org_1"
    org = {"id": "org_1", "name": "acme", "metadata": {"a": "1", "customer_provisioned": "true"}}
    fake = FakeAuth0(
        {("GET", path): json_response(200, org), ("PATCH", path): json_response(200, org)}
    )
    client = fake.client(FakeTime())
    assert client.get_organization("org_1").metadata == {"a": "1", "customer_provisioned": "true"}
    client.update_organization_metadata("org_1", {"a": "1", "customer_provisioned": "true"})
    assert json.loads(fake.api_requests("PATCH", path)[0].content) == {
        "metadata": {"a": "1", "customer_provisioned": "true"}
    }


# -- export jobs ---------------------------------------------------------------------------


def test_export_job_is_created_polled_and_streamed():
    records = [{"user_id": f"auth0|{i}", "app_metadata": {"org_1:last_login": i}} for i in range(3)]
    payload = gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode())
    chunks = [payload[i : i + 7] for i in range(0, len(payload), 7)]
    pulled: list[int] = []

    def file_chunks():
        for index, chunk in enumerate(chunks):
            pulled.append(index)
            yield chunk

    download_requests: list[httpx.Request] = []

    def download(request: httpx.Request) -> httpx.Response:
        download_requests.append(request)
        return httpx.Response(200, content=file_chunks())

    job = {"id": "job_1", "type": "users_export", "status": "pending"}
    location = "https://exports.example.test/job_1.json.gz?signature=abc"
    fake = FakeAuth0(
        {
            ("POST", "/api/v2/jobs/users-exports"): json_response(201, job),
            ("GET", "/api/v2/jobs/job_1"): [
                json_response(200, {**job, "status": "pending"}),
                json_response(200, {**job, "status": "processing", "percentage_done": 50}),
                json_response(200, {**job, "status": "completed", "location": location}),
            ],
            ("GET", "/job_1.json.gz"): download,
        }
    )
    time = FakeTime()
    client = fake.client(time)
    created = client.create_users_export(fields=["user_id", "app_metadata"])
    assert json.loads(fake.requests[0].content) == {
        "format": "json",
        "fields": [{"name": "user_id"}, {"name": "app_metadata"}],
    }
    progress: list[str] = []
    done = client.wait_for_job(created.id, on_progress=lambda j: progress.append(j.status))
    assert progress == ["pending", "processing", "completed"]
    assert time.sleeps == [2.0, 2.0]
    users = client.iter_export_users(done.location)
    first = next(users)
    assert first.user_id == "auth0|0"
    assert len(pulled) < len(chunks)  # streamed, not downloaded whole first
    assert [u.app_metadata for u in users] == [
        {"org_1:last_login": 1},
        {"org_1:last_login": 2},
    ]
    assert "authorization" not in download_requests[0].headers
    assert str(download_requests[0].url) == location


def test_an_uncompressed_export_file_is_read_too():
    fake = FakeAuth0(
        {
            ("GET", "/export.ndjson"): httpx.Response(
                200, content=b'{"user_id": "a"}\n\n{"user_id": "b"}'
            )
        }
    )
    users = fake.client(FakeTime()).iter_export_users(f"{BASE_URL}/export.ndjson")
    assert [u.user_id for u in users] == ["a", "b"]


def test_a_truncated_export_file_is_an_error():
    payload = gzip.compress(b'{"user_id": "a"}\n{"user_id": "b"}\n')[:-12]
    fake = FakeAuth0({("GET", "/export.json.gz"): httpx.Response(200, content=payload)})
    with pytest.raises(StiggctlError) as caught:
        list(fake.client(FakeTime()).iter_export_users("/export.json.gz"))
    assert caught.value.code is ErrorCode.API_ERROR


def test_an_expired_export_link_says_to_export_again():
    fake = FakeAuth0({("GET", "/export.json.gz"): httpx.Response(403, content=b"<Error/>")})
    with pytest.raises(StiggctlError) as caught:
        list(fake.client(FakeTime()).iter_export_users("/export.json.gz"))
    assert caught.value.code is ErrorCode.PERMISSION_DENIED
    assert "60 s" in caught.value.hint


def test_a_failed_job_raises():
    job = {"id": "job_1", "type": "users_export", "status": "failed"}
    fake = FakeAuth0({("GET", "/api/v2/jobs/job_1"): json_response(200, job)})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).wait_for_job("job_1")
    assert caught.value.code is ErrorCode.API_ERROR
    assert caught.value.message == "Auth0: job job_1 failed."


def test_a_slow_job_times_out():
    job = {"id": "job_1", "type": "users_export", "status": "processing"}
    fake = FakeAuth0({("GET", "/api/v2/jobs/job_1"): json_response(200, job)})
    time = FakeTime()
    with pytest.raises(StiggctlError) as caught:
        fake.client(time).wait_for_job("job_1", poll_interval=5.0, timeout=12.0)
    assert caught.value.code is ErrorCode.TIMEOUT
    assert time.sleeps == [5.0, 5.0]


def test_an_unexpected_answer_is_an_api_error_not_a_crash():
    fake = FakeAuth0({("GET", USER_PATH): json_response(200, {"email": "no-id@acme.test"})})
    with pytest.raises(StiggctlError) as caught:
        fake.client(FakeTime()).get_user(USER_ID)
    assert caught.value.code is ErrorCode.API_ERROR
    assert caught.value.message == "Auth0 answered an unexpected User (user_id: Field required)."


def test_an_export_file_that_is_not_ndjson_is_an_api_error():
    fake = FakeAuth0({("GET", "/export.csv"): httpx.Response(200, content=b"user_id,email\na,b\n")})
    with pytest.raises(StiggctlError) as caught:
        list(fake.client(FakeTime()).iter_export_users("/export.csv"))
    assert caught.value.code is ErrorCode.API_ERROR
    assert caught.value.message == (
        "Auth0: the export file is not newline-delimited JSON (line 1)."
    )
