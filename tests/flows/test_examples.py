"""The flows in examples/ run as their comments say, end to end through the CLI and the sandbox."""

from __future__ import annotations

import json
import re

import pytest
from flowtest_support import REPO, FailFirst

from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"
RECORD_ID = r"FINST-\d{14}-[0-9a-f]{8}"


@pytest.fixture
def example(monkeypatch):
    def use(name: str) -> None:
        monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "examples" / name))

    return use


@pytest.fixture
def chats(cli, creds, sandbox):
    """App groups 研发群, 运维群, 值班一群, 财务群, registered by name."""
    ids = {}
    for name in ("研发群", "运维群", "值班一群", "财务群"):
        ids[name] = sandbox.add_chat(name=name, owner="demo-user")["chat_id"]
        assert cli("groups", "add", name, "--chat-id", ids[name]).exit_code == 0
    return ids


def test_filters_example(cli, chats, sandbox, example):
    example("filters.yaml")
    r = cli("submit", "报销单", "-f", "申请人=张三", "-f", "金额=8000", "-f", "类型=差旅", "-f", "说明=客户拜访")
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 报销单\n"
        rf"flow 大额报销提醒: succeeded \(run {RUN_ID}\)\n"
        r"  succeeded 通知财务  sent to 财务群 \(chat\)\n"
        r"flow 缺少说明提醒: not matched — the trigger's filter did not match\n",
        r.stdout,
    ), r.stdout
    (message,) = sandbox.messages()
    assert message["chat_id"] == chats["财务群"]
    assert message["content"].startswith("张三 提交了一笔 8000 元的差旅报销，请优先审核。记录 FINST-")


def test_branches_example(cli, chats, sandbox, example):
    example("branches.yaml")
    r = cli("submit", "值班表", "-f", "级别=P0", "-f", "值班群=值班一群")
    assert r.exit_code == 3 and r.stderr.endswith("Hint: see the flows and their triggers with `groupmsg flows list`\n")
    assert r.stdout.startswith("stored record FINST-")

    r = cli("submit", "工单", "-f", "标题=支付失败", "-f", "级别=紧急", "-f", "负责人=u1")  # a label for P0
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 工单\n"
        rf"flow 工单分派: succeeded \(run {RUN_ID}\)\n"
        r"  succeeded 查值班  found row in 值班表\n"
        r"  succeeded 按级别  took branch 紧急\n"
        r"  succeeded 通知值班群  sent to 值班一群 \(chat\)\n"
        r"  skipped   通知研发群  branch 重要 was not taken\n"
        r"  succeeded 记统计  inserted 1 row\(s\) of 工单统计\n",
        r.stdout,
    ), r.stdout
    assert [(m["chat_id"], m["content"]) for m in sandbox.messages()] == [
        (chats["值班一群"], "【P0】支付失败（负责人 u1）")
    ]

    r = cli("submit", "工单", "-f", "标题=按钮错位", "-f", "级别=P1", "-f", "负责人=u1")
    assert (r.exit_code, r.stderr) == (0, "")
    assert "took branch 重要" in r.stdout and "updated 1 row(s) of 工单统计" in r.stdout
    assert sandbox.messages()[-1]["content"] == "【P1】按钮错位"
    r = cli("submit", "工单", "-f", "标题=文案", "-f", "负责人=u2")  # 级别 defaults to P2
    assert (r.exit_code, r.stderr) == (0, "") and "took branch 其他情况" in r.stdout
    assert len(sandbox.messages()) == 2


def test_markdown_example(cli, chats, sandbox, example, tmp_path):
    example("markdown.yaml")
    changelog = tmp_path / "CHANGELOG.md"
    changelog.write_text("- 修复登录\n- 新增导出\n", encoding="utf-8")
    r = cli("submit", "发布公告", "-f", "版本=v2.3", "-f", f"内容=@{changelog}", "-f", "通知群=研发群")
    assert (r.exit_code, r.stderr) == (0, "")
    assert "  succeeded 发公告  sent to 研发群 (chat)\n" in r.stdout
    (message,) = sandbox.messages()
    assert (message["msgtype"], message["title"]) == ("markdown", "发布 v2.3")
    assert message["content"].startswith("### 发布 v2.3\n- 日期：\n- 记录：FINST-")
    assert message["content"].endswith("\n\n- 修复登录\n- 新增导出\n")


def test_failure_alert_example_and_its_dedupe(cli, chats, sandbox, example):
    example("failure-alert.yaml")
    flaky = FailFirst(sandbox.transport(), "/chat/send")
    args = ("submit", "日报", "-f", "日期=2026-03-02", "-f", "团队=研发群", "-f", "内容=完成发布")
    r = cli(*args, transport=flaky)
    assert r.exit_code == 1
    run_id = re.search(rf"flow 发送日报: failed \(run ({RUN_ID})\)", r.stdout).group(1)
    assert r.stderr.startswith(
        "Error: flow 发送日报 failed at node 发日报: DingTalk error 34014: injected by the test\n"
    )
    (alert,) = sandbox.messages()
    assert alert["chat_id"] == chats["运维群"]
    assert alert["content"] == (
        f"日报没发出去：发送日报 在节点 发日报 失败（34014 DingTalk error 34014: injected by the test），运行 {run_id}"
    )

    r = cli(*args)  # the same report again: the failed run is resumed, not started over
    assert (r.exit_code, r.stderr) == (0, "")
    assert f"flow 发送日报: succeeded (run {run_id}) — resumed run {run_id}" in r.stdout
    r = cli(*args)  # and once more: already done
    assert (r.exit_code, r.stderr) == (0, "")
    assert f"flow 发送日报: duplicate (run {run_id}) — already done: run {run_id}" in r.stdout
    assert [m["content"] for m in sandbox.messages()[1:]] == ["2026-03-02 日报\n完成发布"]


def test_deploy_example_mentions_the_people_on_call(cli, creds, sandbox, example):
    example("deploy.yaml")
    hook = "https://oapi.dingtalk.com/robot/send?access_token=" + DEMO_WEBHOOK_PLAIN_TOKEN
    assert cli("groups", "add", "发布群", "--webhook", hook).exit_code == 0
    r = cli("submit", "部署记录", "-f", "服务=订单服务", "-f", "版本=v2.3.1", "-f", "环境=生产", "-f", "通知群=发布群",
            "-f", "值班手机=13800000000,13900000000")
    assert (r.exit_code, r.stderr) == (0, "") and "succeeded 通知所有人  sent to 发布群 (webhook)" in r.stdout
    (message,) = sandbox.messages()
    assert (message["msgtype"], message["title"]) == ("markdown", "生产发布 订单服务 v2.3.1")
    assert message["body"]["at"] == {"atMobiles": ["13800000000", "13900000000"], "atUserIds": [], "isAtAll": True}
    assert message["content"].endswith("@13800000000 @13900000000")  # DingTalk renders a mention only with it

    r = cli("submit", "部署记录", "-f", "服务=订单服务", "-f", "版本=v2.3.2", "-f", "环境=测试", "-f", "通知群=发布群")
    assert (r.exit_code, r.stderr) == (0, "") and "succeeded 通知值班  sent to 发布群 (webhook)" in r.stdout
    assert "at" not in sandbox.messages()[-1]["body"]


def test_mentions_to_an_app_group_fail_the_run_with_the_reason(cli, creds, sandbox, example, chats):
    example("deploy.yaml")
    r = cli("submit", "部署记录", "-f", "服务=s", "-f", "版本=1", "-f", "环境=测试", "-f", "通知群=研发群",
            "-f", "值班手机=138")
    assert r.exit_code == 1 and "@ mentions are not supported" in r.stderr
    assert r.stdout.startswith("stored record FINST-") and "failed" in r.stdout
    assert sandbox.messages() == []


def test_oncall_schedule_example(cli, chats, sandbox, example):
    example("oncall-schedule.yaml")
    r = cli("submit", "值班表", "-f", "日期=2027-01-04", "-f", "值班人=张三", "-f", "手机=13800000000")
    assert r.exit_code == 3 and r.stdout.startswith("stored record FINST-")  # no flow listens to the roster
    r = cli("flows", "next", "--now", "2027-01-01T10:00+08:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ("flow\tenabled\tschedule\ttimezone\tnext\tlast\n"
                        "值班提醒\tyes\t0 9 * * 1-5\tAsia/Shanghai\t2027-01-04T09:00:00+08:00\t\n")
    r = cli("flows", "tick", "--now", "2027-01-01T10:00+08:00")
    assert (r.exit_code, r.stderr) == (0, "") and "first seen" in r.stdout
    r = cli("flows", "tick", "--now", "2027-01-04T09:00+08:00")
    assert (r.exit_code, r.stderr) == (0, "")
    assert re.fullmatch(
        rf"flow 值班提醒: succeeded \(run {RUN_ID}\) — occurrence 2027-01-04T09:00:00\+08:00 "
        r"\(0 9 \* \* 1-5, Asia/Shanghai\)\n"
        r"  succeeded 今天  found row in 值班表\n"
        r"  succeeded 排了没有  took branch 排了\n"
        r"  succeeded 提醒  sent to 值班一群 \(chat\)\n"
        r"  skipped   催排班  branch 没排 was not taken\n",
        r.stdout,
    ), r.stdout
    r = cli("--quiet", "flows", "tick", "--now", "2027-01-05T09:00+08:00")  # nobody on the roster for the 5th
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")
    assert [(m["chat_id"], m["content"]) for m in sandbox.messages()] == [
        (chats["值班一群"], "2027-01-04 今日值班：张三 13800000000"),
        (chats["运维群"], "2027-01-05 还没有人值班：请在值班表里补上（groupmsg submit 值班表）"),
    ]


def test_parallel_example(cli, chats, sandbox, example):
    example("parallel.yaml")
    r = cli("submit", "故障", "-f", "标题=支付超时", "-f", "级别=P0", "-f", "影响=下单失败",
            transport=FailFirst(sandbox.transport()))
    assert r.exit_code == 1
    run_id = re.search(rf"flow 故障通报: failed \(run ({RUN_ID})\)", r.stdout).group(1)
    assert r.stdout.split("\n", 2)[2] == (
        "  succeeded 同时通知  took branches 研发, 运维, 台账\n"
        "  failed    通知研发  DingTalk error 34014: injected by the test\n"
        "  succeeded 通知运维  sent to 运维群 (chat)\n"
        "  succeeded 记台账  added a row to 故障台账\n"
        "  skipped   回执  not run: node 通知研发 failed\n"
    )
    assert r.stderr.startswith("Error: flow 故障通报 failed at node 通知研发: DingTalk error 34014")
    r = cli("runs", "retry", run_id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert [(m["chat_id"], m["content"]) for m in sandbox.messages()] == [
        (chats["运维群"], "【P0】支付超时：下单失败"),
        (chats["研发群"], "【P0】支付超时"),
        (chats["值班一群"], "「支付超时」已通知：研发, 运维, 台账"),
    ]
    assert len(json.loads(cli("forms", "records", "故障台账", "--json").stdout)) == 1

    r = cli("submit", "故障", "-f", "标题=文案错字")  # P2: the ops branch's `when` does not hold
    assert (r.exit_code, r.stderr) == (0, "") and "took branches 研发, 台账" in r.stdout
    assert sandbox.messages()[-1]["content"] == "「文案错字」已通知：研发, 台账"
