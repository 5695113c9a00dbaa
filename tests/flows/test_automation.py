"""The rest of Yida's automation, end to end through the CLI and the sandbox: manual runs
(自定义按钮触发), parallel branches (并行分支), delete_data (删除数据), several events on one
trigger, 「允许自动触发」 with its chain limit, the run log's filters, and what `flows check` says."""

from __future__ import annotations

import json
import re

import pytest
from flowtest_support import FailFirst

RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"


@pytest.fixture
def chats(cli, creds, sandbox):
    ids = {}
    for name in ("研发群", "运维群", "值班群"):
        ids[name] = sandbox.add_chat(name=name, owner="demo-user")["chat_id"]
        assert cli("groups", "add", name, "--chat-id", ids[name]).exit_code == 0
    return ids


def sent(sandbox, chats) -> list[tuple[str, str]]:
    names = {v: k for k, v in chats.items()}
    return [(names.get(m["chat_id"], m["chat_id"]), m["content"]) for m in sandbox.messages()]


def runs(cli, *args: str) -> list[dict]:
    r = cli("runs", "list", "--limit", "0", "--json", *args)
    assert (r.exit_code, r.stderr) == (0, "")
    return json.loads(r.stdout)


# --- manual flows -----------------------------------------------------------------------------------

MANUAL = """
version: 1
forms:
  - name: 公告
    fields:
      - {name: 内容, type: textarea, required: true}
      - {name: 群, type: select, options: [研发群, 运维群], default: 研发群}
flows:
  - name: 发公告
    trigger: {manual: true, form: 公告}
    nodes:
      - {kind: send_group_message, name: 发送, chat: "{{ 群 }}", text: "【公告】{{ 内容 }} {{ record.event }}"}
  - name: 打卡提醒
    trigger: manual
    nodes:
      - {kind: send_group_message, name: 提醒, chat: 值班群, text: "{{ flow.name }}: 请打卡"}
  - name: 停用的
    enabled: false
    trigger: manual
    nodes:
      - {kind: send_group_message, chat: 值班群, text: x}
  - name: 记录公告
    trigger: {form: 公告, event: created}
    nodes:
      - {kind: send_group_message, chat: 运维群, text: "新公告 {{ 内容 }}"}
"""


def test_a_manual_flow_runs_with_its_forms_fields_and_stores_nothing(cli, chats, sandbox, write_flows) -> None:
    write_flows(MANUAL)
    r = cli("flows", "run", "发公告", "-f", "内容=今晚发版")
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(rf"flow 发公告: succeeded \(run {RUN_ID}\)\n  succeeded 发送  sent to 研发群 \(chat\)\n", r.stdout)
    assert sent(sandbox, chats) == [("研发群", "【公告】今晚发版 manual")]
    assert cli("forms", "records", "公告").stderr.startswith("no records in 公告 yet")  # not stored, no event fired
    (run,) = runs(cli, "--flow", "发公告")
    assert (run["record_id"], run["form"], run["context"]["event"]) == (None, "公告", "manual")
    r = cli("runs", "show", run["id"])
    assert "run by hand (flows run)\n" in r.stdout

    r = cli("flows", "run", "打卡提醒", "--json")
    assert (r.exit_code, r.stderr) == (0, "")
    doc = json.loads(r.stdout)
    assert (doc["event"], doc["form"], doc["flows"][0]["status"]) == ("manual", None, "succeeded")
    assert sent(sandbox, chats)[-1] == ("值班群", "打卡提醒: 请打卡")


def test_a_manual_flow_on_a_stored_record(cli, chats, sandbox, write_flows) -> None:
    write_flows(MANUAL)
    r = cli("submit", "公告", "-f", "内容=周五团建", "-f", "群=运维群")
    record_id = re.search(r"stored record (FINST-\S+)", r.stdout).group(1)
    r = cli("flows", "run", "发公告", "--record", record_id[-8:])
    assert (r.exit_code, r.stderr) == (0, "") and "sent to 运维群" in r.stdout
    assert sent(sandbox, chats) == [("运维群", "新公告 周五团建"), ("运维群", "【公告】周五团建 manual")]
    by_record = runs(cli, "--record", record_id[-8:])
    assert [r["name"] for r in by_record] == ["发公告", "记录公告"]
    r = cli("runs", "show", by_record[0]["id"])
    assert f"run by hand (flows run) on record {record_id}\n" in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (("发公告",), 2, "Error: 公告: 1 problem; nothing was stored or sent:\n  内容: is required\n"),
        (("发公告", "-f", "内容=x", "-f", "群=财务群"), 2,
         "Error: 公告: 1 problem; nothing was stored or sent:\n  群: '财务群' is not one of the options (研发群, 运维群)\n"),
        (("打卡提醒", "-f", "内容=x"), 2, "Error: flow 打卡提醒 takes no fields: its manual trigger names no form\n"
                                            "  Hint: give its trigger a form whose fields it takes: {manual: true, form: FORM}\n"),
        (("发公告", "--record", "FINST-x", "-f", "内容=x"), 2, "Error: give --record or --field, not both\n"),
        (("记录公告",), 2, "Error: flow 记录公告 is not a manual flow: it runs on created of form 公告\n"
                           "  Hint: only flows with `trigger: manual` run with `groupmsg flows run`\n"),
        (("停用的",), 3, "Error: flow 停用的 is disabled\n  Hint: set `enabled: true` on it to run it\n"),
        (("发公吿",), 2, "Error: no flow named '发公吿' in "),
    ],
)
def test_what_flows_run_refuses(cli, chats, sandbox, write_flows, args, code, stderr) -> None:
    write_flows(MANUAL)
    r = cli("flows", "run", *args)
    assert (r.exit_code, r.stdout) == (code, "")
    assert r.stderr.startswith(stderr), r.stderr
    assert sandbox.messages() == [] and runs(cli) == []


def test_a_manual_dry_run(cli, chats, sandbox, write_flows) -> None:
    write_flows(MANUAL)
    r = cli("flows", "run", "发公告", "-f", "内容=预演", "--dry-run")
    assert r.exit_code == 0 and r.stderr == "dry run: nothing was stored, sent or recorded\n"
    doc = json.loads(r.stdout)
    assert doc["flows"][0]["status"] == "would succeed"
    assert doc["flows"][0]["would"][0]["request"]["json"]["msg"]["text"]["content"] == "【公告】预演 manual"
    assert sandbox.messages() == [] and runs(cli) == []


# --- parallel branches --------------------------------------------------------------------------------

PARALLEL = """
version: 1
forms:
  - name: 事故
    fields:
      - {name: 标题, type: text, required: true}
      - {name: 级别, type: select, options: [P0, P1, P2], default: P2}
  - name: 事故台账
    fields:
      - {name: 标题, type: text}
flows:
  - name: 事故通报
    trigger: {form: 事故, event: created}
    nodes:
      - kind: branch
        name: 同时通知
        mode: parallel
        branches:
          - name: 研发
            nodes:
              - {kind: send_group_message, name: 通知研发, chat: 研发群, text: "研发：{{ 标题 }}"}
          - name: 运维
            when: {all: [{field: 级别, op: in, value: [P0, P1]}]}
            nodes:
              - {kind: send_group_message, name: 通知运维, chat: 运维群, text: "运维：{{ 标题 }}"}
              - {kind: add_data, name: 记台账, table: 事故台账, values: {标题: "{{ 标题 }}"}}
          - name: 值班
            when: {all: [{field: 级别, op: equals, value: P0}]}
            nodes:
              - {kind: send_group_message, name: 通知值班, chat: 值班群, text: "值班：{{ 标题 }}"}
      - {kind: send_group_message, name: 汇总, chat: 研发群, text: "已通知：{{ nodes.同时通知.branches }}"}
"""


def test_every_branch_whose_conditions_hold_runs_in_order(cli, chats, sandbox, write_flows) -> None:
    write_flows(PARALLEL)
    r = cli("submit", "事故", "-f", "标题=支付超时", "-f", "级别=P1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.split("\n", 2)[2] == (
        "  succeeded 同时通知  took branches 研发, 运维\n"
        "  succeeded 通知研发  sent to 研发群 (chat)\n"
        "  succeeded 通知运维  sent to 运维群 (chat)\n"
        "  succeeded 记台账  added a row to 事故台账\n"
        "  skipped   通知值班  branch 值班's conditions did not hold\n"
        "  succeeded 汇总  sent to 研发群 (chat)\n"
    )
    assert sent(sandbox, chats) == [
        ("研发群", "研发：支付超时"), ("运维群", "运维：支付超时"), ("研发群", "已通知：研发, 运维")
    ]


def test_a_failed_branch_does_not_stop_the_others_and_retry_resumes_only_it(cli, chats, sandbox, write_flows) -> None:
    write_flows(PARALLEL)
    r = cli("submit", "事故", "-f", "标题=数据库宕机", "-f", "级别=P0", transport=FailFirst(sandbox.transport()))
    assert r.exit_code == 1
    run_id = re.search(rf"flow 事故通报: failed \(run ({RUN_ID})\)", r.stdout).group(1)
    assert r.stdout.split("\n", 2)[2] == (
        "  succeeded 同时通知  took branches 研发, 运维, 值班\n"
        "  failed    通知研发  DingTalk error 34014: injected by the test\n"
        "  succeeded 通知运维  sent to 运维群 (chat)\n"
        "  succeeded 记台账  added a row to 事故台账\n"
        "  succeeded 通知值班  sent to 值班群 (chat)\n"
        "  skipped   汇总  not run: node 通知研发 failed\n"
    )
    assert r.stderr.startswith("Error: flow 事故通报 failed at node 通知研发: DingTalk error 34014")
    assert sent(sandbox, chats) == [("运维群", "运维：数据库宕机"), ("值班群", "值班：数据库宕机")]

    r = cli("runs", "retry", run_id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert sent(sandbox, chats)[2:] == [("研发群", "研发：数据库宕机"), ("研发群", "已通知：研发, 运维, 值班")]
    r = cli("forms", "records", "事故台账", "--json")
    assert len(json.loads(r.stdout)) == 1  # the branch that had succeeded did not write again
    (run,) = runs(cli, "--flow", "事故通报")
    assert [(s["name"], s["attempts"]) for s in run["steps"]] == [
        ("同时通知", 1), ("通知研发", 2), ("通知运维", 1), ("记台账", 1), ("通知值班", 1), ("汇总", 1)
    ]


# --- delete_data and several events ---------------------------------------------------------------------

DELETE = """
version: 1
forms:
  - name: 订阅
    fields:
      - {name: 人, type: text, required: true}
      - {name: 群, type: text, required: true}
flows:
  - name: 退订
    trigger: {manual: true, form: 订阅}
    nodes:
      - {kind: delete_data, name: 删订阅, table: 订阅, where: {人: "{{ 人 }}"}}
      - {kind: send_group_message, chat: 值班群, text: "{{ 人 }} 退订了 {{ nodes.删订阅.count }} 个"}
  - name: 解散登记
    trigger: manual
    nodes:
      - {kind: delete_data, name: 删群, table: groups, where: {name: 研发群}, allow_registry: true}
  - name: 订阅变动
    trigger: {form: 订阅, event: [created, updated]}
    nodes:
      - {kind: send_group_message, chat: 运维群, text: "{{ record.event }} {{ 人 }}→{{ 群 }}"}
  - name: 退订通知
    trigger: {form: 订阅, event: deleted}
    allow_auto_trigger: true
    nodes:
      - {kind: send_group_message, chat: 运维群, text: "删除 {{ 人 }}→{{ 群 }}"}
"""


def test_delete_data_removes_the_matching_records_and_fires_deleted(cli, chats, sandbox, write_flows) -> None:
    write_flows(DELETE)
    for person, group in (("张三", "研发群"), ("张三", "运维群"), ("李四", "研发群")):
        r = cli("submit", "订阅", "-f", f"人={person}", "-f", f"群={group}")
        assert (r.exit_code, r.stderr) == (0, "")
    record = json.loads(cli("forms", "records", "订阅", "--json").stdout)[-1]["id"]
    r = cli("forms", "update", "订阅", record, "-f", "群=值班群")
    assert (r.exit_code, r.stderr) == (0, "")
    assert [c for _, c in sent(sandbox, chats)] == [
        "created 张三→研发群", "created 张三→运维群", "created 李四→研发群", "updated 张三→值班群"
    ]
    r = cli("flows", "run", "退订", "-f", "人=张三", "-f", "群=任意")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.startswith(
        f"flow 退订: succeeded (run {re.search(RUN_ID, r.stdout).group(0)})\n"
        "  succeeded 删订阅  deleted 2 row(s) of 订阅\n"
        "  succeeded send_group_message-2  sent to 值班群 (chat)\n"
        "    ↳ flow 退订通知: succeeded (run "
    )
    assert r.stdout.count("↳ flow 退订通知: succeeded") == 2
    # the delete_data node's run first, then the runs its deletions fired (newest record first)
    assert [c for _, c in sent(sandbox, chats)[4:]] == ["张三 退订了 2 个", "删除 张三→运维群", "删除 张三→值班群"]
    assert [r["values"]["人"] for r in json.loads(cli("forms", "records", "订阅", "--json").stdout)] == ["李四"]
    r = cli("flows", "run", "退订", "-f", "人=王五", "-f", "群=任意")
    assert (r.exit_code, r.stderr) == (0, "") and "deleted 0 row(s) of 订阅" in r.stdout


def test_delete_data_on_the_registry_needs_allow_registry(cli, chats, sandbox, write_flows) -> None:
    write_flows(DELETE)
    r = cli("flows", "run", "解散登记")
    assert (r.exit_code, r.stderr) == (0, "") and "deleted 1 row(s) of groups" in r.stdout
    assert "研发群" not in cli("groups", "list").stdout
    path = write_flows(DELETE.replace(", allow_registry: true", ""))
    r = cli("flows", "check")
    assert (r.exit_code, r.stdout) == (2, "")
    assert f"{path}:16: node 删群 would delete groups from the registry — fix: if that is what you mean, add " \
           "`allow_registry: true` to the node" in r.stderr


# --- 允许自动触发 ------------------------------------------------------------------------------------------

AUTO = """
version: 1
forms:
  - name: 工单
    fields:
      - {name: 标题, type: text, required: true}
  - name: 待办
    fields:
      - {name: 标题, type: text}
flows:
  - name: 建待办
    trigger: {form: 工单, event: created}
    nodes:
      - {kind: add_data, table: 待办, values: {标题: "{{ 标题 }}"}}
  - name: 待办提醒
    trigger: {form: 待办, event: created}
    AUTO
    nodes:
      - {kind: send_group_message, chat: 值班群, text: "待办：{{ 标题 }}"}
"""


def test_records_written_by_a_flow_fire_only_flows_that_allow_it(cli, chats, sandbox, write_flows) -> None:
    write_flows(AUTO.replace("AUTO", ""))
    r = cli("submit", "工单", "-f", "标题=换证书")
    assert (r.exit_code, r.stderr) == (0, "") and "待办提醒" not in r.stdout
    assert sandbox.messages() == []  # Yida's default: a flow's records fire nothing

    write_flows(AUTO.replace("AUTO", "allow_auto_trigger: true"))
    r = cli("submit", "工单", "-f", "标题=续域名")
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(
        rf"stored record FINST-\S+ in 工单\n"
        rf"flow 建待办: succeeded \(run ({RUN_ID})\)\n"
        r"  succeeded add_data-1  added a row to 待办\n"
        rf"    ↳ flow 待办提醒: succeeded \(run ({RUN_ID})\) — auto-triggered by flow 建待办 \(created 待办 record FINST-\S+\)\n"
        r"      succeeded send_group_message-1  sent to 值班群 \(chat\)\n",
        r.stdout,
    ), r.stdout
    parent, child = re.findall(RUN_ID, r.stdout)
    assert sent(sandbox, chats) == [("值班群", "待办：续域名")]
    r = cli("runs", "show", child)
    assert f"auto-triggered by run {parent} (flow 建待办); chain 建待办 → 待办提醒\n" in r.stdout
    r = cli("runs", "show", parent)
    assert f"triggered flow 待办提醒: succeeded (run {child})\n" in r.stdout
    r = cli("submit", "工单", "-f", "标题=x", "--json")
    doc = json.loads(r.stdout)
    assert doc["flows"][0]["triggered"][0]["flow"] == "待办提醒"
    assert doc["flows"][0]["triggered"][0]["cause"].startswith("auto-triggered by flow 建待办 (created 待办 record")


LOOP = """
version: 1
forms:
  - name: 甲表
    fields: [{name: 内容, type: text}]
  - name: 乙表
    fields: [{name: 内容, type: text}]
flows:
  - name: 甲
    trigger: {form: 甲表, event: created, filter: FILTER}
    allow_auto_trigger: true
    nodes:
      - {kind: add_data, table: 乙表, values: {内容: "{{ 内容 }}+"}}
  - name: 乙
    trigger: {form: 乙表, event: created}
    allow_auto_trigger: true
    nodes:
      - {kind: add_data, table: 甲表, values: {内容: "{{ 内容 }}+"}}
      - {kind: send_group_message, chat: 值班群, text: "{{ 内容 }}"}
  - name: 甲自己
    trigger: {form: 甲表, event: created}
    allow_auto_trigger: true
    nodes:
      - {kind: add_data, name: 写回, table: 甲表, values: {内容: "自己"}}
"""


def test_a_loop_of_auto_triggered_flows_stops_at_five_runs(cli, chats, sandbox, write_flows) -> None:
    # The filter always holds, but `flows check` cannot know that: only the chain limit stops it.
    write_flows(LOOP.replace("FILTER", "{all: [{field: 内容, op: is_not_empty}]}").replace(
        "  - name: 甲自己", "  - name: 甲自己\n    enabled: false"))
    r = cli("submit", "甲表", "-f", "内容=a")
    assert r.exit_code == 1
    assert r.stderr == (
        "Error: auto-triggered flows do not stop: 甲 → 乙 → 甲 → 乙 → 甲 → 乙; 乙 was not run "
        "(a chain stops after 5 runs; the loop: 乙 → 甲 → 乙)\n"
        "  Hint: give one of the flows in the loop a trigger `filter:` that ends it, or remove its "
        "allow_auto_trigger (`groupmsg flows check` names loops that can never end)\n"
    )
    assert re.findall(r"flow (\S+): succeeded", r.stdout) == ["甲", "乙", "甲", "乙", "甲"]
    assert "flow 乙: stopped — auto-triggered flows do not stop" in r.stdout
    assert [c for _, c in sent(sandbox, chats)] == ["a+", "a+++"]  # the two runs of 乙; nothing after the stop
    assert len(runs(cli)) == 5
    last = runs(cli, "--flow", "甲")[0]
    assert last["context"]["chain"] == ["甲", "乙", "甲", "乙", "甲"]
    assert last["context"]["stopped"].startswith("auto-triggered flows do not stop")


def test_a_flows_own_records_never_fire_it(cli, chats, sandbox, write_flows) -> None:
    write_flows(LOOP.replace("FILTER", "{all: [{field: 内容, op: equals, value: 没有}]}"))
    r = cli("submit", "甲表", "-f", "内容=起")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.count("flow 甲自己: succeeded") == 1  # its own record 自己 did not fire it again


def test_flows_check_finds_a_loop_that_can_never_end(cli, write_flows) -> None:
    path = write_flows(LOOP.replace("FILTER", "all").replace("  - name: 甲自己", "  - name: 甲自己\n    enabled: false"))
    r = cli("flows", "check")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        f"Error: {path} has 1 problem:\n"
        f"  {path}:10: flows 甲 → 乙 → 甲 fire one another without end (allow_auto_trigger, no trigger filter, "
        "a data node that always writes); at run time such a chain stops after 5 runs — fix: give one of 甲, 乙 a "
        "trigger `filter:` the written records do not pass, or remove its allow_auto_trigger\n"
        f"  Hint: fix them and check again with `groupmsg flows check {path}`\n"
    )


# --- the run log ---------------------------------------------------------------------------------------


def test_runs_list_by_flow_status_and_record(cli, chats, sandbox, write_flows) -> None:
    write_flows(PARALLEL)
    assert cli("submit", "事故", "-f", "标题=一", "-f", "级别=P2").exit_code == 0
    r = cli("submit", "事故", "-f", "标题=二", transport=FailFirst(sandbox.transport()))
    failed_record = re.search(r"stored record (FINST-\S+)", r.stdout).group(1)
    assert [x["status"] for x in runs(cli, "--flow", "事故通报")] == ["failed", "succeeded"]
    assert [x["record_id"] for x in runs(cli, "--status", "failed")] == [failed_record]
    assert [x["status"] for x in runs(cli, "--record", failed_record)] == ["failed"]
    assert runs(cli, "--status", "running") == [] and runs(cli, "--flow", "没有") == []
    r = cli("runs", "list", "--record", failed_record[-8:])
    assert (r.exit_code, r.stderr) == (0, "") and r.stdout.count("\n") == 2
    r = cli("runs", "list", "--status", "broken")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == ("Error: unknown status 'broken'\n"
                        "  Hint: use one of succeeded, failed, running, unsettled\n")


# --- flows check ---------------------------------------------------------------------------------------

BAD = """
version: 1
forms:
  - name: 表
    fields: [{name: 字段, type: text}]
flows:
  - name: 坏时间
    trigger: {schedule: "0 25 * * *", timezone: Asia/Shanghia}
    nodes: [{kind: send_group_message, chat: 群, text: "{{ record.id }}"}]
  - name: 手动带事件
    trigger: {manual: true, form: 表, event: created}
    nodes: [{kind: send_group_message, chat: 群, text: x}]
  - name: 并行带优先级
    trigger: {form: 表, event: [created, 更新成功]}
    nodes:
      - kind: branch
        mode: parallel
        branches:
          - {name: 一, priority: 1, nodes: [{kind: send_group_message, chat: 群, text: x}]}
          - {name: 二, default: true, nodes: [{kind: send_group_message, chat: 群, text: x}]}
  - name: 定时自动
    trigger: {schedule: "@daily", form: 表}
    allow_auto_trigger: true
    nodes: [{kind: send_group_message, chat: 群, text: x}]
  - name: 时区无定时
    trigger: {form: 表, timezone: UTC}
    nodes: [{kind: send_group_message, chat: 群, text: x}]
  - name: 怪模式
    trigger: manual
    nodes: [{kind: branch, mode: 串行, branches: [{name: a, when: {all: [{field: x, op: is_empty}]}, nodes: []}]}]
  - name: 坏表达式
    trigger: {schedule: "0 9 * * MON-"}
    nodes: [{kind: send_group_message, chat: 群, text: x}]
"""


def test_flows_check_reports_every_scheduling_problem_with_its_line(cli, write_flows) -> None:
    path = write_flows(BAD)
    r = cli("flows", "check", "--json")
    assert r.exit_code == 2
    problems = json.loads(r.stdout)["problems"]
    expected = [
        f"{path}:7: flow 坏时间 schedule: hour 25 is out of range 0-23 — fix: five fields: minute hour "
        "day-of-month month day-of-week, e.g. `0 9 * * 1-5` (weekdays at 09:00)",
        f"{path}:7: flow 坏时间: unknown time zone 'Asia/Shanghia': did you mean Asia/Shanghai? — fix: leave it "
        "out for this machine's zone",
        f"{path}:8: node send_group_message-1 text: {{{{ record.id }}}}: flow 坏时间 (a scheduled flow has no "
        "fields) has no field 'record.id' — fix: there is none to choose from (a field of flow 坏时间 (a scheduled "
        "flow has no fields))",
        f"{path}:10: flow 手动带事件: a manual flow runs with `groupmsg flows run 手动带事件`; it takes no "
        "`event:` — fix: remove `event:`",
        f"{path}:18: node branch-1: a parallel branch has no priority (arms run in the order written) — fix: "
        "remove `priority:`",
        f"{path}:19: node branch-1: a parallel branch has no default (every arm whose `when` holds runs) — fix: "
        "remove `default:`; leave out `when:` for an arm that always runs",
        f"{path}:21: flow 定时自动: a schedule fires at times, not on records; it takes no `form:` — fix: "
        "remove `form:`",
        f"{path}:22: flow 定时自动: allow_auto_trigger is for form-event triggers (records written by other "
        "flows) — fix: remove it: a schedule flow is not fired by records",
        f"{path}:25: flow 时区无定时: `timezone:` goes with `schedule:` — fix: remove it",
        f"{path}:29: node branch-1: unknown branch mode '串行' — fix: use condition or parallel",
        f"{path}:31: flow 坏表达式 schedule: day of week '(nothing)' is not a number or SUN-SAT — fix: five "
        "fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5` (weekdays at 09:00)",
    ]
    for line in expected:
        assert line in problems, (line, problems)
