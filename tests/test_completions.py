"""The committed completion scripts are current, and completion answers."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from tests.contracts import REPO


def _generator():
    spec = importlib.util.spec_from_file_location("generate", REPO / "completions" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_scripts_are_current():
    for file_name, text in _generator().scripts().items():
        assert (REPO / "completions" / file_name).read_text() == text, (
            f"completions/{file_name} is stale: run python completions/generate.py"
        )


def test_bash_completion_lists_commands():
    env = {
        **os.environ,
        "_STIGGCTL_COMPLETE": "complete_bash",
        "COMP_WORDS": "stiggctl con",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "stiggctl"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert "config" in proc.stdout.split()
