"""The flows file: the seed and the examples load; every mistake is reported at once with its
line and fix; no YAML input produces anything but a ValidationError."""

from __future__ import annotations

import os
import textwrap

import pytest
import yaml
from flowtest_support import EXAMPLES, SEED_FLOWS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from groupmsg.errors import BadInput, GroupmsgError, ValidationError
from groupmsg.flows import loader
from groupmsg.flows.model import (
    AddData,
    Branch,
    CreateGroup,
    GetData,
    Linkage,
    SendGroupMessage,
    UpdateData,
)


def problems(text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        loader.load_text(textwrap.dedent(text).lstrip(), "f.yaml")
    return info.value.problems


def test_the_seed_file_reproduces_the_yida_scenario():
    model = loader.load(SEED_FLOWS)
    create, message = model.form("创建群聊"), model.form("群消息内容录入表")
    assert create is not None and message is not None
    assert [f.name for f in create.fields][:3] == ["群名", "群主", "成员"]
    body, choice, chat_id = message.fields
    assert (body.name, body.type, body.required) == ("消息内容", "textarea", True)
    assert (choice.type, choice.options_from.table, choice.options_from.column) == ("select", "groups", "name")
    assert chat_id.readonly and isinstance(chat_id.default, Linkage) and chat_id.default.take == "chat_id"
    flow = model.flow("创建群聊")
    assert [type(n) for n in flow.nodes] == [CreateGroup, AddData]
    send = model.flow("发送群消息")
    assert send.trigger.events == ("created",) and send.trigger.filter is None
    assert [type(n) for n in send.nodes] == [SendGroupMessage]
    assert send.nodes[0].chat.source == "{{ 群ID }}" and send.nodes[0].text.source == "{{ 消息内容 }}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_checks(path):
    model = loader.load(path)
    assert model.flows


def test_examples_cover_filters_branches_markdown_and_alerts():
    models = [loader.load(p) for p in EXAMPLES]
    flows = [f for m in models for f in m.flows]
    assert any(f.trigger.filter is not None for f in flows)
    assert any(isinstance(n, Branch) for f in flows for n in f.all_nodes())
    assert any(isinstance(n, SendGroupMessage) and n.markdown for f in flows for n in f.all_nodes())
    assert any(f.on_failure is not None for f in flows)
    kinds = {type(n) for f in flows for n in f.all_nodes()}
    assert {GetData, UpdateData} <= kinds


def test_doctor_can_check_that_named_groups_are_registered(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(
        textwrap.dedent(
            """
            version: 1
            forms: [{name: 表, fields: [{name: 群, type: text}]}]
            flows:
              - name: 流
                trigger: {form: 表}
                on_failure: {notify: 运维群}
                nodes:
                  - {kind: send_group_message, name: 甲, chat: 财务群, text: x}
                  - {kind: send_group_message, name: 乙, chat: "{{ 群 }}", text: x}
                  - {kind: send_group_message, name: 丙, chat: chat0123, text: x}
            """
        ).lstrip(),
        encoding="utf-8",
    )
    assert loader.load_flows(path).flows  # without registry names: the plain check
    assert loader.load_flows(path, registry_names=["财务群", "运维群"]).flows
    with pytest.raises(ValidationError) as info:
        loader.load_flows(path, registry_names=["财务群"])
    assert info.value.problems == [
        f"{path}:6: flow 流 on_failure sends to '运维群', which is not in the registry — "
        "fix: register it (`groupmsg groups add 运维群 --chat-id …`) or fix the name"
    ]


def test_a_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(BadInput) as info:
        loader.load(tmp_path / "nope.yaml")
    assert "no flows file" in info.value.message and "GROUPMSG_FLOWS" in (info.value.hint or "")


BROKEN = """
version: 1
forms:
  - name: 表
    fields:
      - {name: 内容, type: textarea, required: true}
      - {name: 选择, type: select, options_from: {table: 群表, field: name}}
      - {name: 内容, type: text}
      - {name: 数, type: nubmer}
flows:
  - name: 通知
    trigger: {form: 表, event: created, filter: {all: [{field: 内容, op: equal, value: x}]}}
    nodes:
      - kind: send_mesage
        chat: x
      - kind: send_group_message
        chat: 群
        text: "{{ 内容x }}"
  - name: 通知
    trigger: {form: 表}
    nodes:
      - {kind: send_group_message, chat: 群, text: hi}
"""


def test_every_problem_at_once_with_its_line_and_fix():
    found = problems(BROKEN)
    expected = [
        ("f.yaml:6:", "options_from table '群表' does not exist"),
        ("f.yaml:7:", "duplicate field in form 表: '内容' (first at line 5)"),
        ("f.yaml:8:", "field type 'nubmer' is not one of"),
        ("f.yaml:11:", "unknown operator 'equal'"),
        ("f.yaml:13:", "unknown node kind 'send_mesage'"),
        ("f.yaml:17:", "{{ 内容x }}: form 表 has no field '内容x'"),
        ("f.yaml:18:", "duplicate flow name '通知' (first at line 10)"),
    ]
    for prefix, words in expected:
        assert any(p.startswith(prefix) and words in p for p in found), (prefix, words, found)
    assert len(found) == len(expected)
    fixes = "\n".join(found)
    assert "did you mean 'equals'" in fixes
    assert "did you mean 'send_group_message'" in fixes
    assert "did you mean '内容'" in fixes
    assert "did you mean 'number'" in fixes


def test_the_error_message_lists_every_problem():
    with pytest.raises(ValidationError) as info:
        loader.load_text(textwrap.dedent(BROKEN).lstrip(), "f.yaml")
    assert info.value.message.startswith("f.yaml has 7 problems:")
    assert all(p in info.value.message for p in info.value.problems)
    assert "flows check" in (info.value.hint or "")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("version: 2\n", 1, "unsupported version 2"),
        ("forms: []\n", 1, "needs `version:`"),
        ("version: 1\nfoo: 1\n", 2, "unknown key 'foo'"),
        ("version: 1\nversion: 1\n", 2, "duplicate key 'version'"),
        ("version: 1\nforms: {a: 1}\n", 2, "forms must be a list"),
        ("version: 1\nforms: [\n", 3, "not valid YAML"),
        ("version: !!binary aGk=\n", 1, "unsupported YAML tag"),
        ("", 1, "the file is empty"),
    ],
)
def test_file_level_problems(text: str, line: int, words: str):
    found = problems(text)
    assert any(p.startswith(f"f.yaml:{line}:") and words in p for p in found), found


FORM_HEAD = """
version: 1
forms:
  - name: 群消息内容录入表
    fields:
"""


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ("- {name: a, type: select}", "a select needs `options:` or `options_from:`"),
        ("- {name: a, type: text, options: [x]}", "options apply to select and multiselect"),
        ("- {name: a, type: select, options_from: {table: groups, field: 群名}}", "groups has no column '群名'"),
        ("- {name: a, type: select, options_from: {table: 无此表, field: x}}", "table '无此表' does not exist"),
        ("- {name: a, type: number, max_length: 3}", "max_length applies to text and textarea"),
        ("- {name: a, type: text, min: 3}", "min applies to number fields"),
        ("- {name: a, type: text, min_length: 5, max_length: 2}", "min_length 5 is more than max_length 2"),
        ("- {name: a, type: number, default: abc}", "default: 'abc' is not a number"),
        ("- {name: a, type: select, options: [x, y], default: z}", "default 'z' is not one of the options"),
        ("- {name: a.b, type: text}", "contains '.'"),
        ("- {name: nodes, type: text}", "'nodes' is reserved"),
        ("- {name: a, type: text, default: '{{ b }}'}", "has no field 'b'"),
        (
            "- {name: a, type: text, linkage: {table: groups, where: {name: '{{ b }}'}, take: chat_id}}",
            "has no field 'b'",
        ),
        (
            "- {name: b, type: text}\n      - {name: a, type: text, linkage: {table: groups, where: {name: '{{ b }}'}, take: 群ID}}",
            "groups has no column '群ID'",
        ),
        (
            "- {name: a, type: text, default: x, linkage: {table: groups, where: {name: x}, take: name}}",
            "either default or linkage",
        ),
        (
            "- {name: a, type: text, default: '{{ b }}'}\n      - {name: b, type: text, default: '{{ a }}'}",
            "cycle: a → b → a",
        ),
        ("- {name: a, type: text, required: maybe}", "required must be true or false"),
    ],
)
def test_field_problems(fields: str, words: str):
    found = problems(FORM_HEAD + "      " + fields + "\n")
    assert any(words in p for p in found), found


def flow_text(nodes: str, extra_fields: str = "") -> str:
    return f"""
version: 1
forms:
  - name: 表
    fields:
      - {{name: 内容, type: textarea}}
      - {{name: 金额, type: number}}
      - {{name: 级别, type: select, options: [a, b]}}
{extra_fields}
flows:
  - name: 流
    trigger: {{form: 表}}
    nodes:
{textwrap.indent(textwrap.dedent(nodes).strip(), "      ")}
"""


@pytest.mark.parametrize(
    ("nodes", "words"),
    [
        ("- {kind: send_group_message, chat: 群}", "needs `text:`"),
        ("- {kind: send_group_message, chat: 群, text: hi, markdown: true}", "markdown message needs a `title:`"),
        ("- {kind: send_group_message, chat: 群, text: hi, colour: red}", "unknown key 'colour'"),
        ("- {kind: send_group_message, chat: 群, text: '{{ nodes.建群.chat_id }}'}", "no node named '建群'"),
        (
            "- {kind: send_group_message, chat: 群, text: '{{ nodes.后.chat_id }}'}\n"
            "- {kind: get_data, name: 后, table: groups, where: {name: x}}",
            "node '后' has not run at this point",
        ),
        (
            "- {kind: get_data, name: 查, table: groups, where: {name: x}}\n"
            "- {kind: send_group_message, chat: 群, text: '{{ nodes.查.chatid }}'}",
            "has no output 'chatid'",
        ),
        ("- {kind: add_data, table: groups, values: {name: x}}", "needs `name` and `chat_id`"),
        ("- {kind: add_data, table: groups, values: {name: x, chat_id: y, kind: z}}", "no writable column 'kind'"),
        ("- {kind: add_data, table: 表, values: {内容x: y}}", "表 has no writable column '内容x'"),
        ("- {kind: update_data, table: 表, where: {}, values: {内容: x}}", "needs at least one"),
        ("- {kind: get_data, table: groups, where: {name: x}, if_none: maybe}", "if_none 'maybe' is not one of"),
        ("- {kind: create_group, group_name: x, owner: y, if_exists: merge}", "if_exists 'merge' is not one of"),
        ("- {kind: create_group, owner: y}", "needs `group_name:`"),
        ("- {kind: branch, branches: [{name: x, nodes: []}]}", "needs `when:` conditions"),
        (
            "- {kind: branch, branches: [{default: true, nodes: []}, {default: true, nodes: []}]}",
            "more than one default branch",
        ),
        (
            "- kind: branch\n  branches:\n"
            "    - {name: x, priority: 1, when: {all: [{field: 级别, op: equals, value: a}]}, nodes: []}\n"
            "    - {name: y, priority: 1, when: {all: [{field: 级别, op: equals, value: b}]}, nodes: []}",
            "duplicate branch priority",
        ),
        (
            "- kind: branch\n  branches:\n    - {name: x, when: {all: [{field: 级别, op: gt, value: a}]}, nodes: []}",
            "gt compares numbers or dates, and 级别 is a select field",
        ),
        (
            "- kind: branch\n  name: 分\n  branches:\n"
            "    - {name: x, when: {all: [{field: 级别, op: equals, value: a}]}, "
            "nodes: [{kind: get_data, name: 内, table: groups, where: {name: x}}]}\n"
            "- {kind: send_group_message, chat: '{{ nodes.内.chat_id }}', text: hi}",
            "node '内' has not run at this point",
        ),
        (
            "- {kind: send_group_message, name: a, chat: x, text: y}\n- {kind: get_data, name: a, table: groups, where: {name: x}}",
            "duplicate node name",
        ),
    ],
)
def test_node_problems(nodes: str, words: str):
    found = problems(flow_text(nodes))
    assert any(words in p for p in found), found


@pytest.mark.parametrize(
    ("trigger", "words"),
    [
        ("{form: 无此表}", "trigger form '无此表' is not defined"),
        ("{form: 表, event: submitted}", "unknown event 'submitted'"),
        ("{form: 表, filter: some}", "must be `all`"),
        ("{form: 表, filter: {all: [{field: 金额, op: in, value: 3}]}}", "in needs a list of values"),
        ("{form: 表, filter: {all: [{field: 金额, op: is_empty, value: 3}]}}", "is_empty takes no value"),
        ("{form: 表, filter: {all: [{field: 金额, op: gt}]}}", "gt needs a `value:`"),
        ("{form: 表, filter: {all: [{field: 余额, op: gt, value: 1}]}}", "has no field '余额'"),
        ("{form: 表, filter: {any: []}}", "has no conditions"),
    ],
)
def test_trigger_problems(trigger: str, words: str):
    text = flow_text("- {kind: send_group_message, chat: 群, text: hi}").replace("{form: 表}", trigger)
    found = problems(text)
    assert any(words in p for p in found), found


def test_yida_event_names_and_all_data_are_accepted():
    text = flow_text("- {kind: send_group_message, chat: 群, text: hi}").replace(
        "{form: 表}", "{form: 表, event: [创建成功, 删除成功], filter: 全部数据}"
    )
    flow = loader.load_text(text).flows[0]
    assert flow.trigger.events == ("created", "deleted") and flow.trigger.filter is None


def test_node_ids_follow_the_document_and_branches_nest():
    text = flow_text(
        """
        - kind: branch
          name: 分
          branches:
            - {name: 甲, when: {all: [{field: 级别, op: equals, value: a}]}, nodes: [{kind: send_group_message, name: 发甲, chat: x, text: y}]}
            - {name: 乙, default: true, nodes: [{kind: send_group_message, name: 发乙, chat: x, text: y}]}
        - {kind: send_group_message, chat: x, text: "{{ nodes.分.branch }}"}
        """
    )
    flow = loader.load_text(text).flows[0]
    assert [(n.id, n.name) for n in flow.all_nodes()] == [
        ("1", "分"),
        ("1.1.1", "发甲"),
        ("1.2.1", "发乙"),
        ("2", "send_group_message-2"),
    ]


def test_anchors_and_merge_keys_work():
    text = """
    version: 1
    forms:
      - name: 表
        fields:
          - &base {name: 内容, type: textarea, required: true}
          - {<<: *base, name: 备注, required: false}
    """
    form = loader.load_text(textwrap.dedent(text)).form("表")
    assert [(f.name, f.type, f.required) for f in form.fields] == [
        ("内容", "textarea", True),
        ("备注", "textarea", False),
    ]


@pytest.mark.slow  # expands 100,000 YAML values before it stops
def test_alias_bombs_are_stopped():
    bomb = "version: 1\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefg":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    found = problems(bomb)
    assert any("too large once its aliases are expanded" in p for p in found), found


# --- fuzzing: no input ever escapes as anything but a ValidationError ------------------------------

SEED_TEXT = SEED_FLOWS.read_text(encoding="utf-8")
KEYWORDS = [
    "version",
    "forms",
    "flows",
    "name",
    "type",
    "fields",
    "nodes",
    "kind",
    "trigger",
    "filter",
    "all",
    "any",
    "op",
    "value",
    "field",
    "table",
    "where",
    "take",
    "linkage",
    "options_from",
    "branches",
    "default",
    "when",
    "priority",
    "send_group_message",
    "create_group",
    "add_data",
    "get_data",
    "update_data",
    "branch",
    "groups",
    "{{ 消息内容 }}",
    "{{ nodes.建群.chat_id }}",
    "{{",
    "}}",
    "text",
    "select",
    "multiselect",
    "number",
    "1",
    "-",
    ":",
    "[",
    "]",
    "{",
    "}",
    "&a",
    "*a",
    "<<",
    "!!str",
    "\n",
    "  ",
    "'",
    '"',
    "#",
    "true",
    "null",
    "~",
]


# FLOWS_FUZZ_EXAMPLES=5000 for a longer hunt than CI's default.
FUZZ = int(os.environ.get("FLOWS_FUZZ_EXAMPLES", "300"))


def _check(text: str) -> None:
    try:
        loader.load_text(text, "fuzz.yaml")
    except ValidationError as exc:
        assert exc.problems and all(p.startswith("fuzz.yaml:") for p in exc.problems)
    except GroupmsgError as exc:  # pragma: no cover - would be a bug: only ValidationError is expected
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}") from exc


@pytest.mark.slow
@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_fuzz_arbitrary_text(text: str):
    _check(text)


@pytest.mark.slow
@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(KEYWORDS) | st.text(max_size=6), max_size=60))
def test_fuzz_yaml_shaped_tokens(tokens: list[str]):
    _check(" ".join(tokens))


@pytest.mark.slow
@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_mutations_of_the_seed(data: st.DataObject):
    lines = SEED_TEXT.splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "dup", "replace", "indent", "token"]))
        if action == "drop":
            lines.pop(i)
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "indent":
            lines[i] = "  " + lines[i]
        elif action == "token":
            lines[i] += " " + data.draw(st.sampled_from(KEYWORDS))
        else:
            lines[i] = data.draw(st.text(max_size=30))
        if not lines:
            break
    _check("\n".join(lines))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(KEYWORDS) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYWORDS), children, max_size=4),
    max_leaves=30,
)


@pytest.mark.slow
@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_fuzz_structured_documents(doc: object):
    _check(yaml.safe_dump({"version": 1, "forms": doc, "flows": doc}, allow_unicode=True))
    _check(yaml.safe_dump(doc, allow_unicode=True))
