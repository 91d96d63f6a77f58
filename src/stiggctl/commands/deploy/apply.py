"""deploy-action end to end: read the tenant, plan (core/deploy_plan.py), apply.

Order of the writes, chosen so that an interruption anywhere leaves a tenant that the next
run completes, and so that logins never run a half-made action:
1. create the action, or update its draft, with the code and the FULL secret set (Auth0
   replaces the list); the deployed version keeps running meanwhile;
2. wait for the build (a failed build stops here, exit 1, the live version untouched);
3. deploy, and wait until the new version is live;
4. bind in post-login by read-modify-write, then read back and verify.
A rerun finds the draft already holding the code (and the secrets' fingerprint), a build
under way or done, or a deploy on its way, and continues from there. A concurrent run that
created the action first (409 on create) is joined, not fought.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from stiggctl.app import AppContext
from stiggctl.clients.auth0 import Auth0Client
from stiggctl.clients.auth0_models import Action, ActionVersion
from stiggctl.commands.deploy.bind import bind
from stiggctl.commands.deploy.tenant import (
    ActionClient,
    SecretValues,
    action_name,
    action_secrets,
    action_state,
    profile_rendering,
    read_bindings,
    version_state,
)
from stiggctl.commands.deploy.wait import RERUN_HINT, Waiter, wait_for_build, wait_until_live
from stiggctl.core.bindings import BoundAction, Position
from stiggctl.core.deploy_plan import DeployPlan, Step, pending_deploy, plan_deploy
from stiggctl.core.render import RenderedAction
from stiggctl.errors import ErrorCode, StiggctlError
from stiggctl.output import Output

DEFAULT_TIMEOUT = 300.0
# A concurrent run may change the draft between our "built" and our deploy (Auth0 then
# answers 400: not built): wait for the new build and deploy that, a few times at most.
DEPLOY_ATTEMPTS = 3


@dataclass(frozen=True)
class DeployOptions:
    name: str | None = None
    position: Position = "keep"
    timeout: float = DEFAULT_TIMEOUT
    dry_run: bool = False


@dataclass(frozen=True)
class DeployOutcome:
    plan: DeployPlan
    action_id: str | None
    version: int | None  # the live version number (after the run; now, for a dry run)
    bound: bool
    position: int | None  # 1-based place in post-login (planned, for a dry run)
    bindings: tuple[BoundAction, ...] = field(default=())
    dry_run: bool = False
    action_client: ActionClient | None = None  # None: the Action calls no Management API

    @property
    def warnings(self) -> list[str]:
        warning = self.action_client.warning if self.action_client is not None else None
        return [warning] if warning else []

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action_id": self.action_id,
            "action_name": self.plan.action_name,
            "version": self.version,
            "changed": self.plan.changed,
            "bound": self.bound,
            "position": self.position,
            "steps": self.plan.step_dicts(),
            "secrets": {name: status.value for name, status in self.plan.secrets.items()},
            "dry_run": self.dry_run,
            "action_client": self.action_client.to_dict() if self.action_client else None,
            "warnings": self.warnings,
        }
        if self.dry_run:
            data["diff"] = self.plan.diff
        return data


def run_deploy(app_ctx: AppContext, options: DeployOptions) -> DeployOutcome:
    name = action_name(app_ctx, options.name)
    # Everything local first: a profile that cannot render fails before any request.
    rendered = profile_rendering(app_ctx)
    with app_ctx.auth0() as auth0:
        secrets, client = action_secrets(app_ctx, rendered.secret_names)
        if client is not None and client.warning:
            app_ctx.out.warn(client.warning)
        deployer = Deployer(
            auth0,
            app_ctx.out,
            Waiter.for_tenant(auth0.base_url, options.timeout),
            rendered,
            secrets,
            name,
            options.position,
            client,
        )
        action = auth0.find_action(name)
        bindings = read_bindings(auth0)
        plan = deployer.plan(action, bindings)
        if options.dry_run or not plan.changed:
            return deployer.outcome(plan, action, bindings, dry_run=options.dry_run)
        try:
            return deployer.apply(plan, action, bindings)
        except KeyboardInterrupt:
            raise StiggctlError(
                ErrorCode.INTERRUPTED, f"Interrupted while deploying {name!r}.", RERUN_HINT
            ) from None


class Deployer:
    def __init__(
        self,
        auth0: Auth0Client,
        out: Output,
        waiter: Waiter,
        rendered: RenderedAction,
        secrets: SecretValues,
        name: str,
        position: Position,
        action_client: ActionClient | None = None,
    ) -> None:
        self.auth0 = auth0
        self.out = out
        self.waiter = waiter
        self.rendered = rendered
        self.secrets = secrets
        self.name = name
        self.position = position
        self.action_client = action_client

    def plan(self, action: Action | None, bindings: Sequence[BoundAction]) -> DeployPlan:
        return plan_deploy(
            rendered=self.rendered,
            secrets=self.secrets,
            action=action_state(action) if action is not None else None,
            bindings=bindings,
            action_name=self.name,
            position=self.position,
        )

    def outcome(
        self,
        plan: DeployPlan,
        action: Action | None,
        bindings: Sequence[BoundAction],
        *,
        dry_run: bool = False,
    ) -> DeployOutcome:
        live = action.deployed_version if action is not None else None
        action_id = action.id if action is not None else None
        return DeployOutcome(
            plan=plan,
            action_id=action_id,
            version=live.number if live is not None else None,
            bound=any(b.action_id == action_id for b in bindings),
            position=plan.position,
            bindings=tuple(bindings),
            dry_run=dry_run,
            action_client=self.action_client,
        )

    def apply(
        self,
        plan: DeployPlan,
        action: Action | None,
        bindings: Sequence[BoundAction],
        *,
        joined: bool = False,
    ) -> DeployOutcome:
        if plan.has(Step.CREATE):
            try:
                action = self.auth0.create_action(
                    name=self.name, code=plan.code, secrets=self.secrets, runtime=plan.runtime
                )
            except StiggctlError as exc:
                if exc.code is not ErrorCode.CONFLICT or joined:
                    raise
                return self._join_concurrent_run()
            self.out.note(f"Created {self.name!r} ({action.id}).")
        elif plan.writes_draft:
            assert action is not None
            action = self.auth0.update_action(
                action.id,
                code=plan.code,
                secrets=self.secrets if plan.send_secrets else None,
                runtime=plan.runtime if plan.has(Step.UPDATE_RUNTIME) else None,
            )
            live = f"v{plan.deployed_number} stays live" if plan.deployed_number else "not live yet"
            self.out.note(f"Updated the draft of {self.name!r} ({live}).")
        assert action is not None
        if plan.has(Step.DEPLOY):
            action = self._deploy(plan, action)
        if plan.has(Step.BIND):
            # After a build and a deploy the list read at the start may be stale: read again.
            current = None if plan.has(Step.DEPLOY) else bindings
            bindings = bind(self.auth0, action.id, self.name, self.position, current).bindings
        live = action.deployed_version
        position = next(
            (i for i, b in enumerate(bindings, start=1) if b.action_id == action.id), None
        )
        return DeployOutcome(
            plan=plan,
            action_id=action.id,
            version=live.number if live is not None else None,
            bound=position is not None,
            position=position,
            bindings=tuple(bindings),
            action_client=self.action_client,
        )

    def _deploy(self, plan: DeployPlan, action: Action) -> Action:
        version: ActionVersion | None = None
        if not plan.writes_draft and not action.all_changes_deployed:
            # An interrupted run may have asked for this very deploy: wait for it instead of
            # making another version (an action keeps at most 50).
            versions = [version_state(v) for v in self.auth0.list_action_versions(action.id)]
            live = action_state(action).deployed
            pending = pending_deploy(versions, live, plan.code)
            if pending is not None:
                version = ActionVersion(id=pending.id, number=pending.number)
        for attempt in range(1, DEPLOY_ATTEMPTS + 1):
            if version is not None:
                break
            if plan.writes_draft or action.status != "built":
                action = wait_for_build(self.auth0, self.waiter, self.out, action)
            try:
                version = self.auth0.deploy_action(action.id)
            except StiggctlError as exc:
                if exc.status != 400 or attempt == DEPLOY_ATTEMPTS:
                    raise
                action = self.auth0.get_action(action.id)
        assert version is not None
        action = wait_until_live(self.auth0, self.waiter, self.out, action, version)
        self.out.note(f"{self.name!r} v{version.number} is live.")
        return action

    def _join_concurrent_run(self) -> DeployOutcome:
        """Another run created the action between our look and our create: continue from
        what it made (the same rendering, so most often only waits remain)."""
        action = self.auth0.find_action(self.name)
        if action is None:
            raise StiggctlError(
                ErrorCode.CONFLICT,
                f"An action named {self.name!r} exists, but not for the post-login trigger.",
                "Give the integration another name: --name, or STIGGCTL_ACTION_NAME.",
            )
        bindings = read_bindings(self.auth0)
        plan = self.plan(action, bindings)
        if not plan.changed:
            return self.outcome(plan, action, bindings)
        return self.apply(plan, action, bindings, joined=True)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) stops the run like Ctrl-C: with a message, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
