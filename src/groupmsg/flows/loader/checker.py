"""The check primitives every part of the loader shares, and `Problem`.

A check never stops at the first problem: it records a `Problem` and returns None (or a default),
and the caller carries on with what it has, so a file with five mistakes shows five messages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ...errors import ValidationError
from ..templating import FORBIDDEN_NAME_CHARS, StaticScope, Template, TemplateSyntaxError, parse, suggest
from .locate import Y


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    fix: str = ""

    def render(self, path: str) -> str:
        return f"{path}:{self.line}: {self.message}" + (f" — fix: {self.fix}" if self.fix else "")


def problems_error(path: str, problems: list[Problem], hint: str | None = None) -> ValidationError:
    ordered = sorted(set(problems), key=lambda p: (p.line, p.message))
    lines = [p.render(path) for p in ordered]
    noun = "problem" if len(lines) == 1 else "problems"
    return ValidationError(
        f"{path} has {len(lines)} {noun}:\n" + "\n".join(f"  {line}" for line in lines),
        hint=hint or f"fix them and check again with `groupmsg flows check {path}`",
        problems=lines,
    )


def kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"


class Checker:
    """Collects the problems of one file; each method checks one shape of value."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str, fix: str = "") -> None:
        self.problems.append(Problem(line, message, fix))

    def mapping(
        self, y: Y | None, what: str, *, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> dict[str, Y] | None:
        if y is None:
            return None
        if not isinstance(y.value, dict):
            self.problem(y.line, f"{what} must be a mapping (key: value lines), not {kind_of(y.value)}")
            return None
        allowed = tuple(allowed)
        for key in y.value:
            if key not in allowed:
                self.problem(y.line_of(key), f"unknown key {key!r} in {what}", suggest(key, allowed, what="a key"))
        for key in required:
            if key not in y.value:
                self.problem(y.line, f"{what} needs `{key}:`")
        return {k: v for k, v in y.value.items() if k in allowed}

    def seq(self, y: Y | None, what: str) -> list[Y]:
        if y is None or y.value is None:  # `flows:` with nothing under it: none yet
            return []
        if isinstance(y.value, list):
            return y.value
        self.problem(y.line, f"{what} must be a list (lines starting with `- `), not {kind_of(y.value)}")
        return []

    def text(self, y: Y | None, what: str, *, default: str | None = None) -> str | None:
        if y is None or y.value is None:
            if default is None and y is not None:
                self.problem(y.line, f"{what} is empty")
            return default
        if isinstance(y.value, (dict, list)):
            self.problem(y.line, f"{what} must be text, not {kind_of(y.value)}")
            return None
        value = y.value
        if isinstance(value, bool):
            value = "true" if value else "false"
        return unicodedata.normalize("NFC", str(value))

    def name(self, y: Y | None, what: str) -> str | None:
        value = self.text(y, what)
        if value is None or y is None:
            return None
        cleaned = value.strip()
        if not cleaned:
            self.problem(y.line, f"{what} is empty")
            return None
        bad = sorted({c for c in cleaned if c in FORBIDDEN_NAME_CHARS})
        if bad:
            shown = " ".join(repr(c) for c in bad)
            self.problem(
                y.line, f"{what} {cleaned!r} contains {shown}", "names may not contain dots, braces or line breaks"
            )
            return None
        return cleaned

    def boolean(self, y: Y | None, what: str, default: bool = False) -> bool:
        if y is None:
            return default
        if isinstance(y.value, bool):
            return y.value
        self.problem(y.line, f"{what} must be true or false, not {kind_of(y.value)}")
        return default

    def number(self, y: Y | None, what: str, *, integer: bool = False) -> float | None:
        if y is None:
            return None
        ok = isinstance(y.value, int) if integer else isinstance(y.value, (int, float))
        if not ok or isinstance(y.value, bool):
            self.problem(
                y.line, f"{what} must be {'a whole number' if integer else 'a number'}, not {kind_of(y.value)}"
            )
            return None
        if integer and y.value < 0:
            self.problem(y.line, f"{what} cannot be negative")
            return None
        return y.value  # type: ignore[no-any-return]

    def choice(self, y: Y | None, what: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(y, what, default=default)
        if value is None or y is None:
            return default
        if value not in choices:
            self.problem(
                y.line, f"{what} {value!r} is not one of {', '.join(choices)}", suggest(value, choices, what="one")
            )
            return default
        return value

    def one_of(
        self, y: Y | None, what: str, names: Collection[str], unknown: Callable[[str], str], hint: str
    ) -> str | None:
        """Text (stripped) that must be one of `names`: a table, a column, an operator, a node kind.
        Otherwise the problem `unknown(text)`, with a did-you-mean among `hint`."""
        value = self.text(y, what)
        if value is None or y is None:
            return None
        value = value.strip()
        if value not in names:
            self.problem(y.line, unknown(value), suggest(value, names, what=hint))
            return None
        return value

    def template(self, y: Y | None, what: str, scope: StaticScope) -> Template | None:
        """A string with {{ references }}, each checked against `scope`; numbers and booleans are
        literal text. None, and no problem, for a key that is not there (`m.get(key)`)."""
        source = self.text(y, what)
        if source is None or y is None:
            return None
        try:
            template = parse(source)
        except TemplateSyntaxError as exc:
            self.problem(y.line, f"{what}: {exc.message} (column {exc.column})")
            return None
        ok = True
        for ref in template.refs:
            found = scope.problem(ref)
            if found:
                self.problem(y.line, f"{what}: {found[0]}", found[1])
                ok = False
        return template if ok else None

    def unique(self, items: list[tuple[str, int]], what: str) -> None:
        seen: dict[str, int] = {}
        for name, line in items:
            if name in seen:
                self.problem(
                    line, f"duplicate {what} {name!r} (first at line {seen[name]})", "give each a different name"
                )
            else:
                seen[name] = line


def as_list(y: Y | None) -> list[Y]:
    """The items of a list, a single value as a list of one, nothing for a key that is not there:
    for keys that take one value or several (`event: created`, `members: [a, b]`)."""
    if y is None:
        return []
    return y.value if isinstance(y.value, list) else [y]


def name_of(y: Y) -> str | None:
    """The `name:` of a mapping, when it is text (read before the mapping itself is checked)."""
    name = y.value.get("name") if isinstance(y.value, dict) else None
    if name is None or not isinstance(name.value, str) or not name.value.strip():
        return None
    return unicodedata.normalize("NFC", name.value.strip())


def names(raw: list[Y]) -> list[tuple[str, int]]:
    """(name, line) of each form, flow or node written with a text name."""
    return [(name, y.value["name"].line) for y in raw if (name := name_of(y)) is not None]
