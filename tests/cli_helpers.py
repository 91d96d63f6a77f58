"""Running the CLI in-process, the way a user's shell would (exit code, stdout, stderr)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    from stiggctl.__main__ import main

    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
