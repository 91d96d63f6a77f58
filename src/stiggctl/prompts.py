"""Asking a person: a line of text, a hidden secret, one of a list, yes or no.

Commands ask through a `Prompter`, and only when `AppContext.can_prompt` is true. The
terminal's prompter writes on stderr, so stdout keeps nothing but the command's result
(`--json` included). Every question has a stable key (the setting it answers), so tests
answer by key with a `ScriptedPrompter` installed by `answering(...)`, whatever the order.

An answer is checked by the caller's `validate` (returns the value to keep, or raises
ValueError saying why); a refused answer is said and the question asked again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

Validator = Callable[[str], str]


@dataclass(frozen=True)
class Option:
    """One answer of a choice: its value, and what else its row shows."""

    value: str
    cells: tuple[str, ...]


class Prompter(Protocol):
    def text(
        self,
        key: str,
        question: str,
        *,
        default: str | None = None,
        validate: Validator | None = None,
    ) -> str: ...

    def secret(self, key: str, question: str, *, keep_existing: bool = False) -> str | None:
        """A hidden answer; None when `keep_existing` and the person just pressed Enter."""
        ...

    def choice(
        self,
        key: str,
        question: str,
        options: Sequence[Option],
        *,
        headers: Sequence[str],
        default: str | None = None,
    ) -> str:
        """The value of the option chosen (by its number or its value).

        `headers`: the values' header, then one header per cell of the options.
        """
        ...

    def confirm(self, key: str, question: str, *, default: bool) -> bool: ...


class RichPrompter:
    """Prompts on a terminal, through a rich console (stderr)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def text(
        self,
        key: str,
        question: str,
        *,
        default: str | None = None,
        validate: Validator | None = None,
    ) -> str:
        suffix = f" [{default}]" if default else ""
        while True:
            answer = self._input(f"{question}{suffix}: ").strip() or (default or "")
            if not answer:
                self._refuse("An answer is needed.")
                continue
            if validate is None:
                return answer
            try:
                return validate(answer)
            except ValueError as exc:
                self._refuse(str(exc))

    def secret(self, key: str, question: str, *, keep_existing: bool = False) -> str | None:
        suffix = " (Enter keeps the stored one)" if keep_existing else ""
        while True:
            answer = self._input(f"{question}{suffix}: ", password=True).strip()
            if answer:
                return answer
            if keep_existing:
                return None
            self._refuse("An answer is needed.")

    def choice(
        self,
        key: str,
        question: str,
        options: Sequence[Option],
        *,
        headers: Sequence[str],
        default: str | None = None,
    ) -> str:
        from rich.markup import escape
        from rich.table import Table

        table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False)
        table.add_column("#", justify="right")
        value_header, *cell_headers = headers
        # Values are what a person may type: shown whole, never wrapped or cut.
        table.add_column(escape(value_header), no_wrap=True, overflow="ignore")
        for header in cell_headers:
            table.add_column(escape(header), overflow="fold")
        for number, option in enumerate(options, start=1):
            table.add_row(str(number), escape(option.value), *(escape(c) for c in option.cells))
        self.console.print(table)
        values = [option.value for option in options]
        default_number = str(values.index(default) + 1) if default in values else None
        while True:
            answer = self.text(key, f"{question} (number or id)", default=default_number)
            if answer.isdigit() and 1 <= int(answer) <= len(values):
                return values[int(answer) - 1]
            if answer in values:
                return answer
            self._refuse(f"Choose a number from 1 to {len(values)}, or one of the ids listed.")

    def confirm(self, key: str, question: str, *, default: bool) -> bool:
        suffix = " [Y/n]" if default else " [y/N]"
        while True:
            answer = self._input(f"{question}{suffix}: ").strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self._refuse("Answer y or n.")

    def _input(self, prompt: str, *, password: bool = False) -> str:
        import typer
        from rich.markup import escape

        try:
            return self.console.input(f"[bold]{escape(prompt)}[/]", password=password)
        except EOFError:
            # The terminal closed its input: nobody is there to answer.
            raise typer.Abort() from None

    def _refuse(self, reason: str) -> None:
        from rich.markup import escape

        self.console.print(f"[red]{escape(reason)}[/]")


class UnansweredQuestion(AssertionError):
    """A scripted run met a question it has no answer for (and that has no default)."""


@dataclass(frozen=True)
class Asked:
    kind: str  # text, secret, choice, confirm
    key: str
    question: str
    default: str | bool | None
    options: tuple[str, ...] = ()


class ScriptedPrompter:
    """Answers given in advance, by question key, for tests and demos.

    An answer is a value, or a list of values given one after the other when the question
    is asked again (after a refused answer, or a failed verification). A question without
    a scripted answer takes its default, as if Enter were pressed; with no default either,
    it raises `UnansweredQuestion`. A secret answered None keeps the stored one.
    `asked` records every question (never an answer); `refused` every refused answer's reason.
    """

    def __init__(self, answers: Mapping[str, object]) -> None:
        self._answers = {
            key: list(value) if isinstance(value, list) else [value]
            for key, value in answers.items()
        }
        self.asked: list[Asked] = []
        self.refused: list[tuple[str, str]] = []

    def unused(self) -> dict[str, list[object]]:
        """The scripted answers no question took."""
        return {key: queue for key, queue in self._answers.items() if queue}

    def _next(self, key: str, default: object) -> object:
        queue = self._answers.get(key)
        if queue:
            return queue.pop(0)
        if default is not None:
            return default
        raise UnansweredQuestion(f"no scripted answer for {key!r}")

    def text(
        self,
        key: str,
        question: str,
        *,
        default: str | None = None,
        validate: Validator | None = None,
    ) -> str:
        self.asked.append(Asked("text", key, question, default))
        while True:
            answer = str(self._next(key, default))
            if validate is None:
                return answer
            try:
                return validate(answer)
            except ValueError as exc:
                self.refused.append((key, str(exc)))

    def secret(self, key: str, question: str, *, keep_existing: bool = False) -> str | None:
        # A secret's default is whether Enter keeps the stored one.
        self.asked.append(Asked("secret", key, question, keep_existing))
        queue = self._answers.get(key)
        if queue:
            answer = queue.pop(0)
            if answer is not None or keep_existing:
                return None if answer is None else str(answer)
        elif keep_existing:
            return None
        raise UnansweredQuestion(f"no scripted answer for secret {key!r}")

    def choice(
        self,
        key: str,
        question: str,
        options: Sequence[Option],
        *,
        headers: Sequence[str],
        default: str | None = None,
    ) -> str:
        values = tuple(option.value for option in options)
        self.asked.append(Asked("choice", key, question, default, values))
        while True:
            answer = str(self._next(key, default))
            if answer in values:
                return answer
            self.refused.append((key, f"{answer!r} is not one of the options"))

    def confirm(self, key: str, question: str, *, default: bool) -> bool:
        self.asked.append(Asked("confirm", key, question, default))
        return bool(self._next(key, default))


_installed: ContextVar[Prompter | None] = ContextVar("stiggctl_prompter", default=None)


def prompter_for(console: Console) -> Prompter:
    """The prompter installed by `answering`, else prompts on `console`."""
    return _installed.get() or RichPrompter(console)


@contextmanager
def answering(prompter: Prompter) -> Iterator[Prompter]:
    """Answer every question asked in this block with `prompter`."""
    token = _installed.set(prompter)
    try:
        yield prompter
    finally:
        _installed.reset(token)
