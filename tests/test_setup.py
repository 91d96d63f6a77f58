"""`stiggctl setup` against the sandbox over real HTTP: non-interactive runs from flags and
the environment, verification failures, mode preselection, interactive runs driven through
the prompting layer, and --deploy."""

from __future__ import annotations

import tomllib

import pytest

from stiggctl.app import AppContext
from stiggctl.config.profiles import config_path
from stiggctl.core import deploy_plan
from stiggctl.core.deploy_plan import KdfCost
from stiggctl.prompts import ScriptedPrompter, answering
from stiggctl.sandbox.auth0.clients import STIGGCTL_SCOPES
from stiggctl.sandbox.auth0.seed import (
    BUSINESS_APP_ID,
    CONSUMER_APP_ID,
    ROLES_ACTION_NAME,
    WORKSPACE_APP_ID,
)
from stiggctl.sandbox.server import SandboxServer
from tests.cli_helpers import CliResult, run_cli
from tests.sandbox_helpers import running_sandbox

ACTION_NAME = "Stigg Integration (stiggctl)"
KEYRING = "stiggctl"
NO_ENTITLEMENT_WARNING = (
    "Plan plan-pro has no feature-active-users entitlement: every new active user of an "
    "organization on it will be refused. Add feature-active-users to the plan's entitlements "
    "in the Stigg app, with the monthly limit you sell (or unlimited)."
)


@pytest.fixture
def sandbox():
    with running_sandbox() as server:
        yield server


def credentials(server: SandboxServer) -> tuple[str, str, str]:
    """(M2M client id, its secret, the Stigg API key)."""
    info = server.info()
    return info["auth0"]["client_id"], info["auth0"]["client_secret"], info["stigg"]["api_key"]


def secrets_in_env(
    monkeypatch: pytest.MonkeyPatch,
    server: SandboxServer,
    *,
    auth0_secret: str | None = None,
    stigg_key: str | None = None,
) -> None:
    _, secret, key = credentials(server)
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", auth0_secret or secret)
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", stigg_key or key)


def flags(server: SandboxServer, **overrides: str | None) -> list[str]:
    """Every answer as a flag (B2B on the business portal); None leaves one out."""
    client_id, _, _ = credentials(server)
    given: dict[str, str | None] = {
        "--domain": server.base_url,
        "--client-id": client_id,
        "--stigg-api-url": f"{server.base_url}/graphql",
        "--application": BUSINESS_APP_ID,
        "--b2b-plan": "plan-pro",
    }
    given.update({f"--{name.replace('_', '-')}": value for name, value in overrides.items()})
    return [part for flag, value in given.items() if value is not None for part in (flag, value)]


def setup(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    return run_cli(capsys, "--json", "--no-input", "setup", *args)


def saved_profiles() -> dict:
    return tomllib.loads(config_path().read_text())["profiles"]


def expected_settings(server: SandboxServer, **changes: str) -> dict[str, str]:
    client_id, _, _ = credentials(server)
    return {
        "auth0_domain": server.base_url,
        "auth0_client_id": client_id,
        "stigg_api_url": f"{server.base_url}/graphql",
        "application_id": BUSINESS_APP_ID,
        "mode": "b2b",
        "b2b_plan": "plan-pro",
        "active_users_feature": "feature-active-users",
        **changes,
    }


def writes(server: SandboxServer) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in server.sandbox.requests
        if r["method"] != "GET" and r["path"] not in ("/oauth/token", "/graphql")
    ]


def error_of(result: CliResult) -> dict:
    return result.json()["error"]


# ---- non-interactive -------------------------------------------------------------------------


def test_non_interactive_run_saves_the_profile_and_touches_no_keyring(
    capsys, monkeypatch, sandbox, forbidden_keyring
):
    secrets_in_env(monkeypatch, sandbox)
    _, secret, key = credentials(sandbox)
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json() == {
        "data": {
            "profile": "default",
            "file": str(config_path()),
            "settings": expected_settings(sandbox),
            "feature": {
                "id": "feature-active-users",
                "display_name": "Active Users",
                "feature_type": "NUMBER",
                "meter_type": "Incremental",
                "created": False,
            },
            "secrets": {
                "auth0_client_secret": "environment (STIGGCTL_AUTH0_CLIENT_SECRET)",
                "stigg_api_key": "environment (STIGGCTL_STIGG_API_KEY)",
            },
            "warnings": [],
            "deployed": False,
            "deploy": None,
        }
    }
    assert saved_profiles() == {"default": expected_settings(sandbox)}
    text = config_path().read_text()
    assert secret not in text and key not in text
    assert secret not in result.stdout + result.stderr and key not in result.stdout + result.stderr
    # Setup reads the tenant; it writes nothing to it.
    assert writes(sandbox) == []
    assert "Mode b2b: 'Acme Business Portal' lets organizations only sign in" in result.stderr


def test_the_environment_answers_like_flags_and_a_flag_beats_it(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    client_id, _, _ = credentials(sandbox)
    monkeypatch.setenv("STIGGCTL_AUTH0_DOMAIN", sandbox.base_url)
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_ID", client_id)
    monkeypatch.setenv("STIGGCTL_STIGG_API_URL", f"{sandbox.base_url}/graphql")
    monkeypatch.setenv("STIGGCTL_B2B_PLAN", "plan-pro")
    monkeypatch.setenv("STIGGCTL_APPLICATION_ID", WORKSPACE_APP_ID)
    result = setup(capsys, "--application", BUSINESS_APP_ID)
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert data["settings"] == expected_settings(sandbox)
    assert data["warnings"] == [
        "STIGGCTL_APPLICATION_ID is set in the environment: it overrides the profile's "
        "application_id in every other command."
    ]


def test_feature_created_with_its_meter_on_the_empty_seed_then_found_on_a_rerun(
    capsys, monkeypatch
):
    with running_sandbox(seed="empty") as server:
        secrets_in_env(monkeypatch, server)
        stigg = server.sandbox.stigg
        assert stigg.feature("feature-active-users") is None
        first = setup(capsys, *flags(server))
        assert first.exit_code == 0, first.stdout + first.stderr
        data = first.json()["data"]
        assert data["feature"] == {
            "id": "feature-active-users",
            "display_name": "Active Users",
            "feature_type": "NUMBER",
            "meter_type": "Incremental",
            "created": True,
        }
        # The empty seed's plans cannot entitle a feature that did not exist yet.
        assert data["warnings"] == [NO_ENTITLEMENT_WARNING]
        feature = stigg.feature("feature-active-users")
        assert (feature.feature_type, feature.meter_type) == ("NUMBER", "Incremental")
        assert (feature.feature_units, feature.feature_units_plural) == (
            "active user",
            "active users",
        )
        meter = feature.meter
        assert (meter.aggregation_function, meter.aggregation_field) == ("UNIQUE", "user_id")
        assert [[c.model_dump() for c in conditions] for conditions in meter.filters] == [
            [{"field": "eventName", "operation": "EQUALS", "value": "user-login", "values": None}]
        ]

        # A rerun from the saved profile alone: every answer is its default now.
        again = setup(capsys)
        assert again.exit_code == 0, again.stdout + again.stderr
        assert again.json()["data"]["feature"]["created"] is False
        assert again.json()["data"]["settings"] == expected_settings(server)
        assert [f.ref_id for f in stigg.features()] == ["feature-active-users"]


def test_no_create_feature_refuses_to_create_it(capsys, monkeypatch):
    with running_sandbox(seed="empty") as server:
        secrets_in_env(monkeypatch, server)
        result = setup(capsys, *flags(server), "--no-create-feature")
        assert result.exit_code == 1
        assert error_of(result)["code"] == "not_found"
        assert error_of(result)["message"] == "Stigg has no feature feature-active-users."
        assert server.sandbox.stigg.features() == []
        assert not config_path().exists()


@pytest.mark.parametrize(
    ("application", "mode", "plans"),
    [
        (CONSUMER_APP_ID, "b2c", {"b2c_plan": "plan-free"}),
        (BUSINESS_APP_ID, "b2b", {"b2b_plan": "plan-pro"}),
        (WORKSPACE_APP_ID, "both", {"b2c_plan": "plan-free", "b2b_plan": "plan-pro"}),
    ],
)
def test_mode_is_preselected_from_the_organization_behaviour(
    capsys, monkeypatch, sandbox, application, mode, plans
):
    secrets_in_env(monkeypatch, sandbox)
    args = flags(sandbox, application=application, b2c_plan="plan-free")
    result = setup(capsys, *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    settings = result.json()["data"]["settings"]
    assert settings["mode"] == mode
    assert {k: v for k, v in settings.items() if k.endswith("_plan")} == plans


def test_an_explicit_mode_beats_the_preselection(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox, mode="both", b2c_plan="plan-free"))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json()["data"]["settings"]["mode"] == "both"


def test_a_missing_scope_is_named_with_the_fix(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    client_id, _, _ = credentials(sandbox)
    sandbox.sandbox.auth0.set_grant(
        client_id, [s for s in STIGGCTL_SCOPES if s not in ("read:clients", "delete:actions")]
    )
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 4
    error = error_of(result)
    assert error["code"] == "permission_denied"
    assert error["message"] == (
        f"The M2M application {client_id} lacks Management API scopes: delete:actions, "
        "read:clients (delete:actions for action remove; read:clients for finding the "
        "application)."
    )
    assert error["hint"].startswith(
        "Grant them to the M2M application under APIs > Auth0 Management API > Machine To "
        f"Machine Applications in the Auth0 dashboard (expand {client_id}, tick "
        "delete:actions, read:clients"
    )
    assert error["details"] == {"missing_scopes": ["delete:actions", "read:clients"]}
    assert not config_path().exists()


def test_the_organization_scope_is_needed_only_by_modes_with_organizations(
    capsys, monkeypatch, sandbox
):
    secrets_in_env(monkeypatch, sandbox)
    client_id, _, _ = credentials(sandbox)
    sandbox.sandbox.auth0.set_grant(
        client_id, [s for s in STIGGCTL_SCOPES if s != "update:organizations"]
    )
    b2b = setup(capsys, *flags(sandbox))
    assert b2b.exit_code == 4
    assert error_of(b2b)["details"] == {"missing_scopes": ["update:organizations"]}
    b2c = setup(capsys, *flags(sandbox, application=CONSUMER_APP_ID, b2c_plan="plan-free"))
    assert b2c.exit_code == 0, b2c.stdout + b2c.stderr
    assert b2c.json()["data"]["settings"]["mode"] == "b2c"


def test_a_bad_m2m_secret_exits_4(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox, auth0_secret="not-the-secret")
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 4
    assert error_of(result)["code"] == "authentication_failed"
    assert "not-the-secret" not in result.stdout + result.stderr
    assert not config_path().exists()


def test_a_bad_stigg_key_exits_4(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox, stigg_key="server-not-the-key")
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 4
    assert error_of(result)["code"] == "authentication_failed"
    assert error_of(result)["message"].startswith("Stigg: ")
    assert "server-not-the-key" not in result.stdout + result.stderr
    assert not config_path().exists()


@pytest.mark.parametrize(
    ("left_out", "message", "env"),
    [
        ("domain", "Missing --domain (or --tenant and --region)", "STIGGCTL_AUTH0_DOMAIN"),
        ("client_id", "Missing --client-id", "STIGGCTL_AUTH0_CLIENT_ID"),
        ("application", "Missing --application", "STIGGCTL_APPLICATION_ID"),
        ("b2b_plan", "Missing --b2b-plan", "STIGGCTL_B2B_PLAN"),
    ],
)
def test_a_missing_answer_names_its_flag(capsys, monkeypatch, sandbox, left_out, message, env):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox, **{left_out: None}))
    assert result.exit_code == 2
    error = error_of(result)
    assert error["code"] == "usage_error"
    assert error["message"] == f"{message}: setup cannot ask for it here (--no-input)."
    assert error["details"]["env"] == env
    assert not config_path().exists()


def test_a_missing_region_is_named_before_any_request(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox, domain=None, tenant="acme"))
    assert result.exit_code == 2
    assert error_of(result)["message"] == (
        "Missing --region: setup cannot ask for it here (--no-input)."
    )
    assert list(sandbox.sandbox.requests) == []


def test_domain_and_tenant_exclude_each_other(capsys, sandbox):
    result = setup(capsys, *flags(sandbox, tenant="acme"))
    assert result.exit_code == 2
    assert error_of(result)["message"] == "--domain and --tenant/--region exclude each other."


@pytest.mark.parametrize("name", ["STIGGCTL_AUTH0_CLIENT_SECRET", "STIGGCTL_STIGG_API_KEY"])
def test_a_missing_secret_exits_4_naming_its_variable(
    capsys, monkeypatch, sandbox, forbidden_keyring, name
):
    secrets_in_env(monkeypatch, sandbox)
    monkeypatch.delenv(name)
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 4
    error = error_of(result)
    assert error["code"] == "missing_credential"
    assert error["details"] == {"env": name}
    assert error["hint"].startswith(f"Set {name} in the environment")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"mode": "b2x"}, "Invalid --mode: 'b2x' is not a mode: one of b2c, b2b, both."),
        (
            {"domain": "not a domain"},
            "Invalid --domain: 'not a domain' is not a domain: expected a host name such as "
            "acme.eu.auth0.com.",
        ),
        (
            {"b2b_plan": "plan-nope"},
            "Invalid --b2b-plan: 'plan-nope' is not a published plan (published: "
            "plan-enterprise, plan-pro, plan-free).",
        ),
        (
            {"application": "no-such-app"},
            "Invalid --application: the tenant has no application 'no-such-app' that people "
            "sign in to (applications: sbxConsumerApp000000000000000001 (Acme Shop (consumers)), "
            "sbxBusinessPortal000000000000001 (Acme Business Portal), "
            "sbxWorkspaceApp00000000000000001 (Acme Workspace); '*' for all).",
        ),
    ],
)
def test_an_invalid_answer_exits_1_naming_its_flag(capsys, monkeypatch, sandbox, override, message):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox, **override))
    assert result.exit_code == 1
    assert error_of(result)["code"] == "invalid_input"
    assert error_of(result)["message"] == message
    assert not config_path().exists()


def test_a_rerun_keeps_the_profiles_other_settings_and_drops_stale_ones(
    capsys, monkeypatch, sandbox
):
    secrets_in_env(monkeypatch, sandbox)
    config_path().parent.mkdir(parents=True)
    config_path().write_text(
        '[profiles.default]\nauth0_tenant = "old"\nauth0_region = "eu"\nb2c_plan = "plan-free"\n'
        'deny_message = "Over the limit"\n\n[profiles.other]\nmode = "b2c"\n'
    )
    result = setup(capsys, *flags(sandbox))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert saved_profiles() == {
        "default": {**expected_settings(sandbox), "deny_message": "Over the limit"},
        "other": {"mode": "b2c"},
    }


# ---- interactive -----------------------------------------------------------------------------


@pytest.fixture
def a_person(monkeypatch):
    """A terminal with someone at it: setup prompts (through the installed prompter)."""
    monkeypatch.setattr(AppContext, "can_prompt", property(lambda self: True))


def interactive(capsys, prompter: ScriptedPrompter, *args: str) -> CliResult:
    with answering(prompter):
        return run_cli(capsys, "--json", "setup", *args)


def test_interactive_run_stores_the_secrets_only_once_verified(
    capsys, sandbox, a_person, memory_keyring
):
    client_id, secret, key = credentials(sandbox)
    prompter = ScriptedPrompter(
        {
            "auth0_domain": sandbox.base_url,
            "auth0_client_id": client_id,
            "auth0_client_secret": ["typo", secret],
            "stigg_api_key": key,
            "application_id": BUSINESS_APP_ID,
            "b2b_plan": "plan-pro",
            "deploy": False,
        }
    )
    stigg_url = f"{sandbox.base_url}/graphql"
    result = interactive(capsys, prompter, "--stigg-api-url", stigg_url)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert prompter.unused() == {}
    assert [(a.kind, a.key, a.default) for a in prompter.asked] == [
        ("text", "auth0_domain", None),
        ("text", "auth0_client_id", None),
        ("secret", "auth0_client_secret", False),
        ("secret", "auth0_client_secret", False),  # the typo was rejected by Auth0
        ("secret", "stigg_api_key", False),
        ("choice", "application_id", None),
        ("choice", "mode", "b2b"),  # preselected: the portal requires organizations
        ("text", "active_users_feature", "feature-active-users"),
        ("choice", "b2b_plan", None),
        ("confirm", "deploy", True),
    ]
    applications = next(a for a in prompter.asked if a.key == "application_id").options
    assert applications == (CONSUMER_APP_ID, BUSINESS_APP_ID, WORKSPACE_APP_ID, "*")
    assert memory_keyring.store == {
        (KEYRING, "default:auth0_client_secret"): secret,
        (KEYRING, "default:stigg_api_key"): key,
    }
    data = result.json()["data"]
    assert data["settings"] == expected_settings(sandbox)
    assert data["secrets"] == {"auth0_client_secret": "keyring", "stigg_api_key": "keyring"}
    assert "Auth0 rejected the client credentials" in result.stderr
    assert secret not in result.stdout + result.stderr and "typo" not in result.stderr

    # The rerun offers every saved value as the default and keeps the stored secrets.
    rerun = ScriptedPrompter({"deploy": False})
    again = interactive(capsys, rerun, "--stigg-api-url", stigg_url)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert [(a.kind, a.key, a.default) for a in rerun.asked] == [
        ("text", "auth0_domain", sandbox.base_url),
        ("text", "auth0_client_id", client_id),
        ("secret", "auth0_client_secret", True),  # Enter keeps the stored secret
        ("secret", "stigg_api_key", True),
        ("choice", "application_id", BUSINESS_APP_ID),
        ("choice", "mode", "b2b"),
        ("text", "active_users_feature", "feature-active-users"),
        ("choice", "b2b_plan", "plan-pro"),
        ("confirm", "deploy", True),
    ]
    assert again.json()["data"]["settings"] == expected_settings(sandbox)
    assert len(memory_keyring.store) == 2


def test_interactive_secret_not_stored_when_setup_fails(capsys, sandbox, a_person, memory_keyring):
    client_id, secret, _ = credentials(sandbox)
    prompter = ScriptedPrompter(
        {
            "auth0_domain": sandbox.base_url,
            "auth0_client_id": client_id,
            "auth0_client_secret": secret,
            "stigg_api_key": ["server-bad-1", "server-bad-2", "server-bad-3"],
        }
    )
    result = interactive(capsys, prompter, "--stigg-api-url", f"{sandbox.base_url}/graphql")
    assert result.exit_code == 4
    assert error_of(result)["code"] == "authentication_failed"
    assert [a.key for a in prompter.asked].count("stigg_api_key") == 3
    # The Auth0 secret worked, but setup did not finish: nothing is kept.
    assert memory_keyring.store == {}
    assert not config_path().exists()


def test_interactive_answers_are_checked_and_asked_again(capsys, sandbox, a_person, memory_keyring):
    client_id, secret, key = credentials(sandbox)
    prompter = ScriptedPrompter(
        {
            "auth0_domain": ["not_a.domain", "Not A Tenant", sandbox.base_url],
            "auth0_client_id": client_id,
            "auth0_client_secret": secret,
            "stigg_api_key": key,
            "application_id": ["nope", WORKSPACE_APP_ID],
            "mode": "b2c",
            "active_users_feature": ["has space", "feature-active-users"],
            "b2c_plan": "plan-free",
            "deploy": False,
        }
    )
    result = interactive(capsys, prompter, "--stigg-api-url", f"{sandbox.base_url}/graphql")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert prompter.refused == [
        (
            "auth0_domain",
            "'not_a.domain' is not a domain: expected a host name such as acme.eu.auth0.com",
        ),
        (
            "auth0_domain",
            "'Not A Tenant' is not a tenant name: 3 to 63 lowercase letters, digits and '-', "
            "not starting or ending with '-'",
        ),
        ("application_id", "'nope' is not one of the options"),
        ("active_users_feature", "'has space' is not a Stigg id (no spaces, not empty)"),
    ]
    settings = result.json()["data"]["settings"]
    assert (settings["application_id"], settings["mode"], settings["b2c_plan"]) == (
        WORKSPACE_APP_ID,
        "b2c",
        "plan-free",
    )
    assert "b2b_plan" not in settings


def test_interactive_tenant_name_then_region(a_person, memory_keyring):
    # No network reaches acme.eu.auth0.com: stop at the first request, the token.
    prompter = ScriptedPrompter(
        {"auth0_domain": "acme", "auth0_region": "eu", "auth0_client_id": "m2m"}
    )

    class Stop(Exception):
        pass

    def refuse(*_args, **_kwargs):
        raise Stop

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stiggctl.commands.setup.SetupWizard._connect_auth0", refuse)
        with pytest.raises(Stop), answering(prompter):
            from stiggctl.commands.setup import SetupFlags, SetupWizard

            SetupWizard(AppContext(), SetupFlags()).run()
    assert [(a.kind, a.key) for a in prompter.asked] == [
        ("text", "auth0_domain"),
        ("choice", "auth0_region"),
        ("text", "auth0_client_id"),
    ]


def test_a_person_grants_the_missing_scope_and_setup_checks_again(
    capsys, sandbox, a_person, memory_keyring
):
    client_id, secret, key = credentials(sandbox)
    auth0 = sandbox.sandbox.auth0
    auth0.set_grant(client_id, [s for s in STIGGCTL_SCOPES if s != "read:clients"])

    class GrantingPrompter(ScriptedPrompter):
        def confirm(self, key: str, question: str, *, default: bool) -> bool:
            if key == "recheck_scopes":
                auth0.set_grant(client_id, list(STIGGCTL_SCOPES))  # done in the dashboard
            return super().confirm(key, question, default=default)

    prompter = GrantingPrompter(
        {
            "auth0_domain": sandbox.base_url,
            "auth0_client_id": client_id,
            "auth0_client_secret": secret,
            "stigg_api_key": key,
            "application_id": BUSINESS_APP_ID,
            "b2b_plan": "plan-pro",
            "deploy": False,
        }
    )
    tokens_before = auth0.tokens_issued
    result = interactive(capsys, prompter, "--stigg-api-url", f"{sandbox.base_url}/graphql")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert [a.key for a in prompter.asked].count("recheck_scopes") == 1
    assert auth0.tokens_issued - tokens_before == 2
    assert "lacks Management API scopes: read:clients" in result.stderr


# ---- deploy --------------------------------------------------------------------------------


def test_deploy_flag_deploys_and_binds_the_action(capsys, monkeypatch, sandbox, forbidden_keyring):
    # A cheap scrypt for the secrets fingerprint (see tests/test_deploy_support.py).
    monkeypatch.setattr(deploy_plan, "DEFAULT_COST", KdfCost(n=16, r=1, p=1))
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox), "--deploy")
    assert result.exit_code == 0, result.stdout + result.stderr
    data = result.json()["data"]
    assert data["deployed"] is True
    deployed = data["deploy"]
    assert (deployed["action_name"], deployed["version"], deployed["bound"]) == (
        ACTION_NAME,
        1,
        True,
    )
    bound = [action["name"] for action in sandbox.sandbox.auth0.post_login_actions()]
    assert bound == [ROLES_ACTION_NAME, ACTION_NAME]
    ours = sandbox.sandbox.auth0.find_action(ACTION_NAME)
    assert ours is not None and ours["id"] == deployed["action_id"]
    # What deploy-action would do now is nothing: setup deployed the saved profile.
    monkeypatch.delenv("STIGGCTL_JSON", raising=False)
    check = run_cli(capsys, "--json", "--no-input", "deploy-action", "--dry-run")
    assert check.exit_code == 0, check.stdout + check.stderr
    assert check.json()["data"]["changed"] is False


def test_without_deploy_flag_a_script_does_not_deploy(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    result = setup(capsys, *flags(sandbox))
    assert result.json()["data"]["deployed"] is False
    assert sandbox.sandbox.auth0.find_action(ACTION_NAME) is None


def test_human_output_shows_the_saved_profile(capsys, monkeypatch, sandbox):
    secrets_in_env(monkeypatch, sandbox)
    result = run_cli(capsys, "--no-input", "setup", *flags(sandbox))
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines[0] == f"✓ Profile 'default' saved to {config_path()}"
    assert "  mode                  b2b" in lines
    assert "  stigg_api_key         environment (STIGGCTL_STIGG_API_KEY)" in lines
    assert lines[-2:] == [
        "Active Users feature: feature-active-users (found)",
        "Next: `stiggctl deploy-action` (`--dry-run` first shows the plan).",
    ]
