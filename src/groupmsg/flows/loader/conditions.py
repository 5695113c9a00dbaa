"""Condition groups — a trigger's `filter:` and a branch's `when:` — checked against the fields and
node outputs a template may reference at that place (what `flows.conditions` evaluates at run time).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import (
    LIST_OPERATORS,
    OPERATORS,
    ORDERED_TYPES,
    ORDERING_OPERATORS,
    TEXT,
    UNARY_OPERATORS,
    Condition,
    ConditionGroup,
)
from ..templating import StaticScope, TemplateSyntaxError, parse_ref
from .checker import Checker
from .locate import Y


class ConditionChecker:
    def __init__(self, checker: Checker) -> None:
        self.c = checker

    def group(self, y: Y, what: str, scope: StaticScope, types: Mapping[str, str]) -> ConditionGroup | None:
        """`{all: [...]}` or `{any: [...]}`; items are conditions or nested groups. `types` maps the
        fields of the form to their types (ordering operators compare numbers and dates only)."""
        if not isinstance(y.value, dict) or len(y.value) != 1 or next(iter(y.value)) not in ("all", "any"):
            self.c.problem(
                y.line,
                f"{what} must be `all` (全部数据) or a group `all: [...]` / `any: [...]` of conditions",
                "e.g. all: [{field: 级别, op: equals, value: 紧急}]",
            )
            return None
        mode = next(iter(y.value))
        raw = self.c.seq(y.value[mode], f"{what} {mode}")
        items = [self._item(item, what, scope, types) for item in raw]
        if not raw:
            self.c.problem(y.line, f"{what}: `{mode}:` has no conditions")
        if any(i is None for i in items) or not raw:
            return None
        return ConditionGroup(mode, tuple(i for i in items if i is not None), y.line)

    def _item(self, y: Y, what: str, scope: StaticScope, types: Mapping[str, str]) -> Condition | ConditionGroup | None:
        if isinstance(y.value, dict) and set(y.value) <= {"all", "any"} and y.value:
            return self.group(y, what, scope, types)
        m = self.c.mapping(y, f"a condition in {what}", allowed=("field", "op", "value"), required=("field", "op"))
        if m is None or "field" not in m or "op" not in m:
            return None
        left = self._field(m["field"], what, scope)
        op = self.c.one_of(
            m["op"], f"{what} op", OPERATORS, lambda op: f"{what}: unknown operator {op!r}", "an operator"
        )
        if op is None:
            return None
        value = self._value(m, op, what, scope)
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

    def _field(self, y: Y, what: str, scope: StaticScope) -> tuple[str, ...] | None:
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

    def _value(self, m: dict[str, Y], op: str, what: str, scope: StaticScope) -> Any:
        """The value's template(s), None for a unary operator, False when it is wrong."""
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
