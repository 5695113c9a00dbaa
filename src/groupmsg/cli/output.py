"""Rendering: data on stdout, diagnostics on stderr; colour, tables and live lines only on a terminal.

Everything groupmsg prints goes through here, and nothing reaches the terminal as it was stored:
control characters (an escape sequence hidden in an owner or a keyword), invisible and
right-to-left formatting characters are shown escaped (`\\x1b`, `\\u202e`) in text and tables, and
as `\\u` escapes in JSON; table cells are never read as rich markup.

rich is imported only when a table or a progress bar is drawn on a terminal: a cron run never pays
for it.

While a send waits (a retry's pause, a rate-limit slot, a robot's block) a terminal shows one live
line on stderr, redrawn as the wait counts down and erased when it ends; `--verbose` writes one
line per attempt and per wait instead, on any stderr (cron logs, CI).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from ..masking import escape_unsafe, json_safe


def cell(value: Any) -> str:
    """A value as one line of text: every unsafe character escaped, tabs and newlines included."""
    return "" if value is None else escape_unsafe(str(value))


def is_tty(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def interactive() -> bool:
    """A person is at a terminal (stdin and stderr both are one): the only time groupmsg asks
    anything, so cron and CI never wait for an answer."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def colour_ok(stream: Any = None) -> bool:
    return is_tty(stream) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class AttemptLike(Protocol):
    """What the delivery layer reports per attempt (`delivery.retry.Attempt`)."""

    @property
    def label(self) -> str: ...
    @property
    def number(self) -> int: ...
    @property
    def error(self) -> Any: ...  # a DeliveryError, or None when delivered
    @property
    def retry_in(self) -> float | None: ...
    @property
    def took_s(self) -> float: ...


def seconds_text(seconds: float) -> str:
    """`2.1 s`, `12 s`, `9 min 12 s`."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds + 0.5), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def cells(text: str) -> int:
    """How many terminal cells `text` takes (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal cells."""
    return text + " " * max(0, width - cells(text))


def _fit(text: str, columns: int) -> str:
    """Cut `text` to `columns` terminal cells (CJK characters take two)."""
    import unicodedata

    width, out = 0, list[str]()
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if width + w > columns - 1:
            return "".join(out) + "…"
        out.append(ch)
        width += w
    return text


class _LiveLine:
    """One line on a terminal's stderr, redrawn every half second while it counts down."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.lock = threading.RLock()
        self.render: Callable[[], str] | None = None
        self.ticker: threading.Thread | None = None
        self.stopped = threading.Event()

    def show(self, render: Callable[[], str]) -> None:
        with self.lock:
            self.render = render
            self._draw()
            if self.ticker is None:
                self.ticker = threading.Thread(target=self._tick, name="live-line", daemon=True)
                self.ticker.start()

    def _draw(self) -> None:
        if self.render is not None:
            import shutil

            columns = shutil.get_terminal_size((80, 24)).columns
            self.stream.write("\r\x1b[K" + _fit(self.render(), columns))
            self.stream.flush()

    def _tick(self) -> None:
        while not self.stopped.wait(0.5):
            with self.lock:
                self._draw()

    def clear(self) -> None:
        with self.lock:
            if self.render is not None:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self.render = None

    def close(self) -> None:
        self.stopped.set()
        self.clear()


class Output:
    """One command's output; `quiet` (--quiet) silences everything but errors and requested JSON,
    `verbose` (-v) reports every attempt and wait of a send on stderr."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.json_emitted = False  # a JSON document was printed (an error must not print another)
        self._live: _LiveLine | None = None
        self._tty: bool | None = None  # stderr is a terminal: asked once (a broadcast reports every attempt)
        self._bar: dict[str, Any] = {}
        self._lock = threading.Lock()

    def out(self, text: str = "") -> None:
        """A result line for people (its own newlines kept, every other control escaped)."""
        self.settle()
        if not self.quiet:
            print(escape_unsafe(text, keep="\n"), file=sys.stdout, flush=True)

    def note(self, text: str) -> None:
        """A diagnostic on stderr."""
        self.settle()
        if not self.quiet:
            print(escape_unsafe(text, keep="\n"), file=sys.stderr, flush=True)

    def fields(self, values: Mapping[str, Any]) -> None:
        """`key  value` lines (one record), each value on one line; empty values left out."""
        shown = {k: v for k, v in values.items() if v not in (None, "", [], ())}
        width = max((len(k) for k in shown), default=0)
        for key, value in shown.items():
            text = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
            self.out(f"{key:<{width}}  {cell(text)}")

    def emit_json(self, data: Any) -> None:
        """One JSON document on stdout: printed even under --quiet (it was asked for)."""
        self.settle()
        sys.stdout.write(json_safe(json.dumps(data, ensure_ascii=False, indent=2)) + "\n")
        sys.stdout.flush()
        self.json_emitted = True

    @staticmethod
    def data(text: str) -> None:
        """A file's content on stdout (an export): printed even under --quiet; lines kept."""
        sys.stdout.write(escape_unsafe(text, keep="\n"))
        sys.stdout.flush()

    def table(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None) -> None:
        """A table: drawn with rich on a terminal, tab-separated otherwise (easy to cut/awk)."""
        if self.quiet:
            return
        self.settle()
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

    def error(self, message: str, hint: str | None = None) -> None:
        self.settle()
        prefix = "\x1b[31mError:\x1b[0m" if colour_ok(sys.stderr) else "Error:"
        print(f"{prefix} {escape_unsafe(message, keep=chr(10))}", file=sys.stderr)
        if hint:
            print(f"  Hint: {escape_unsafe(hint, keep=chr(10))}", file=sys.stderr)

    # Questions (on a terminal only; prompts on stderr, so stdout stays for results) ------------
    def ask(self, label: str) -> str:
        """One line; Ctrl-D (end of input) cancels the command like Ctrl-C (exit 130)."""
        import typer

        self.settle()
        sys.stderr.write(f"{escape_unsafe(label)}: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            sys.stderr.write("\n")
            raise typer.Abort()
        return line.rstrip("\r\n")

    def ask_lines(self, label: str) -> str:
        """Lines typed until an empty one (or Ctrl-D): a textarea's answer."""
        self.settle()
        sys.stderr.write(f"{escape_unsafe(label)} (end with an empty line):\n")
        sys.stderr.flush()
        lines = []
        for line in iter(sys.stdin.readline, ""):
            if not line.strip("\r\n"):
                break
            lines.append(line.rstrip("\r\n"))
        return "\n".join(lines)

    def confirm(self, question: str, *, default: bool) -> bool:
        """Yes or no (y/yes/是, n/no/否); Enter takes the default; anything else is asked again."""
        choices = "[Y/n]" if default else "[y/N]"
        while True:
            answer = self.ask(f"{question} {choices}").strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes", "是", "好"):
                return True
            if answer in ("n", "no", "否", "不"):
                return False
            sys.stderr.write("  please answer y or n\n")

    # Waits and attempts ---------------------------------------------------------------------
    def _stderr_tty(self) -> bool:
        if self._tty is None:
            self._tty = is_tty(sys.stderr)
        return self._tty

    def _say(self, line: str, countdown: tuple[float, Callable[[str], str]] | None = None) -> None:
        """A wait or an attempt: a line under --verbose; else a live line on a terminal."""
        if self.quiet:
            return
        if self.verbose:
            self.settle()
            print(escape_unsafe(line), file=sys.stderr, flush=True)
            return
        if not self._stderr_tty():
            return
        if countdown is None:
            self.settle()
            return
        seconds, render = countdown
        until = time.monotonic() + seconds

        def text() -> str:
            return escape_unsafe(render(seconds_text(max(0.0, until - time.monotonic()))))

        with self._lock:
            if self._bar:
                self._bar["p"].update(self._bar["task"], description=text())
                return
            if self._live is None:
                self._live = _LiveLine(sys.stderr)
        self._live.show(text)

    @staticmethod
    def warning(message: str, hint: str | None = None) -> None:
        """A warning on stderr, printed even under --quiet (it is about safety, not progress)."""
        prefix = "\x1b[33mWarning:\x1b[0m" if colour_ok(sys.stderr) else "Warning:"
        print(f"{prefix} {message}", file=sys.stderr)
        if hint:
            print(f"  {hint}", file=sys.stderr)

    def waiting(self, seconds: float, what: str) -> None:
        """A send waits: for a rate-limit slot, or for DingTalk's block on a robot to end."""
        self._say(f"waiting {seconds_text(seconds)} for {what}", (seconds, lambda left: f"waiting {left} for {what}"))

    def attempt(self, event: AttemptLike) -> None:
        """How one attempt ended, and whether (and when) another follows."""
        if event.error is None:
            self._say(f"{event.label}: attempt {event.number}: delivered ({event.took_s:.2f} s)")
            return
        cause = str(event.error)
        if event.retry_in is None:
            end = "giving up" if getattr(event.error, "retryable", False) else "not retried"
            self._say(f"{event.label}: attempt {event.number}: {cause}; {end}")
            return
        self._say(
            f"{event.label}: attempt {event.number}: {cause}; retrying in {seconds_text(event.retry_in)}",
            (event.retry_in, lambda left: f"{event.label}: retrying in {left} — attempt {event.number}: {cause}"),
        )

    def settle(self) -> None:
        """Erase the live line (before anything else is printed, and at the end)."""
        if self._live is not None:
            self._live.clear()

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[int, int], None]]:
        """A progress bar for long sends, on a terminal only; elsewhere a no-op callback."""
        if self.quiet or self.verbose or not self._stderr_tty():
            yield lambda done, total: None
            return
        bar = self._bar

        def update(done: int, total: int) -> None:
            if total < 10:
                return
            with self._lock:
                if not bar:
                    from rich.console import Console
                    from rich.progress import Progress

                    self.settle()
                    p = Progress(transient=True, console=Console(stderr=True, no_color="NO_COLOR" in os.environ))
                    p.start()
                    bar["p"], bar["task"] = p, p.add_task(label, total=total)
            bar["p"].update(bar["task"], completed=done, description=label)

        try:
            yield update
        finally:
            if bar:
                bar["p"].stop()
                bar.clear()
