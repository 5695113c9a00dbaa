"""Evaluating trigger filters and branch conditions (数据过滤 / 条件分支).

Semantics, chosen to match what a form user means rather than Python's:
- empty means None, "", whitespace only, or an empty list; `is_empty` / `is_not_empty` test that;
- equals / not_equals compare numbers numerically when both sides are numbers (`3` equals `3.0`),
  otherwise as text; a list (multiselect) equals another list with the same items in any order;
- contains / not_contains: substring for text, membership for a list;
- gt / gte / lt / lte compare numbers, or ISO dates (YYYY-MM-DD); when either side is empty or the
  two cannot be compared, the condition is false (never an error in the middle of a run);
- in / not_in: the value is one of the listed values; for a list, any of its items is.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import Any

from .model import Condition, ConditionGroup
from .templating import Ref, Template, to_text

Lookup = Callable[[Ref], Any]


def matches(group: ConditionGroup | None, lookup: Lookup) -> bool:
    """True when `group` holds; None (全部数据) always holds."""
    if group is None:
        return True
    results = (
        matches(item, lookup) if isinstance(item, ConditionGroup) else holds(item, lookup) for item in group.items
    )
    return all(results) if group.mode == "all" else any(results)


def holds(cond: Condition, lookup: Lookup) -> bool:
    left = lookup(Ref(cond.field))
    if cond.op == "is_empty":
        return is_empty(left)
    if cond.op == "is_not_empty":
        return not is_empty(left)
    if isinstance(cond.value, tuple):
        right: Any = [t.render(lookup) for t in cond.value]
    else:
        assert isinstance(cond.value, Template)
        right = cond.value.render(lookup)
    return OPERATIONS[cond.op](left, right)


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple)):
        return len(value) == 0
    return False


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except ValueError:
        return None


def _date(value: Any) -> _dt.date | None:
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def _scalar_equals(a: Any, b: Any) -> bool:
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return na == nb
    return to_text(a).strip() == to_text(b).strip()


def equals(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)):
        items = b if isinstance(b, (list, tuple)) else [x for x in to_text(b).split(",") if x.strip()]
        return sorted(to_text(x).strip() for x in a) == sorted(to_text(x).strip() for x in items)
    if is_empty(a) and is_empty(b):
        return True
    return _scalar_equals(a, b)


def contains(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)):
        return any(_scalar_equals(x, b) for x in a)
    if is_empty(b):
        return True
    return to_text(b) in to_text(a)


def one_of(a: Any, values: Any) -> bool:
    pool = values if isinstance(values, (list, tuple)) else [values]
    items = a if isinstance(a, (list, tuple)) else [a]
    return any(_scalar_equals(x, v) for x in items if not is_empty(x) for v in pool)


def compare(a: Any, b: Any) -> int | None:
    """-1, 0, 1, or None when the two are not both numbers or both dates."""
    if is_empty(a) or is_empty(b):
        return None
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return (na > nb) - (na < nb)
    da, db = _date(a), _date(b)
    if da is not None and db is not None:
        return (da > db) - (da < db)
    return None


def _ordered(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def op(a: Any, b: Any) -> bool:
        c = compare(a, b)
        return c is not None and test(c)

    return op


OPERATIONS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": equals,
    "not_equals": lambda a, b: not equals(a, b),
    "contains": contains,
    "not_contains": lambda a, b: not contains(a, b),
    "gt": _ordered(lambda c: c > 0),
    "gte": _ordered(lambda c: c >= 0),
    "lt": _ordered(lambda c: c < 0),
    "lte": _ordered(lambda c: c <= 0),
    "in": one_of,
    "not_in": lambda a, b: not one_of(a, b),
}


def describe(group: ConditionGroup | None) -> str:
    """A one-line summary for listings: `全部数据` or `all(级别 equals 紧急, 金额 gt 1000)`."""
    if group is None:
        return "all data"
    inner = ", ".join(describe(i) if isinstance(i, ConditionGroup) else _describe_one(i) for i in group.items)
    return f"{group.mode}({inner})"


def _describe_one(cond: Condition) -> str:
    name = ".".join(cond.field)
    if cond.value is None:
        return f"{name} {cond.op}"
    if isinstance(cond.value, tuple):
        return f"{name} {cond.op} [{', '.join(t.source for t in cond.value)}]"
    return f"{name} {cond.op} {cond.value.source!r}"
