"""stiggctl: Auth0 + Stigg integration as code."""

__version__ = "0.1.0"
