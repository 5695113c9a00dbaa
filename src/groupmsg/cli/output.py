"""Rendering: data on stdout, diagnostics on stderr; colour and tables only on a terminal.

Everything groupmsg prints goes through here, and nothing reaches the terminal as it was stored:
control characters (an escape sequence hidden in an owner or a keyword), invisible and
right-to-left formatting characters are shown escaped (`\\x1b`, `\\u202e`) in text and tables, and
as `\\u` escapes in JSON; table cells are never read as rich markup.

rich is imported only when a table is drawn on a terminal: a cron run never pays for it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..masking import escape_unsafe, json_safe


def cell(value: Any) -> str:
    """A value as one line of text: every unsafe character escaped, tabs and newlines included."""
    return "" if value is None else escape_unsafe(str(value))


def is_tty(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def colour_ok(stream: Any = None) -> bool:
    return is_tty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class Output:
    """One command's output; `quiet` (--quiet) silences everything but errors and requested JSON."""

    def __init__(self, *, quiet: bool = False) -> None:
        self.quiet = quiet

    def out(self, text: str = "") -> None:
        """A result line for people (its own newlines kept, every other control escaped)."""
        if not self.quiet:
            print(escape_unsafe(text, keep="\n"), file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """A diagnostic on stderr."""
        if not self.quiet:
            print(escape_unsafe(text, keep="\n"), file=sys.stderr, flush=True)

    def fields(self, values: Mapping[str, Any]) -> None:
        """`key  value` lines (one record), each value on one line; empty values left out."""
        shown = {k: v for k, v in values.items() if v not in (None, "", [], ())}
        width = max((len(k) for k in shown), default=0)
        for key, value in shown.items():
            text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            self.out(f"{key:<{width}}  {cell(text)}")

    @staticmethod
    def emit_json(data: Any) -> None:
        """One JSON document on stdout: printed even under --quiet (it was asked for)."""
        sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")
        sys.stdout.flush()

    @staticmethod
    def data(text: str) -> None:
        """A file's content on stdout (an export): printed even under --quiet; lines kept."""
        sys.stdout.write(escape_unsafe(text, keep="\n"))
        sys.stdout.flush()

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
        """A table: drawn with rich on a terminal, tab-separated otherwise (easy to cut/awk)."""
        if self.quiet:
            return
        if not colour_ok():
            print("\t".join(columns))
            for row in rows:
                print("\t".join(cell(v) for v in row))
            return
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        t = Table(title=Text(cell(title)) if title else None, header_style="bold")
        for c in columns:
            t.add_column(c)
        for row in rows:
            t.add_row(*(Text(cell(v)) for v in row))  # Text: a cell is never read as [markup]
        Console().print(t)

    @staticmethod
    def error(message: str, hint: str | None = None) -> None:
        prefix = "\x1b[31mError:\x1b[0m" if colour_ok(sys.stderr) else "Error:"
        print(f"{prefix} {escape_unsafe(message, keep=chr(10))}", file=sys.stderr)
        if hint:
            print(f"  Hint: {escape_unsafe(hint, keep=chr(10))}", file=sys.stderr)

    def waiting(self, seconds: float, what: str) -> None:
        """Said on a terminal when a send queues for a rate-limit slot."""
        if is_tty(sys.stderr) and not self.quiet:
            print(f"waiting {seconds:.1f} s for a free slot ({cell(what)}: DingTalk's rate limit)", file=sys.stderr)

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[int, int], None]]:
        """A progress bar for long sends, on a terminal only; elsewhere a no-op callback."""
        if self.quiet or not is_tty(sys.stderr):
            yield lambda done, total: None
            return
        bar: dict[str, Any] = {}

        def update(done: int, total: int) -> None:
            if total < 10:
                return
            if not bar:
                from rich.console import Console
                from rich.progress import Progress

                p = Progress(transient=True, console=Console(stderr=True, no_color="NO_COLOR" in os.environ))
                p.start()
                bar["p"], bar["task"] = p, p.add_task(label, total=total)
            bar["p"].update(bar["task"], completed=done)

        try:
            yield update
        finally:
            if bar:
                bar["p"].stop()
