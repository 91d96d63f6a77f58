"""What the login runtime gets from the Auth0 emulator, the seeds, and snapshot/restore."""

from __future__ import annotations

import json
import threading

import pytest

from stiggctl.sandbox.auth0 import Auth0Emulator, SandboxError
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import (
    ACME,
    BUSINESS_APP_ID,
    CONSUMER_APP_ID,
    GLOBEX,
    ROLES_ACTION_CODE,
    ROLES_ACTION_NAME,
    WORKSPACE_APP_ID,
)
from stiggctl.sandbox.clock import Clock
from tests.test_sandbox_auth0_support import (
    BASE_URL,
    GOOD_CODE,
    M2M_ID,
    M2M_SECRET,
    START,
    Api,
    fake_checker,
    jwt_claims,
    make_emulator,
    mint_token,
    user_path,
)

ALICE = "auth0|demo-alice"
MALLORY = "auth0|demo-mallory"


@pytest.fixture
def emu() -> Auth0Emulator:
    return make_emulator()[0]


def test_b2c_event_has_auth0s_shape(emu):
    event = emu.build_post_login_event(MALLORY, client_id=CONSUMER_APP_ID, ip="203.0.113.9")
    assert set(event) == {
        "authentication",
        "authorization",
        "client",
        "connection",
        "request",
        "secrets",
        "session",
        "stats",
        "tenant",
        "transaction",
        "user",
    }
    assert event["client"] == {
        "client_id": CONSUMER_APP_ID,
        "name": "Acme Shop (consumers)",
        "metadata": {},
    }
    assert event["tenant"] == {"id": "sandbox"}
    assert event["stats"] == {"logins_count": 1}
    assert event["request"]["ip"] == "203.0.113.9"
    assert event["request"]["hostname"] == "127.0.0.1:48123"
    assert event["transaction"]["protocol"] == "oidc-basic-profile"
    assert event["transaction"]["requested_scopes"] == ["openid", "profile", "email"]
    assert event["connection"]["name"] == "Username-Password-Authentication"
    assert event["authentication"]["methods"] == [
        {"name": "pwd", "timestamp": "2023-11-14T22:13:20.000Z"}
    ]
    user = event["user"]
    assert user["user_id"] == MALLORY
    assert user["app_metadata"] == {} and user["user_metadata"] == {}
    assert "organization" not in event


def test_org_event_carries_the_organization_with_metadata(emu):
    event = emu.build_post_login_event(ALICE, org_id=ACME, protocol="oauth2-refresh-token")
    assert event["organization"] == {
        "id": ACME,
        "name": "acme",
        "display_name": "Acme Corp",
        "metadata": {"industry": "manufacturing", "region": "eu"},
    }
    assert event["client"]["client_id"] == BUSINESS_APP_ID  # first application taking org logins
    assert event["transaction"]["protocol"] == "oauth2-refresh-token"
    assert event["request"]["query"]["organization"] == ACME


def test_default_application_for_individual_logins(emu):
    assert emu.build_post_login_event(MALLORY)["client"]["client_id"] == CONSUMER_APP_ID


@pytest.mark.parametrize(
    ("kwargs", "status", "message"),
    [
        ({"user_id": "auth0|ghost"}, 404, "Unknown user: auth0|ghost"),
        ({"user_id": ALICE, "org_id": "org_ghost"}, 404, "Unknown organization: org_ghost"),
        ({"user_id": ALICE, "client_id": "ghost"}, 404, "Unknown application (client): ghost"),
        (
            {"user_id": MALLORY, "org_id": ACME},
            403,
            f"User {MALLORY} is not a member of organization {ACME}.",
        ),
        (
            {"user_id": ALICE, "org_id": ACME, "client_id": CONSUMER_APP_ID},
            400,
            "Acme Shop (consumers) does not accept logins into an organization "
            "(organization_usage: deny).",
        ),
        (
            {"user_id": ALICE, "client_id": BUSINESS_APP_ID},
            400,
            "Acme Business Portal requires a login into an organization "
            "(organization_usage: require).",
        ),
        (
            {"user_id": ALICE, "client_id": M2M_ID},
            400,
            "stiggctl is a machine-to-machine client: no user logs in to it.",
        ),
    ],
)
def test_logins_auth0_would_not_run_raise_sandbox_errors(emu, kwargs, status, message):
    user_id = kwargs.pop("user_id")
    with pytest.raises(SandboxError) as caught:
        emu.build_post_login_event(user_id, **kwargs)
    assert (caught.value.status, caught.value.message) == (status, message)


def test_both_kinds_of_login_work_on_an_allow_application(emu):
    assert "organization" in emu.build_post_login_event(
        ALICE, org_id=ACME, client_id=WORKSPACE_APP_ID
    )
    assert "organization" not in emu.build_post_login_event(ALICE, client_id=WORKSPACE_APP_ID)


def test_allowed_login_records_last_login_and_count_but_event_user_never_shows_them():
    emu, clock = make_emulator()
    clock.advance(60)
    user = emu.complete_login(
        ALICE,
        allowed=True,
        app_metadata={"acme:last_login": "2023-11"},
        user_metadata={},
        ip="198.51.100.7",
    )
    assert user["last_login"] == "2023-11-14T22:14:20.000Z"
    assert user["last_ip"] == "198.51.100.7"
    assert user["logins_count"] == 1
    assert user["app_metadata"] == {"acme:last_login": "2023-11"}
    fetched = Api(emu).get(user_path(ALICE)).body
    assert (fetched["last_login"], fetched["logins_count"]) == ("2023-11-14T22:14:20.000Z", 1)
    event = emu.build_post_login_event(ALICE, org_id=ACME)
    assert event["stats"] == {"logins_count": 2}
    assert not {"last_login", "logins_count", "last_ip"} & set(event["user"])
    assert event["user"]["app_metadata"] == {"acme:last_login": "2023-11"}


def test_denied_login_saves_metadata_but_does_not_count(emu):
    emu.complete_login(ALICE, allowed=True, app_metadata={"a": 1, "b": 2}, user_metadata={"u": 1})
    user = emu.complete_login(
        ALICE, allowed=False, app_metadata={"a": None, "c": 3}, user_metadata={}
    )
    assert user["app_metadata"] == {"b": 2, "c": 3}
    assert user["user_metadata"] == {"u": 1}
    assert user["logins_count"] == 1
    with pytest.raises(SandboxError) as caught:
        emu.complete_login(ALICE, allowed=True, app_metadata={"a.b": 1}, user_metadata={})
    assert caught.value.status == 400
    with pytest.raises(SandboxError):
        emu.complete_login("auth0|ghost", allowed=True, app_metadata={}, user_metadata={})


def test_post_login_actions_use_the_deployed_code_and_current_secrets():
    emu, clock = make_emulator()
    api = Api(emu)
    created = api.post(
        "/actions/actions",
        {
            "name": "Stigg MAU",
            "supported_triggers": [{"id": "post-login", "version": "v3"}],
            "code": GOOD_CODE,
            "secrets": [{"name": "STIGG_API_KEY", "value": "key-1"}],
        },
    ).body
    path = f"/actions/actions/{created['id']}"
    clock.advance(0.6)
    api.post(f"{path}/deploy")
    clock.advance(0.3)
    bindings = api.get("/actions/triggers/post-login/bindings").body["bindings"]
    refs = [{"ref": {"type": "action_id", "value": b["action"]["id"]}} for b in bindings]
    refs.append({"ref": {"type": "action_id", "value": created["id"]}})
    assert api.patch("/actions/triggers/post-login/bindings", {"bindings": refs}).status == 200
    # A new draft and new secrets: the runtime runs the deployed code with the new secrets.
    api.patch(
        path,
        {
            "code": "// draft\n" + GOOD_CODE,
            "secrets": [{"name": "STIGG_API_KEY", "value": "key-2"}],
        },
    )
    actions = emu.post_login_actions()
    assert [(a["name"], a["version"], a["runtime"]) for a in actions] == [
        (ROLES_ACTION_NAME, 1, "node22"),
        ("Stigg MAU", 1, "node22"),
    ]
    assert actions[0]["code"] == ROLES_ACTION_CODE
    assert actions[1] == {
        "id": created["id"],
        "name": "Stigg MAU",
        "code": GOOD_CODE,
        "secrets": {"STIGG_API_KEY": "key-2"},
        "runtime": "node22",
        "version": 1,
    }


def test_demo_seed():
    emu, _ = make_emulator(seed="demo")
    clients = emu.list_clients()
    usages = {c["client_id"]: (c["app_type"], c.get("organization_usage")) for c in clients}
    assert usages == {
        CONSUMER_APP_ID: ("regular_web", "deny"),
        BUSINESS_APP_ID: ("regular_web", "require"),
        WORKSPACE_APP_ID: ("spa", "allow"),
        M2M_ID: ("non_interactive", None),
    }
    assert jwt_scope(emu) == " ".join(STIGGCTL_SCOPES)
    orgs = emu.list_orgs()
    assert len(orgs) == 4 and all(o.get("metadata") for o in orgs)
    assert len(emu.list_users()) == 12
    assert len(emu.members(ACME)) == 7
    assert emu.members(GLOBEX) == ["auth0|demo-heidi", "auth0|demo-ivan"]
    assert emu.user_organizations(MALLORY) == []
    roles = emu.find_action(ROLES_ACTION_NAME)
    assert roles is not None
    assert (
        roles["status"],
        roles["all_changes_deployed"],
        roles["deployed_version"]["number"],
    ) == (
        "built",
        True,
        1,
    )
    assert [a["name"] for a in emu.post_login_actions()] == [ROLES_ACTION_NAME]


def jwt_scope(emu: Auth0Emulator) -> str:
    return jwt_claims(mint_token(emu))["scope"]


def test_empty_seed_has_no_actions():
    emu, _ = make_emulator(seed="empty")
    assert Api(emu).get("/actions/actions").body == {"actions": [], "total": 0, "per_page": 20}
    assert emu.post_login_actions() == []
    assert (
        len(emu.list_users()) == 12 and len(emu.list_orgs()) == 4 and len(emu.list_clients()) == 4
    )


def test_seed_ids_are_deterministic():
    first, _ = make_emulator()
    second, _ = make_emulator()
    assert first.find_action(ROLES_ACTION_NAME)["id"] == second.find_action(ROLES_ACTION_NAME)["id"]
    assert first.list_users() == second.list_users()


def test_snapshot_is_json_and_restores_every_answer():
    emu, clock = make_emulator()
    api = Api(emu)
    api.patch(user_path(ALICE), {"app_metadata": {"plan": "pro"}})
    api.patch(f"/organizations/{ACME}", {"metadata": {"stigg": "yes"}})
    emu.complete_login(ALICE, allowed=True, app_metadata={}, user_metadata={})
    snapshot = json.loads(json.dumps(emu.snapshot()))
    assert M2M_SECRET not in json.dumps(snapshot)

    restored = Auth0Emulator(clock=clock, code_checker=fake_checker)
    restored.base_url = BASE_URL
    restored.restore(snapshot)
    # The token minted before the restore is still valid: the signing key is in the state.
    again = Api(restored, api.token)
    for path in (
        user_path(ALICE),
        f"/organizations/{ACME}",
        "/actions/triggers/post-login/bindings",
        "/clients",
        f"/organizations/{ACME}/members",
    ):
        assert again.get(path).body == api.get(path).body
    assert restored.post_login_actions() == emu.post_login_actions()
    # Ids keep counting from where the snapshot left off.
    assert restored.add_org("new", "New")["id"] == emu.add_org("new", "New")["id"]
    assert mint_token(restored)


def test_snapshot_is_a_copy(emu):
    snapshot = emu.snapshot()
    snapshot["users"].clear()
    assert len(emu.list_users()) == 12


def test_restore_refuses_foreign_data(emu):
    with pytest.raises(ValueError, match="unsupported Auth0 sandbox state format 99"):
        emu.restore({"format": 99})
    with pytest.raises(ValueError, match="lacks"):
        emu.restore({"format": 1})
    assert len(emu.list_users()) == 12


def test_write_helpers_refuse_duplicates_and_unknowns(emu):
    with pytest.raises(SandboxError):
        emu.add_user(ALICE, email="a@example.com")
    with pytest.raises(SandboxError):
        emu.add_org("acme", "Acme again")
    with pytest.raises(SandboxError):
        emu.add_member("org_ghost", ALICE)
    with pytest.raises(SandboxError):
        emu.add_member(ACME, "auth0|ghost")
    with pytest.raises(SandboxError):
        emu.add_client(M2M_ID, "again", "non_interactive")
    with pytest.raises(SandboxError):
        emu.add_action(ROLES_ACTION_NAME, GOOD_CODE)
    assert emu.get_user("auth0|ghost") is None and emu.get_org("org_ghost") is None
    assert emu.get_client("ghost") is None and emu.get_action("ghost") is None


def test_concurrent_requests_are_serialised():
    emu = Auth0Emulator(clock=Clock(start=START), code_checker=fake_checker)
    emu.base_url = BASE_URL
    emu.add_client(
        M2M_ID, "m", "non_interactive", client_secret=M2M_SECRET, grant_scopes=STIGGCTL_SCOPES
    )
    emu.add_user(ALICE, email="alice@example.com")
    api = Api(emu)
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(25):
            assert api.patch(user_path(ALICE), {"app_metadata": {f"w{n}_{i}": i}}).status == 200

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(emu.get_user(ALICE)["app_metadata"]) == 200


def test_answers_are_copies_of_the_state(emu):
    api = Api(emu)
    answer = api.get("/actions/triggers/post-login/bindings")
    answer.body["bindings"][0]["action"]["supported_triggers"].append({"id": "x"})
    again = api.get("/actions/triggers/post-login/bindings").body
    assert again["bindings"][0]["action"]["supported_triggers"] == [
        {"id": "post-login", "version": "v3"}
    ]
