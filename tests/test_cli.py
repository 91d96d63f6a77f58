"""The CLI's contract: global options and their environment twins, JSON envelopes, exit
codes, no tracebacks without --verbose, and a light start-up."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from stiggctl import __version__
from stiggctl.__main__ import hoist_global_options
from tests.cli_helpers import run_cli


def test_version(capsys):
    result = run_cli(capsys, "--version")
    assert (result.exit_code, result.stdout) == (0, f"stiggctl {__version__}\n")


def test_version_through_typer_too(capsys):
    # `--profile x --version` takes the Typer path rather than the fast path.
    result = run_cli(capsys, "--profile", "x", "--version")
    assert (result.exit_code, result.stdout) == (0, f"stiggctl {__version__}\n")


def test_help_lists_commands_and_exit_codes(capsys):
    result = run_cli(capsys, "--help")
    assert result.exit_code == 0
    assert "config" in result.stdout
    assert "Exit codes" in result.stdout


def test_python_dash_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "stiggctl", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout) == (0, f"stiggctl {__version__}\n")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["config", "show", "--json"], ["--json", "config", "show"]),
        (["config", "show", "--profile", "p", "-v"], ["--profile", "p", "-v", "config", "show"]),
        (
            ["config", "set", "--profile=p", "mode", "b2b"],
            ["--profile=p", "config", "set", "mode", "b2b"],
        ),
        (["config", "set", "x", "--", "--json"], ["config", "set", "x", "--", "--json"]),
    ],
)
def test_global_options_are_hoisted(argv, expected):
    assert hoist_global_options(argv) == expected


def test_global_options_work_anywhere(capsys):
    first = run_cli(capsys, "--json", "--profile", "p1", "config", "show")
    second = run_cli(capsys, "config", "show", "--profile", "p1", "--json")
    assert first.exit_code == second.exit_code == 0
    assert first.json() == second.json()
    assert first.json()["data"]["profile"] == "p1"


def test_environment_twins(capsys, monkeypatch):
    monkeypatch.setenv("STIGGCTL_JSON", "1")
    monkeypatch.setenv("STIGGCTL_PROFILE", "from-env")
    result = run_cli(capsys, "config", "show")
    assert result.json()["data"]["profile"] == "from-env"


def test_json_error_envelope_and_nothing_else_on_stdout(capsys, monkeypatch):
    monkeypatch.setenv("STIGGCTL_MODE", "nope")
    result = run_cli(capsys, "config", "show", "--json")
    assert result.exit_code == 1
    payload = result.json()
    assert set(payload) == {"error"}
    assert payload["error"]["code"] == "config_error"
    assert "STIGGCTL_MODE" in payload["error"]["message"]
    assert payload["error"]["hint"]


def test_usage_error_exit_2_in_both_modes(capsys):
    human = run_cli(capsys, "config", "frobnicate")
    assert human.exit_code == 2
    assert human.stdout == ""
    machine = run_cli(capsys, "--json", "config", "frobnicate")
    assert machine.exit_code == 2
    assert machine.json()["error"]["code"] == "usage_error"


@pytest.mark.parametrize("value", ["1", "true", "yes", "on", "y", "t", "TRUE"])
def test_a_usage_error_is_json_whenever_stiggctl_json_means_json(capsys, monkeypatch, value):
    monkeypatch.setenv("STIGGCTL_JSON", value)
    assert run_cli(capsys, "config", "path").json()["data"]["exists"] is False
    machine = run_cli(capsys, "config", "frobnicate")
    assert machine.exit_code == 2
    assert machine.json()["error"]["code"] == "usage_error"


def test_unexpected_failure_has_no_traceback_unless_verbose(capsys, monkeypatch):
    from stiggctl.config import profiles

    def explode():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(profiles, "config_path", explode)
    quiet = run_cli(capsys, "config", "path")
    assert quiet.exit_code == 1
    assert "Traceback" not in quiet.stderr
    assert "disk on fire" in quiet.stderr
    loud = run_cli(capsys, "config", "path", "--verbose")
    assert loud.exit_code == 1
    assert "Traceback" in loud.stderr


def test_config_set_and_path(capsys):
    result = run_cli(capsys, "config", "set", "mode", "B2B", "--json")
    assert result.exit_code == 0
    assert result.json()["data"]["value"] == "b2b"
    path = run_cli(capsys, "config", "path", "--json").json()["data"]
    assert path["exists"] is True
    show = run_cli(capsys, "config", "show", "--json").json()["data"]["settings"]["mode"]
    assert show == {"value": "b2b", "source": "file", "env": "STIGGCTL_MODE"}
    bad = run_cli(capsys, "config", "set", "mode", "sideways", "--json")
    assert bad.exit_code == 1
    assert bad.json()["error"]["code"] == "invalid_input"
    secret = run_cli(capsys, "config", "set", "stigg_api_key", "server-x", "--json")
    assert secret.exit_code == 1
    assert "server-x" not in secret.stdout
    unset = run_cli(capsys, "config", "unset", "mode", "--json")
    assert unset.json()["data"]["value"] is None


COLOUR_SGR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-9]|9[0-7])(?:;\d+)*m")


def test_no_color_respected(capsys, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # pretend to be a terminal
    monkeypatch.setenv("STIGGCTL_MODE", "nope")  # errors are printed in red
    coloured = run_cli(capsys, "config", "show")
    assert COLOUR_SGR.search(coloured.stderr)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = run_cli(capsys, "config", "show")
    assert plain.exit_code == 1
    assert "Invalid setting STIGGCTL_MODE" in plain.stderr
    assert not COLOUR_SGR.search(plain.stderr)


HEAVY = ("httpx", "pydantic", "keyring", "graphql", "pydantic_settings")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["--profile", "x", "--version"]])
def test_startup_imports_stay_light(args):
    # Typer itself imports pydantic to coerce option values once a command runs, so the
    # promise covers what users run to look around: --help and --version.
    code = (
        "import sys, runpy\n"
        f"sys.argv = ['stiggctl', *{args!r}]\n"
        "from stiggctl.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "sys.stderr.write('HEAVY=' + repr(heavy))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert "HEAVY=[]" in proc.stderr, proc.stderr[-2000:]


def test_every_command_has_help_with_an_example(capsys):
    from typer.main import get_command

    from stiggctl.cli import app

    group = get_command(app)

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            for name, child in sub.items():
                yield from walk(child, [*path, name])
        else:
            yield path

    for path in walk(group, []):
        result = run_cli(capsys, *path, "--help")
        assert result.exit_code == 0, path
        assert "Usage:" in result.stdout, path
        assert "Example" in result.stdout, path


def test_json_output_is_valid_json_for_data(capsys):
    result = run_cli(capsys, "--json", "config", "path")
    assert json.loads(result.stdout)["data"]["path"].endswith("config.toml")


def test_ctrl_c_exits_130_with_an_error_envelope(capsys, monkeypatch):
    from stiggctl.config import profiles

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(profiles, "config_path", interrupted)
    result = run_cli(capsys, "--json", "config", "path")
    assert result.exit_code == 130
    assert result.json() == {
        "error": {"code": "interrupted", "message": "Interrupted.", "hint": None}
    }
