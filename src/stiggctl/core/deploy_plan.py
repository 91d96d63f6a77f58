"""What `deploy-action` has to do, decided from what the tenant holds: pure, no I/O.

Inputs are plain views of the tenant (`ActionState`, the post-login bindings) and of the
profile (the rendered code, the secret values); the output is a `DeployPlan`: the steps
(create / update code / update secrets / update runtime / deploy / bind, or none), the code
to make live, a unified diff against the deployed code, and each secret as changed or
unchanged. The dry run prints the plan; the real run applies it.

Secret changes without reading secrets back. Auth0 never returns a secret's value, and CI
runs from fresh machines, so what was set must be recorded in the tenant itself. The code
that goes live ends with one trailer comment, appended after the rendered body (the render
stays secret-free and the drift check compares the body):

    /* stiggctl secrets scrypt n=16384 r=8 p=1 salt=<16 bytes hex> NAME=<16 bytes hex> ... */

Each value is scrypt(value, salt || 0x00 || name): salted (equal values give unrelated
digests across tenants, names and deploys) and slow (guessing a value costs a 16 MiB,
tens-of-milliseconds derivation per try), so the comment reveals nothing usable about a
value. Checking a value again with the stored salt and cost gives the same digest: the
secrets are unchanged. A new salt is drawn whenever the secrets are written.
"""

from __future__ import annotations

import difflib
import enum
import hashlib
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from stiggctl.core.bindings import BindingPlan, BoundAction, Position, plan_binding
from stiggctl.core.render import RenderedAction, read_header

DEFAULT_RUNTIME = "node22"
# Stands for the id of an action that a plan creates (ids are given by Auth0).
NEW_ACTION_ID = "(new action)"

SALT_BYTES = 16
DIGEST_BYTES = 16


@dataclass(frozen=True)
class KdfCost:
    """scrypt's cost parameters: memory is 128 * n * r bytes per derivation."""

    n: int = 2**14
    r: int = 8
    p: int = 1

    def acceptable(self) -> bool:
        # A trailer is read from the tenant: cap what it may ask for, so an edited comment
        # cannot make stiggctl derive keys for minutes or exhaust memory.
        power_of_two = self.n & (self.n - 1) == 0
        return 2 <= self.n <= 2**20 and power_of_two and 1 <= self.r <= 32 and 1 <= self.p <= 16


DEFAULT_COST = KdfCost()
_NAME = r"[A-Za-z0-9_]+"
_TRAILER = re.compile(
    r"/\* stiggctl secrets scrypt n=(?P<n>\d{1,8}) r=(?P<r>\d{1,3}) p=(?P<p>\d{1,3}) "
    rf"salt=(?P<salt>[0-9a-f]{{{2 * SALT_BYTES}}})"
    rf"(?P<digests>(?: {_NAME}=[0-9a-f]{{{2 * DIGEST_BYTES}}})*) \*/\n\Z"
)


def _digest(name: str, value: str, salt: bytes, cost: KdfCost) -> str:
    return hashlib.scrypt(
        value.encode("utf-8"),
        salt=salt + b"\0" + name.encode("utf-8"),
        n=cost.n,
        r=cost.r,
        p=cost.p,
        maxmem=256 * cost.n * cost.r * cost.p + 2**20,
        dklen=DIGEST_BYTES,
    ).hex()


@dataclass(frozen=True)
class SecretFingerprint:
    """Digests of the secret values set with a piece of code (never the values)."""

    salt: bytes
    digests: tuple[tuple[str, str], ...]  # (name, hex digest), sorted by name
    cost: KdfCost

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.digests)

    def matches(self, name: str, value: str) -> bool:
        recorded = dict(self.digests).get(name)
        return recorded is not None and _digest(name, value, self.salt, self.cost) == recorded

    def trailer(self) -> str:
        entries = "".join(f" {name}={digest}" for name, digest in self.digests)
        cost = self.cost
        return (
            f"/* stiggctl secrets scrypt n={cost.n} r={cost.r} p={cost.p} "
            f"salt={self.salt.hex()}{entries} */\n"
        )


def fingerprint_secrets(
    secrets: Mapping[str, str], *, salt: bytes | None = None, cost: KdfCost | None = None
) -> SecretFingerprint:
    for name in secrets:
        if not re.fullmatch(_NAME, name):
            raise ValueError(f"secret name {name!r} is not made of letters, digits and _")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    cost = cost or DEFAULT_COST
    if len(salt) != SALT_BYTES:
        raise ValueError(f"the salt must be {SALT_BYTES} bytes")
    digests = tuple((name, _digest(name, secrets[name], salt, cost)) for name in sorted(secrets))
    return SecretFingerprint(salt=salt, digests=digests, cost=cost)


def with_trailer(body: str, fingerprint: SecretFingerprint) -> str:
    """The code to deploy: the rendered body, then the secrets trailer (on a line of its own,
    as the rendered body ends with a newline)."""
    return body + fingerprint.trailer()


def split_trailer(code: str) -> tuple[str, SecretFingerprint | None]:
    """The body of deployed code and its secrets fingerprint (None when it has none, or an
    unreadable one). The body is exactly what `with_trailer` was given."""
    match = _TRAILER.search(code)
    if match is None:
        return code, None
    body = code[: match.start()]
    cost = KdfCost(int(match["n"]), int(match["r"]), int(match["p"]))
    if not cost.acceptable():
        return body, None
    pairs = [entry.split("=", 1) for entry in match["digests"].split()]
    digests = tuple(sorted((name, digest) for name, digest in pairs))
    return body, SecretFingerprint(salt=bytes.fromhex(match["salt"]), digests=digests, cost=cost)


class SecretStatus(enum.StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"  # not set in the tenant yet
    REMOVED = "removed"  # set in the tenant, no longer read by the Action
    UNKNOWN = "unknown"  # set, but with no fingerprint to compare against: will be set again


def compare_secrets(
    fingerprint: SecretFingerprint | None,
    secrets: Mapping[str, str],
    tenant_names: Collection[str],
) -> dict[str, SecretStatus]:
    """Each secret, wanted or present, as changed or unchanged; sorted by name."""
    statuses: dict[str, SecretStatus] = {}
    for name in sorted(set(secrets) | set(tenant_names)):
        if name not in secrets:
            statuses[name] = SecretStatus.REMOVED
        elif name not in tenant_names:
            statuses[name] = SecretStatus.ADDED
        elif fingerprint is None or name not in fingerprint.names:
            statuses[name] = SecretStatus.UNKNOWN
        elif fingerprint.matches(name, secrets[name]):
            statuses[name] = SecretStatus.UNCHANGED
        else:
            statuses[name] = SecretStatus.CHANGED
    return statuses


# ---- the tenant, as the plan sees it -------------------------------------------------------


@dataclass(frozen=True)
class VersionState:
    id: str
    number: int
    code: str
    status: str | None = None
    deployed: bool = False
    runtime: str | None = None


@dataclass(frozen=True)
class ActionState:
    """The action as Auth0 reports it: the draft, and the version that runs."""

    id: str
    name: str
    draft_code: str
    draft_status: str | None
    runtime: str | None
    secret_names: frozenset[str]
    all_changes_deployed: bool
    deployed: VersionState | None


# ---- the plan ------------------------------------------------------------------------------


class Step(enum.StrEnum):
    CREATE = "create"
    UPDATE_CODE = "update_code"
    UPDATE_SECRETS = "update_secrets"
    UPDATE_RUNTIME = "update_runtime"
    DEPLOY = "deploy"
    BIND = "bind"


DRAFT_STEPS = frozenset({Step.CREATE, Step.UPDATE_CODE, Step.UPDATE_SECRETS, Step.UPDATE_RUNTIME})


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"step": self.step.value, "detail": self.detail}


@dataclass(frozen=True)
class DeployPlan:
    action_name: str
    action_id: str | None  # None when the plan creates the action
    code: str  # what the draft must hold and what goes live: rendered body + secrets trailer
    runtime: str
    steps: tuple[PlannedStep, ...]
    secrets: dict[str, SecretStatus]
    bindings: BindingPlan
    diff: str  # unified diff, deployed body -> rendered body ("" when equal)
    deployed_number: int | None  # the version live before the run
    send_secrets: bool = field(default=False)

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    def has(self, step: Step) -> bool:
        return any(s.step is step for s in self.steps)

    @property
    def writes_draft(self) -> bool:
        return any(s.step in DRAFT_STEPS for s in self.steps)

    @property
    def position(self) -> int | None:
        """1-based place of the action in post-login once the plan is applied."""
        return self.bindings.position_of(self.action_id or NEW_ACTION_ID)

    def step_dicts(self) -> list[dict[str, str]]:
        return [s.to_dict() for s in self.steps]


def plan_deploy(
    *,
    rendered: RenderedAction,
    secrets: Mapping[str, str],
    action: ActionState | None,
    bindings: Sequence[BoundAction],
    action_name: str,
    position: Position = "keep",
    runtime: str = DEFAULT_RUNTIME,
    salt: bytes | None = None,
    cost: KdfCost | None = None,
) -> DeployPlan:
    """The steps that bring the tenant to the rendering, the secrets and the binding wanted.

    Nothing to do gives no steps. `salt` and `cost` make a new fingerprint when the secrets
    are (re)written (random salt, `DEFAULT_COST` when not given); unchanged secrets keep the
    draft's fingerprint, so an unchanged profile renders byte-identical code.
    """
    if action is None:
        fingerprint = fingerprint_secrets(secrets, salt=salt, cost=cost)
        code = with_trailer(rendered.code, fingerprint)
        statuses = {name: SecretStatus.ADDED for name in sorted(secrets)}
        binding = plan_binding(list(bindings), NEW_ACTION_ID, action_name, position)
        steps = [
            PlannedStep(
                Step.CREATE,
                f"create {action_name!r} ({runtime}, template {rendered.template_version}) "
                f"with secrets {', '.join(sorted(secrets)) or '(none)'}",
            ),
            PlannedStep(Step.DEPLOY, "deploy it as version 1"),
            _bind_step(binding, NEW_ACTION_ID),
        ]
        return DeployPlan(
            action_name=action_name,
            action_id=None,
            code=code,
            runtime=runtime,
            steps=tuple(steps),
            secrets=statuses,
            bindings=binding,
            diff=code_diff(None, rendered.code),
            deployed_number=None,
            send_secrets=True,
        )

    draft_body, draft_fingerprint = split_trailer(action.draft_code)
    statuses = compare_secrets(draft_fingerprint, secrets, action.secret_names)
    secrets_current = (
        draft_fingerprint is not None
        and draft_fingerprint.names == frozenset(secrets)
        and all(status is SecretStatus.UNCHANGED for status in statuses.values())
    )
    if secrets_current:
        assert draft_fingerprint is not None
        fingerprint = draft_fingerprint
    else:
        fingerprint = fingerprint_secrets(secrets, salt=salt, cost=cost)
    code = with_trailer(rendered.code, fingerprint)

    steps: list[PlannedStep] = []
    if draft_body != rendered.code:
        steps.append(PlannedStep(Step.UPDATE_CODE, _code_change(draft_body, rendered)))
    elif action.draft_status == "failed":
        steps.append(PlannedStep(Step.UPDATE_CODE, "build the draft again (its last build failed)"))
    if not secrets_current:
        steps.append(PlannedStep(Step.UPDATE_SECRETS, _secrets_change(statuses)))
    if action.runtime != runtime:
        steps.append(
            PlannedStep(Step.UPDATE_RUNTIME, f"runtime {action.runtime or '(none)'} -> {runtime}")
        )
    deployed = action.deployed
    # What runs decides whether to deploy, not the draft's history: the live code carries
    # the secrets' fingerprint too, so live code equal to `code` is the profile's rendering
    # with the profile's secrets. (After a rollback to a copy of it, Auth0 reports changes
    # not deployed; a draft left different from it is updated, not deployed again.)
    live_is_wanted = (
        deployed is not None and deployed.code == code and deployed.runtime in (None, runtime)
    )
    if not live_is_wanted:
        live = f"v{deployed.number} stays live until then" if deployed else "nothing is live yet"
        steps.append(PlannedStep(Step.DEPLOY, f"deploy the built draft ({live})"))
    binding = plan_binding(list(bindings), action.id, action_name, position)
    if binding.changed:
        steps.append(_bind_step(binding, action.id))
    deployed_body = split_trailer(deployed.code)[0] if deployed else None
    return DeployPlan(
        action_name=action_name,
        action_id=action.id,
        code=code,
        runtime=runtime,
        steps=tuple(steps),
        secrets=statuses,
        bindings=binding,
        diff=code_diff(deployed_body, rendered.code, deployed.number if deployed else None),
        deployed_number=deployed.number if deployed else None,
        send_secrets=not secrets_current,
    )


def pending_deploy(
    versions: Sequence[VersionState], deployed: VersionState | None, code: str
) -> VersionState | None:
    """A deploy of `code` that was requested (by an interrupted run) and is not live yet.

    Every deploy makes a new, higher version number, so the newest version, when it is not
    the live one, is a deploy still on its way (or one that never went live).
    """
    if not versions:
        return None
    newest = max(versions, key=lambda v: v.number)
    if newest.deployed or newest.code != code or newest.status == "failed":
        return None
    if deployed is not None and newest.number <= deployed.number:
        return None
    return newest


def _bind_step(binding: BindingPlan, action_id: str) -> PlannedStep:
    where = binding.position_of(action_id)
    total = len(binding.after)
    was = next((i for i, b in enumerate(binding.before, start=1) if b.action_id == action_id), None)
    if was is None:
        detail = f"bind to post-login at position {where} of {total}"
    elif sum(1 for b in binding.before if b.action_id == action_id) > 1:
        detail = f"bind once (it was bound more than once) at position {where} of {total}"
    else:
        detail = f"move in post-login from position {was} to {where} of {total}"
    return PlannedStep(Step.BIND, detail)


def _code_change(draft_body: str, rendered: RenderedAction) -> str:
    header = read_header(draft_body)
    if header is None:
        return f"replace code not rendered by stiggctl with template {rendered.template_version}"
    if not header.body_matches:
        return "replace code edited outside stiggctl"
    if header.template_version != rendered.template_version:
        return f"template {header.template_version} -> {rendered.template_version}"
    return "settings changed (same template)"


def _secrets_change(statuses: Mapping[str, SecretStatus]) -> str:
    parts = [
        f"{status.value}: {', '.join(n for n, s in statuses.items() if s is status)}"
        for status in SecretStatus
        if status is not SecretStatus.UNCHANGED and status in statuses.values()
    ]
    return "set the full secret set (" + "; ".join(parts) + ")" if parts else "set the secrets"


def code_diff(deployed: str | None, rendered: str, deployed_number: int | None = None) -> str:
    """Unified diff from the deployed body (None: nothing deployed) to the rendered one."""
    source = f"deployed v{deployed_number}" if deployed_number is not None else "deployed"
    lines = difflib.unified_diff(
        (deployed or "").splitlines(keepends=True),
        rendered.splitlines(keepends=True),
        fromfile=source if deployed is not None else "/dev/null",
        tofile="rendered",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


# ---- drift: what status and doctor report --------------------------------------------------


class DriftState(enum.StrEnum):
    IN_SYNC = "in_sync"
    CODE_DIFFERS = "code_differs"  # deployed code differs from what the profile renders
    SECRETS_DIFFER = "secrets_differ"
    EDITED = "edited"  # the deployed code was changed after rendering
    FOREIGN = "foreign"  # the deployed code was not rendered by stiggctl
    NOT_DEPLOYED = "not_deployed"


@dataclass(frozen=True)
class Drift:
    state: DriftState
    message: str
    deployed_template: str | None = None
    rendered_template: str | None = None
    secrets: dict[str, SecretStatus] = field(default_factory=dict)

    @property
    def in_sync(self) -> bool:
        return self.state is DriftState.IN_SYNC

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "message": self.message,
            "deployed_template": self.deployed_template,
            "rendered_template": self.rendered_template,
            "secrets": {name: status.value for name, status in self.secrets.items()},
        }


def drift(
    rendered: RenderedAction,
    deployed_code: str | None,
    secrets: Mapping[str, str] | None,
    deployed_secret_names: Collection[str] = (),
) -> Drift:
    """How the deployed code (and its secrets, when their values are known) compare with
    what the profile renders."""
    if deployed_code is None:
        return Drift(
            DriftState.NOT_DEPLOYED,
            "no version is deployed",
            rendered_template=rendered.template_version,
        )
    body, fingerprint = split_trailer(deployed_code)
    header = read_header(body)
    deployed_template = header.template_version if header else None
    statuses = (
        compare_secrets(fingerprint, secrets, deployed_secret_names) if secrets is not None else {}
    )

    def result(state: DriftState, message: str) -> Drift:
        return Drift(state, message, deployed_template, rendered.template_version, statuses)

    if header is None:
        return result(DriftState.FOREIGN, "the deployed code was not rendered by stiggctl")
    if not header.body_matches:
        return result(DriftState.EDITED, "the deployed code was edited after rendering")
    if body != rendered.code:
        if header.template_version != rendered.template_version:
            return result(
                DriftState.CODE_DIFFERS,
                f"deployed template {header.template_version}, the profile renders "
                f"{rendered.template_version}",
            )
        return result(
            DriftState.CODE_DIFFERS, "the deployed settings differ from the profile's rendering"
        )
    stale = sorted(name for name, s in statuses.items() if s is not SecretStatus.UNCHANGED)
    if stale:
        return result(
            DriftState.SECRETS_DIFFER, f"secrets not as in the profile: {', '.join(stale)}"
        )
    return result(DriftState.IN_SYNC, "the deployed code is what the profile renders")


# ---- rollback ------------------------------------------------------------------------------


def rollback_target(
    versions: Sequence[VersionState], live_number: int, to: int | None = None
) -> VersionState:
    """The version to deploy again: number `to`, or the newest built one before the live one.

    Raises ValueError saying why there is none.
    """
    by_number = {v.number: v for v in versions}
    if to is not None:
        target = by_number.get(to)
        if target is None:
            known = ", ".join(str(n) for n in sorted(by_number)) or "none"
            raise ValueError(f"there is no version {to} (versions: {known})")
        if target.status == "failed":
            raise ValueError(f"version {to} failed to build and cannot be deployed")
        return target
    earlier = [v for v in versions if v.number < live_number and v.status != "failed"]
    if not earlier:
        raise ValueError(f"no built version comes before the live version {live_number}")
    return max(earlier, key=lambda v: v.number)
