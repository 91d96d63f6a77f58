"""Both clients end to end against the sandbox's Auth0 and Stigg emulators, in process.

An httpx.MockTransport hands each request to the emulator's `handle()`, the way the sandbox
server does over a socket, so the clients and the emulators are checked against each other.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import BindingUpdate
from stiggctl.clients.stigg import StiggClient, unique_count_meter
from stiggctl.errors import ErrorCode, ExitCode, StiggctlError
from stiggctl.sandbox.auth0 import seed as auth0_seed
from stiggctl.sandbox.auth0.emulator import Auth0Emulator
from stiggctl.sandbox.http import Request
from stiggctl.sandbox.stigg import seed as stigg_seed
from stiggctl.sandbox.stigg.emulator import StiggEmulator
from tests.test_clients_fakes import FakeTime, make_policy

BASE_URL = "http://127.0.0.1:8765"
M2M_ID = "stiggctl-m2m"
M2M_SECRET = "m2m-secret-value"
STIGG_KEY = "server-sandbox-key"
ACTION_CODE = "exports.onExecutePostLogin = async (event, api) => {};"


def through(emulator) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        answer = emulator.handle(
            Request.build(
                request.method,
                request.url.raw_path.decode(),
                dict(request.headers),
                request.content,
            )
        )
        body, content_type = answer.encode()
        headers = dict(answer.headers)
        if content_type:
            headers.setdefault("content-type", content_type)
        return httpx.Response(answer.status, headers=headers, content=body)

    return httpx.MockTransport(handle)


@pytest.fixture
def time() -> FakeTime:
    return FakeTime(1_770_000_000.0)


@pytest.fixture
def auth0(time: FakeTime) -> tuple[Auth0Emulator, Auth0Client]:
    emulator = Auth0Emulator(clock=time.clock)
    emulator.base_url = BASE_URL
    auth0_seed.seed_demo(emulator, m2m_client_id=M2M_ID, m2m_client_secret=M2M_SECRET)
    client = Auth0Client(
        BASE_URL, M2M_ID, M2M_SECRET, transport=through(emulator), retry=make_policy(time)
    )
    return emulator, client


@pytest.fixture
def stigg(time: FakeTime) -> StiggClient:
    emulator = StiggEmulator(api_keys={STIGG_KEY}, clock=time.clock)
    stigg_seed.seed_empty(emulator)
    return StiggClient(
        f"{BASE_URL}/graphql", STIGG_KEY, transport=through(emulator), retry=make_policy(time)
    )


def test_auth0_reads_with_one_token(auth0):
    emulator, client = auth0
    assert {"read:actions", "update:organizations"} <= client.token_scopes()
    usage = {c.client_id: c.organization_usage for c in client.list_clients()}
    assert usage[auth0_seed.BUSINESS_APP_ID] == "require"
    assert usage[auth0_seed.CONSUMER_APP_ID] == "deny"
    orgs = [o.id for o in client.iter_organizations(take=2)]
    assert orgs == [
        auth0_seed.ACME,
        auth0_seed.GLOBEX,
        auth0_seed.INITECH,
        auth0_seed.UMBRELLA,
    ]
    members = [m.user_id for m in client.iter_organization_members(auth0_seed.ACME, take=3)]
    assert len(members) == 7
    alice = auth0_seed.demo_user_id("alice")
    assert [o.id for o in client.list_user_organizations(alice)] == [auth0_seed.ACME]
    users = client.list_users()
    assert len(list(users)) == 12
    assert users.truncated is False
    assert emulator.tokens_issued == 1


def test_auth0_metadata_writes(auth0):
    _, client = auth0
    alice = auth0_seed.demo_user_id("alice")
    key = f"{auth0_seed.ACME}:last_login"
    assert client.update_user_app_metadata(alice, {key: 1}).app_metadata == {key: 1}
    assert client.get_user(alice).app_metadata == {key: 1}
    current = client.get_organization(auth0_seed.ACME).metadata
    written = client.update_organization_metadata(
        auth0_seed.ACME, {**current, "customer_provisioned": "true"}
    )
    assert written.metadata == {**current, "customer_provisioned": "true"}


def test_auth0_action_lifecycle(auth0, time):
    _, client = auth0
    created = client.create_action(name="stigg-mau", code=ACTION_CODE, secrets={"K": "v"})
    assert created.status == "pending"
    time.sleep(5)
    assert client.get_action(created.id).status == "built"
    first = client.deploy_action(created.id)
    assert first.number == 1
    time.sleep(5)
    before = client.get_bindings()
    written = client.replace_bindings(
        [BindingUpdate.keeping(b) for b in before]
        + [BindingUpdate.for_action_id(created.id, "stigg-mau")]
    )
    assert [b.display_name for b in written] == [auth0_seed.ROLES_ACTION_NAME, "stigg-mau"]
    assert client.find_action("stigg-mau").id == created.id
    assert client.deploy_action_version(created.id, first.id).number == 2
    with pytest.raises(StiggctlError) as caught:
        client.delete_action(created.id)
    assert caught.value.code is ErrorCode.CONFLICT
    client.delete_action(created.id, force=True)
    assert client.find_action("stigg-mau") is None


def test_auth0_export_streams_every_user(auth0, time):
    _, client = auth0
    job = client.create_users_export(fields=["user_id", "email"])
    done = client.wait_for_job(job.id, poll_interval=1.0)
    exported = [u.user_id for u in client.iter_export_users(done.location)]
    assert len(exported) == 12
    assert auth0_seed.demo_user_id("alice") in exported


def test_auth0_missing_scope_is_named(auth0):
    emulator, client = auth0
    emulator.set_grant(M2M_ID, ["read:users"])
    with pytest.raises(StiggctlError) as caught:
        client.list_actions()
    assert caught.value.code is ErrorCode.PERMISSION_DENIED
    assert caught.value.details["missing_scopes"] == ["read:actions"]


def test_auth0_wrong_secret_exits_4(auth0, time):
    emulator, _ = auth0
    client = Auth0Client(
        BASE_URL, M2M_ID, "wrong", transport=through(emulator), retry=make_policy(time)
    )
    with pytest.raises(StiggctlError) as caught:
        client.token_scopes()
    assert caught.value.exit_code is ExitCode.AUTH
    assert caught.value.code is ErrorCode.AUTHENTICATION_FAILED


def test_stigg_setup_provisioning_and_metering(stigg, time):
    assert [p.ref_id for p in stigg.list_products()] == [stigg_seed.PRODUCT_ID]
    assert [p.ref_id for p in stigg.list_plans()] == list(stigg_seed.PLAN_LIMITS)
    assert stigg.find_feature("feature-active-users") is None
    feature = stigg.create_feature(
        ref_id="feature-active-users",
        display_name="Active Users",
        meter=unique_count_meter("user-login", "user_id"),
    )
    assert feature.environment_id == stigg.environment_id()
    first = stigg.provision_customer("org_1", name="Acme", plan_id="plan-free")
    assert first.created is True
    assert first.customer.plan_ref_ids == ["plan-free"]
    assert stigg.provision_customer("org_1", plan_id="plan-free").already_existed is True
    assert stigg.get_customer("org_1").customer_id == "org_1"
    assert stigg.get_customer("org_404") is None


def test_stigg_entitlement_counts_unique_users(time):
    emulator = StiggEmulator(api_keys={STIGG_KEY}, clock=time.clock)
    stigg_seed.seed_demo(emulator)
    client = StiggClient(
        f"{BASE_URL}/graphql", STIGG_KEY, transport=through(emulator), retry=make_policy(time)
    )
    client.provision_customer("org_1", plan_id="plan-free")  # 3 active users
    for user, key in (("u1", "k1"), ("u1", "k1"), ("u2", "k2"), ("u2", "k3"), ("u3", "k4")):
        client.report_event(
            "org_1", "user-login", idempotency_key=key, dimensions={"user_id": user}
        )
    entitlement = client.get_entitlement("org_1", "feature-active-users")
    assert (entitlement.current_usage, entitlement.usage_limit) == (3.0, 3.0)
    assert entitlement.has_access is False
    start = datetime.fromtimestamp(time.now - 86400, UTC)
    history = client.usage_history("org_1", "feature-active-users", start=start)
    assert len(history.series) == 1  # its values are the emulator's business


def test_stigg_bad_key_exits_4(time):
    emulator = StiggEmulator(api_keys={STIGG_KEY}, clock=time.clock)
    client = StiggClient(
        f"{BASE_URL}/graphql", "server-wrong", transport=through(emulator), retry=make_policy(time)
    )
    with pytest.raises(StiggctlError) as caught:
        client.list_products()
    assert caught.value.exit_code is ExitCode.AUTH
    assert "STIGGCTL_STIGG_API_KEY" in caught.value.hint
