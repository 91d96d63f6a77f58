"""The sandbox's Auth0: authentication (`/oauth/token`) and Management API v2 emulated."""

from stiggctl.sandbox.auth0.emulator import ROUTE_PREFIXES, Auth0Emulator
from stiggctl.sandbox.auth0.errors import SandboxError

__all__ = ["ROUTE_PREFIXES", "Auth0Emulator", "SandboxError"]
