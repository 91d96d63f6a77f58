"""Settings precedence (flags > env > file > defaults), validation, the profiles file."""

from __future__ import annotations

import os
import stat

import pytest

from stiggctl.config import profiles
from stiggctl.config.settings import load_settings
from stiggctl.errors import ErrorCode, StiggctlError


def test_defaults_when_nothing_is_configured():
    loaded = load_settings("default")
    assert loaded.settings.stigg_api_url == "https://api.stigg.io/graphql"
    assert loaded.settings.active_users_feature == "feature-active-users"
    assert loaded.settings.mode is None
    assert loaded.origins["stigg_api_url"] == "default"
    assert loaded.settings.auth0_base_url is None


def test_precedence_flag_over_env_over_file_over_default(monkeypatch):
    profiles.write_profile("default", {"mode": "b2c", "b2c_plan": "plan-file", "b2b_plan": "f"})
    monkeypatch.setenv("STIGGCTL_MODE", "both")
    monkeypatch.setenv("STIGGCTL_B2C_PLAN", "plan-env")
    loaded = load_settings("default", flags={"mode": "b2b"})
    assert loaded.settings.mode == "b2b"
    assert loaded.origins["mode"] == "flag"
    assert loaded.settings.b2c_plan == "plan-env"
    assert loaded.origins["b2c_plan"] == "env"
    assert loaded.settings.b2b_plan == "f"
    assert loaded.origins["b2b_plan"] == "file"
    assert loaded.origins["active_users_feature"] == "default"


def test_empty_environment_variable_means_unset(monkeypatch):
    profiles.write_profile("default", {"mode": "b2c"})
    monkeypatch.setenv("STIGGCTL_MODE", "")
    loaded = load_settings("default")
    assert loaded.settings.mode == "b2c"
    assert loaded.origins["mode"] == "file"


def test_profiles_are_separate():
    profiles.write_profile("staging", {"mode": "b2b"})
    profiles.write_profile("prod", {"mode": "b2c"})
    assert load_settings("staging").settings.mode == "b2b"
    assert load_settings("prod").settings.mode == "b2c"
    assert load_settings("default").settings.mode is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"STIGGCTL_AUTH0_DOMAIN": "acme.eu.auth0.com"}, "https://acme.eu.auth0.com"),
        ({"STIGGCTL_AUTH0_DOMAIN": "ACME.eu.auth0.com/"}, "https://acme.eu.auth0.com"),
        ({"STIGGCTL_AUTH0_DOMAIN": "http://127.0.0.1:8765"}, "http://127.0.0.1:8765"),
        ({"STIGGCTL_AUTH0_DOMAIN": "https://login.acme.com/"}, "https://login.acme.com"),
        (
            {"STIGGCTL_AUTH0_TENANT": "acme", "STIGGCTL_AUTH0_REGION": "eu"},
            "https://acme.eu.auth0.com",
        ),
        (
            {"STIGGCTL_AUTH0_TENANT": "acme-1", "STIGGCTL_AUTH0_REGION": "us-legacy"},
            "https://acme-1.auth0.com",
        ),
        ({"STIGGCTL_AUTH0_TENANT": "acme"}, None),
    ],
)
def test_auth0_base_url(monkeypatch, env, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert load_settings().settings.auth0_base_url == expected


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("STIGGCTL_AUTH0_TENANT", "-acme", "is not a tenant name"),
        ("STIGGCTL_AUTH0_TENANT", "ac", "is not a tenant name"),
        ("STIGGCTL_AUTH0_TENANT", "Acme", "is not a tenant name"),
        ("STIGGCTL_AUTH0_TENANT", "a" * 64, "is not a tenant name"),
        ("STIGGCTL_AUTH0_REGION", "mars", "is not a region"),
        ("STIGGCTL_AUTH0_DOMAIN", "acme", "is not a domain"),
        ("STIGGCTL_AUTH0_DOMAIN", "acme.auth0.com/api/v2", "is not a domain"),
        ("STIGGCTL_AUTH0_DOMAIN", "ftp://acme.auth0.com", "is not a domain"),
        ("STIGGCTL_AUTH0_DOMAIN", "http://127.0.0.1:8765/api", "is not a base URL"),
        ("STIGGCTL_MODE", "b2x", "is not a mode: one of b2c, b2b, both"),
        ("STIGGCTL_FAIL_POLICY", "maybe", "is not a fail policy"),
        ("STIGGCTL_STIGG_API_URL", "api.stigg.io", "is not an http(s) URL"),
    ],
)
def test_invalid_values_name_the_variable(monkeypatch, name, value, fragment):
    monkeypatch.setenv(name, value)
    with pytest.raises(StiggctlError) as info:
        load_settings()
    assert info.value.code is ErrorCode.CONFIG_ERROR
    assert info.value.message.startswith(f"Invalid setting {name}: ")
    assert fragment in info.value.message


def test_invalid_value_in_file_names_the_file():
    profiles.write_profile("default", {"mode": "sideways"})
    with pytest.raises(StiggctlError) as info:
        load_settings()
    assert "mode in profile 'default' of " in info.value.message
    assert str(profiles.config_path()) in info.value.message


def test_unknown_key_in_file_is_reported():
    profiles.write_profile("default", {"colour": "blue"})
    with pytest.raises(StiggctlError) as info:
        load_settings()
    assert "Unknown setting 'colour'" in info.value.message


def test_profile_file_is_private_and_written_atomically():
    path = profiles.write_profile("default", {"mode": "b2c"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    profiles.write_profile("other", {"mode": "b2b"})
    assert profiles.read_all() == {"default": {"mode": "b2c"}, "other": {"mode": "b2b"}}
    # no temp files are left behind
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_failed_write_leaves_the_old_file(monkeypatch):
    path = profiles.write_profile("default", {"mode": "b2c"})
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        profiles.write_profile("default", {"mode": "b2b"})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_corrupted_file_names_file_and_line_and_is_never_overwritten():
    path = profiles.config_path()
    path.parent.mkdir(parents=True)
    broken = b'[profiles.default]\nmode = "b2c"\nauth0_domain = \n'
    path.write_bytes(broken)
    with pytest.raises(StiggctlError) as info:
        load_settings()
    assert info.value.code is ErrorCode.CONFIG_ERROR
    assert f"{path}:3:" in info.value.message
    with pytest.raises(StiggctlError):
        profiles.write_profile("default", {"mode": "b2b"})
    assert path.read_bytes() == broken


def test_non_table_profiles_are_rejected():
    path = profiles.config_path()
    path.parent.mkdir(parents=True)
    path.write_text('profiles = "oops"\n')
    with pytest.raises(StiggctlError) as info:
        profiles.read_all()
    assert "no valid [profiles.NAME] tables" in info.value.message


def test_the_actions_client_id_is_a_setting_from_env_or_file(monkeypatch):
    profiles.write_profile("default", {"action_client_id": "act-file"})
    loaded = load_settings()
    assert (loaded.settings.action_client_id, loaded.origins["action_client_id"]) == (
        "act-file",
        "file",
    )
    assert load_settings("other").settings.action_client_id is None
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", " act-env ")
    loaded = load_settings()
    assert (loaded.settings.action_client_id, loaded.origins["action_client_id"]) == (
        "act-env",
        "env",
    )


def test_an_action_client_id_with_spaces_names_its_variable(monkeypatch):
    monkeypatch.setenv("STIGGCTL_ACTION_CLIENT_ID", "two words")
    with pytest.raises(StiggctlError) as info:
        load_settings()
    assert info.value.message == (
        "Invalid setting STIGGCTL_ACTION_CLIENT_ID: 'two words' is not a client id "
        "(no spaces, not empty)."
    )
