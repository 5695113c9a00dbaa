"""The template syntax: parsing, rendering, and the static checks `flows check` relies on."""

from __future__ import annotations

import pytest

from groupmsg.flows.templating import (
    SYSTEM_REFS,
    Ref,
    Scope,
    StaticScope,
    TemplateSyntaxError,
    parse,
    to_text,
)


def render(source: str, **fields: object) -> object:
    scope = Scope(fields=fields, nodes={"建群": {"chat_id": "chat1", "created": True}}, system={"run": {"id": "r1"}})
    return parse(source).render(scope.lookup)


def test_text_and_references_are_split():
    t = parse("群 {{ 群名 }} 的 ID 是 {{nodes.建群.chat_id}}")
    assert t.refs == (Ref(("群名",)), Ref(("nodes", "建群", "chat_id")))
    assert render(t.source, 群名="项目A") == "群 项目A 的 ID 是 chat1"


def test_a_lone_reference_keeps_its_type():
    assert render("{{ 成员 }}", 成员=["u1", "u2"]) == ["u1", "u2"]
    assert render("{{ 金额 }}", 金额=12.5) == 12.5
    assert render("成员: {{ 成员 }}", 成员=["u1", "u2"]) == "成员: u1, u2"


def test_missing_values_render_empty_and_numbers_render_plainly():
    assert render("[{{ 备注 }}]") == "[]"
    assert render("{{ 数量 }} 个", 数量=3.0) == "3 个"
    assert to_text(True) == "true"
    assert to_text(None) == ""


def test_system_references():
    assert render("run {{ run.id }}") == "run r1"


def test_escaped_braces_are_literal():
    assert render("\\{{ 不是引用 }}") == "{{ 不是引用 }}"


@pytest.mark.parametrize(
    ("source", "column", "words"),
    [
        ("hello {{ 群名", 7, "not closed"),
        ("{{ }}", 1, "empty reference"),
        ("a {{ nodes..x }}", 3, "empty part"),
        ("{{ a { b }}", 1, "brace"),
    ],
)
def test_syntax_errors_say_where(source: str, column: int, words: str):
    with pytest.raises(TemplateSyntaxError) as info:
        parse(source)
    assert info.value.column == column
    assert words in info.value.message


def test_templates_cannot_reach_python():
    # No attribute access, calls or indexing: these are names that simply do not exist.
    scope = StaticScope(fields=("消息内容",), where="form f", namespaces=SYSTEM_REFS, in_flow=True)
    for source in ("{{ __class__ }}", "{{ 消息内容.__class__ }}", "{{ run.__init__ }}", "{{ nodes.x.__dict__ }}"):
        ref = parse(source).refs[0]
        assert scope.problem(ref) is not None, source
    # Rendering never evaluates anything either.
    assert render("{{ __import__ }}") is None
    assert render("x{{ __import__ }}x") == "xx"


def test_static_scope_explains_unknown_references():
    scope = StaticScope(
        fields=("消息内容", "选择群聊"),
        where="form 群消息内容录入表",
        nodes={"建群": ("chat_id",)},
        later_nodes=("发送",),
        namespaces=SYSTEM_REFS,
        in_flow=True,
    )
    assert scope.problem(Ref(("消息内容",))) is None
    assert scope.problem(Ref(("nodes", "建群", "chat_id"))) is None
    message, fix = scope.problem(Ref(("消息内",)))  # type: ignore[misc]
    assert "has no field '消息内'" in message and "消息内容" in fix
    message, fix = scope.problem(Ref(("nodes", "建群", "chatid")))  # type: ignore[misc]
    assert "no output 'chatid'" in message and "chat_id" in fix
    message, _ = scope.problem(Ref(("nodes", "发送", "message_id")))  # type: ignore[misc]
    assert "has not run at this point" in message
    message, _ = scope.problem(Ref(("record", "title")))  # type: ignore[misc]
    assert "unknown reference" in message
