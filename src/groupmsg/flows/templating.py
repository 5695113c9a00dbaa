"""The one template syntax of flows files: `{{ reference }}` inside any string.

    {{ 消息内容 }}              a field of the form (the trigger form in a flow, the same form in a default)
    {{ nodes.建群.chat_id }}    an output of an earlier node of the flow
    {{ record.id }}             the submission: record.id, record.created_at, record.event
    {{ flow.name }} {{ run.id }}
    {{ schedule.time }}        in a scheduled flow: schedule.time, .date, .timezone, .skipped
    {{ failure.node }}         in a flow's on_failure text: failure.node, .kind, .code, .error
    \\{{                         a literal "{{"

A reference is a dotted path, nothing else: no expressions, filters, attribute access or calls, so a
flows file cannot reach Python internals, and every reference can be checked when the file is
loaded (`StaticScope`). We wrote this instead of using Jinja2 because Jinja2 is a dependency and an
import cost the send path does not need, its sandbox is an escape-hatch to harden rather than a
syntax with nothing to escape from, and its undefined-variable errors surface at render time —
exactly when a message is going out, which the issue forbids.

Rendering: a template that is exactly one reference keeps the value's type (a member list stays a
list, a number a number); otherwise values are turned into text (lists joined with ", ", a missing
or empty value as "").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OPEN, CLOSE, ESCAPED_OPEN = "{{", "}}", "\\{{"
RESERVED_NAMES = ("nodes", "record", "flow", "run", "failure")  # may not be field names
SYSTEM_REFS: Mapping[str, tuple[str, ...]] = {
    "record": ("id", "created_at", "event"),
    "flow": ("name",),
    "run": ("id",),
}
# In a scheduled flow, instead of record.*: the occurrence it runs for (time and date in the
# schedule's zone, the zone's name, and how many missed occurrences this run stands for).
SCHEDULE_REFS: Mapping[str, tuple[str, ...]] = {
    "flow": ("name",),
    "run": ("id",),
    "schedule": ("time", "date", "timezone", "skipped"),
}
# Only in a flow's on_failure text: what failed.
FAILURE_REFS: Mapping[str, tuple[str, ...]] = {"failure": ("node", "kind", "code", "error")}
# Characters a field or node name may not contain: they would make references ambiguous.
FORBIDDEN_NAME_CHARS = frozenset("{}.\n\r\t")
_SPACE = re.compile(r"\s+")


class TemplateSyntaxError(ValueError):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Ref:
    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | Ref, ...] = field(default=(), compare=False)

    @classmethod
    def literal(cls, text: str) -> Template:
        return cls(text, (text,) if text else ())

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(p for p in self.parts if isinstance(p, Ref))

    @property
    def single_ref(self) -> Ref | None:
        """The reference, when the template is exactly one reference (its value keeps its type)."""
        return self.parts[0] if len(self.parts) == 1 and isinstance(self.parts[0], Ref) else None

    def render(self, lookup: Callable[[Ref], Any]) -> Any:
        ref = self.single_ref
        if ref is not None:
            return lookup(ref)
        return "".join(p if isinstance(p, str) else to_text(lookup(p)) for p in self.parts)

    def render_text(self, lookup: Callable[[Ref], Any]) -> str:
        return to_text(self.render(lookup))

    def __str__(self) -> str:
        return self.source


def parse(source: str) -> Template:
    """Split `source` into text and references; raises TemplateSyntaxError (with a 1-based column)."""
    parts: list[str | Ref] = []
    text: list[str] = []
    i = 0
    while i < len(source):
        if source.startswith(ESCAPED_OPEN, i):
            text.append(OPEN)
            i += len(ESCAPED_OPEN)
            continue
        if not source.startswith(OPEN, i):
            text.append(source[i])
            i += 1
            continue
        end = source.find(CLOSE, i + len(OPEN))
        if end < 0:
            raise TemplateSyntaxError("'{{' is not closed by '}}' (write \\{{ for a literal {{)", i + 1)
        if text:
            parts.append("".join(text))
            text = []
        parts.append(parse_ref(source[i + len(OPEN) : end], i + 1))
        i = end + len(CLOSE)
    if text:
        parts.append("".join(text))
    return Template(source, tuple(parts))


def parse_ref(inner: str, column: int = 1) -> Ref:
    """`消息内容`, `nodes.建群.chat_id` → Ref; spaces around the path and around dots are ignored."""
    body = inner.strip()
    if not body:
        raise TemplateSyntaxError("empty reference {{ }}: name a field, e.g. {{ 消息内容 }}", column)
    if "{" in body or "}" in body:
        raise TemplateSyntaxError(f"unexpected brace in reference {{{{ {body} }}}}", column)
    path = tuple(_SPACE.sub(" ", seg.strip()) for seg in body.split("."))
    if any(not seg for seg in path):
        raise TemplateSyntaxError(f"{{{{ {body} }}}} has an empty part between dots", column)
    return Ref(path)


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(to_text(v) for v in value)
    return str(value)


# --- scopes: what a reference may name ------------------------------------------------------------


class UnknownReference(LookupError):
    """A reference that names nothing in the scope (only possible when the file was not checked)."""


@dataclass
class Scope:
    """The values a template sees while a flow runs (or while a form is filled)."""

    fields: Mapping[str, Any]
    nodes: dict[str, Mapping[str, Any]] = field(default_factory=dict)  # filled in as nodes run
    system: dict[str, Mapping[str, Any]] = field(default_factory=dict)

    def lookup(self, ref: Ref) -> Any:
        head, rest = ref.path[0], ref.path[1:]
        if head == "nodes" and len(rest) == 2:
            outputs = self.nodes.get(rest[0])
            if outputs is None:
                raise UnknownReference(f"{{{{ {ref} }}}}: node {rest[0]!r} has not run")
            return outputs.get(rest[1])
        if head in self.system and len(rest) == 1:
            return self.system[head].get(rest[0])
        if len(ref.path) == 1 and head in self.fields:
            return self.fields[head]
        if len(ref.path) == 1:
            return None  # a known field with no value (the file was checked)
        raise UnknownReference(f"{{{{ {ref} }}}} names nothing")


@dataclass(frozen=True)
class StaticScope:
    """What a template may reference at one place of a flows file; `problem()` explains a bad one."""

    fields: tuple[str, ...]
    where: str  # "form 群消息内容录入表" — for messages
    nodes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # node name → its outputs
    later_nodes: tuple[str, ...] = ()  # nodes that exist but have not run at this point
    # record.* / flow.* / run.* in flows; nothing in form defaults (the record does not exist yet).
    namespaces: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    in_flow: bool = False  # nodes.* allowed
    any_field: bool = False  # the form is unknown (already reported): accept any field name

    def problem(self, ref: Ref) -> tuple[str, str] | None:
        """(what is wrong, how to fix it) or None when the reference is fine."""
        head, rest = ref.path[0], ref.path[1:]
        if head == "nodes" and self.in_flow:
            return self._node_problem(ref, rest)
        if head in self.namespaces:
            if len(rest) == 1 and rest[0] in self.namespaces[head]:
                return None
            known = ", ".join(f"{head}.{k}" for k in self.namespaces[head])
            return f"unknown reference {{{{ {ref} }}}}", f"use one of {known}"
        if len(ref.path) == 1 and (head in self.fields or self.any_field):
            return None
        fix = suggest(".".join(ref.path), self.fields, what=f"a field of {self.where}")
        return f"{{{{ {ref} }}}}: {self.where} has no field {'.'.join(ref.path)!r}", fix

    def _node_problem(self, ref: Ref, rest: tuple[str, ...]) -> tuple[str, str] | None:
        if len(rest) != 2:
            return f"{{{{ {ref} }}}}: write nodes.NODE.OUTPUT", "e.g. {{ nodes.建群.chat_id }}"
        node, output = rest
        if node in self.later_nodes:
            return (
                f"{{{{ {ref} }}}}: node {node!r} has not run at this point",
                "refer only to nodes above this one (outside branches that may not have run)",
            )
        if node not in self.nodes:
            return f"{{{{ {ref} }}}}: no node named {node!r} before this one", suggest(
                node, tuple(self.nodes), what="an earlier node"
            )
        if output not in self.nodes[node]:
            outputs = ", ".join(self.nodes[node])
            return f"{{{{ {ref} }}}}: node {node!r} has no output {output!r}", f"its outputs are: {outputs}"
        return None


def suggest(name: str, choices: Iterable[str], *, what: str) -> str:
    """'did you mean X?' when a choice is close, else the list of choices."""
    import difflib

    options = list(choices)
    close = difflib.get_close_matches(name, options, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if not options:
        return f"there is none to choose from ({what})"
    shown = ", ".join(options[:12]) + (", …" if len(options) > 12 else "")
    return f"use {what}: {shown}"
