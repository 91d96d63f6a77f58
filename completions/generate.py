"""Regenerate the shell completion scripts in this folder: `python completions/generate.py`.

The scripts call back into `stiggctl` for the candidates, so they only change when Typer's
completion protocol does; tests/test_completions.py fails when they are stale.
"""

from __future__ import annotations

from pathlib import Path

from typer._completion_shared import get_completion_script

HERE = Path(__file__).resolve().parent
SHELLS = {"bash": "stiggctl.bash", "zsh": "_stiggctl", "fish": "stiggctl.fish"}


def scripts() -> dict[str, str]:
    return {
        file_name: get_completion_script(
            prog_name="stiggctl", complete_var="_STIGGCTL_COMPLETE", shell=shell
        ).rstrip("\n")
        + "\n"
        for shell, file_name in SHELLS.items()
    }


if __name__ == "__main__":
    for file_name, text in scripts().items():
        (HERE / file_name).write_text(text)
        print(f"wrote completions/{file_name}")
