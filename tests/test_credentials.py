"""Secrets: environment first, the keyring only when allowed, clear errors, never printed."""

from __future__ import annotations

import pytest

from stiggctl.config.credentials import CredentialStore, Secret
from stiggctl.config.profiles import config_path
from stiggctl.errors import ErrorCode, ExitCode, StiggctlError
from tests.cli_helpers import run_cli

SECRET = "s3cr3t-value-Zq9"


def test_environment_wins_and_keyring_is_not_touched(monkeypatch, forbidden_keyring):
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", SECRET)
    store = CredentialStore("default", keyring_allowed=True)
    resolved = store.resolve("auth0_client_secret")
    assert resolved.origin == "env"
    assert resolved.secret.reveal() == SECRET


def test_keyring_used_per_profile(memory_keyring):
    CredentialStore("staging", keyring_allowed=True).store("stigg_api_key", "server-staging")
    CredentialStore("prod", keyring_allowed=True).store("stigg_api_key", "server-prod")
    assert memory_keyring.store == {
        ("stiggctl", "staging:stigg_api_key"): "server-staging",
        ("stiggctl", "prod:stigg_api_key"): "server-prod",
    }
    resolved = CredentialStore("prod", keyring_allowed=True).resolve("stigg_api_key")
    assert (resolved.origin, resolved.secret.reveal()) == ("keyring", "server-prod")


def test_non_interactive_never_reads_keyring(forbidden_keyring):
    store = CredentialStore("default", keyring_allowed=False)
    assert store.resolve("stigg_api_key").origin == "not read"
    with pytest.raises(StiggctlError) as info:
        store.require("stigg_api_key")
    assert info.value.code is ErrorCode.MISSING_CREDENTIAL
    assert info.value.exit_code is ExitCode.AUTH
    assert "STIGGCTL_STIGG_API_KEY" in info.value.hint


def test_missing_secret_names_the_variable(memory_keyring):
    with pytest.raises(StiggctlError) as info:
        CredentialStore("default", keyring_allowed=True).require("auth0_client_secret")
    assert info.value.exit_code == 4
    assert "STIGGCTL_AUTH0_CLIENT_SECRET" in info.value.hint


def test_unavailable_keyring_is_a_clear_error(broken_keyring):
    store = CredentialStore("default", keyring_allowed=True)
    with pytest.raises(StiggctlError) as info:
        store.resolve("stigg_api_key")
    assert info.value.code is ErrorCode.KEYRING_UNAVAILABLE
    assert "STIGGCTL_STIGG_API_KEY" in info.value.hint
    with pytest.raises(StiggctlError) as info:
        store.store("stigg_api_key", SECRET)
    assert info.value.code is ErrorCode.KEYRING_UNAVAILABLE


def test_storing_refused_when_keyring_not_allowed(forbidden_keyring):
    with pytest.raises(StiggctlError) as info:
        CredentialStore("default", keyring_allowed=False).store("stigg_api_key", SECRET)
    assert "STIGGCTL_STIGG_API_KEY" in info.value.hint
    assert SECRET not in str(info.value) + str(info.value.hint)


def test_secret_never_prints_itself():
    secret = Secret(SECRET)
    assert SECRET not in repr(secret)
    assert SECRET not in str(secret)
    assert SECRET not in f"{secret} {secret!r}"


@pytest.mark.parametrize("ci", [None, "true"])
def test_config_show_with_env_secrets_touches_no_keyring(
    capsys, monkeypatch, forbidden_keyring, ci
):
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-" + SECRET)
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", "action-" + SECRET)
    if ci:
        monkeypatch.setenv("CI", ci)
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 0
    assert SECRET not in result.stdout + result.stderr
    rows = result.json()["data"]["settings"]
    assert rows["auth0_client_secret"] == {
        "value": "********",
        "source": "env",
        "env": "STIGGCTL_AUTH0_CLIENT_SECRET",
    }
    assert rows["stigg_api_key"]["source"] == "env"
    assert rows["action_client_secret"] == {
        "value": "********",
        "source": "env",
        "env": "STIGGCTL_ACTION_CLIENT_SECRET",
    }


def test_config_show_in_ci_without_env_does_not_read_keyring(
    capsys, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "1")
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 0
    assert result.json()["data"]["settings"]["stigg_api_key"]["source"] == "not read"


def test_config_show_reports_keyring_secrets_masked(capsys, memory_keyring):
    CredentialStore("default", keyring_allowed=True).store("stigg_api_key", SECRET)
    result = run_cli(capsys, "config", "show", "--json")
    row = result.json()["data"]["settings"]["stigg_api_key"]
    assert row == {"value": "********", "source": "keyring", "env": "STIGGCTL_STIGG_API_KEY"}
    assert SECRET not in result.stdout
    human = run_cli(capsys, "config", "show")
    assert SECRET not in human.stdout + human.stderr
    assert "keyring" in human.stdout


def test_config_show_survives_an_unavailable_keyring(capsys, broken_keyring):
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 0
    assert result.json()["data"]["settings"]["auth0_client_secret"]["source"] == (
        "keyring unavailable"
    )


def test_the_actions_client_secret_resolves_like_the_others(monkeypatch, memory_keyring):
    store = CredentialStore("default", keyring_allowed=True)
    assert store.resolve("action_client_secret").origin == "missing"
    store.store("action_client_secret", SECRET)
    assert memory_keyring.store == {("stiggctl", "default:action_client_secret"): SECRET}
    resolved = store.resolve("action_client_secret")
    assert (resolved.origin, resolved.secret.reveal()) == ("keyring", SECRET)
    assert store.in_environment("action_client_secret") is False
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", "from-env")
    assert store.in_environment("action_client_secret") is True
    assert store.resolve("action_client_secret").secret.reveal() == "from-env"


def test_the_actions_client_secret_is_not_read_from_the_keyring_in_ci(
    monkeypatch, forbidden_keyring
):
    store = CredentialStore("default", keyring_allowed=False)
    with pytest.raises(StiggctlError) as info:
        store.require("action_client_secret")
    assert info.value.message == (
        "No client secret of the Action's M2M application for profile 'default'."
    )
    assert info.value.details == {"env": "STIGGCTL_ACTION_CLIENT_SECRET"}


def test_config_show_lists_the_actions_client_and_masks_its_secret(
    capsys, monkeypatch, forbidden_keyring
):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", "act-1")
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_SECRET", SECRET)
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 0
    rows = result.json()["data"]["settings"]
    assert rows["action_client_id"] == {
        "value": "act-1",
        "source": "env",
        "env": "STIGGCTL_ACTION_CLIENT_ID",
    }
    assert rows["action_client_secret"] == {
        "value": "********",
        "source": "env",
        "env": "STIGGCTL_ACTION_CLIENT_SECRET",
    }
    human = run_cli(capsys, "config", "show")
    assert SECRET not in result.stdout + human.stdout + human.stderr
    lines = [" ".join(line.split()) for line in human.stdout.splitlines()]
    assert "│ action_client_id │ act-1 │ env │" in lines
    assert "│ action_client_secret │ ******** │ env │" in lines


def test_config_set_refuses_the_actions_client_secret(capsys):
    result = run_cli(capsys, "config", "set", "action_client_secret", SECRET, "--json")
    assert result.exit_code == 1
    assert result.json()["error"]["message"] == (
        "action_client_secret is a secret and is never written to the config file."
    )
    assert not config_path().exists()


def test_config_show_does_not_look_up_an_unused_action_secret(
    capsys, forbidden_keyring, monkeypatch
):
    monkeypatch.setenv("STIGGCTL_AUTH0_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("STIGGCTL_STIGG_API_KEY", "server-" + SECRET)
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 0
    row = result.json()["data"]["settings"]["action_client_secret"]
    assert row == {"value": None, "source": "not used", "env": "STIGGCTL_ACTION_CLIENT_SECRET"}
