from __future__ import annotations

import hashlib
import inspect
import json
import re
import subprocess

import pytest

import stiggctl
from stiggctl.core import render
from stiggctl.core.action_settings import TEMPLATE_VERSION, ActionSettings
from stiggctl.core.render import (
    ActionHeader,
    read_header,
    render_action,
    render_template,
    template_dir,
    template_values,
)
from stiggctl.errors import ErrorCode, StiggctlError
from tests.harness.runner import REPO_TEMPLATE, node

SETTINGS = ActionSettings(
    mode="both",
    application_id="app-1",
    b2c_plan_id="plan-individual",
    b2b_plan_id="plan-team",
    auth0_domain="acme.eu.auth0.com",
)
HOSTILE = '</script><script>x()</script> */ /* " \\ \u2028 \u2029 ${x} ` \n __STIGGCTL_SETTINGS__ é'


def evaluated_settings(code: str, tmp_path) -> dict:
    """SETTINGS as Node.js sees it when it loads the rendered code."""
    path = tmp_path / "rendered.js"
    path.write_text(code, encoding="utf-8")
    script = (
        "const code = require('fs').readFileSync(process.argv[1], 'utf8');"
        "const settings = new Function('exports', 'require', code + '\\nreturn SETTINGS;')"
        "({}, require);"
        "process.stdout.write(JSON.stringify(settings));"
    )
    completed = subprocess.run(
        [node(), "-e", script, str(path)], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(completed.stdout)


def test_header_names_version_and_fingerprint_of_the_body():
    rendered = render_action(SETTINGS)
    header, body = rendered.code.split("\n", 1)
    assert rendered.fingerprint == hashlib.sha256(body.encode()).hexdigest()
    assert header == (
        f"/* stiggctl post-login action | template {TEMPLATE_VERSION} "
        f"| sha256:{rendered.fingerprint} */"
    )
    assert rendered.template_version == TEMPLATE_VERSION
    assert read_header(rendered.code) == ActionHeader(TEMPLATE_VERSION, rendered.fingerprint, True)


def test_read_header_tells_an_edited_body_and_code_without_header():
    code = render_action(SETTINGS).code
    edited = code.replace("Access Denied", "Access denied")
    header = read_header(edited)
    assert header is not None and header.body_matches is False
    assert read_header("exports.onExecutePostLogin = async () => {};") is None


def test_rendering_is_deterministic_and_follows_the_settings():
    first, second = render_action(SETTINGS), render_action(SETTINGS)
    assert first == second
    other = render_action(ActionSettings(**{**SETTINGS.__dict__, "deny_message": "Full"}))
    assert other.fingerprint != first.fingerprint


@pytest.mark.node
def test_settings_literal_is_exactly_the_settings_in_node(tmp_path):
    rendered = render_action(SETTINGS)
    assert evaluated_settings(rendered.code, tmp_path) == template_values(SETTINGS)


@pytest.mark.node
def test_no_value_can_break_out_of_the_literal(tmp_path):
    hostile = ActionSettings(
        mode="both",
        application_id=HOSTILE,
        b2c_plan_id=HOSTILE,
        b2b_plan_id=HOSTILE,
        auth0_domain="https://acme.eu.auth0.com/*/</script>",
        active_users_feature_id=HOSTILE,
        stigg_api_url="https://api.stigg.io/graphql*/</script>",
        event_name=HOSTILE,
        user_provisioned_key="server-0123456789abcdef:*/</script>",
        org_provisioned_key=HOSTILE,
        last_login_key="{orgId}*/</script>\u2028",
        period_end_key='{orgId}{x}`"\\',
        deny_message=HOSTILE,
        retry_message=HOSTILE,
    )
    code = render_action(hostile).code
    # The header's own "*/" is the only one; nothing that could end a script or a line.
    assert code.count("*/") == 1
    assert "</script" not in code.lower()
    assert "\u2028" not in code and "\u2029" not in code
    assert code.isascii()
    path = tmp_path / "hostile.js"
    path.write_text(code, encoding="utf-8")
    subprocess.run([node(), "--check", str(path)], check=True, timeout=30)
    assert evaluated_settings(code, tmp_path) == template_values(hostile)


def test_the_renderer_takes_no_secrets_and_writes_none(monkeypatch):
    assert list(inspect.signature(render_action).parameters) == ["settings"]
    secrets = {
        "STIGGCTL_STIGG_API_KEY": "server-1f0c-real-stigg-key",
        "STIGGCTL_AUTH0_CLIENT_SECRET": "real-auth0-client-secret-value",
        "STIGG_API_KEY": "server-1f0c-real-stigg-key-2",
        "AUTH0_M2M_CLIENT_SECRET": "real-m2m-secret-value",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    code = render_action(SETTINGS).code
    for value in secrets.values():
        assert value not in code
    # Secrets are read by name from event.secrets, never as literals.
    assert "event.secrets" in code
    assert template_values(SETTINGS)["secrets"] == {
        "stiggApiKey": "STIGG_API_KEY",
        "m2mClientId": "AUTH0_M2M_CLIENT_ID",
        "m2mClientSecret": "AUTH0_M2M_CLIENT_SECRET",
    }


def test_secret_names_are_those_the_mode_needs():
    b2c = ActionSettings(mode="b2c", application_id="*", b2c_plan_id="plan-individual")
    assert render_action(b2c).secret_names == ("STIGG_API_KEY",)
    assert render_action(SETTINGS).secret_names == (
        "STIGG_API_KEY",
        "AUTH0_M2M_CLIENT_ID",
        "AUTH0_M2M_CLIENT_SECRET",
    )


def test_the_template_needs_no_npm_package():
    template = (template_dir() / "post-login.js").read_text()
    assert re.findall(r"require\(([^)]*)\)", template) == ['"node:crypto"']


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "const SETTINGS = __STIGGCTL_SETTINGS__; const KEY = __STIGGCTL_API_KEY__;",
            "The Action template does not have exactly one settings placeholder and has "
            "unresolved placeholders: __STIGGCTL_API_KEY__.",
        ),
        (
            "const SETTINGS = {};",
            "The Action template does not have exactly one settings placeholder.",
        ),
        (
            "const A = __STIGGCTL_SETTINGS__; const B = __STIGGCTL_SETTINGS__;",
            "The Action template does not have exactly one settings placeholder.",
        ),
    ],
)
def test_placeholders_must_all_resolve(template, message):
    with pytest.raises(StiggctlError) as caught:
        render_template(template, SETTINGS)
    assert (caught.value.code, caught.value.message) == (ErrorCode.INTERNAL_ERROR, message)


def test_a_value_looking_like_a_placeholder_stays_data():
    settings = ActionSettings(**{**SETTINGS.__dict__, "deny_message": "__STIGGCTL_OTHER__"})
    code = render_template("const SETTINGS = __STIGGCTL_SETTINGS__;", settings).code
    assert '"denyMessage": "__STIGGCTL_OTHER__"' in code


def test_another_template_version_is_refused():
    settings = ActionSettings(**{**SETTINGS.__dict__, "template_version": "0.9.0 */ evil()"})
    with pytest.raises(StiggctlError) as caught:
        render_action(settings)
    assert caught.value.code is ErrorCode.CONFIG_ERROR
    assert caught.value.message == (
        "The settings ask for Action template '0.9.0 */ evil()'; this stiggctl renders "
        f"template {TEMPLATE_VERSION}."
    )


def test_template_dir_in_a_source_checkout():
    assert template_dir() == REPO_TEMPLATE


def test_template_dir_prefers_the_installed_wheel_layout(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "stiggctl"
    (package / "action_template").mkdir(parents=True)
    (package / "action_template" / "post-login.js").write_text("// installed")
    monkeypatch.setattr(stiggctl, "__file__", str(package / "__init__.py"))
    assert template_dir() == package / "action_template"


def test_template_dir_missing_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(stiggctl, "__file__", str(tmp_path / "a" / "b" / "__init__.py"))
    with pytest.raises(StiggctlError) as caught:
        render.template_dir()
    assert caught.value.code is ErrorCode.INTERNAL_ERROR
