"""Filling a form: the submitter's values, then defaults and data linkage, then every rule.

`fill()` either returns the complete values of a valid submission or raises one ValidationError
listing every problem, each naming its field — nothing is stored before it returns.

Rules (the README documents them too):
- a read-only field may not be set by the submitter; it gets its default or linkage;
- a field the submitter left out gets its default: a literal, a template over other fields, or a
  data linkage (「数据联动」): the most recent row of the linked table whose columns equal the
  rendered `where` values, column `take` of it;
- linkage with an empty source value leaves the field empty; linkage whose source has a value but
  matches no row is a validation error naming both fields;
- required: not empty (whitespace does not count); lengths count characters; a select's value
  must be one of its options *now* (options from a table are read live); numbers honour min/max;
  dates are YYYY-MM-DD; single-line text has no line breaks.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import ValidationError
from .conditions import is_empty
from .model import DATE, NUMBER, SELECT, TEXT, Field, Form, Linkage, Lookup, Option
from .templating import Scope, Template, suggest, to_text

_LIST_SPLIT = re.compile(r"[,，\n]")


class TableReader(Protocol):
    def first(self, table: str, where: Mapping[str, Any]) -> dict[str, Any] | None: ...

    def column_values(self, table: str, column: str) -> list[str]: ...


class FieldError(ValueError):
    """One field's value is wrong; the message is written for the submitter."""


@dataclass(frozen=True)
class Problem:
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# --- values ---------------------------------------------------------------------------------------


def coerce(field: Field, raw: Any) -> Any:
    """A raw value (text from the command line, or a rendered default) as the field's type."""
    if field.is_list:
        return coerce_list(raw)
    if isinstance(raw, (list, tuple)):
        if len(raw) > 1:
            raise FieldError(f"takes one value, got {len(raw)}")
        raw = raw[0] if raw else None
    if is_empty(raw):
        return None
    if field.type == NUMBER:
        return _as_number(raw)
    if field.type == DATE:
        return _as_date(raw)
    text = to_text(raw)
    return text.strip() if field.type == SELECT else text


def coerce_list(raw: Any) -> list[str]:
    items = raw if isinstance(raw, (list, tuple)) else [raw]
    out: dict[str, None] = {}
    for item in items:
        for part in _LIST_SPLIT.split(to_text(item)):
            if part.strip():
                out.setdefault(part.strip(), None)
    return list(out)


def _as_number(raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise FieldError("must be a number")
    if isinstance(raw, (int, float)):
        value: float = raw
    else:
        try:
            value = float(str(raw).strip().replace(",", ""))
        except ValueError:
            raise FieldError(f"{to_text(raw)!r} is not a number") from None
    if math.isnan(value) or math.isinf(value):
        raise FieldError(f"{to_text(raw)!r} is not a number")
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else float(value)


def _as_date(raw: Any) -> str:
    text = to_text(raw).strip()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise FieldError(f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-03-01") from None


def options(field: Field, tables: TableReader) -> list[Option]:
    """The field's options as of now: the fixed list, or the live values of its source column."""
    if field.options_from is not None:
        values = tables.column_values(field.options_from.table, field.options_from.column)
        return [Option(v, v) for v in values]
    return list(field.options)


def check(field: Field, value: Any, opts: Sequence[Option] | None) -> str | None:
    """The problem with a (coerced, not empty) value, or None. `opts` are the live options of a
    choice field (None: do not check options)."""
    if field.type == TEXT and isinstance(value, str) and ("\n" in value or "\r" in value):
        return "is single-line text and cannot contain line breaks (make it a textarea in the flows file)"
    if isinstance(value, str):
        problem = _length_problem(field, len(value))
        if problem:
            return problem
    if field.type == NUMBER:
        return _range_problem(field, value)
    if opts is not None and field.has_options:
        return _option_problem(field, value, opts)
    return None


def _length_problem(field: Field, n: int) -> str | None:
    if field.max_length is not None and n > field.max_length:
        return f"is {n} characters long; at most {field.max_length} are allowed"
    if field.min_length is not None and n < field.min_length:
        return f"is {n} characters long; at least {field.min_length} are required"
    return None


def _range_problem(field: Field, value: float) -> str | None:
    if field.min is not None and value < field.min:
        return f"{to_text(value)} is less than the minimum {to_text(field.min)}"
    if field.max is not None and value > field.max:
        return f"{to_text(value)} is more than the maximum {to_text(field.max)}"
    return None


def _option_problem(field: Field, value: Any, opts: Sequence[Option]) -> str | None:
    allowed = {o.value for o in opts}
    bad = [v for v in (value if isinstance(value, list) else [value]) if v not in allowed]
    if not bad:
        return None
    if field.options_from is not None:
        src = field.options_from
        what = "registered group" if src.table == "groups" and src.column == "name" else f"{src.table}.{src.column}"
        hint = suggest(bad[0], sorted(allowed), what=f"a {what}") if allowed else f"there is no {what} yet"
        return f"{bad[0]!r} is not a {what} ({hint})"
    return f"{bad[0]!r} is not one of the options ({', '.join(o.value for o in opts)})"


def no_options(field: Field | None) -> str:
    """Why a choice field cannot be answered: it has no options yet."""
    src = field.options_from if field is not None else None
    if src is not None and src.table == "groups" and src.column == "name":
        return "has nothing to choose from: no group is registered yet (`groupmsg groups add`, `groupmsg create-group`)"
    if src is not None:
        return f"has nothing to choose from: {src.table}.{src.column} has no values yet"
    return "has no options (fix the form in the flows file)"


def to_option_value(field: Field, value: Any, opts: Sequence[Option]) -> Any:
    """Accept an option's label for its value (`所有人可管理` for "0")."""
    by_label = {o.label: o.value for o in opts if o.label != o.value}
    if isinstance(value, list):
        return [by_label.get(v, v) for v in value]
    return by_label.get(value, value) if isinstance(value, str) else value


# --- filling a form -----------------------------------------------------------------------------


def refused_names(form: Form, given: Mapping[str, Any]) -> list[Problem]:
    """Fields the submitter may not set at all: unknown ones and read-only ones (checked before
    anything is prompted for, so that nobody types a message into a submission that must fail)."""
    problems = []
    for name in given:
        field = form.field(name)
        if field is None:
            problems.append(Problem(name, f"form {form.name} has no such field ({_field_hint(form, name)})"))
        elif field.readonly:
            problems.append(Problem(name, f"is read-only and cannot be set by the submitter{_filled_by(field)}"))
    return problems


def fill(form: Form, given: Mapping[str, Any], tables: TableReader) -> dict[str, Any]:
    """Validate the submitter's values, compute defaults and linkages; every field in the result.

    The submitter's own values are checked first, so that a linkage whose source field is wrong
    reports only the source field's problem, not a second one for the linked field.
    """
    values, problems = _fill(form, given, tables)
    if problems:
        raise invalid(form, _in_form_order(form, problems))
    return {f.name: values.get(f.name) for f in form.fields}


def _fill(form: Form, given: Mapping[str, Any], tables: TableReader) -> tuple[dict[str, Any], list[Problem]]:
    problems = refused_names(form, given)
    values: dict[str, Any] = {}
    for name, raw in given.items():
        field = form.field(name)
        if field is not None and not field.readonly:
            _coerce_into(field, raw, values, problems)
    given_fields = [f for f in form.fields if f.name in values]
    for field in given_fields:
        _validate_into(field, values, problems, tables)
    failed = {p.field for p in problems}
    for field in default_order(form):
        if field.name not in values and field.name not in failed:
            _default_into(field, values, failed, problems, tables)
    for field in form.fields:
        if field not in given_fields and field.name not in failed:
            _validate_into(field, values, problems, tables)
    return values, problems


def _validate_into(field: Field, values: dict[str, Any], problems: list[Problem], tables: TableReader) -> None:
    """Check one field's value (required, length, range, options); options are read live."""
    value = values.get(field.name)
    if is_empty(value):
        if field.required:
            problems.append(Problem(field.name, _required_message(field)))
        return
    opts = options(field, tables) if field.has_options else None
    if opts is not None:
        value = values[field.name] = to_option_value(field, value, opts)
    problem = check(field, value, opts)
    if problem:
        problems.append(Problem(field.name, problem))


def _in_form_order(form: Form, problems: list[Problem]) -> list[Problem]:
    """Problems in the order the fields appear (unknown fields first, as typed)."""
    order = {name: i for i, name in enumerate(form.field_names)}
    return sorted(problems, key=lambda p: order.get(p.field, -1))


def _coerce_into(field: Field, raw: Any, values: dict[str, Any], problems: list[Problem]) -> None:
    try:
        values[field.name] = coerce(field, raw)
    except FieldError as exc:
        problems.append(Problem(field.name, str(exc)))


def _default_into(
    field: Field, values: dict[str, Any], failed: set[str], problems: list[Problem], tables: TableReader
) -> None:
    default = field.default
    if default is None:
        return
    if isinstance(default, Linkage):
        sources = linkage_sources(default)
        if failed & set(sources):
            failed.add(field.name)  # the source field's own problem is the one to report
            return
        try:
            values[field.name] = coerce(field, link(default, values, tables, field=field.name))
        except FieldError as exc:
            problems.append(Problem(field.name, str(exc)))
            failed.add(field.name)
        return
    raw = default.render(Scope(values).lookup) if isinstance(default, Template) else default
    try:
        values[field.name] = coerce(field, raw)
    except FieldError as exc:
        problems.append(Problem(field.name, f"its default {exc}"))
        failed.add(field.name)


def link(linkage: Linkage, values: Mapping[str, Any], tables: TableReader, *, field: str) -> Any:
    """The linked value; None when a source is empty; FieldError when nothing matches."""
    where = render_where(linkage.lookup, Scope(values))
    if any(is_empty(v) for v in where.values()):
        return None
    row = tables.first(linkage.lookup.table, where)
    if row is None:
        sources = " and ".join(linkage_sources(linkage)) or "its linkage"
        shown = ", ".join(f"{k} = {to_text(v)!r}" for k, v in where.items())
        raise FieldError(
            f"data linkage from {sources} found no row in {linkage.lookup.table} where {shown}, "
            f"so {field} cannot be filled (check the value of {sources})"
        )
    return row.get(linkage.take)


def render_where(lookup: Lookup, scope: Scope) -> dict[str, Any]:
    return {column: template.render(scope.lookup) for column, template in lookup.where}


def linkage_sources(linkage: Linkage) -> list[str]:
    return [str(ref) for _, t in linkage.lookup.where for ref in t.refs]


def default_refs(field: Field) -> list[str]:
    """The fields this field's default reads (its dependencies)."""
    if isinstance(field.default, Linkage):
        return linkage_sources(field.default)
    if isinstance(field.default, Template):
        return [str(r) for r in field.default.refs]
    return []


def default_order(form: Form) -> list[Field]:
    """Fields ordered so that each default comes after the fields it reads (the loader has
    rejected cycles)."""
    ordered: dict[str, Field] = {}

    def visit(field: Field, path: tuple[str, ...]) -> None:
        if field.name in ordered or field.name in path:
            return
        for name in default_refs(field):
            dep = form.field(name)
            if dep is not None:
                visit(dep, (*path, field.name))
        ordered[field.name] = field

    for field in form.fields:
        visit(field, ())
    return list(ordered.values())


def _filled_by(field: Field) -> str:
    if isinstance(field.default, Linkage):
        return f" (it is filled by data linkage from {', '.join(linkage_sources(field.default))}; leave it out)"
    if field.default is not None:
        return " (it gets its default value; leave it out)"
    return ""


def _required_message(field: Field) -> str:
    if isinstance(field.default, Linkage):
        src = ", ".join(linkage_sources(field.default))
        return f"is required, and the data linkage from {src} gave it no value ({field.default.take} is empty)"
    if field.readonly:
        return "is required but read-only, and nothing filled it (fix the form in the flows file)"
    return "is required"


def _field_hint(form: Form, name: str) -> str:
    return suggest(name, form.field_names, what=f"a field of {form.name}")


def invalid(form: Form, problems: Sequence[Problem]) -> ValidationError:
    lines = "\n".join(f"  {p}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return ValidationError(
        f"{form.name}: {len(problems)} {noun}; nothing was stored or sent:\n{lines}",
        hint=f"see the fields and their rules with `groupmsg forms show {form.name}`",
        problems=[str(p) for p in problems],
    )


def check_one(field: Field, raw: Any, tables: TableReader) -> Any:
    """One field's answer on its own: coerced and checked like `fill` checks it (required, type,
    length, range, live options); the value to submit, or FieldError saying what is wrong. (An
    interactive submit asks for the field again instead of failing the whole submission.)"""
    values = {field.name: coerce(field, raw)}
    problems: list[Problem] = []
    _validate_into(field, values, problems, tables)
    if problems:
        raise FieldError(problems[0].message)
    return values[field.name]


def check_answer(form: Form, name: str, raw: Any, given: Mapping[str, Any], tables: TableReader) -> Any:
    """`check_one`, then what the answer makes of the fields filled from it (a data linkage that
    finds no row, or an empty chat id): FieldError for the first such problem. Problems of fields
    not answered yet are left for later."""
    field = form.field(name)
    assert field is not None
    value = check_one(field, raw, tables)
    _, problems = _fill(form, {**given, name: value}, tables)
    filled_from_it = {f.name for f in form.fields if name in default_refs(f)}
    for problem in _in_form_order(form, problems):
        if problem.field in filled_from_it:
            raise FieldError(f"then {problem}")
    return value


def missing_required(form: Form, given: Mapping[str, Any]) -> list[Field]:
    """Required fields the submitter must still give (for prompting): not read-only, no default."""
    return [
        f for f in form.fields if f.required and not f.readonly and f.default is None and is_empty(given.get(f.name))
    ]
