"""The deploy plan, the secrets fingerprint, drift and rollback choice: pure, no tenant."""

from __future__ import annotations

import pytest

from stiggctl.core.action_settings import TEMPLATE_VERSION, ActionSettings
from stiggctl.core.bindings import BoundAction
from stiggctl.core.deploy_plan import (
    DEFAULT_COST,
    NEW_ACTION_ID,
    ActionState,
    DriftState,
    KdfCost,
    SecretStatus,
    VersionState,
    code_diff,
    compare_secrets,
    drift,
    fingerprint_secrets,
    pending_deploy,
    plan_deploy,
    rollback_target,
    split_trailer,
    with_trailer,
)
from stiggctl.core.render import render_template

FAST = KdfCost(n=16, r=1, p=1)
SALT = bytes(range(16))
OTHER_SALT = bytes(range(16, 32))
SECRETS = {
    "STIGG_API_KEY": "server-key-1",
    "AUTH0_M2M_CLIENT_ID": "m2m",
    "AUTH0_M2M_CLIENT_SECRET": "s3",
}
TEMPLATE = "const SETTINGS = __STIGGCTL_SETTINGS__;\nexports.onExecutePostLogin = async () => {};\n"
ROLES = BoundAction("roles-id", "Add roles claim")
AUDIT = BoundAction("audit-id", "Audit log")
OURS = BoundAction("ours-id", "Stigg Integration (stiggctl)")


def rendered(plan_id: str = "plan-free"):
    settings = ActionSettings(
        mode="b2b", application_id="app", b2b_plan_id=plan_id, auth0_domain="acme.eu.auth0.com"
    )
    return render_template(TEMPLATE, settings)


def deployed_state(
    code: str,
    *,
    number: int = 1,
    draft_code: str | None = None,
    draft_status: str = "built",
    runtime: str = "node22",
    secret_names=tuple(SECRETS),
    all_changes_deployed: bool = True,
) -> ActionState:
    return ActionState(
        id="ours-id",
        name=OURS.display_name,
        draft_code=code if draft_code is None else draft_code,
        draft_status=draft_status,
        runtime=runtime,
        secret_names=frozenset(secret_names),
        all_changes_deployed=all_changes_deployed,
        deployed=VersionState(f"v{number}", number, code, "built", True, runtime),
    )


def plan(action: ActionState | None, bindings=(ROLES, OURS), **kwargs):
    arguments = {
        "rendered": rendered(),
        "secrets": SECRETS,
        "action": action,
        "bindings": list(bindings),
        "action_name": OURS.display_name,
        "salt": SALT,
        "cost": FAST,
        **kwargs,
    }
    return plan_deploy(**arguments)


def current_code(plan_id: str = "plan-free", secrets=SECRETS, salt=SALT) -> str:
    return with_trailer(rendered(plan_id).code, fingerprint_secrets(secrets, salt=salt, cost=FAST))


def steps(deploy_plan) -> list[str]:
    return [s.step.value for s in deploy_plan.steps]


# ---- the secrets fingerprint ---------------------------------------------------------------


def test_fingerprint_reveals_no_value_and_verifies_with_its_salt():
    fingerprint = fingerprint_secrets(SECRETS, salt=SALT, cost=FAST)
    trailer = fingerprint.trailer()
    assert trailer.startswith(
        "/* stiggctl secrets scrypt n=16 r=1 p=1 salt=000102030405060708090a0b0c0d0e0f "
    )
    assert trailer.endswith(" */\n")
    assert [entry.split("=")[0] for entry in trailer.split()[8:-1]] == sorted(SECRETS)
    for value in SECRETS.values():
        assert value not in trailer
    assert fingerprint.matches("STIGG_API_KEY", "server-key-1") is True
    assert fingerprint.matches("STIGG_API_KEY", "server-key-2") is False
    assert fingerprint.matches("UNKNOWN", "server-key-1") is False


def test_same_value_under_another_name_or_salt_gives_another_digest():
    one = dict(fingerprint_secrets({"A": "same", "B": "same"}, salt=SALT, cost=FAST).digests)
    assert one["A"] != one["B"]
    other = dict(fingerprint_secrets({"A": "same"}, salt=OTHER_SALT, cost=FAST).digests)
    assert other["A"] != one["A"]


def test_default_cost_is_a_slow_kdf():
    assert (DEFAULT_COST.n, DEFAULT_COST.r, DEFAULT_COST.p) == (16384, 8, 1)


def test_trailer_round_trip_keeps_the_body():
    body = rendered().code
    code = current_code()
    assert code.startswith(body) and code.count("\n") == body.count("\n") + 1
    parsed_body, fingerprint = split_trailer(code)
    assert parsed_body == body
    assert fingerprint == fingerprint_secrets(SECRETS, salt=SALT, cost=FAST)


def test_trailer_round_trip_of_a_body_without_a_final_newline():
    fingerprint = fingerprint_secrets({"A": "1"}, salt=SALT, cost=FAST)
    assert split_trailer(with_trailer("x = 1;", fingerprint)) == ("x = 1;", fingerprint)


def test_code_without_trailer_or_with_an_excessive_cost_has_no_fingerprint():
    body = rendered().code
    assert split_trailer(body) == (body, None)
    greedy = current_code().replace("n=16 r=1", "n=4194304 r=1")
    assert split_trailer(greedy) == (body, None)


def test_bad_secret_names_and_salts_are_refused():
    with pytest.raises(ValueError, match="secret name 'A B'"):
        fingerprint_secrets({"A B": "x"}, salt=SALT, cost=FAST)
    with pytest.raises(ValueError, match="16 bytes"):
        fingerprint_secrets({"A": "x"}, salt=b"short", cost=FAST)


def test_compare_secrets_names_each_one():
    fingerprint = fingerprint_secrets({"A": "1", "B": "2", "C": "3"}, salt=SALT, cost=FAST)
    statuses = compare_secrets(
        fingerprint, {"A": "1", "B": "changed", "D": "4", "E": "5"}, ["A", "B", "C", "E"]
    )
    assert statuses == {
        "A": SecretStatus.UNCHANGED,
        "B": SecretStatus.CHANGED,
        "C": SecretStatus.REMOVED,
        "D": SecretStatus.ADDED,
        "E": SecretStatus.UNKNOWN,
    }
    assert compare_secrets(None, {"A": "1"}, ["A"]) == {"A": SecretStatus.UNKNOWN}


# ---- the plan ------------------------------------------------------------------------------


def test_new_action_is_created_deployed_and_appended():
    result = plan(None, bindings=[ROLES, AUDIT])
    assert steps(result) == ["create", "deploy", "bind"]
    assert result.step_dicts()[0] == {
        "step": "create",
        "detail": f"create 'Stigg Integration (stiggctl)' (node22, template {TEMPLATE_VERSION}) "
        "with secrets "
        "AUTH0_M2M_CLIENT_ID, AUTH0_M2M_CLIENT_SECRET, STIGG_API_KEY",
    }
    assert result.step_dicts()[2]["detail"] == "bind to post-login at position 3 of 3"
    assert result.action_id is None and result.position == 3
    assert [b.action_id for b in result.bindings.after] == ["roles-id", "audit-id", NEW_ACTION_ID]
    assert result.code == current_code()
    assert result.send_secrets is True
    assert set(result.secrets.values()) == {SecretStatus.ADDED}
    assert result.diff.startswith("--- /dev/null\n+++ rendered\n@@ -0,0 +1,")


def test_nothing_to_do_gives_no_steps_and_keeps_the_fingerprint():
    result = plan(deployed_state(current_code()), salt=OTHER_SALT)
    assert result.steps == ()
    assert result.changed is False
    assert result.code == current_code()  # the draft's salt, not the new one
    assert result.diff == ""
    assert set(result.secrets.values()) == {SecretStatus.UNCHANGED}
    assert result.send_secrets is False
    assert result.position == 2


def test_changed_settings_update_the_code_only():
    result = plan(deployed_state(current_code()), rendered=rendered("plan-pro"))
    assert steps(result) == ["update_code", "deploy"]
    assert result.step_dicts() == [
        {"step": "update_code", "detail": "settings changed (same template)"},
        {"step": "deploy", "detail": "deploy the built draft (v1 stays live until then)"},
    ]
    assert result.send_secrets is False
    assert result.code == current_code("plan-pro")
    assert '-  "b2bPlanId": "plan-free",\n+  "b2bPlanId": "plan-pro",\n' in result.diff
    assert result.diff.startswith("--- deployed v1\n+++ rendered\n")


def test_a_changed_secret_rewrites_the_full_set_with_a_new_salt():
    rotated = {**SECRETS, "STIGG_API_KEY": "server-key-2"}
    result = plan(deployed_state(current_code()), secrets=rotated, salt=OTHER_SALT)
    assert steps(result) == ["update_secrets", "deploy"]
    assert result.step_dicts()[0]["detail"] == "set the full secret set (changed: STIGG_API_KEY)"
    assert result.secrets["STIGG_API_KEY"] is SecretStatus.CHANGED
    assert result.secrets["AUTH0_M2M_CLIENT_ID"] is SecretStatus.UNCHANGED
    assert result.send_secrets is True
    assert result.code == current_code(secrets=rotated, salt=OTHER_SALT)
    assert result.diff == ""  # the body is the same


def test_secrets_of_another_mode_are_removed():
    b2c_only = {"STIGG_API_KEY": "server-key-1"}
    result = plan(deployed_state(current_code()), secrets=b2c_only)
    assert result.step_dicts()[0] == {
        "step": "update_secrets",
        "detail": "set the full secret set (removed: AUTH0_M2M_CLIENT_ID, AUTH0_M2M_CLIENT_SECRET)",
    }


def test_code_without_a_fingerprint_sets_the_secrets_again():
    state = deployed_state(rendered().code)
    result = plan(state)
    assert steps(result) == ["update_secrets", "deploy"]
    assert set(result.secrets.values()) == {SecretStatus.UNKNOWN}
    assert result.code == current_code(salt=SALT)


def test_runtime_and_a_failed_draft_are_fixed():
    state = deployed_state(current_code(), runtime="node18", draft_status="failed")
    assert plan(state).step_dicts() == [
        {"step": "update_code", "detail": "build the draft again (its last build failed)"},
        {"step": "update_runtime", "detail": "runtime node18 -> node22"},
        {"step": "deploy", "detail": "deploy the built draft (v1 stays live until then)"},
    ]


def test_an_undeployed_draft_or_a_rolled_back_version_is_deployed():
    interrupted = deployed_state(
        current_code("plan-pro"), draft_code=current_code(), all_changes_deployed=False
    )
    assert steps(plan(interrupted)) == ["deploy"]
    rolled_back = deployed_state(current_code("plan-pro"), draft_code=current_code())
    assert steps(plan(rolled_back)) == ["deploy"]


def test_live_code_equal_to_the_rendering_needs_no_deploy():
    # A rollback to a copy of the current version: Auth0 says not all changes are deployed.
    copy = deployed_state(current_code(), number=4, all_changes_deployed=False)
    assert plan(copy).steps == ()
    # A rollback to it from a later version: the draft is brought back, nothing deployed.
    stale_draft = deployed_state(current_code(), number=3, draft_code=current_code("plan-pro"))
    assert plan(stale_draft).step_dicts() == [
        {"step": "update_code", "detail": "settings changed (same template)"}
    ]


def test_a_live_version_on_another_runtime_is_deployed_again():
    assert steps(plan(deployed_state(current_code(), runtime="node18"))) == [
        "update_runtime",
        "deploy",
    ]


def test_hand_edited_or_foreign_code_is_replaced():
    edited = current_code().replace("async () => {}", "async () => { /* mine */ }")
    assert plan(deployed_state(edited)).step_dicts()[0] == {
        "step": "update_code",
        "detail": "replace code edited outside stiggctl",
    }
    foreign = "exports.onExecutePostLogin = async () => {};\n"
    assert plan(deployed_state(foreign)).step_dicts()[0]["detail"] == (
        f"replace code not rendered by stiggctl with template {TEMPLATE_VERSION}"
    )


@pytest.mark.parametrize(
    ("bindings", "position", "detail", "order"),
    [
        ([ROLES], "keep", "bind to post-login at position 2 of 2", ["roles-id", "ours-id"]),
        ([OURS, ROLES, AUDIT], "end", "move in post-login from position 1 to 3 of 3", None),
        ([ROLES, OURS, AUDIT], "start", "move in post-login from position 2 to 1 of 3", None),
        (
            [OURS, ROLES, OURS],
            "keep",
            "bind once (it was bound more than once) at position 1 of 2",
            ["ours-id", "roles-id"],
        ),
    ],
)
def test_binding_steps(bindings, position, detail, order):
    result = plan(deployed_state(current_code()), bindings=bindings, position=position)
    assert result.step_dicts() == [{"step": "bind", "detail": detail}]
    if order is not None:
        assert [b.action_id for b in result.bindings.after] == order


def test_bound_where_it_should_be_needs_no_binding_step():
    for position in ("keep", "end"):
        assert plan(deployed_state(current_code()), position=position).steps == ()
    result = plan(deployed_state(current_code()), bindings=[ROLES, OURS, AUDIT])
    assert result.steps == () and result.position == 2


def test_code_diff_of_identical_code_is_empty():
    assert code_diff("a\n", "a\n", 3) == ""
    assert code_diff("a\n", "b", 3) == "--- deployed v3\n+++ rendered\n@@ -1 +1 @@\n-a\n+b\n"


# ---- interrupted deploys and rollback --------------------------------------------------------


def version(number: int, code: str = "new", *, deployed=False, status="built") -> VersionState:
    return VersionState(f"v{number}", number, code, status, deployed)


def test_a_requested_deploy_that_is_not_live_yet_is_awaited():
    live = version(1, "old", deployed=True)
    assert pending_deploy([live, version(2)], live, "new") == version(2)
    assert pending_deploy([live, version(2, "other")], live, "new") is None
    assert pending_deploy([live, version(2, status="failed")], live, "new") is None
    assert pending_deploy([version(2, deployed=True)], version(2, deployed=True), "new") is None
    assert pending_deploy([version(1)], None, "new") == version(1)
    assert pending_deploy([], None, "new") is None


def test_rollback_goes_to_the_previous_built_version_or_the_one_asked():
    versions = [version(1), version(2, status="failed"), version(3), version(4, deployed=True)]
    assert rollback_target(versions, 4).number == 3
    assert rollback_target(versions, 3).number == 1
    assert rollback_target(versions, 4, to=1).number == 1
    with pytest.raises(ValueError, match=r"there is no version 9 \(versions: 1, 2, 3, 4\)"):
        rollback_target(versions, 4, to=9)
    with pytest.raises(ValueError, match="version 2 failed to build"):
        rollback_target(versions, 4, to=2)
    with pytest.raises(ValueError, match="no built version comes before the live version 1"):
        rollback_target(versions, 1)


# ---- drift ---------------------------------------------------------------------------------


def test_drift_states():
    assert drift(rendered(), None, SECRETS).state is DriftState.NOT_DEPLOYED
    in_sync = drift(rendered(), current_code(), SECRETS, SECRETS)
    assert in_sync.state is DriftState.IN_SYNC and in_sync.in_sync
    assert in_sync.to_dict() == {
        "state": "in_sync",
        "message": "the deployed code is what the profile renders",
        "deployed_template": TEMPLATE_VERSION,
        "rendered_template": TEMPLATE_VERSION,
        "secrets": dict.fromkeys(sorted(SECRETS), "unchanged"),
    }
    settings = drift(rendered("plan-pro"), current_code(), SECRETS, SECRETS)
    assert (settings.state, settings.message) == (
        DriftState.CODE_DIFFERS,
        "the deployed settings differ from the profile's rendering",
    )
    rotated = drift(rendered(), current_code(), {**SECRETS, "STIGG_API_KEY": "new"}, SECRETS)
    assert (rotated.state, rotated.message) == (
        DriftState.SECRETS_DIFFER,
        "secrets not as in the profile: STIGG_API_KEY",
    )
    edited = current_code().replace("async () => {}", "async () => 1")
    assert drift(rendered(), edited, SECRETS, SECRETS).state is DriftState.EDITED
    assert drift(rendered(), "exports.x = 1;\n", None).state is DriftState.FOREIGN
    assert drift(rendered(), current_code(), None).secrets == {}
