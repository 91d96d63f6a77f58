"""Where results and errors go.

Human mode: rich on stdout for results, stderr for notes, progress and errors.
JSON mode (--json): exactly one JSON document on stdout, `{"data": ...}` on success or
`{"error": {"code", "message", "hint"}}` on failure; notes and progress go to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console, RenderableType

from stiggctl.errors import StiggctlError


def _json_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=_json_default, ensure_ascii=False)


class Output:
    def __init__(self, *, json_mode: bool = False, verbose: bool = False) -> None:
        self.json_mode = json_mode
        self.verbose = verbose
        # rich honours NO_COLOR and switches styling off when not writing to a terminal.
        self.console = Console(highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    def result(
        self,
        data: Any,
        human: RenderableType | Callable[[Console], None] | None = None,
    ) -> None:
        """The command's one result: `data` as JSON, or `human` rendered for a person."""
        if self.json_mode:
            sys.stdout.write(dumps({"data": data}) + "\n")
            sys.stdout.flush()
            return
        if human is None:
            self.console.print_json(dumps(data))
        elif callable(human):
            human(self.console)
        else:
            self.console.print(human)

    def error(self, err: StiggctlError) -> None:
        if self.json_mode:
            sys.stdout.write(dumps({"error": err.to_dict()}) + "\n")
            sys.stdout.flush()
            return
        self.err.print(f"[bold red]Error:[/] {_escape(err.message)}")
        if err.hint:
            self.err.print(f"[dim]Hint:[/] {_escape(err.hint)}")

    def note(self, message: str) -> None:
        """A side remark for a person (stderr in both modes: stdout stays machine-clean)."""
        self.err.print(f"[dim]{_escape(message)}[/]")

    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]Warning:[/] {_escape(message)}")

    def debug(self, message: str) -> None:
        if self.verbose:
            self.err.print(f"[dim]debug: {_escape(message)}[/]")

    @contextmanager
    def status(self, message: str) -> Iterator[Callable[[str], None]]:
        """A spinner on stderr while a slow step runs (only on a terminal, never in JSON)."""
        if self.json_mode or not self.err.is_terminal:
            yield lambda _message: None
            return
        with self.err.status(_escape(message)) as live:
            yield lambda text: live.update(_escape(text))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
