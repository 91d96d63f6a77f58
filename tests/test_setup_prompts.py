"""The prompting layer: the terminal prompter (rich, on stderr) driven through input() and
getpass, and the scripted prompter that tests answer with."""

from __future__ import annotations

import builtins
import getpass
import io
from collections.abc import Iterator

import pytest
import typer
from rich.console import Console

from stiggctl.prompts import (
    Asked,
    Option,
    RichPrompter,
    ScriptedPrompter,
    UnansweredQuestion,
    answering,
    prompter_for,
)

PLANS = [
    Option("plan-free", ("Free", "3")),
    Option("plan-pro", ("Pro", "50")),
]


class Terminal:
    """What a person types (input() and getpass), and what the prompter printed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, typed: list[str]) -> None:
        self.typed: Iterator[str] = iter(typed)
        self.screen = io.StringIO()
        self.console = Console(file=self.screen, width=100, color_system=None)
        self.hidden: list[bool] = []
        monkeypatch.setattr(builtins, "input", self._read)
        monkeypatch.setattr(getpass, "getpass", self._read_hidden)

    def _read(self, prompt: str = "") -> str:
        self.hidden.append(False)
        try:
            return next(self.typed)
        except StopIteration:
            raise EOFError from None

    def _read_hidden(self, prompt: str = "", stream: object = None) -> str:
        self.hidden.append(True)
        return next(self.typed)

    @property
    def lines(self) -> list[str]:
        return [line.rstrip() for line in self.screen.getvalue().splitlines()]


def check_plan(answer: str) -> str:
    if not answer.startswith("plan-"):
        raise ValueError(f"{answer!r} is not a plan id")
    return answer


def test_text_takes_the_default_on_enter_and_asks_again_after_a_refusal(monkeypatch):
    terminal = Terminal(monkeypatch, ["", "oops", "plan-pro"])
    prompter = RichPrompter(terminal.console)
    assert prompter.text("plan", "Plan", default="plan-free") == "plan-free"
    assert prompter.text("plan", "Plan", validate=check_plan) == "plan-pro"
    assert terminal.lines == [
        "Plan [plan-free]: Plan: 'oops' is not a plan id",
        "Plan:",
    ]


def test_text_without_default_needs_an_answer(monkeypatch):
    terminal = Terminal(monkeypatch, ["  ", "acme"])
    assert RichPrompter(terminal.console).text("tenant", "Tenant") == "acme"
    assert "An answer is needed." in terminal.lines[0]


def test_secret_is_read_hidden_and_enter_keeps_the_stored_one(monkeypatch):
    terminal = Terminal(monkeypatch, ["s3cret", ""])
    prompter = RichPrompter(terminal.console)
    assert prompter.secret("key", "API key") == "s3cret"
    assert prompter.secret("key", "API key", keep_existing=True) is None
    assert terminal.hidden == [True, True]
    assert "s3cret" not in terminal.screen.getvalue()
    assert terminal.lines == ["API key: API key (Enter keeps the stored one):"]


def test_choice_by_number_by_id_or_default(monkeypatch):
    terminal = Terminal(monkeypatch, ["2", "plan-free", "", "7", "plan-pro"])
    prompter = RichPrompter(terminal.console)
    headers = ("plan", "name", "limit")
    assert prompter.choice("b2b_plan", "Plan", PLANS, headers=headers) == "plan-pro"
    assert prompter.choice("b2b_plan", "Plan", PLANS, headers=headers) == "plan-free"
    assert (
        prompter.choice("b2b_plan", "Plan", PLANS, headers=headers, default="plan-pro")
        == "plan-pro"
    )
    assert prompter.choice("b2b_plan", "Plan", PLANS, headers=headers) == "plan-pro"
    assert terminal.lines[:3] == [
        "#  plan       name  limit",
        "1  plan-free  Free  3",
        "2  plan-pro   Pro   50",
    ]
    assert terminal.lines[3] == "Plan (number or id): #  plan       name  limit"
    assert "Plan (number or id) [2]: " in terminal.screen.getvalue()
    assert "Choose a number from 1 to 2, or one of the ids listed." in terminal.screen.getvalue()


def test_confirm(monkeypatch):
    terminal = Terminal(monkeypatch, ["", "n", "maybe", "YES"])
    prompter = RichPrompter(terminal.console)
    assert prompter.confirm("deploy", "Deploy?", default=True) is True
    assert prompter.confirm("deploy", "Deploy?", default=True) is False
    assert prompter.confirm("deploy", "Deploy?", default=False) is True
    assert "Answer y or n." in terminal.screen.getvalue()


def test_closed_input_aborts(monkeypatch):
    terminal = Terminal(monkeypatch, [])
    with pytest.raises(typer.Abort):
        RichPrompter(terminal.console).text("tenant", "Tenant")


def test_scripted_answers_by_key_defaults_and_refusals():
    prompter = ScriptedPrompter({"b2b_plan": ["nope", "plan-pro"], "tenant": ["x y", "acme"]})
    assert prompter.choice("b2b_plan", "Plan", PLANS, headers=("plan",)) == "plan-pro"
    assert prompter.text("feature", "Feature", default="feature-active-users") == (
        "feature-active-users"
    )
    assert prompter.text("tenant", "Tenant", validate=lambda a: _no_space(a)) == "acme"
    assert prompter.confirm("deploy", "Deploy?", default=False) is False
    assert prompter.refused == [
        ("b2b_plan", "'nope' is not one of the options"),
        ("tenant", "'x y' has a space"),
    ]
    assert prompter.asked == [
        Asked("choice", "b2b_plan", "Plan", None, ("plan-free", "plan-pro")),
        Asked("text", "feature", "Feature", "feature-active-users"),
        Asked("text", "tenant", "Tenant", None),
        Asked("confirm", "deploy", "Deploy?", False),
    ]
    assert prompter.unused() == {}
    with pytest.raises(UnansweredQuestion):
        prompter.text("client_id", "Client id")


def _no_space(answer: str) -> str:
    if " " in answer:
        raise ValueError(f"{answer!r} has a space")
    return answer


def test_scripted_secrets():
    prompter = ScriptedPrompter({"key": [None, "typed"]})
    assert prompter.secret("key", "Key", keep_existing=True) is None
    assert prompter.secret("key", "Key") == "typed"
    assert prompter.secret("key", "Key", keep_existing=True) is None  # Enter, nothing scripted
    with pytest.raises(UnansweredQuestion):
        prompter.secret("key", "Key")


def test_the_installed_prompter_answers_inside_the_block_only():
    console = Console(file=io.StringIO())
    scripted = ScriptedPrompter({})
    with answering(scripted):
        assert prompter_for(console) is scripted
    assert isinstance(prompter_for(console), RichPrompter)


def test_choice_values_are_shown_whole_on_a_narrow_terminal(monkeypatch):
    terminal = Terminal(monkeypatch, ["1"])
    terminal.console.width = 50
    apps = [Option("sbxBusinessPortal000000000000001", ("Acme Business Portal", "b2b"))]
    prompter = RichPrompter(terminal.console)
    assert prompter.choice("application_id", "App", apps, headers=("client id", "name", "mode"))
    assert any("sbxBusinessPortal000000000000001" in line for line in terminal.lines)
