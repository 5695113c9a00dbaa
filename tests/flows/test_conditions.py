"""Every operator of trigger filters and branch conditions, and all/any groups."""

from __future__ import annotations

import pytest

from groupmsg.flows.conditions import describe, matches
from groupmsg.flows.model import Condition, ConditionGroup
from groupmsg.flows.templating import Scope, parse

VALUES = {
    "级别": "紧急",
    "金额": 1200,
    "备注": "  ",
    "标题": "发版通知：v2",
    "成员": ["u1", "u2"],
    "日期": "2026-03-01",
}


def cond(field: str, op: str, value: object = None) -> Condition:
    if isinstance(value, list):
        value = tuple(parse(str(v)) for v in value)
    elif value is not None:
        value = parse(str(value))
    return Condition(tuple(field.split(".")), op, value, line=1)  # type: ignore[arg-type]


def holds(c: Condition, values: dict[str, object] = VALUES) -> bool:
    return matches(ConditionGroup("all", (c,), 1), Scope(fields=values).lookup)


@pytest.mark.parametrize(
    ("field", "op", "value", "expected"),
    [
        ("级别", "equals", "紧急", True),
        ("级别", "equals", "普通", False),
        ("金额", "equals", "1200.0", True),  # numbers compare as numbers
        ("成员", "equals", "u2,u1", True),  # a list equals the same items in any order
        ("级别", "not_equals", "普通", True),
        ("级别", "not_equals", "紧急", False),
        ("标题", "contains", "发版", True),
        ("标题", "contains", "回滚", False),
        ("成员", "contains", "u2", True),  # membership for lists
        ("标题", "not_contains", "回滚", True),
        ("成员", "not_contains", "u1", False),
        ("备注", "is_empty", None, True),  # whitespace only is empty
        ("级别", "is_empty", None, False),
        ("缺失", "is_empty", None, True),
        ("成员", "is_not_empty", None, True),
        ("备注", "is_not_empty", None, False),
        ("金额", "gt", "1000", True),
        ("金额", "gt", "1200", False),
        ("金额", "gte", "1200", True),
        ("金额", "lt", "1200", False),
        ("金额", "lte", "1200", True),
        ("日期", "gt", "2026-02-28", True),  # ISO dates compare as dates
        ("日期", "lt", "2026-02-28", False),
        ("级别", "gt", "1", False),  # not comparable: false, never an error mid-run
        ("缺失", "lt", "5", False),  # empty: false
        ("级别", "in", ["紧急", "重要"], True),
        ("级别", "in", ["普通"], False),
        ("成员", "in", ["u9", "u2"], True),  # a list: any of its items
        ("级别", "not_in", ["普通"], True),
        ("级别", "not_in", ["紧急"], False),
    ],
)
def test_operator(field: str, op: str, value: object, expected: bool):
    assert holds(cond(field, op, value)) is expected


def test_value_may_be_a_template_over_other_fields():
    c = cond("金额", "gt", "{{ 上限 }}")
    assert holds(c, {**VALUES, "上限": 1000}) is True
    assert holds(c, {**VALUES, "上限": 5000}) is False


def test_all_needs_every_condition_any_needs_one():
    yes, no = cond("级别", "equals", "紧急"), cond("金额", "lt", "100")
    lookup = Scope(fields=VALUES).lookup
    assert matches(ConditionGroup("all", (yes, no), 1), lookup) is False
    assert matches(ConditionGroup("any", (yes, no), 1), lookup) is True
    nested = ConditionGroup("all", (yes, ConditionGroup("any", (no, yes), 1)), 1)
    assert matches(nested, lookup) is True


def test_no_filter_means_all_data():
    assert matches(None, Scope(fields={}).lookup) is True
    assert describe(None) == "all data"
    assert describe(ConditionGroup("any", (cond("级别", "in", ["紧急", "重要"]),), 1)) == "any(级别 in [紧急, 重要])"


def test_node_outputs_can_be_tested():
    c = cond("nodes.查群.found", "equals", "true")
    scope = Scope(fields={}, nodes={"查群": {"found": True}})
    assert matches(ConditionGroup("all", (c,), 1), scope.lookup) is True
