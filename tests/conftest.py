"""Every test runs isolated: its own config folder, no STIGGCTL_* or CI variables from the
machine, and the keyring's null backend (the machine's real keyring is never touched)."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.keyrings"]


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("STIGGCTL_") or name in {"CI", "NO_COLOR", "FORCE_COLOR"}:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STIGGCTL_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setenv("COLUMNS", "120")
    yield
