"""The engine against the in-process sandbox: each node kind, branches, filters, runs, resumption,
dry runs, failure alerts, dedupe and the updated/deleted events."""

from __future__ import annotations

import pytest
from flowtest_support import SEED_FLOWS, FailFirst, engine_of

from groupmsg.app.types import SendOptions
from groupmsg.errors import BadInput, ValidationError
from groupmsg.flows import loader
from groupmsg.flows.tables import Tables
from groupmsg.state.model import Group

FORM = """
version: 1
forms:
  - name: 工单
    fields:
      - {name: 标题, type: text, required: true}
      - {name: 级别, type: select, options: [P0, P1, P2], default: P2}
      - {name: 金额, type: number}
      - {name: 群, type: text, default: 研发群}
  - name: 统计
    fields:
      - {name: 标题, type: text}
      - {name: 次数, type: number}
flows:
"""


def model_of(write_flows, flows: str):
    return loader.load(write_flows(FORM + flows))


def steps(run):
    return [(s.name, s.status) for s in run.steps]


@pytest.fixture
def groups(app, sandbox):
    """Two app groups the sandbox knows, registered by name."""
    for name in ("研发群", "运维群"):
        chat = sandbox.add_chat(name=name, owner="demo-user")
        app.state.registry.add(
            Group(name=name, kind="app", chat_id=chat["chat_id"], open_conversation_id=chat["open_conversation_id"])
        )
    return {g.name: g for g in app.state.registry.list()}


# --- the seed scenario ----------------------------------------------------------------------------


def test_seed_create_then_send(app, sandbox, monkeypatch):
    monkeypatch.setenv("GROUPMSG_FLOWS", str(SEED_FLOWS))
    model = loader.load(SEED_FLOWS)
    created = engine_of(app, model).submit("创建群聊", {"群名": "项目A", "群主": "demo-user", "成员": "u2,u3"})
    (outcome,) = created.outcomes
    assert outcome.status == "succeeded" and steps(outcome.run) == [("建群", "succeeded"), ("记录群", "succeeded")]
    group = app.state.registry.get("项目A")
    chat = next(c for c in sandbox.chats() if c["name"] == "项目A")
    assert group.chat_id == chat["chat_id"] and group.source.startswith("flow")
    assert set(chat["members"]) >= {"demo-user", "u2", "u3"}

    sent = engine_of(app, model).submit("群消息内容录入表", {"消息内容": "今晚八点发版", "选择群聊": "项目A"})
    assert sent.event.record.values["群ID"] == group.chat_id
    (outcome,) = sent.outcomes
    assert outcome.status == "succeeded"
    (message,) = sandbox.messages()
    assert (message["chat_id"], message["content"], message["msgtype"]) == (group.chat_id, "今晚八点发版", "text")
    assert [r.id for r in app.state.records.list("群消息内容录入表")] == [sent.event.record.id]
    run = app.state.runs.get(outcome.run.id)
    assert run.kind == "flow" and run.name == "发送群消息" and run.record_id == sent.event.record.id
    assert run.status == "succeeded" and run.steps[0].outputs["message_id"]


# --- nodes ---------------------------------------------------------------------------------------


def test_send_text_and_markdown_with_fields(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 通知
    trigger: {form: 工单}
    nodes:
      - {kind: send_group_message, name: 文本, chat: "{{ 群 }}", text: "{{ 级别 }}：{{ 标题 }}"}
      - kind: send_group_message
        name: 卡片
        chat: 运维群
        markdown: true
        title: "工单 {{ 标题 }}"
        text: "### {{ 标题 }}\\n- 级别 **{{ 级别 }}**\\n- 记录 {{ record.id }}"
""",
    )
    result = engine_of(app, model).submit("工单", {"标题": "支付失败", "级别": "P0"})
    assert result.outcomes[0].status == "succeeded"
    text, card = sandbox.messages()
    assert (text["chat_id"], text["content"]) == (groups["研发群"].chat_id, "P0：支付失败")
    assert (card["chat_id"], card["msgtype"], card["title"]) == (groups["运维群"].chat_id, "markdown", "工单 支付失败")
    assert f"记录 {result.event.record.id}" in card["content"]


def test_send_to_an_unknown_group_fails_the_run_and_keeps_the_record(app, sandbox, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 通知, trigger: {form: 工单}, nodes: [{kind: send_group_message, chat: 无此群, text: hi}]}\n",
    )
    result = engine_of(app, model).submit("工单", {"标题": "x"})
    (outcome,) = result.failed
    step = outcome.run.steps[0]
    assert step.status == "failed" and "no group named '无此群'" in step.error["message"]
    assert step.inputs["chat"] == "无此群"
    assert app.state.records.list("工单")[0].id == result.event.record.id
    assert sandbox.messages() == []


def test_create_group_refuses_a_registered_name_unless_told_to_reuse(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 建
    trigger: {form: 工单}
    nodes:
      - {kind: create_group, name: 建群, group_name: "{{ 群 }}", owner: demo-user, members: [u1, "{{ 标题 }}"]}
  - name: 复用
    trigger: {form: 工单}
    nodes:
      - {kind: create_group, name: 建群, group_name: "{{ 群 }}", owner: demo-user, if_exists: reuse}
      - {kind: send_group_message, chat: "{{ nodes.建群.chat_id }}", text: 复用了}
""",
    )
    before = len(sandbox.chats())
    refused, reused = engine_of(app, model).submit("工单", {"标题": "u9"}).outcomes
    assert refused.status == "failed" and "already registered" in refused.run.steps[0].error["message"]
    assert reused.status == "succeeded" and reused.run.steps[0].outputs["created"] is False
    assert len(sandbox.chats()) == before
    assert sandbox.messages()[0]["chat_id"] == groups["研发群"].chat_id


def test_add_update_and_get_data_over_form_records(app, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 记
    trigger: {form: 工单}
    nodes:
      - {kind: get_data, name: 查, table: 统计, where: {标题: "{{ 标题 }}"}}
      - kind: branch
        name: 有没有
        branches:
          - name: 有
            when: {all: [{field: nodes.查.found, op: equals, value: "true"}]}
            nodes:
              - {kind: update_data, name: 加一, table: 统计, where: {标题: "{{ 标题 }}"}, values: {次数: "{{ 金额 }}"}}
          - name: 没有
            default: true
            nodes:
              - {kind: add_data, name: 新增, table: 统计, values: {标题: "{{ 标题 }}", 次数: 1}}
""",
    )
    first = engine_of(app, model).submit("工单", {"标题": "甲", "金额": "5"}).outcomes[0].run
    assert steps(first) == [("查", "succeeded"), ("有没有", "succeeded"), ("加一", "skipped"), ("新增", "succeeded")]
    assert first.steps[0].outputs["found"] is False
    second = engine_of(app, model).submit("工单", {"标题": "甲", "金额": "7"}).outcomes[0].run
    assert steps(second) == [("查", "succeeded"), ("有没有", "succeeded"), ("加一", "succeeded"), ("新增", "skipped")]
    assert second.steps[0].outputs["次数"] == 1 and second.steps[2].outputs == {"count": 1, "inserted": False}
    (row,) = app.state.records.list("统计")
    assert row.values == {"标题": "甲", "次数": 7} and row.source == "flow:记" and row.updated_at
    # Records written by nodes do not fire events: 统计 has no flow, but 工单's flow ran only twice.
    assert len(app.state.runs.list()) == 2


def test_update_data_when_nothing_matches(app, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 跳过
    trigger: {form: 工单}
    nodes: [{kind: update_data, table: 统计, where: {标题: "{{ 标题 }}"}, values: {次数: 1}}]
  - name: 插入
    trigger: {form: 工单}
    nodes: [{kind: update_data, table: 统计, where: {标题: "{{ 标题 }}"}, values: {次数: 2}, if_none: insert}]
  - name: 失败
    trigger: {form: 工单}
    nodes: [{kind: update_data, table: 统计, where: {标题: 不存在}, values: {次数: 3}, if_none: fail}]
""",
    )
    skipped, inserted, failed = engine_of(app, model).submit("工单", {"标题": "乙"}).outcomes
    assert skipped.run.steps[0].outputs == {"count": 0, "inserted": False}
    assert inserted.run.steps[0].outputs == {"count": 1, "inserted": True}
    assert (
        failed.status == "failed" and "no row of 统计 matches 标题 = '不存在'" in failed.run.steps[0].error["message"]
    )
    assert [r.values for r in app.state.records.list("统计")] == [{"标题": "乙", "次数": 2}]


def test_data_nodes_over_the_registry(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 登记
    trigger: {form: 工单}
    nodes:
      - {kind: get_data, name: 查群, table: groups, where: {name: "{{ 群 }}"}, if_none: fail}
      - {kind: add_data, name: 别名, table: groups, values: {name: "{{ 标题 }}", chat_id: "{{ nodes.查群.chat_id }}"}}
      - {kind: update_data, table: groups, where: {name: "{{ 标题 }}"}, values: {owner: demo-user}}
      - {kind: send_group_message, chat: "{{ 标题 }}", text: "别名 {{ nodes.别名.name }} → {{ nodes.查群.chat_id }}"}
""",
    )
    result = engine_of(app, model).submit("工单", {"标题": "研发"})
    assert result.outcomes[0].status == "succeeded", result.outcomes[0].run.steps
    alias = app.state.registry.get("研发")
    assert alias.chat_id == groups["研发群"].chat_id and alias.owner == "demo-user"
    assert sandbox.messages()[0]["content"] == f"别名 研发 → {alias.chat_id}"
    missing = engine_of(app, model).submit("工单", {"标题": "x", "群": "没有的群"}).outcomes[0]
    assert missing.status == "failed" and missing.run.steps[0].error["message"].startswith(
        "node 查群: no row of groups"
    )


def test_data_node_values_are_typed_as_the_target_field(app, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 坏, trigger: {form: 工单}, nodes: [{kind: add_data, table: 统计, values: {次数: '{{ 标题 }}'}}]}\n",
    )
    (outcome,) = engine_of(app, model).submit("工单", {"标题": "不是数字"}).outcomes
    assert "cannot write '不是数字' to 统计.次数" in outcome.run.steps[0].error["message"]


# --- branches and filters -------------------------------------------------------------------------

BRANCHES = """
  - name: 分派
    trigger: {form: 工单}
    nodes:
      - kind: branch
        name: 按级别
        branches:
          - name: 大额
            priority: 2
            when: {all: [{field: 金额, op: gte, value: 1000}]}
            nodes: [{kind: send_group_message, name: 发大额, chat: 运维群, text: 大额}]
          - name: 紧急
            priority: 1
            when: {any: [{field: 级别, op: equals, value: P0}, {field: 标题, op: contains, value: 故障}]}
            nodes: [{kind: send_group_message, name: 发紧急, chat: 运维群, text: 紧急}]
          - name: 其他
            default: true
            nodes: [{kind: send_group_message, name: 发其他, chat: 研发群, text: 其他}]
      - {kind: send_group_message, name: 收尾, chat: 研发群, text: "走了 {{ nodes.按级别.branch }}"}
"""


@pytest.mark.parametrize(
    ("values", "branch"),
    [
        ({"标题": "a", "级别": "P0", "金额": "5000"}, "紧急"),  # both match: priority 1 wins
        ({"标题": "a", "金额": "5000"}, "大额"),
        ({"标题": "线上故障"}, "紧急"),
        ({"标题": "a", "金额": "10"}, "其他"),  # nothing matches: the default branch
    ],
)
def test_the_highest_priority_matching_branch_runs(app, sandbox, groups, write_flows, values, branch):
    model = model_of(write_flows, BRANCHES)
    run = engine_of(app, model).submit("工单", values).outcomes[0].run
    taken = {"紧急": "发紧急", "大额": "发大额", "其他": "发其他"}[branch]
    assert run.step("1").outputs == {"branch": branch}
    assert [s.name for s in run.steps if s.status == "succeeded"] == ["按级别", taken, "收尾"]
    assert {s.name for s in run.steps if s.status == "skipped"} == {"发紧急", "发大额", "发其他"} - {taken}
    assert [m["content"] for m in sandbox.messages()] == [branch, f"走了 {branch}"]
    assert run.status == "succeeded"


def test_no_matching_branch_and_no_default_runs_nothing(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        BRANCHES.replace(
            "          - name: 其他\n            default: true\n            nodes: [{kind: send_group_message, name: 发其他, chat: 研发群, text: 其他}]\n",
            "",
        ),
    )
    run = engine_of(app, model).submit("工单", {"标题": "a"}).outcomes[0].run
    assert run.step("1").outputs == {"branch": None} and run.status == "succeeded"
    assert [m["content"] for m in sandbox.messages()] == ["走了 "]


def test_filters_and_enabled_decide_which_flows_run(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 只要紧急
    trigger: {form: 工单, filter: {all: [{field: 级别, op: equals, value: P0}]}}
    nodes: [{kind: send_group_message, chat: 研发群, text: 紧急}]
  - name: 停用的
    enabled: false
    trigger: {form: 工单}
    nodes: [{kind: send_group_message, chat: 研发群, text: 停用}]
  - name: 全部
    trigger: {form: 工单, filter: all}
    nodes: [{kind: send_group_message, chat: 研发群, text: 全部}]
""",
    )
    result = engine_of(app, model).submit("工单", {"标题": "a", "级别": "P1"})
    assert [(o.flow, o.status) for o in result.outcomes] == [("只要紧急", "not_matched"), ("全部", "succeeded")]
    assert [m["content"] for m in sandbox.messages()] == ["全部"]


def test_one_failing_flow_does_not_stop_the_next(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - {name: 坏, trigger: {form: 工单}, nodes: [{kind: send_group_message, chat: 无此群, text: x}]}
  - {name: 好, trigger: {form: 工单}, nodes: [{kind: send_group_message, chat: 研发群, text: y}]}
""",
    )
    result = engine_of(app, model).submit("工单", {"标题": "a"})
    assert [(o.flow, o.status) for o in result.outcomes] == [("坏", "failed"), ("好", "succeeded")]


def test_invalid_submissions_store_and_run_nothing(app, sandbox, write_flows):
    model = model_of(
        write_flows, "  - {name: 好, trigger: {form: 工单}, nodes: [{kind: send_group_message, chat: x, text: y}]}\n"
    )
    with pytest.raises(ValidationError):
        engine_of(app, model).submit("工单", {"级别": "P9"})
    with pytest.raises(BadInput, match="no form named '工单x'"):
        engine_of(app, model).submit("工单x", {})
    assert app.state.records.list("工单") == [] and app.state.runs.list() == [] and sandbox.messages() == []


# --- runs: recording, resuming ---------------------------------------------------------------------

WELCOME = """
  - name: 建群欢迎
    trigger: {form: 工单}
    nodes:
      - {kind: create_group, name: 建群, group_name: "{{ 标题 }}", owner: demo-user, members: [u1]}
      - {kind: add_data, name: 记录群, table: groups, values: {name: "{{ 标题 }}", chat_id: "{{ nodes.建群.chat_id }}"}}
      - {kind: send_group_message, name: 欢迎, chat: "{{ nodes.建群.chat_id }}", text: "欢迎加入 {{ 标题 }}"}
"""


def test_a_failed_send_resumes_without_creating_the_group_again(make_app, sandbox, write_flows):
    model = model_of(write_flows, WELCOME)
    flaky = make_app(FailFirst(sandbox.transport(), "/chat/send"))
    result = engine_of(flaky, model).submit("工单", {"标题": "新项目"})
    (outcome,) = result.failed
    run = flaky.state.runs.get(outcome.run.id)
    assert steps(run) == [("建群", "succeeded"), ("记录群", "succeeded"), ("欢迎", "failed")]
    assert run.steps[2].error["code"] == "34014" and run.status == "failed"
    chats_before = len(sandbox.chats())

    resumed = flaky.runs.retry(run.id, SendOptions())  # runs retry → Engine.resume for flow runs
    assert resumed.status == "succeeded"
    assert steps(resumed) == [("建群", "succeeded"), ("记录群", "succeeded"), ("欢迎", "succeeded")]
    assert [s.attempts for s in resumed.steps] == [1, 1, 2]
    assert len(sandbox.chats()) == chats_before  # no second DingTalk group
    assert [g.name for g in flaky.state.registry.list()] == ["新项目"]  # no second registry row
    (message,) = sandbox.messages()
    assert message["content"] == "欢迎加入 新项目" and message["chat_id"] == run.steps[0].outputs["chat_id"]
    assert flaky.state.runs.get(run.id).status == "succeeded"


def test_resume_uses_the_fixed_flows_file(app, sandbox, write_flows):
    broken = WELCOME.replace('chat: "{{ nodes.建群.chat_id }}", text', "chat: 不存在的群, text")
    model = model_of(write_flows, broken)
    run = engine_of(app, model).submit("工单", {"标题": "修好再发"}).failed[0].run
    assert run.steps[2].status == "failed"
    write_flows(FORM + WELCOME)  # the user fixes the chat and retries
    resumed = app.runs.retry(run.id, SendOptions())
    assert resumed.status == "succeeded" and sandbox.messages()[0]["content"] == "欢迎加入 修好再发"


def test_resume_refuses_when_the_flow_has_different_nodes(app, write_flows):
    broken = WELCOME.replace('chat: "{{ nodes.建群.chat_id }}", text', "chat: 不存在的群, text")
    run = engine_of(app, model_of(write_flows, broken)).submit("工单", {"标题": "改了"}).failed[0].run
    write_flows(FORM + WELCOME.replace("name: 欢迎", "name: 问候"))
    with pytest.raises(BadInput, match="has different nodes now"):
        app.runs.retry(run.id, SendOptions())


def test_steps_after_a_failure_are_skipped_and_run_on_resume(make_app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 两步
    trigger: {form: 工单}
    nodes:
      - {kind: send_group_message, name: 一, chat: 研发群, text: 一}
      - {kind: send_group_message, name: 二, chat: 研发群, text: 二}
""",
    )
    flaky = make_app(FailFirst(sandbox.transport(), "/chat/send"))
    run = engine_of(flaky, model).submit("工单", {"标题": "a"}).failed[0].run
    assert steps(run) == [("一", "failed"), ("二", "skipped")]
    assert run.steps[1].outputs == {"skipped": "not run: node 一 failed"}
    assert steps(flaky.runs.retry(run.id, SendOptions())) == [("一", "succeeded"), ("二", "succeeded")]
    assert [m["content"] for m in sandbox.messages()] == ["一", "二"]


def test_the_run_keeps_what_a_resume_needs(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 发, trigger: {form: 工单}, nodes: [{kind: send_group_message, chat: 研发群, text: '{{ 标题 }}'}]}\n",
    )
    result = engine_of(app, model).submit("工单", {"标题": "留档"})
    run = app.state.runs.get(result.outcomes[0].run.id)
    assert run.form == "工单" and run.record_id == result.event.record.id
    assert run.context["values"]["标题"] == "留档" and run.context["event"] == "created"
    assert run.steps[0].inputs["text"] == "留档" and run.steps[0].duration_ms is not None


# --- dry run -------------------------------------------------------------------------------------


def test_a_dry_run_shows_the_requests_and_changes_nothing(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows, WELCOME.replace('text: "欢迎加入 {{ 标题 }}"', 'text: "欢迎加入 {{ 标题 }}"') + BRANCHES
    )
    chats = len(sandbox.chats())
    result = engine_of(app, model).submit("工单", {"标题": "预演", "级别": "P0"}, dry_run=True)
    welcome, branches = result.outcomes
    kinds = [p["kind"] for p in welcome.previews]
    assert kinds == ["create_group", "add_data", "send_group_message"]
    create, add, send = welcome.previews
    assert create["request"]["url"].endswith("/v1.0/im/group/create")
    assert create["request"]["json"]["name"] == "预演"
    assert add["insert"]["chat_id"] == "<chat_id from 建群>"
    assert send["request"]["json"]["msg"]["text"]["content"] == "欢迎加入 预演"
    assert [p["node"] for p in branches.previews] == ["发紧急", "收尾"]
    assert branches.previews[0]["request"]["json"]["chatid"] == groups["运维群"].chat_id
    assert len(sandbox.chats()) == chats and sandbox.messages() == []
    assert app.state.runs.list() == [] and app.state.records.list("工单") == [] and app.state.registry.find("预演") is None


# --- failure alerts and dedupe ---------------------------------------------------------------------


def test_a_failed_run_alerts_the_named_group(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 会失败
    trigger: {form: 工单}
    on_failure: {notify: 运维群}
    nodes: [{kind: send_group_message, name: 发, chat: 无此群, text: x}]
  - name: 自定义提醒
    trigger: {form: 工单}
    on_failure: {notify: 运维群, text: "{{ flow.name }}/{{ failure.node }}/{{ failure.kind }}: {{ 标题 }}"}
    nodes: [{kind: send_group_message, name: 发2, chat: 无此群, text: x}]
""",
    )
    first, _second = engine_of(app, model).submit("工单", {"标题": "a"}).outcomes
    alert, custom = sandbox.messages()
    assert alert["chat_id"] == groups["运维群"].chat_id
    assert "会失败" in alert["content"] and "发" in alert["content"] and first.run.id in alert["content"]
    assert custom["content"] == "自定义提醒/发2/send_group_message: a"
    assert first.run.context["alert"] == {"group": "运维群", "status": "sent"}
    assert first.status == "failed"


def test_an_undeliverable_alert_never_hides_the_failure(app, sandbox, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 双重失败, trigger: {form: 工单}, on_failure: {notify: 也没有的群}, nodes: [{kind: send_group_message, chat: 无此群, text: x}]}\n",
    )
    (outcome,) = engine_of(app, model).submit("工单", {"标题": "a"}).outcomes
    run = app.state.runs.get(outcome.run.id)
    assert run.status == "failed" and "无此群" in run.steps[0].error["message"]
    assert run.context["alert"]["status"] == "failed" and "也没有的群" in run.context["alert"]["error"]


def test_dedupe_makes_a_repeat_a_no_op(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 一次, trigger: {form: 工单}, dedupe: '{{ 标题 }}', nodes: [{kind: send_group_message, chat: 研发群, text: '{{ 标题 }}'}]}\n",
    )
    first = engine_of(app, model).submit("工单", {"标题": "同一件事"}).outcomes[0]
    again = engine_of(app, model).submit("工单", {"标题": "同一件事"}).outcomes[0]
    other = engine_of(app, model).submit("工单", {"标题": "另一件事"}).outcomes[0]
    assert (first.status, again.status, other.status) == ("succeeded", "duplicate", "succeeded")
    assert again.run.id == first.run.id and again.note.startswith(f"already done: run {first.run.id}")
    assert [m["content"] for m in sandbox.messages()] == ["同一件事", "另一件事"]


# --- other events --------------------------------------------------------------------------------


def test_a_repeat_of_a_failed_deduplicated_run_resumes_it(make_app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        "  - {name: 一次, trigger: {form: 工单}, dedupe: '{{ 标题 }}', nodes: [{kind: send_group_message, chat: 研发群, text: '{{ 标题 }}'}]}\n",
    )
    flaky = make_app(FailFirst(sandbox.transport(), "/chat/send"))
    failed = engine_of(flaky, model).submit("工单", {"标题": "重试我"}).outcomes[0]
    again = engine_of(flaky, model).submit("工单", {"标题": "重试我"}).outcomes[0]
    assert (failed.status, again.status) == ("failed", "succeeded")
    assert again.run.id == failed.run.id and again.note.startswith(f"resumed run {failed.run.id}")
    assert [m["content"] for m in sandbox.messages()] == ["重试我"]


def test_updated_and_deleted_events(app, sandbox, groups, write_flows):
    model = model_of(
        write_flows,
        """
  - name: 改了
    trigger: {form: 工单, event: updated}
    nodes: [{kind: send_group_message, chat: 研发群, text: "改为 {{ 级别 }}"}]
  - name: 删了
    trigger: {form: 工单, event: 删除成功}
    nodes: [{kind: send_group_message, chat: 研发群, text: "删除 {{ 标题 }} {{ record.event }}"}]
""",
    )
    created = engine_of(app, model).submit("工单", {"标题": "甲"})
    assert created.ran == []
    record_id = created.event.record.id
    updated = engine_of(app, model).update_record("工单", record_id[-8:], {"级别": "P0"})
    assert updated.event.record.values["标题"] == "甲" and updated.event.record.values["级别"] == "P0"
    with pytest.raises(ValidationError):
        engine_of(app, model).update_record("工单", record_id, {"级别": "P9"})
    engine_of(app, model).delete_record("工单", record_id)
    assert [m["content"] for m in sandbox.messages()] == ["改为 P0", "删除 甲 deleted"]
    assert app.state.records.list("工单") == []


def test_tables_rows_are_newest_first(app, write_flows):
    model = model_of(write_flows, "")
    tables = Tables(app.state.registry, app.state.records, model)
    for n in range(3):
        tables.insert("统计", {"标题": "同名", "次数": n}, source="test")
    assert [r["次数"] for r in tables.find("统计", {"标题": "同名"})] == [2, 1, 0]
    assert tables.first("统计", {"标题": "同名"})["次数"] == 2
