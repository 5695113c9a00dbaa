"""Filling forms: each field type, each rule, defaults, options and data linkage."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from groupmsg.errors import ValidationError
from groupmsg.flows import forms, loader
from groupmsg.flows.model import Form
from groupmsg.flows.tables import Tables
from groupmsg.state.model import Group


class FakeTables:
    """A TableReader over plain rows (newest first), for rules that do not need storage."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.tables = tables or {}

    def first(self, table: str, where: dict[str, Any]) -> dict[str, Any] | None:
        for row in self.tables.get(table, []):
            if all(str(row.get(k)) == str(v) for k, v in where.items()):
                return row
        return None

    def column_values(self, table: str, column: str) -> list[str]:
        return list(dict.fromkeys(str(r[column]) for r in reversed(self.tables.get(table, [])) if r.get(column)))


GROUPS = FakeTables({"groups": [{"name": "项目B", "chat_id": "chatB"}, {"name": "项目A", "chat_id": "chatA"}]})


def form_of(fields: str, extra: str = "") -> Form:
    text = f"version: 1\nforms:\n  - name: 表\n    fields:\n{textwrap.indent(textwrap.dedent(fields).strip(), '      ')}\n{extra}"
    model = loader.load_text(text)
    return model.forms[0]


def fill(form: Form, tables: Any = GROUPS, **given: Any) -> dict[str, Any]:
    return forms.fill(form, given, tables)


def problems(form: Form, tables: Any = GROUPS, **given: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        fill(form, tables, **given)
    return info.value.problems


# --- types ---------------------------------------------------------------------------------------


def test_text_is_single_line_and_defaults_to_200_characters():
    form = form_of("- {name: 标题, type: text}")
    assert form.fields[0].max_length == 200
    assert fill(form, 标题="你好") == {"标题": "你好"}
    assert problems(form, 标题="一\n二") == [
        "标题: is single-line text and cannot contain line breaks (make it a textarea in the flows file)"
    ]
    assert problems(form, 标题="字" * 201) == ["标题: is 201 characters long; at most 200 are allowed"]


def test_textarea_keeps_line_breaks_and_has_no_default_cap():
    form = form_of("- {name: 内容, type: textarea}")
    assert fill(form, 内容="一\n二" * 3000)["内容"].count("\n") == 3000


def test_number_parses_and_honours_min_and_max():
    form = form_of("- {name: 金额, type: number, min: 0, max: 100}")
    assert fill(form, 金额="12") == {"金额": 12}
    assert fill(form, 金额="12.5") == {"金额": 12.5}
    assert problems(form, 金额="十二") == ["金额: '十二' is not a number"]
    assert problems(form, 金额="-1") == ["金额: -1 is less than the minimum 0"]
    assert problems(form, 金额="101") == ["金额: 101 is more than the maximum 100"]
    assert problems(form, 金额="nan") == ["金额: 'nan' is not a number"]


def test_date_is_iso():
    form = form_of("- {name: 日期, type: date}")
    assert fill(form, 日期="2026-03-01") == {"日期": "2026-03-01"}
    assert "is not a date: write YYYY-MM-DD" in problems(form, 日期="3月1日")[0]


def test_select_from_fixed_options_accepts_value_or_label():
    form = form_of("- {name: 级别, type: select, options: [{value: P0, label: 紧急}, {value: P1, label: 一般}]}")
    assert fill(form, 级别="P0") == {"级别": "P0"}
    assert fill(form, 级别="紧急") == {"级别": "P0"}
    assert problems(form, 级别="P9") == ["级别: 'P9' is not one of the options (P0, P1)"]


def test_select_from_the_registry_reads_live_options():
    form = form_of("- {name: 选择群聊, type: select, options_from: {table: groups, field: name}}")
    assert [o.value for o in forms.options(form.fields[0], GROUPS)] == ["项目A", "项目B"]
    assert fill(form, 选择群聊="项目A") == {"选择群聊": "项目A"}
    assert problems(form, 选择群聊="项目") == [
        "选择群聊: '项目' is not a registered group (did you mean '项目B' or '项目A'?)"
    ]
    assert problems(form, FakeTables(), 选择群聊="项目A") == [
        "选择群聊: '项目A' is not a registered group (there is no registered group yet)"
    ]


def test_multiselect_of_member_ids_splits_and_deduplicates():
    form = form_of("- {name: 成员, type: multiselect, required: true}")
    assert fill(form, 成员="u1, u2，u3\nu1") == {"成员": ["u1", "u2", "u3"]}
    assert fill(form, 成员=["u1", "u2,u4"]) == {"成员": ["u1", "u2", "u4"]}
    assert problems(form, 成员=" , ") == ["成员: is required"]


def test_multiselect_with_options_checks_each_value():
    form = form_of("- {name: 标签, type: multiselect, options: [前端, 后端]}")
    assert fill(form, 标签="前端,后端") == {"标签": ["前端", "后端"]}
    assert problems(form, 标签="前端,测试") == ["标签: '测试' is not one of the options (前端, 后端)"]


# --- rules ---------------------------------------------------------------------------------------


def test_required_means_not_blank():
    form = form_of("- {name: 消息内容, type: textarea, required: true}")
    assert problems(form) == ["消息内容: is required"]
    assert problems(form, 消息内容="   \n ") == ["消息内容: is required"]


def test_min_and_max_length_count_characters_not_bytes():
    form = form_of("- {name: 群名, type: text, min_length: 2, max_length: 4}")
    assert fill(form, 群名="项目群A") == {"群名": "项目群A"}
    assert problems(form, 群名="项") == ["群名: is 1 characters long; at least 2 are required"]
    assert problems(form, 群名="项目群AB") == ["群名: is 5 characters long; at most 4 are allowed"]


def test_readonly_fields_cannot_be_set_by_the_submitter():
    form = form_of("- {name: 编号, type: text, readonly: true, default: X-1}")
    assert fill(form) == {"编号": "X-1"}
    assert problems(form, 编号="X-2") == [
        "编号: is read-only and cannot be set by the submitter (it gets its default value; leave it out)"
    ]


def test_hidden_fields_take_their_default_but_may_be_set_by_scripts():
    form = form_of("- {name: 来源, type: text, hidden: true, default: cli}")
    assert fill(form) == {"来源": "cli"}
    assert fill(form, 来源="cron") == {"来源": "cron"}
    assert forms.missing_required(form, {}) == []


def test_unknown_fields_are_refused_with_a_suggestion():
    form = form_of("- {name: 消息内容, type: textarea}")
    assert problems(form, 消息内=" x") == ["消息内: form 表 has no such field (did you mean '消息内容'?)"]


def test_every_problem_is_reported_at_once():
    form = form_of(
        """
        - {name: 消息内容, type: textarea, required: true}
        - {name: 金额, type: number}
        - {name: 选择群聊, type: select, options_from: {table: groups, field: name}}
        """
    )
    found = problems(form, 金额="x", 选择群聊="无")
    assert [p.split(":")[0] for p in found] == ["消息内容", "金额", "选择群聊"]


# --- defaults -------------------------------------------------------------------------------------


def test_literal_and_template_defaults_apply_when_a_field_is_left_out():
    form = form_of(
        """
        - {name: 版本, type: text, required: true}
        - {name: 标题, type: text, default: "发布 {{ 版本 }}"}
        - {name: 数量, type: number, default: 3}
        - {name: 成员, type: multiselect, default: [u1, u2]}
        """
    )
    assert fill(form, 版本="v2") == {"版本": "v2", "标题": "发布 v2", "数量": 3, "成员": ["u1", "u2"]}
    assert fill(form, 版本="v2", 标题="自定义")["标题"] == "自定义"


def test_defaults_are_computed_after_the_fields_they_read():
    form = form_of(
        """
        - {name: 全称, type: text, default: "{{ 简称 }}（{{ 版本 }}）"}
        - {name: 简称, type: text, default: "{{ 版本 }}版"}
        - {name: 版本, type: text}
        """
    )
    assert fill(form, 版本="v3")["全称"] == "v3版（v3）"


SEED_FIELDS = """
- {name: 消息内容, type: textarea, required: true}
- {name: 选择群聊, type: select, required: true, options_from: {table: groups, field: name}}
- {name: 群ID, type: text, readonly: true, linkage: {table: groups, where: {name: "{{ 选择群聊 }}"}, take: chat_id}}
"""


def test_data_linkage_fills_the_chat_id_from_the_chosen_group():
    form = form_of(SEED_FIELDS)
    assert fill(form, 消息内容="hi", 选择群聊="项目A") == {"消息内容": "hi", "选择群聊": "项目A", "群ID": "chatA"}


def test_linkage_from_an_empty_field_leaves_it_empty():
    form = form_of(
        "- {name: 选择, type: text}\n- {name: ID, type: text, linkage: {table: groups, where: {name: '{{ 选择 }}'}, take: chat_id}}"
    )
    assert fill(form) == {"选择": None, "ID": None}


def test_linkage_that_matches_nothing_names_both_fields():
    form = form_of(
        "- {name: 群名, type: text}\n- {name: 群ID, type: text, linkage: {table: groups, where: {name: '{{ 群名 }}'}, take: chat_id}}"
    )
    (problem,) = problems(form, 群名="项目Z")
    assert problem.startswith("群ID: data linkage from 群名 found no row in groups where name = '项目Z'")
    assert "群ID cannot be filled" in problem and "check the value of 群名" in problem


def test_linkage_does_not_pile_onto_its_source_field_problem():
    form = form_of(SEED_FIELDS)
    assert problems(form, 消息内容="hi", 选择群聊="未注册") == [
        "选择群聊: '未注册' is not a registered group (use a registered group: 项目A, 项目B)"
    ]


def test_a_required_linked_field_explains_an_empty_link():
    tables = FakeTables({"groups": [{"name": "机器人群", "chat_id": None}]})
    form = form_of(
        "- {name: 选择, type: text}\n"
        "- {name: 群ID, type: text, required: true, readonly: true, linkage: {table: groups, where: {name: '{{ 选择 }}'}, take: chat_id}}"
    )
    assert problems(form, tables, 选择="机器人群") == [
        "群ID: is required, and the data linkage from 选择 gave it no value (chat_id is empty)"
    ]


def test_linkage_with_several_matches_takes_the_most_recent_record(app, write_flows):
    path = write_flows(
        """
        version: 1
        forms:
          - name: 值班表
            fields:
              - {name: 级别, type: text}
              - {name: 值班群, type: text}
          - name: 工单
            fields:
              - {name: 级别, type: text}
              - {name: 值班群, type: text, readonly: true, linkage: {table: 值班表, where: {级别: "{{ 级别 }}"}, take: 值班群}}
        """
    )
    model = loader.load(path)
    tables = Tables(app.state.registry, app.state.records, model)
    tables.records.add("值班表", {"级别": "P0", "值班群": "旧群"})
    tables.records.add("值班表", {"级别": "P1", "值班群": "别的群"})
    tables.records.add("值班表", {"级别": "P0", "值班群": "新群"})
    assert forms.fill(model.form("工单"), {"级别": "P0"}, tables)["值班群"] == "新群"


def test_options_from_another_forms_records(app, write_flows):
    path = write_flows(
        """
        version: 1
        forms:
          - name: 项目
            fields: [{name: 项目名, type: text}]
          - name: 日报
            fields: [{name: 项目, type: select, options_from: {table: 项目, field: 项目名}}]
        """
    )
    model = loader.load(path)
    tables = Tables(app.state.registry, app.state.records, model)
    for name in ("甲", "乙", "甲"):
        tables.records.add("项目", {"项目名": name})
    assert [o.value for o in forms.options(model.form("日报").fields[0], tables)] == ["甲", "乙"]


def test_registry_options_come_from_the_real_registry(app, write_flows):
    model = loader.load_text(
        "version: 1\nforms:\n  - name: f\n    fields: [{name: g, type: select, options_from: {table: groups, field: name}}]\n"
    )
    app.state.registry.add(Group(name="项目A", kind="app", chat_id="chat1"))
    app.state.registry.add(Group(name="项目B", kind="app", chat_id="chat2"))
    assert [o.value for o in forms.options(model.forms[0].fields[0], Tables(app.state.registry, app.state.records, model))] == ["项目A", "项目B"]
