"""Forms and their fields: types, limits, options, defaults and 数据联动 (linkage), each checked
against the same rules `flows.forms` applies when a form is filled.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .. import forms as form_rules
from ..model import (
    FIELD_TYPES,
    GROUPS_TABLE,
    MULTISELECT,
    NUMBER,
    SELECT,
    TEXT,
    TEXT_MAX_LENGTH,
    TEXTAREA,
    Field,
    Form,
    Linkage,
    Option,
    OptionSource,
)
from ..templating import RESERVED_NAMES, StaticScope
from .checker import Checker, kind_of
from .locate import Y
from .schema import Schema

FORM_KEYS = ("name", "description", "fields")
FIELD_KEYS = (
    "name",
    "type",
    "label",
    "description",
    "required",
    "readonly",
    "hidden",
    "min_length",
    "max_length",
    "min",
    "max",
    "options",
    "options_from",
    "default",
    "linkage",
)


class FormChecker:
    def __init__(self, checker: Checker, schema: Schema) -> None:
        self.c = checker
        self.schema = schema

    def form(self, y: Y) -> Form | None:
        m = self.c.mapping(y, "a form", allowed=FORM_KEYS, required=("name", "fields"))
        if m is None:
            return None
        name = self.c.name(m.get("name"), "form name")
        if name is not None and name == GROUPS_TABLE:
            self.c.problem(
                y.line, f"a form cannot be named {GROUPS_TABLE!r}: that is the registry's table", "rename the form"
            )
        where = f"form {name}"
        raw_fields = self.c.seq(m.get("fields"), f"{where} fields")
        field_names = tuple(self.schema.fields(name))
        fields = [f for f in (self._field(fy, name or "", field_names) for fy in raw_fields) if f is not None]
        self.c.unique([(f.name, f.line) for f in fields], f"field in {where}:")
        if name is None or len(fields) != len(raw_fields):
            return None
        form = Form(
            name=name,
            fields=tuple(fields),
            line=y.line,
            description=self.c.text(m.get("description"), "description", default="") or "",
        )
        self._check_default_cycles(form)
        return form

    def _field(self, y: Y, form: str, field_names: tuple[str, ...]) -> Field | None:
        m = self.c.mapping(y, "a field", allowed=FIELD_KEYS, required=("name", "type"))
        if m is None:
            return None
        name = self.c.name(m.get("name"), "field name")
        if name in RESERVED_NAMES:
            self.c.problem(y.line, f"{name!r} is reserved in templates and cannot be a field name", "rename the field")
            name = None
        ftype = self.c.choice(m.get("type"), "field type", FIELD_TYPES, TEXT)
        if name is None or "type" not in m:
            return None
        what = f"field {name}"
        scope = StaticScope(fields=tuple(n for n in field_names if n != name), where=f"form {form}")
        options, source = self._options(m, ftype, what)
        field = Field(
            name=name,
            type=ftype,
            line=y.line,
            label=self.c.text(m.get("label"), f"{what} label", default="") or "",
            description=self.c.text(m.get("description"), f"{what} description", default="") or "",
            required=self.c.boolean(m.get("required"), f"{what} required"),
            readonly=self.c.boolean(m.get("readonly"), f"{what} readonly"),
            hidden=self.c.boolean(m.get("hidden"), f"{what} hidden"),
            options=options,
            options_from=source,
            **self._limits(m, ftype, what),
        )
        return replace(field, default=self._default(m, field, scope))

    def _limits(self, m: dict[str, Y], ftype: str, what: str) -> dict[str, Any]:
        limits: dict[str, Any] = {
            "min_length": self.c.number(m.get("min_length"), f"{what} min_length", integer=True),
            "max_length": self.c.number(m.get("max_length"), f"{what} max_length", integer=True),
            "min": self.c.number(m.get("min"), f"{what} min"),
            "max": self.c.number(m.get("max"), f"{what} max"),
        }
        for key in ("min_length", "max_length"):
            if key in m and ftype not in (TEXT, TEXTAREA):
                self.c.problem(m[key].line, f"{what}: {key} applies to text and textarea fields, not {ftype}")
        for key in ("min", "max"):
            if key in m and ftype != NUMBER:
                self.c.problem(
                    m[key].line,
                    f"{what}: {key} applies to number fields, not {ftype}",
                    "use min_length/max_length for text",
                )
        if ftype == TEXT and limits["max_length"] is None:
            limits["max_length"] = TEXT_MAX_LENGTH
        for low, high in (("min_length", "max_length"), ("min", "max")):
            if limits[low] is not None and limits[high] is not None and limits[low] > limits[high]:
                self.c.problem(m[low].line, f"{what}: {low} {limits[low]} is more than {high} {limits[high]}")
        return limits

    def _options(self, m: dict[str, Y], ftype: str, what: str) -> tuple[tuple[Option, ...], OptionSource | None]:
        fixed, source = m.get("options"), m.get("options_from")
        given = fixed or source
        if given is not None and ftype not in (SELECT, MULTISELECT):
            self.c.problem(given.line, f"{what}: options apply to select and multiselect fields, not {ftype}")
            return (), None
        if fixed is not None and source is not None:
            self.c.problem(fixed.line, f"{what}: give either options or options_from, not both")
            return (), None
        if ftype == SELECT and fixed is None and source is None:
            self.c.problem(
                m["type"].line,
                f"{what}: a select needs `options:` or `options_from:`",
                "e.g. options_from: {table: groups, field: name}",
            )
        if source is not None:
            return (), self._option_source(source, what)
        return self._fixed_options(fixed, what), None

    def _fixed_options(self, y: Y | None, what: str) -> tuple[Option, ...]:
        options: list[Option] = []
        for item in self.c.seq(y, f"{what} options"):
            if isinstance(item.value, dict):
                om = self.c.mapping(item, f"an option of {what}", allowed=("value", "label"), required=("value",)) or {}
                value = self.c.text(om.get("value"), f"{what} option value")
                label = self.c.text(om.get("label"), f"{what} option label", default=value or "")
            else:
                value = label = self.c.text(item, f"{what} option")
            if value is not None:
                options.append(Option(value.strip(), (label or value).strip()))
        self.c.unique([(o.value, y.line if y else 0) for o in options], f"option in {what}:")
        if y is not None and not options:
            self.c.problem(y.line, f"{what}: options is empty")
        return tuple(options)

    def _option_source(self, y: Y, what: str) -> OptionSource | None:
        m = self.c.mapping(y, f"{what} options_from", allowed=("table", "field"), required=("table", "field"))
        if m is None:
            return None
        table = self.schema.table(m.get("table"), f"{what} options_from table")
        column = self.schema.column(table, m.get("field"), f"{what} options_from field") if table else None
        return OptionSource(table, column) if table and column else None

    def _default(self, m: dict[str, Y], field: Field, scope: StaticScope) -> Any:
        what = f"field {field.name}"
        if "default" in m and "linkage" in m:
            self.c.problem(m["linkage"].line, f"{what}: give either default or linkage, not both")
            return None
        if "linkage" in m:
            return self._linkage(m["linkage"], what, scope)
        y = m.get("default")
        if y is None or y.value is None:
            return None
        if isinstance(y.value, str):
            template = self.c.template(y, f"{what} default", scope)
            if template is None or template.refs:
                return template
            value: Any = y.value
        elif isinstance(y.value, list) and field.is_list:
            value = [self.c.text(item, f"{what} default") for item in y.value]
        elif isinstance(y.value, (dict, list)):
            self.c.problem(
                y.line,
                f"{what} default must be a value or a template, not {kind_of(y.value)}",
                "for a lookup use `linkage:`",
            )
            return None
        else:
            value = y.value
        return self._literal_default(field, value, y.line)

    def _literal_default(self, field: Field, value: Any, line: int) -> Any:
        """Check a literal default against the field's own rules now, not at the first submission."""
        try:
            coerced = form_rules.coerce(field, value)
        except form_rules.FieldError as exc:
            self.c.problem(line, f"field {field.name} default: {exc}")
            return None
        opts = list(field.options) if field.options else None
        problem = form_rules.check(field, coerced, opts) if coerced not in (None, []) else None
        if problem:
            self.c.problem(line, f"field {field.name} default {problem}")
            return None
        return coerced

    def _linkage(self, y: Y, what: str, scope: StaticScope) -> Linkage | None:
        m = self.c.mapping(
            y, f"{what} linkage", allowed=("table", "where", "take"), required=("table", "where", "take")
        )
        if m is None:
            return None
        lookup = self.schema.lookup(m.get("table"), m.get("where"), f"{what} linkage", scope, y.line)
        take = self.schema.column(lookup.table, m.get("take"), f"{what} linkage take") if lookup else None
        return Linkage(lookup, take) if lookup and take else None

    def _check_default_cycles(self, form: Form) -> None:
        """Defaults that read each other in a circle can never be computed: report each circle once."""
        reported: set[frozenset[str]] = set()
        finished: set[str] = set()

        def visit(field: Field, path: tuple[str, ...]) -> None:
            for dep in form_rules.default_refs(field):
                if dep in path:
                    circle = path[path.index(dep) :]
                    if frozenset(circle) not in reported:
                        reported.add(frozenset(circle))
                        self.c.problem(
                            field.line,
                            f"form {form.name}: defaults depend on each other in a cycle: "
                            + " → ".join((*circle, dep)),
                            "break the cycle",
                        )
                    continue
                dep_field = form.field(dep)
                if dep_field is not None and dep not in finished:
                    visit(dep_field, (*path, dep))
            finished.add(field.name)

        for each in form.fields:
            visit(each, (each.name,))
