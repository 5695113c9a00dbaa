"""The tables a flows file can name — `groups` (the registry) and each form — and the checks of
references to them: a table, a column, a row lookup, `column: value` templates.

The form and field names are read from the raw tree before anything is checked, so that
options_from, linkage and the data nodes can point at any form, including one defined further down.
"""

from __future__ import annotations

from ..model import GROUP_COLUMNS, GROUP_WRITABLE, GROUPS_TABLE, RECORD_COLUMNS, TEXT, Lookup
from ..templating import StaticScope, Template, parse
from .checker import Checker, name_of
from .locate import Y


def form_fields(raw_forms: list[Y]) -> dict[str, dict[str, str]]:
    """form → field → type, for every form and field written with a text name (the first form of
    a name wins; a duplicate is reported when the forms are checked)."""
    found: dict[str, dict[str, str]] = {}
    for y in raw_forms:
        form = name_of(y)
        if form is None:
            continue
        fields: dict[str, str] = {}
        raw_fields = y.value.get("fields")
        for fy in raw_fields.value if raw_fields is not None and isinstance(raw_fields.value, list) else []:
            name = name_of(fy)
            if name is not None:
                ftype = fy.value.get("type")
                fields[name] = str(ftype.value) if ftype is not None else TEXT
        found.setdefault(form, fields)
    return found


class Schema:
    """The tables of one flows file; its checks record their problems on `checker`."""

    def __init__(self, checker: Checker, raw_forms: list[Y]) -> None:
        self.c = checker
        self.form_fields = form_fields(raw_forms)

    def fields(self, form: str | None) -> dict[str, str]:
        """field → type of a form (none for an unknown form or None)."""
        return self.form_fields.get(form or "", {})

    def columns(self, table: str) -> tuple[str, ...] | None:
        if table == GROUPS_TABLE:
            return GROUP_COLUMNS
        if table in self.form_fields:
            return (*RECORD_COLUMNS, *self.form_fields[table])
        return None

    def table(self, y: Y | None, what: str) -> str | None:
        return self.c.one_of(
            y,
            what,
            (GROUPS_TABLE, *self.form_fields),
            lambda name: f"{what} {name!r} does not exist",
            "`groups` (the registry) or a form name",
        )

    def column(self, table: str, y: Y | None, what: str, *, writable: bool = False) -> str | None:
        columns = self.columns(table) or ()
        if writable and table == GROUPS_TABLE:
            columns = GROUP_WRITABLE
        elif writable:
            columns = tuple(self.fields(table))
        adjective = "writable " if writable else ""
        return self.c.one_of(
            y, what, columns, lambda name: f"{what}: {table} has no {adjective}column {name!r}", "a column"
        )

    def lookup(self, table_y: Y | None, where_y: Y | None, what: str, scope: StaticScope, line: int) -> Lookup | None:
        table = self.table(table_y, f"{what} table") if table_y is not None else None
        if table_y is None:
            self.c.problem(line, f"{what} needs `table:` (groups or a form name)")
        where = self.values(table, where_y, f"{what} where", scope, writable=False)
        if where_y is not None and isinstance(where_y.value, dict) and not where_y.value:
            self.c.problem(where_y.line, f"{what} `where:` needs at least one `column: value`")
        if table is None or where is None:
            return None
        return Lookup(table, where)

    def values(
        self, table: str | None, y: Y | None, what: str, scope: StaticScope, *, writable: bool
    ) -> tuple[tuple[str, Template], ...] | None:
        """`column: value` pairs of `table` (a value may be a list: it is joined with commas)."""
        if y is None:
            return None
        if not isinstance(y.value, dict):
            self.c.problem(y.line, f"{what} must be a mapping of column: value")
            return None
        out: list[tuple[str, Template]] = []
        for key, vy in y.value.items():
            key_y = Y(key, y.line_of(key))
            column = self.column(table, key_y, what, writable=writable) if table else None
            template = self._value_template(vy, f"{what}.{key}", scope)
            if column and template is not None:
                out.append((column, template))
        return tuple(out)

    def _value_template(self, y: Y, what: str, scope: StaticScope) -> Template | None:
        if isinstance(y.value, list):
            items = [self.c.template(item, what, scope) for item in y.value]
            if any(t is None for t in items):
                return None
            return parse(", ".join(t.source for t in items if t is not None))
        return self.c.template(y, what, scope)
