"""YAML → `FlowsFile`, reporting every problem at once, each with file:line and its fix.

The only module that imports yaml. Two stages:
1. `_locate`: YAML text → a tree of `Y` values that remember their line (mapping keys too).
   Duplicate keys, unsupported tags and alias bombs are problems here, not silent surprises.
2. `_Checker`: the located tree → model dataclasses. It never stops at the first problem: each check
   records a `Problem` and returns None, and the caller carries on with what it has, so a file with
   five mistakes shows five messages.

No YAML input raises anything but ValidationError (or BadInput for a missing file): the fuzz test in
tests/flows holds us to that.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from ..errors import BadInput, ValidationError
from . import forms as form_rules
from .model import (
    EVENTS,
    FIELD_TYPES,
    FLOWS_VERSION,
    GROUP_COLUMNS,
    GROUP_WRITABLE,
    GROUPS_TABLE,
    LIST_OPERATORS,
    MULTISELECT,
    NUMBER,
    OPERATORS,
    ORDERED_TYPES,
    ORDERING_OPERATORS,
    RECORD_COLUMNS,
    SELECT,
    TEXT,
    TEXT_MAX_LENGTH,
    TEXTAREA,
    UNARY_OPERATORS,
    AddData,
    Alert,
    Arm,
    Branch,
    Condition,
    ConditionGroup,
    CreateGroup,
    Field,
    Flow,
    FlowsFile,
    Form,
    GetData,
    Linkage,
    Lookup,
    Node,
    Option,
    OptionSource,
    SendGroupMessage,
    Trigger,
    UpdateData,
    node_outputs,
)
from .templating import (
    FAILURE_REFS,
    FORBIDDEN_NAME_CHARS,
    RESERVED_NAMES,
    SYSTEM_REFS,
    StaticScope,
    Template,
    TemplateSyntaxError,
    parse,
    parse_ref,
    suggest,
)

T = TypeVar("T")
MAX_NODES = 100_000  # YAML values after alias expansion: a billion-laughs file stops here
EVENT_ALIASES = {"创建成功": "created", "更新成功": "updated", "删除成功": "deleted"}
ALL_DATA = ("all", "全部数据")


# --- problems -------------------------------------------------------------------------------------


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


# --- stage 1: located YAML ------------------------------------------------------------------------


@dataclass(frozen=True)
class Y:
    """A YAML value and the (1-based) line it starts on. Mappings are dict[str, Y] and remember
    the line of each key; sequences are list[Y]; scalars are str, int, float, bool or None."""

    value: Any
    line: int
    key_lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, key: str) -> int:
        """The line of a key of this mapping (its own line for a key merged in with `<<`)."""
        line = self.key_lines.get(key, -1)
        return line if line > 0 else self.line


class _LocateError(Exception):
    def __init__(self, line: int, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.problem = Problem(line, message, fix)


def _locate(text: str) -> Y | None:
    import yaml

    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader_cls)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise _LocateError(
            line, f"not valid YAML: {exc.problem or exc.context}", "check the indentation and quoting"
        ) from None
    except yaml.YAMLError as exc:
        raise _LocateError(1, f"not valid YAML: {exc}") from None
    if node is None:
        return None
    return _Locator(yaml).convert(node)


class _Locator:
    def __init__(self, yaml: Any) -> None:
        self.yaml = yaml
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0

    def convert(self, node: Any) -> Y:
        self.count += 1
        if self.count > MAX_NODES:
            raise _LocateError(node.start_mark.line + 1, "the file is too large once its aliases are expanded")
        line = node.start_mark.line + 1
        if isinstance(node, self.yaml.MappingNode):
            return self._mapping(node, line)
        if isinstance(node, self.yaml.SequenceNode):
            return Y([self.convert(item) for item in node.value], line)
        return Y(self._scalar(node, line), line)

    def _scalar(self, node: Any, line: int) -> Any:
        tag = node.tag
        if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)  # dates stay text: 2026-03-01, as the submitter would type it
        if tag in (
            "tag:yaml.org,2002:null",
            "tag:yaml.org,2002:bool",
            "tag:yaml.org,2002:int",
            "tag:yaml.org,2002:float",
        ):
            try:
                return self.constructor.construct_object(node)
            except Exception:  # noqa: BLE001 — PyYAML raises assorted errors for odd numbers
                return str(node.value)
        raise _LocateError(line, f"unsupported YAML tag {tag}", "remove the tag; write plain values")

    def _mapping(self, node: Any, line: int) -> Y:
        items: dict[str, Y] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, items, key_lines)
                continue
            if not isinstance(key_node, self.yaml.ScalarNode):
                raise _LocateError(key_line, "a mapping key must be a plain name", "write `name: value`")
            key = unicodedata.normalize("NFC", str(key_node.value))
            if key in key_lines and key_lines[key] != -1:
                raise _LocateError(
                    key_line, f"duplicate key {key!r} (first at line {key_lines[key]})", "keep only one of them"
                )
            items[key] = self.convert(value_node)
            key_lines[key] = key_line
        return Y(items, line, key_lines)

    def _merge(self, value_node: Any, items: dict[str, Y], key_lines: dict[str, int]) -> None:
        """`<<: *defaults`: keys of the merged mapping(s) that the mapping does not set itself."""
        sources = value_node.value if isinstance(value_node, self.yaml.SequenceNode) else [value_node]
        for source in sources:
            merged = self.convert(source)
            if not isinstance(merged.value, dict):
                raise _LocateError(merged.line, "`<<` merges a mapping only")
            for key, value in merged.value.items():
                if key not in items:
                    items[key] = value
                    key_lines[key] = -1  # merged: an explicit key may still override it


# --- stage 2: checking --------------------------------------------------------------------------


def _kind_of(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "empty"
    return f"{type(value).__name__} {value!r}"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str, fix: str = "") -> None:
        self.problems.append(Problem(line, message, fix))

    # Shapes ----------------------------------------------------------------------------------
    def mapping(
        self, y: Y | None, what: str, *, allowed: Iterable[str], required: Iterable[str] = ()
    ) -> dict[str, Y] | None:
        if y is None:
            return None
        if not isinstance(y.value, dict):
            self.problem(y.line, f"{what} must be a mapping (key: value lines), not {_kind_of(y.value)}")
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
        self.problem(y.line, f"{what} must be a list (lines starting with `- `), not {_kind_of(y.value)}")
        return []

    def text(self, y: Y | None, what: str, *, default: str | None = None) -> str | None:
        if y is None or y.value is None:
            if default is None and y is not None:
                self.problem(y.line, f"{what} is empty")
            return default
        if isinstance(y.value, (dict, list)):
            self.problem(y.line, f"{what} must be text, not {_kind_of(y.value)}")
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
        self.problem(y.line, f"{what} must be true or false, not {_kind_of(y.value)}")
        return default

    def number(self, y: Y | None, what: str, *, integer: bool = False) -> float | None:
        if y is None:
            return None
        ok = isinstance(y.value, int) if integer else isinstance(y.value, (int, float))
        if not ok or isinstance(y.value, bool):
            self.problem(
                y.line, f"{what} must be {'a whole number' if integer else 'a number'}, not {_kind_of(y.value)}"
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

    def template(self, y: Y | None, what: str, scope: StaticScope) -> Template | None:
        """A string with {{ references }}, each checked against `scope`; numbers and booleans are
        literal text."""
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


# --- the file -------------------------------------------------------------------------------------

TOP_KEYS = ("version", "forms", "flows")
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
FLOW_KEYS = ("name", "description", "enabled", "trigger", "nodes", "on_failure", "dedupe")
TRIGGER_KEYS = ("form", "event", "filter")
NODE_KEYS: Mapping[str, tuple[str, ...]] = {
    "send_group_message": ("chat", "text", "markdown", "title", "at_mobiles", "at_users", "at_all"),
    "create_group": ("group_name", "owner", "members", "template_id", "if_exists"),
    "add_data": ("table", "values"),
    "update_data": ("table", "where", "values", "if_none"),
    "get_data": ("table", "where", "if_none"),
    "branch": ("branches",),
}
ARM_KEYS = ("name", "priority", "when", "default", "nodes")


def load(path: Path | str) -> FlowsFile:
    """Read and check a flows file; ValidationError lists every problem, BadInput if it is missing."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(
            f"no flows file at {path}",
            hint="create one (the repository's flows.yaml and examples/ show how), "
            "or point to it with --flows FILE or GROUPMSG_FLOWS",
        ) from None
    except OSError as exc:
        raise BadInput(f"cannot read the flows file {path}: {exc.strerror}") from None
    return load_bytes(raw, str(path))


def load_flows(path: Path | str, *, registry_names: Iterable[str] | None = None) -> FlowsFile:
    """`load()`, and with `registry_names` (for `groupmsg doctor`) also check that every group a
    flow names literally — a send node's `chat:`, an alert's `notify:` — is registered now. That
    is state, not syntax, so `flows check` leaves it out."""
    model = load(path)
    if registry_names is None:
        return model
    problems = unregistered_chats(model, set(registry_names))
    if problems:
        raise problems_error(model.path, problems, hint="see them with `groupmsg groups list`")
    return model


def unregistered_chats(model: FlowsFile, names: set[str]) -> list[Problem]:
    problems = []
    for flow in model.flows:
        targets = [(n.chat, n.line, f"node {n.name}") for n in flow.all_nodes() if isinstance(n, SendGroupMessage)]
        if flow.on_failure is not None:
            targets.append((flow.on_failure.group, flow.on_failure.line, f"flow {flow.name} on_failure"))
        for template, line, what in targets:
            chat = template.source.strip()
            if template.refs or chat in names or chat.startswith(("chat", "cid")):
                continue  # decided when it runs, registered, or a raw chat id
            problems.append(
                Problem(
                    line,
                    f"{what} sends to {chat!r}, which is not in the registry",
                    f"register it (`groupmsg groups add {chat} --chat-id …`) or fix the name",
                )
            )
    return problems


def load_bytes(raw: bytes, path: str = "flows.yaml") -> FlowsFile:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise problems_error(
            path, [Problem(1, f"not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8")]
        ) from None
    return load_text(text, path)


def load_text(text: str, path: str = "flows.yaml") -> FlowsFile:
    model, problems = check_text(text, path)
    if problems or model is None:
        raise problems_error(path, problems or [Problem(1, "the file is empty")])
    return model


def check_text(text: str, path: str = "flows.yaml") -> tuple[FlowsFile | None, list[Problem]]:
    """The model (None when the file is unusable) and every problem found."""
    try:
        root = _locate(text)
    except _LocateError as exc:
        return None, [exc.problem]
    except RecursionError:
        return None, [Problem(1, "the file is nested too deeply to read")]
    if root is None:
        return None, [Problem(1, "the file is empty", f"start it with `version: {FLOWS_VERSION}`")]
    checker = _Checker()
    try:
        model = _FileChecker(checker, path).check(root)
    except RecursionError:
        return None, [Problem(1, "the file is nested too deeply to check")]
    return (model if not checker.problems else None), checker.problems


class _FileChecker:
    def __init__(self, checker: _Checker, path: str) -> None:
        self.c = checker
        self.path = path
        self.form_fields: dict[str, dict[str, str]] = {}  # form → field → type (from a first pass)

    def check(self, root: Y) -> FlowsFile:
        top = self.c.mapping(root, "the file", allowed=TOP_KEYS, required=("version",)) or {}
        version = self._version(top.get("version"))
        raw_forms = self.c.seq(top.get("forms"), "forms")
        raw_flows = self.c.seq(top.get("flows"), "flows")
        self._collect_form_fields(raw_forms)
        forms = tuple(f for f in (self._form(y) for y in raw_forms) if f is not None)
        self.c.unique(_names(raw_forms), "form name")
        flows = tuple(f for f in (self._flow(y) for y in raw_flows) if f is not None)
        self.c.unique(_names(raw_flows), "flow name")
        return FlowsFile(path=self.path, version=version, forms=forms, flows=flows)

    def _version(self, y: Y | None) -> int:
        if y is None:
            return FLOWS_VERSION
        if y.value != FLOWS_VERSION or isinstance(y.value, bool):
            self.c.problem(
                y.line,
                f"unsupported version {y.value!r}: this groupmsg reads version {FLOWS_VERSION}",
                f"write `version: {FLOWS_VERSION}` (or upgrade groupmsg for a newer file)",
            )
        return FLOWS_VERSION

    # Tables ----------------------------------------------------------------------------------
    def _collect_form_fields(self, raw_forms: list[Y]) -> None:
        """Form and field names first, so that options_from / linkage / add_data can point at any
        form, including one defined further down."""
        for y in raw_forms:
            form = _name_of(y)
            if form is None:
                continue
            fields: dict[str, str] = {}
            raw_fields = y.value.get("fields")
            for fy in raw_fields.value if raw_fields is not None and isinstance(raw_fields.value, list) else []:
                name = _name_of(fy)
                if name is not None:
                    ftype = fy.value.get("type")
                    fields[name] = str(ftype.value) if ftype is not None else TEXT
            self.form_fields.setdefault(form, fields)

    def columns(self, table: str) -> tuple[str, ...] | None:
        if table == GROUPS_TABLE:
            return GROUP_COLUMNS
        if table in self.form_fields:
            return (*RECORD_COLUMNS, *self.form_fields[table])
        return None

    def table(self, y: Y | None, what: str) -> str | None:
        name = self.c.text(y, what)
        if name is None or y is None:
            return None
        name = name.strip()
        if self.columns(name) is None:
            tables = (GROUPS_TABLE, *self.form_fields)
            self.c.problem(
                y.line,
                f"{what} {name!r} does not exist",
                suggest(name, tables, what="`groups` (the registry) or a form name"),
            )
            return None
        return name

    def column(self, table: str, y: Y | None, what: str, *, writable: bool = False) -> str | None:
        name = self.c.text(y, what)
        if name is None or y is None:
            return None
        name = name.strip()
        columns = self.columns(table) or ()
        if writable and table == GROUPS_TABLE:
            columns = GROUP_WRITABLE
        elif writable:
            columns = tuple(self.form_fields.get(table, {}))
        if name not in columns:
            self.c.problem(
                y.line,
                f"{what}: {table} has no {'writable ' if writable else ''}column {name!r}",
                suggest(name, columns, what="a column"),
            )
            return None
        return name

    def lookup(self, table_y: Y | None, where_y: Y | None, what: str, scope: StaticScope, line: int) -> Lookup | None:
        table = self.table(table_y, f"{what} table") if table_y is not None else None
        if table_y is None:
            self.c.problem(line, f"{what} needs `table:` (groups or a form name)")
        where = self._values(table, where_y, f"{what} where", scope, writable=False)
        if where_y is not None and isinstance(where_y.value, dict) and not where_y.value:
            self.c.problem(where_y.line, f"{what} `where:` needs at least one `column: value`")
        if table is None or where is None:
            return None
        return Lookup(table, where)

    def _values(
        self, table: str | None, y: Y | None, what: str, scope: StaticScope, *, writable: bool
    ) -> tuple[tuple[str, Template], ...] | None:
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

    # Forms -----------------------------------------------------------------------------------
    def _form(self, y: Y) -> Form | None:
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
        field_names = tuple(self.form_fields.get(name or "", {}))
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
        table = self.table(m.get("table"), f"{what} options_from table")
        column = self.column(table, m.get("field"), f"{what} options_from field") if table else None
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
                f"{what} default must be a value or a template, not {_kind_of(y.value)}",
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
        lookup = self.lookup(m.get("table"), m.get("where"), f"{what} linkage", scope, y.line)
        take = self.column(lookup.table, m.get("take"), f"{what} linkage take") if lookup else None
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

    # Flows -----------------------------------------------------------------------------------
    def _flow(self, y: Y) -> Flow | None:
        m = self.c.mapping(y, "a flow", allowed=FLOW_KEYS, required=("name", "trigger", "nodes"))
        if m is None:
            return None
        name = self.c.name(m.get("name"), "flow name")
        trigger = self._trigger(m.get("trigger"), f"flow {name}")
        form = self._trigger_form(m.get("trigger"))
        base = StaticScope(
            fields=tuple(self.form_fields.get(form or "", {})),
            where=f"form {form}",
            namespaces=SYSTEM_REFS,
            in_flow=True,
            any_field=form is None,  # the unknown trigger form is already reported: no cascade
        )
        raw_nodes = self.c.seq(m.get("nodes"), f"flow {name} nodes")
        if "nodes" in m and not raw_nodes:
            self.c.problem(
                m["nodes"].line, f"flow {name} has no nodes", "add at least one node, e.g. send_group_message"
            )
        all_names = _node_names(raw_nodes)
        types = self.form_fields.get(form or "", {})
        nodes = _NodesChecker(self, base, all_names, types).nodes(raw_nodes, prefix="", available={})
        self.c.unique([(n, line) for n, line in all_names], f"node name in flow {name}:")
        alert = self._alert(m.get("on_failure"), name, base)
        dedupe = self.c.template(m.get("dedupe"), f"flow {name} dedupe", replace(base, in_flow=False))
        if name is None or trigger is None or nodes is None:
            return None
        return Flow(
            name=name,
            trigger=trigger,
            nodes=nodes,
            line=y.line,
            enabled=self.c.boolean(m.get("enabled"), f"flow {name} enabled", default=True),
            description=self.c.text(m.get("description"), "description", default="") or "",
            on_failure=alert,
            dedupe=dedupe,
        )

    def _trigger_form(self, y: Y | None) -> str | None:
        """The trigger's form name when that form exists (read before the trigger is checked)."""
        form = y.value.get("form") if y is not None and isinstance(y.value, dict) else None
        name = unicodedata.normalize("NFC", form.value.strip()) if form and isinstance(form.value, str) else None
        return name if name in self.form_fields else None

    def _trigger(self, y: Y | None, what: str) -> Trigger | None:
        m = self.c.mapping(y, f"{what} trigger", allowed=TRIGGER_KEYS, required=("form",))
        if m is None or y is None:
            return None
        form = self.c.text(m.get("form"), f"{what} trigger form")
        if form is not None and form.strip() not in self.form_fields:
            self.c.problem(
                m["form"].line,
                f"{what}: trigger form {form.strip()!r} is not defined",
                suggest(form.strip(), self.form_fields, what="a form of this file"),
            )
            form = None
        events = self._events(m.get("event"), what)
        fields = tuple(self.form_fields.get(form.strip(), {})) if form else ()
        scope = StaticScope(fields=fields, where=f"form {form}", namespaces=SYSTEM_REFS)
        types = self.form_fields.get(form.strip(), {}) if form else {}
        ok, condition_filter = self._filter(m.get("filter"), what, scope, types)
        if form is None or events is None or not ok:
            return None
        return Trigger(form=form.strip(), events=events, filter=condition_filter, line=y.line)

    def _events(self, y: Y | None, what: str) -> tuple[str, ...] | None:
        if y is None:
            return ("created",)
        items = y.value if isinstance(y.value, list) else [y]
        events: list[str] = []
        for item in items:
            value = self.c.text(item, f"{what} trigger event")
            if value is None:
                return None
            value = EVENT_ALIASES.get(value.strip(), value.strip())
            if value not in EVENTS:
                self.c.problem(
                    item.line,
                    f"{what}: unknown event {value!r}",
                    f"use one of {', '.join(EVENTS)} (创建成功, 更新成功, 删除成功)",
                )
                return None
            events.append(value)
        return tuple(dict.fromkeys(events))

    def _filter(
        self, y: Y | None, what: str, scope: StaticScope, types: Mapping[str, str]
    ) -> tuple[bool, ConditionGroup | None]:
        """(whether it is valid, the condition group or None for 全部数据)."""
        if y is None or (isinstance(y.value, str) and y.value.strip() in ALL_DATA):
            return True, None
        group = self.conditions(y, f"{what} filter", scope, types)
        return group is not None, group

    def conditions(self, y: Y, what: str, scope: StaticScope, types: Mapping[str, str]) -> ConditionGroup | None:
        """`{all: [...]}` or `{any: [...]}`; items are conditions or nested groups."""
        if not isinstance(y.value, dict) or len(y.value) != 1 or next(iter(y.value)) not in ("all", "any"):
            self.c.problem(
                y.line,
                f"{what} must be `all` (全部数据) or a group `all: [...]` / `any: [...]` of conditions",
                "e.g. all: [{field: 级别, op: equals, value: 紧急}]",
            )
            return None
        mode = next(iter(y.value))
        raw = self.c.seq(y.value[mode], f"{what} {mode}")
        items = [self._condition_item(item, what, scope, types) for item in raw]
        if not raw:
            self.c.problem(y.line, f"{what}: `{mode}:` has no conditions")
        if any(i is None for i in items) or not raw:
            return None
        return ConditionGroup(mode, tuple(i for i in items if i is not None), y.line)

    def _condition_item(
        self, y: Y, what: str, scope: StaticScope, types: Mapping[str, str]
    ) -> Condition | ConditionGroup | None:
        if isinstance(y.value, dict) and set(y.value) <= {"all", "any"} and y.value:
            return self.conditions(y, what, scope, types)
        m = self.c.mapping(y, f"a condition in {what}", allowed=("field", "op", "value"), required=("field", "op"))
        if m is None or "field" not in m or "op" not in m:
            return None
        left = self._condition_field(m["field"], what, scope)
        op = self.c.text(m["op"], f"{what} op")
        if op is None:
            return None
        op = op.strip()
        if op not in OPERATORS:
            self.c.problem(m["op"].line, f"{what}: unknown operator {op!r}", suggest(op, OPERATORS, what="an operator"))
            return None
        value = self._condition_value(m, op, what, scope)
        if left is not None and op in ORDERING_OPERATORS and len(left) == 1:
            ftype = types.get(left[0], TEXT)
            if ftype not in (*ORDERED_TYPES, TEXT):
                self.c.problem(
                    m["op"].line,
                    f"{what}: {op} compares numbers or dates, and {left[0]} is a {ftype} field",
                    "use equals, contains or in",
                )
                return None
        if left is None or value is False:
            return None
        return Condition(left, op, value, y.line)

    def _condition_field(self, y: Y, what: str, scope: StaticScope) -> tuple[str, ...] | None:
        text = self.c.text(y, f"{what} field")
        if text is None:
            return None
        text = text.strip()
        if text.startswith("{{") and text.endswith("}}"):
            text = text[2:-2]
        try:
            ref = parse_ref(text)
        except TemplateSyntaxError as exc:
            self.c.problem(y.line, f"{what} field: {exc.message}")
            return None
        found = scope.problem(ref)
        if found:
            self.c.problem(y.line, f"{what}: {found[0]}", found[1])
            return None
        return ref.path

    def _condition_value(self, m: dict[str, Y], op: str, what: str, scope: StaticScope) -> Any:
        y = m.get("value")
        if op in UNARY_OPERATORS:
            if y is not None:
                self.c.problem(y.line, f"{what}: {op} takes no value", "remove `value:`")
                return False
            return None
        if y is None:
            self.c.problem(m["op"].line, f"{what}: {op} needs a `value:`")
            return False
        if op in LIST_OPERATORS:
            if not isinstance(y.value, list):
                self.c.problem(y.line, f"{what}: {op} needs a list of values", "e.g. value: [紧急, 重要]")
                return False
            items = [self.c.template(item, f"{what} value", scope) for item in y.value]
            return False if any(i is None for i in items) else tuple(items)
        if isinstance(y.value, list):
            self.c.problem(y.line, f"{what}: {op} compares with one value, not a list", "use `in` for a list")
            return False
        template = self.c.template(y, f"{what} value", scope)
        return template if template is not None else False

    def _alert(self, y: Y | None, flow: str | None, base: StaticScope) -> Alert | None:
        m = self.c.mapping(y, f"flow {flow} on_failure", allowed=("notify", "text"), required=("notify",))
        if m is None or y is None:
            return None
        scope = replace(base, in_flow=False, namespaces={**SYSTEM_REFS, **FAILURE_REFS})
        group = self.c.template(m.get("notify"), f"flow {flow} on_failure notify", scope)
        text = self.c.template(m.get("text"), f"flow {flow} on_failure text", scope) if "text" in m else None
        return Alert(group, text, y.line) if group is not None else None


def _name_of(y: Y) -> str | None:
    """The `name:` of a mapping, when it is text (read before the mapping itself is checked)."""
    name = y.value.get("name") if isinstance(y.value, dict) else None
    if name is None or not isinstance(name.value, str) or not name.value.strip():
        return None
    return unicodedata.normalize("NFC", name.value.strip())


def _names(raw: list[Y]) -> list[tuple[str, int]]:
    """(name, line) of each form or flow written with a text name."""
    return [(name, y.value["name"].line) for y in raw if (name := _name_of(y)) is not None]


def _node_names(raw_nodes: list[Y]) -> list[tuple[str, int]]:
    """Every explicit node name in a flow, branches included (for duplicate and order checks)."""
    out: list[tuple[str, int]] = []
    for y in raw_nodes:
        if not isinstance(y.value, dict):
            continue
        out.extend(_names([y]))
        branches = y.value.get("branches")
        for arm in branches.value if branches is not None and isinstance(branches.value, list) else []:
            if (
                isinstance(arm.value, dict)
                and arm.value.get("nodes") is not None
                and isinstance(arm.value["nodes"].value, list)
            ):
                out.extend(_node_names(arm.value["nodes"].value))
    return out


class _NodesChecker:
    """Nodes in order, each seeing the fields of the trigger form and the outputs of the nodes that
    have certainly run before it (earlier siblings, and earlier siblings of enclosing branches)."""

    def __init__(
        self, file: _FileChecker, base: StaticScope, all_names: list[tuple[str, int]], types: Mapping[str, str]
    ) -> None:
        self.f = file
        self.types = types
        self.c = file.c
        self.base = base
        self.all_names = tuple(n for n, _ in all_names)

    def scope(self, available: Mapping[str, tuple[str, ...]]) -> StaticScope:
        later = tuple(n for n in self.all_names if n not in available)
        return replace(self.base, nodes=dict(available), later_nodes=later)

    def nodes(self, raw: list[Y], prefix: str, available: dict[str, tuple[str, ...]]) -> tuple[Node, ...] | None:
        available = dict(available)
        out: list[Node] = []
        ok = True
        for index, y in enumerate(raw, 1):
            node = self.node(y, f"{prefix}{index}", available)
            if node is None:
                ok = False
                continue
            out.append(node)
            available[node.name] = self.outputs(node)
        return tuple(out) if ok else None

    def outputs(self, node: Node) -> tuple[str, ...]:
        table = getattr(node, "table", None) or getattr(getattr(node, "lookup", None), "table", None)
        return node_outputs(node, self.f.columns(table) or () if table else ())

    def node(self, y: Y, node_id: str, available: dict[str, tuple[str, ...]]) -> Node | None:
        if not isinstance(y.value, dict) or "kind" not in y.value:
            self.c.problem(y.line, "a node must be a mapping with `kind:`", f"kinds: {', '.join(NODE_KEYS)}")
            return None
        kind = self.c.text(y.value["kind"], "node kind")
        if kind is None:
            return None
        kind = kind.strip()
        if kind not in NODE_KEYS:
            self.c.problem(
                y.value["kind"].line, f"unknown node kind {kind!r}", suggest(kind, NODE_KEYS, what="a node kind")
            )
            return None
        m = self.c.mapping(y, f"{kind} node", allowed=("kind", "name", *NODE_KEYS[kind]))
        if m is None:
            return None
        name = self.c.name(m["name"], "node name") if "name" in m else f"{kind}-{node_id.replace('.', '-')}"
        if name is None:
            return None
        common = {"name": name, "id": node_id, "line": y.line}
        what = f"node {name}"
        if kind == "branch":
            return self._branch(m, common, available, what)
        build: Callable[[dict[str, Y], dict[str, Any], StaticScope, str], Node | None] = getattr(self, "_" + kind)
        return build(m, common, self.scope(available), what)

    def need(self, m: dict[str, Y], key: str, common: dict[str, Any], what: str) -> Y | None:
        if key not in m:
            self.c.problem(common["line"], f"{what} needs `{key}:`")
        return m.get(key)

    def _send_group_message(
        self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str
    ) -> Node | None:
        chat = self.c.template(self.need(m, "chat", common, what), f"{what} chat", scope)
        text = self.c.template(self.need(m, "text", common, what), f"{what} text", scope)
        markdown = self.c.boolean(m.get("markdown"), f"{what} markdown")
        title = self.c.template(m.get("title"), f"{what} title", scope) if "title" in m else None
        if markdown and "title" not in m:
            self.c.problem(
                common["line"], f"{what}: a markdown message needs a `title:`", "it is what the chat list shows"
            )
        if chat is None or text is None or (markdown and title is None):
            return None
        mentions = {
            key: self.c.template(m[key], f"{what} {key}", scope) for key in ("at_mobiles", "at_users") if key in m
        }
        at_all = self.c.boolean(m.get("at_all"), f"{what} at_all")
        return SendGroupMessage(**common, chat=chat, text=text, markdown=markdown, title=title, at_all=at_all, **mentions)

    def _create_group(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        group_name = self.c.template(self.need(m, "group_name", common, what), f"{what} group_name", scope)
        owner = self.c.template(self.need(m, "owner", common, what), f"{what} owner", scope)
        members_y = m.get("members")
        raw_members = (members_y.value if isinstance(members_y.value, list) else [members_y]) if members_y else []
        members = [self.c.template(item, f"{what} members", scope) for item in raw_members]
        template_id = (
            self.c.template(m.get("template_id"), f"{what} template_id", scope) if "template_id" in m else None
        )
        if_exists = self.c.choice(m.get("if_exists"), f"{what} if_exists", ("fail", "reuse"), "fail")
        if group_name is None or owner is None or any(t is None for t in members):
            return None
        return CreateGroup(
            **common,
            group_name=group_name,
            owner=owner,
            members=tuple(t for t in members if t is not None),
            template_id=template_id,
            if_exists=if_exists,
        )

    def _add_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        table = self.f.table(self.need(m, "table", common, what), f"{what} table")
        values = self.f._values(table, self.need(m, "values", common, what), f"{what} values", scope, writable=True)
        if table == GROUPS_TABLE and values is not None:
            given = {c for c, _ in values}
            if "name" not in given or not given & {"chat_id", "open_conversation_id"}:
                self.c.problem(
                    m["values"].line,
                    f"{what}: a row of groups needs `name` and `chat_id` (or `open_conversation_id`)",
                    'e.g. chat_id: "{{ nodes.建群.chat_id }}"',
                )
                return None
        if table is None or not values:
            return None
        return AddData(**common, table=table, values=values)

    def _update_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        lookup = self.f.lookup(m.get("table"), self.need(m, "where", common, what), what, scope, common["line"])
        table = lookup.table if lookup else None
        values = self.f._values(table, self.need(m, "values", common, what), f"{what} values", scope, writable=True)
        if_none = self.c.choice(m.get("if_none"), f"{what} if_none", ("skip", "insert", "fail"), "skip")
        if lookup is None or not values:
            return None
        return UpdateData(**common, lookup=lookup, values=values, if_none=if_none)

    def _get_data(self, m: dict[str, Y], common: dict[str, Any], scope: StaticScope, what: str) -> Node | None:
        lookup = self.f.lookup(m.get("table"), self.need(m, "where", common, what), what, scope, common["line"])
        if_none = self.c.choice(m.get("if_none"), f"{what} if_none", ("empty", "fail"), "empty")
        return GetData(**common, lookup=lookup, if_none=if_none) if lookup else None

    def _branch(
        self, m: dict[str, Y], common: dict[str, Any], available: dict[str, tuple[str, ...]], what: str
    ) -> Node | None:
        raw_arms = self.c.seq(self.need(m, "branches", common, what), f"{what} branches")
        arms = [self._arm(y, f"{common['id']}.{i}", i, available, what) for i, y in enumerate(raw_arms, 1)]
        if not raw_arms and "branches" in m:
            self.c.problem(m["branches"].line, f"{what} has no branches")
        good = [a for a in arms if a is not None]
        self.c.unique([(a.name, a.line) for a in good], f"branch name in {what}:")
        self.c.unique([(str(a.priority), a.line) for a in good if not a.default], f"branch priority in {what}:")
        defaults = [a for a in good if a.default]
        if len(defaults) > 1:
            self.c.problem(defaults[1].line, f"{what} has more than one default branch", "keep one `default: true`")
        if len(good) != len(raw_arms) or not good:
            return None
        return Branch(**common, arms=tuple(good))

    def _arm(self, y: Y, arm_id: str, index: int, available: dict[str, tuple[str, ...]], what: str) -> Arm | None:
        m = self.c.mapping(y, f"a branch of {what}", allowed=ARM_KEYS)
        if m is None:
            return None
        name = self.c.name(m["name"], "branch name") if "name" in m else f"branch-{index}"
        default = self.c.boolean(m.get("default"), f"{what} branch default")
        priority = self.c.number(m.get("priority"), f"{what} branch priority", integer=True)
        when = None
        if default and "when" in m:
            self.c.problem(
                m["when"].line, f"{what}: the default branch runs when no other matched; it takes no `when:`"
            )
        elif not default and "when" not in m:
            self.c.problem(y.line, f"{what}: branch {name} needs `when:` conditions (or `default: true`)")
        elif "when" in m:
            when = self.f.conditions(m["when"], f"{what} branch {name}", self.scope(available), self.types)
        nodes = self.nodes(self.c.seq(m.get("nodes"), f"{what} branch {name} nodes"), f"{arm_id}.", available)
        if name is None or nodes is None or (not default and when is None):
            return None
        return Arm(
            name=name,
            id=arm_id,
            priority=int(priority if priority is not None else index),
            when=when,
            default=default,
            nodes=nodes,
            line=y.line,
        )
