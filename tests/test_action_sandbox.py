"""The rendered Action deployed into the sandbox and run by real logins over real HTTP:
provisioning, metering, the limit, the returning-user shortcut, period rollover, fail policy,
and an organization provisioned again after Stigg lost its customer."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import TEMPLATE_VERSION, ActionSettings
from stiggctl.sandbox.auth0.seed import ACME, BUSINESS_APP_ID, CONSUMER_APP_ID, GLOBEX
from stiggctl.sandbox.faults import FaultPlan, FaultRule
from tests.sandbox_helpers import install_rendered_action, running_sandbox

pytestmark = pytest.mark.node

ACTION = "Stigg Integration (stiggctl)"


def deploy(server, **overrides):
    info = server.info()
    settings = ActionSettings(
        mode=overrides.pop("mode", "both"),
        application_id="*",
        b2c_plan_id="plan-free",
        b2b_plan_id="plan-free",
        auth0_domain=server.base_url,
        stigg_api_url=info["stigg"]["api_url"],
        **overrides,
    )
    install_rendered_action(server, ACTION, settings)


def login(server, name, org=ACME, client=BUSINESS_APP_ID, **kwargs):
    result = server.sandbox.login(f"auth0|demo-{name}", org_id=org, client_id=client, **kwargs)
    ours = next(a for a in result["actions"] if a["name"] == ACTION)
    return result, ours


def test_organization_limit_returning_users_and_rollover():
    with running_sandbox() as server:
        deploy(server)
        stigg, auth0 = server.sandbox.stigg, server.sandbox.auth0
        for name in ("alice", "bob", "carol"):
            result, ours = login(server, name)
            assert result["allowed"], (name, result)
            assert ours["status"] == "ok"
        assert sorted(stigg.active_users(ACME)) == [
            "auth0|demo-alice",
            "auth0|demo-bob",
            "auth0|demo-carol",
        ]
        # The organization was provisioned once, on the B2B plan, its other keys kept.
        assert stigg.customer(ACME) is not None
        metadata = auth0.get_org(ACME)["metadata"]
        assert metadata["industry"] == "manufacturing"
        assert metadata["region"] == "eu"
        assert metadata["customer_provisioned"] == "true"

        denied, ours = login(server, "dave")
        assert denied["allowed"] is False
        assert denied["deny_reason"] == "Access Denied"
        assert ours["status"] == "denied"
        assert "auth0|demo-dave" not in stigg.active_users(ACME)

        # A returning user of this period costs no network call, even over the limit.
        again, ours = login(server, "alice")
        assert again["allowed"] is True
        assert ours["http_calls"] == []
        refresh, ours = login(server, "bob", protocol="oauth2-refresh-token")
        assert refresh["allowed"] is True
        assert ours["http_calls"] == []

        # Next period: dave is a new active user of an empty period.
        server.sandbox.clock.advance(32 * 86400)
        later, ours = login(server, "dave")
        assert later["allowed"] is True
        assert stigg.active_users(ACME) == ["auth0|demo-dave"]


def test_the_user_whose_login_created_the_subscription_stays_active_in_its_period():
    with running_sandbox() as server:
        deploy(server)
        # Alice's login provisions ACME: its first usage period starts with the subscription,
        # a moment after her login began.
        first, _ = login(server, "alice")
        assert first["allowed"] is True
        # A day and a half later (the shortcut is re-checked daily) the plan's 3 are taken...
        server.sandbox.clock.advance(1.5 * 86400)
        for name in ("bob", "carol"):
            assert login(server, name)[0]["allowed"] is True
        # ...and alice, one of the 3, is an existing active user: not a new one to refuse.
        again, ours = login(server, "alice")
        assert again["allowed"] is True, again["deny_reason"]
        assert ours["console"][0].startswith(
            f"stiggctl {TEMPLATE_VERSION} allow existing_active_user "
        )
        assert sorted(server.sandbox.stigg.active_users(ACME)) == [
            "auth0|demo-alice",
            "auth0|demo-bob",
            "auth0|demo-carol",
        ]


def delete_stigg_customer(stigg, customer_id: str) -> None:
    """Stigg forgets a customer and its usage, as deleting it in Stigg does. The emulator has
    no removal of its own: its state is restored without them."""
    state = stigg.snapshot()
    for kind in ("customers", "events", "measurements"):
        state[kind] = [item for item in state[kind] if item["customer_id"] != customer_id]
    stigg.restore(state)


def test_an_organization_whose_stigg_customer_was_deleted_is_provisioned_again():
    with running_sandbox() as server:
        deploy(server)
        stigg, auth0 = server.sandbox.stigg, server.sandbox.auth0
        assert login(server, "alice")[0]["allowed"] is True
        delete_stigg_customer(stigg, ACME)
        assert stigg.customer(ACME) is None
        metadata = auth0.get_org(ACME)["metadata"]
        assert metadata["customer_provisioned"] == "true"

        server.sandbox.requests.clear()
        result, ours = login(server, "bob")
        assert result["allowed"] is True
        assert ours["console"][0].startswith(
            f"stiggctl {TEMPLATE_VERSION} allow granted steps=1,2,6,7,2,3,4,6,7,8,9,10,11 calls=4 "
        )
        # Entitlement, provisioning, entitlement, event: Stigg only, the mark is already there.
        assert [(r["method"], r["path"]) for r in server.sandbox.requests] == [
            ("POST", "/graphql")
        ] * 4
        customer = stigg.customer(ACME)
        assert customer is not None
        assert [s.plan_ref_id for s in customer.subscriptions] == ["plan-free"]
        assert stigg.active_users(ACME) == ["auth0|demo-bob"]
        assert auth0.get_org(ACME)["metadata"] == metadata

        # Alice was counted for the customer that is gone: at her next check (the shortcut
        # holds a day) she is a new active user of the new customer, and counted.
        server.sandbox.clock.advance(1.5 * 86400)
        again, ours = login(server, "alice")
        assert again["allowed"] is True
        assert ours["console"][0].startswith(
            f"stiggctl {TEMPLATE_VERSION} allow granted steps=1,2,6,7,8,9,10,11 calls=2"
        )
        assert sorted(stigg.active_users(ACME)) == ["auth0|demo-alice", "auth0|demo-bob"]


def test_individual_is_provisioned_once():
    with running_sandbox() as server:
        deploy(server)
        first, ours = login(server, "alice", org=None, client=CONSUMER_APP_ID)
        assert first["allowed"] is True
        assert len(ours["http_calls"]) == 1
        customer = server.sandbox.stigg.customer("auth0|demo-alice")
        assert customer is not None
        user = server.sandbox.auth0.get_user("auth0|demo-alice")
        assert user["app_metadata"]["stigg_customer_provisioned"] is True
        second, ours = login(server, "alice", org=None, client=CONSUMER_APP_ID)
        assert second["allowed"] is True
        assert ours["http_calls"] == []


def test_stigg_down_fail_open_allows_and_marks_nothing():
    with running_sandbox() as server:
        deploy(server)
        server.sandbox.faults.replace(FaultPlan(rules=[FaultRule(route="/graphql", error_rate=1)]))
        result, ours = login(server, "heidi", org=GLOBEX)
        assert result["allowed"] is True
        assert ours["status"] == "ok"
        assert "customer_provisioned" not in (server.sandbox.auth0.get_org(GLOBEX)["metadata"])
        user = server.sandbox.auth0.get_user("auth0|demo-heidi")
        assert not any(key.startswith(GLOBEX) for key in user.get("app_metadata", {}))
        # Stigg back: the next login does the whole flow.
        server.sandbox.faults.replace(FaultPlan())
        result, _ = login(server, "heidi", org=GLOBEX)
        assert result["allowed"] is True
        assert server.sandbox.stigg.active_users(GLOBEX) == ["auth0|demo-heidi"]


def test_stigg_down_fail_closed_denies_with_retry_message():
    with running_sandbox() as server:
        deploy(server, fail_policy="closed")
        server.sandbox.faults.replace(FaultPlan(rules=[FaultRule(route="/graphql", error_rate=1)]))
        result, ours = login(server, "heidi", org=GLOBEX)
        assert result["allowed"] is False
        assert "try again" in result["deny_reason"]
        assert ours["status"] == "denied"
