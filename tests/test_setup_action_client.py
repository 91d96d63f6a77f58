"""`stiggctl setup` and the Action's own M2M client, against the sandbox: --action-client-id
(verified by minting a token that must carry update:organizations), its secret from the
environment or a hidden prompt, the optional question of an interactive run, and --deploy."""

from __future__ import annotations

import pytest

from stiggctl.config.profiles import config_path
from stiggctl.core import deploy_plan
from stiggctl.core.deploy_plan import KdfCost
from stiggctl.prompts import ScriptedPrompter
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import BUSINESS_APP_ID, CONSUMER_APP_ID
from tests.sandbox_helpers import running_sandbox
from tests.test_deploy_support import (
    ACTION_CLIENT_ID,
    ACTION_CLIENT_SECRET,
    ORGANIZATION_SCOPE,
    SHARED_CLIENT_WARNING,
    add_action_client,
    live_secrets,
)
from tests.test_setup import (
    KEYRING,
    a_person,  # noqa: F401 (a fixture)
    credentials,
    error_of,
    expected_settings,
    flags,
    interactive,
    saved_profiles,
    secrets_in_env,
    setup,
)

WITHOUT_ORGANIZATION_SCOPE = [s for s in STIGGCTL_SCOPES if s != ORGANIZATION_SCOPE]
FROM_ENV = "environment (STIGGCTL_ACTION_CLIENT_SECRET)"


@pytest.fixture
def sandbox():
    with running_sandbox() as server:
        yield server


def one_line(text: str) -> str:
    return " ".join(text.split())


def all_secrets_in_env(monkeypatch, server, action_secret: str = ACTION_CLIENT_SECRET) -> None:
    secrets_in_env(monkeypatch, server)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", action_secret)


def assert_nothing_saved() -> None:
    assert not config_path().exists()


# ---- non-interactive -------------------------------------------------------------------------


def test_the_flag_verifies_and_saves_the_actions_client(
    capsys, monkeypatch, sandbox, forbidden_keyring
):
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox)
    # With its own client the Action no longer needs stiggctl's to hold update:organizations.
    client_id, secret, key = credentials(sandbox)
    sandbox.sandbox.auth0.set_grant(client_id, WITHOUT_ORGANIZATION_SCOPE)
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert data["settings"] == expected_settings(sandbox, action_client_id=ACTION_CLIENT_ID)
    assert data["secrets"] == {
        "auth0_client_secret": "environment (STIGGCTL_AUTH0_CLIENT_SECRET)",
        "stigg_api_key": "environment (STIGGCTL_STIGG_API_KEY)",
        "action_client_secret": FROM_ENV,
    }
    assert data["warnings"] == []
    assert saved_profiles() == {
        "default": expected_settings(sandbox, action_client_id=ACTION_CLIENT_ID)
    }
    assert (
        f"Auth0: the Action's client {ACTION_CLIENT_ID} got a token with update:organizations."
        in one_line(result.stderr)
    )
    everything = result.stdout + result.stderr + config_path().read_text()
    for value in (ACTION_CLIENT_SECRET, secret, key):
        assert value not in everything


def test_the_environment_names_the_actions_client_like_the_flag(capsys, monkeypatch, sandbox):
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", ACTION_CLIENT_ID)
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["data"]["settings"]["action_client_id"] == ACTION_CLIENT_ID


def test_a_client_without_update_organizations_is_refused(capsys, monkeypatch, sandbox):
    add_action_client(sandbox, scopes=("read:users",))
    all_secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 4
    assert error_of(result) == {
        "code": "permission_denied",
        "message": f"The Action's M2M application {ACTION_CLIENT_ID} lacks the Management API "
        "scope update:organizations (the Action marking organizations as provisioned).",
        "hint": "In the Auth0 dashboard open Applications > APIs > Auth0 Management API > "
        f"Machine To Machine Applications, expand client {ACTION_CLIENT_ID} and tick "
        "update:organizations. Then run `stiggctl setup` again (or --action-client-id none to "
        "let the Action hold stiggctl's client).",
        "details": {"missing_scopes": ["update:organizations"]},
    }
    assert_nothing_saved()


def test_a_client_with_more_scopes_than_needed_is_kept_with_a_warning(capsys, monkeypatch, sandbox):
    add_action_client(sandbox, scopes=(ORGANIZATION_SCOPE, "read:users"))
    all_secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["data"]["warnings"] == [
        f"The Action's M2M application {ACTION_CLIENT_ID} also carries read:users: it needs "
        "only update:organizations. Untick the others in the Auth0 dashboard (Applications > "
        "APIs > Auth0 Management API > Machine To Machine Applications)."
    ]


def test_a_rejected_secret_exits_4_naming_the_actions_variables(capsys, monkeypatch, sandbox):
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox, action_secret="action-sekret-wrong-x9")
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 4
    error = error_of(result)
    assert error["code"] == "authentication_failed"
    assert error["message"].startswith(
        f"Auth0 rejected the client credentials of client {ACTION_CLIENT_ID}"
    )
    assert error["hint"] == (
        "Check the client id and secret of the Action's M2M application "
        "(STIGGCTL_ACTION_CLIENT_ID / STIGGCTL_ACTION_CLIENT_SECRET, or `stiggctl setup`)."
    )
    assert "action-sekret-wrong-x9" not in result.stdout + result.stderr
    assert_nothing_saved()


def test_a_missing_secret_exits_4_and_the_keyring_is_untouched(
    capsys, monkeypatch, sandbox, forbidden_keyring
):
    add_action_client(sandbox)
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 4
    error = error_of(result)
    assert (error["code"], error["details"]) == (
        "missing_credential",
        {"env": "STIGGCTL_ACTION_CLIENT_SECRET"},
    )
    assert error["message"] == (
        "No client secret of the Action's M2M application: setup cannot ask for it here "
        "(--no-input)."
    )
    assert_nothing_saved()


def test_a_secret_without_a_client_id_exits_4(capsys, monkeypatch, sandbox):
    all_secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 4
    assert error_of(result)["details"] == {"env": "STIGGCTL_ACTION_CLIENT_ID"}
    assert_nothing_saved()


def test_stiggctls_own_client_is_not_the_actions(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    client_id, _, _ = credentials(sandbox)
    result = setup(capsys, *flags(sandbox), "--action-client-id", client_id)
    assert result.exit_code == 1
    assert error_of(result)["message"] == (
        f"Invalid --action-client-id: {client_id} is stiggctl's own client: give the Action "
        "another M2M application, or 'none' to let it hold stiggctl's."
    )
    assert_nothing_saved()


def test_a_rerun_keeps_the_client_and_none_lets_the_action_hold_stiggctls_again(
    capsys, monkeypatch, sandbox
):
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox)
    assert setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID).exit_code == 0
    tokens = sandbox.sandbox.auth0.tokens_issued
    again = setup(capsys, *flags(sandbox))
    assert again.exit_code == 0, again.stdout + again.stderr
    assert again.json()["data"]["settings"]["action_client_id"] == ACTION_CLIENT_ID
    # The kept client is verified again: stiggctl's token, then the Action client's.
    assert sandbox.sandbox.auth0.tokens_issued - tokens == 2

    monkeypatch.delenv("STIGGCTL_ACTION_CLIENT_SECRET")
    removed = setup(capsys, *flags(sandbox), "--action-client-id", "none")
    assert removed.exit_code == 0, removed.stdout + removed.stderr
    assert saved_profiles() == {"default": expected_settings(sandbox)}
    assert "action_client_secret" not in removed.json()["data"]["secrets"]
    assert SHARED_CLIENT_WARNING in one_line(removed.stderr)


def test_without_a_client_a_b2b_run_recommends_one(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    # A note, not a warning: deploy-action and doctor warn each time it holds.
    assert result.json()["data"]["warnings"] == []
    assert SHARED_CLIENT_WARNING in one_line(result.stderr)


def test_individuals_only_leave_the_flag_unused(capsys, monkeypatch, sandbox):
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox)
    args = flags(sandbox, application=CONSUMER_APP_ID, b2c_plan="plan-free", b2b_plan=None)
    result = setup(capsys, *args, "--action-client-id", ACTION_CLIENT_ID)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert data["warnings"] == [
        "Mode b2c: the Action never calls the Management API, so --action-client-id is not used."
    ]
    assert "action_client_id" not in data["settings"]
    assert SHARED_CLIENT_WARNING not in one_line(result.stderr)


def test_deploy_gives_the_action_its_own_client(capsys, monkeypatch, sandbox, forbidden_keyring):
    monkeypatch.setattr(deploy_plan, "DEFAULT_COST", KdfCost(n=16, r=1, p=1))
    add_action_client(sandbox)
    all_secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox), "--action-client-id", ACTION_CLIENT_ID, "--deploy")
    assert result.exit_code == 0, result.stdout + result.stderr
    deployed = result.json()["data"]["deploy"]
    assert (deployed["action_client"], deployed["warnings"]) == (
        {"client_id": ACTION_CLIENT_ID, "own": True},
        [],
    )
    secrets = live_secrets(sandbox)
    assert (secrets["AUTH0_M2M_CLIENT_ID"], secrets["AUTH0_M2M_CLIENT_SECRET"]) == (
        ACTION_CLIENT_ID,
        ACTION_CLIENT_SECRET,
    )
    assert ACTION_CLIENT_SECRET not in result.stdout + result.stderr


# ---- interactive -----------------------------------------------------------------------------


def answers(server, **more) -> dict:
    client_id, secret, key = credentials(server)
    return {
        "auth0_domain": server.base_url,
        "auth0_client_id": client_id,
        "auth0_client_secret": secret,
        "stigg_api_key": key,
        "application_id": BUSINESS_APP_ID,
        "b2b_plan": "plan-pro",
        "deploy": False,
        **more,
    }


def stigg_url(server) -> list[str]:
    return ["--stigg-api-url", f"{server.base_url}/graphql"]


@pytest.mark.usefixtures("a_person")
def test_a_person_picks_the_actions_client_and_its_secret_is_stored_once_verified(
    capsys, sandbox, memory_keyring
):
    add_action_client(sandbox)
    _, secret, key = credentials(sandbox)
    prompter = ScriptedPrompter(
        answers(
            sandbox,
            action_client_id=ACTION_CLIENT_ID,
            action_client_secret=["typo", ACTION_CLIENT_SECRET],
        )
    )
    result = interactive(capsys, prompter, *stigg_url(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert prompter.unused() == {}
    asked = [(a.kind, a.key, a.default) for a in prompter.asked]
    assert asked[5:10] == [
        ("choice", "mode", "b2b"),
        ("choice", "action_client_id", "none"),
        ("secret", "action_client_secret", False),
        ("secret", "action_client_secret", False),  # the typo was rejected by Auth0
        ("text", "active_users_feature", "feature-active-users"),
    ]
    question = next(a for a in prompter.asked if a.key == "action_client_id")
    assert question.options == (ACTION_CLIENT_ID, "none")
    assert question.question == (
        "M2M application of the Action, with only update:organizations "
        "(leave empty to reuse stiggctl's client)"
    )
    assert memory_keyring.store == {
        (KEYRING, "default:auth0_client_secret"): secret,
        (KEYRING, "default:stigg_api_key"): key,
        (KEYRING, "default:action_client_secret"): ACTION_CLIENT_SECRET,
    }
    data = result.json()["data"]
    assert data["settings"]["action_client_id"] == ACTION_CLIENT_ID
    assert data["secrets"]["action_client_secret"] == "keyring"
    assert "typo" not in result.stderr and ACTION_CLIENT_SECRET not in result.stderr

    # The rerun offers the client as the default and keeps its stored secret.
    rerun = ScriptedPrompter({"deploy": False})
    again = interactive(capsys, rerun, *stigg_url(sandbox))
    assert again.exit_code == 0, again.stdout + again.stderr
    asked = [(a.kind, a.key, a.default) for a in rerun.asked]
    assert asked[6:8] == [
        ("choice", "action_client_id", ACTION_CLIENT_ID),
        ("secret", "action_client_secret", True),  # Enter keeps the stored secret
    ]
    question = next(a for a in rerun.asked if a.key == "action_client_id")
    assert question.question.endswith(f"(Enter keeps {ACTION_CLIENT_ID})")
    assert again.json()["data"]["settings"]["action_client_id"] == ACTION_CLIENT_ID


@pytest.mark.usefixtures("a_person")
def test_a_person_who_leaves_it_empty_lets_the_action_hold_stiggctls_client(
    capsys, sandbox, memory_keyring
):
    add_action_client(sandbox)
    prompter = ScriptedPrompter(answers(sandbox))  # Enter at the Action's client: "none"
    result = interactive(capsys, prompter, *stigg_url(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert [a.key for a in prompter.asked].count("action_client_secret") == 0
    assert "action_client_id" not in result.json()["data"]["settings"]
    assert (KEYRING, "default:action_client_secret") not in memory_keyring.store
    assert SHARED_CLIENT_WARNING in one_line(result.stderr)


@pytest.mark.usefixtures("a_person")
def test_a_tenant_with_no_other_m2m_application_is_not_asked(capsys, sandbox, memory_keyring):
    prompter = ScriptedPrompter(answers(sandbox))
    result = interactive(capsys, prompter, *stigg_url(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "action_client_id" not in [a.key for a in prompter.asked]
    assert "The tenant has no other M2M application to give the Action." in result.stderr
