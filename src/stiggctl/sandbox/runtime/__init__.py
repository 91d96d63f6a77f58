"""The sandbox's runtime for Auth0 post-login actions: Node.js runs them, Python keeps score.

`check_code` is the build step's check, `run_post_login` runs the bound actions of one
login, `ActionCache` is the trigger's `api.cache` kept across logins.
"""

from stiggctl.sandbox.runtime.cache import ActionCache
from stiggctl.sandbox.runtime.runner import (
    ActionRun,
    ActionSpec,
    ActionStatus,
    LoginRun,
    check_code,
    run_post_login,
)

__all__ = [
    "ActionCache",
    "ActionRun",
    "ActionSpec",
    "ActionStatus",
    "LoginRun",
    "check_code",
    "run_post_login",
]
