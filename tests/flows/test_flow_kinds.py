"""Message kinds × channels through a flow: a `send_group_message` node with a `message:` document,
templates in its strings, sends every cell of the capability matrix as exactly the JSON the command
line sends (tests/kinds_support.py); `flows check` reports a wrong document at its file:line; a
refused cell fails the run at its node."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_OPEN_CONVERSATION_ID, DEMO_WEBHOOK_PLAIN_TOKEN
from kinds_support import CELLS, Cell, arrived

PLAIN_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"
RECORD_ID = r"FINST-\d{14}-[0-9a-f]{8}"


def templated(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The cell's document with its title, text and first button's title taken from the form
    (every string of a message document is a template), and the form's values that fill them."""
    doc = json.loads(json.dumps(document))
    fields = {}
    for key, field in (("title", "标题"), ("text", "正文")):
        if key in doc:
            fields[field], doc[key] = doc[key], f"{{{{ {field} }}}}"
    if doc.get("buttons"):
        first = doc["buttons"][0]
        title = first["title"] if isinstance(first, dict) else first.split("=", 1)[0]
        url = first["url"] if isinstance(first, dict) else first.split("=", 1)[1]
        doc["buttons"][0] = {"title": "{{ 按钮 }}", "url": url}
        fields["按钮"] = title
    return doc, fields


def flows_file(document: dict[str, Any], **node_keys: Any) -> str:
    node = {"kind": "send_group_message", "name": "发送", "chat": "{{ 群 }}", **node_keys, "message": document}
    return yaml.safe_dump({
        "version": 1,
        "forms": [{"name": "通知", "fields": [
            {"name": "群", "type": "text", "required": True},
            {"name": "标题", "type": "text"},
            {"name": "正文", "type": "textarea"},
            {"name": "按钮", "type": "text"},
        ]}],
        "flows": [{"name": "发通知", "trigger": {"form": "通知", "event": "created", "filter": "all"}, "nodes": [node]}],
    }, allow_unicode=True, sort_keys=False)


@pytest.fixture
def groups(cli, creds):
    assert cli("groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID, "--open-conversation-id",
               DEMO_OPEN_CONVERSATION_ID).exit_code == 0
    assert cli("groups", "add", "通知群", "--webhook", PLAIN_HOOK).exit_code == 0


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.id)
def test_each_cell_through_a_flow(cli, groups, sandbox, write_flows, tmp_path: Path, monkeypatch, cell: Cell):
    monkeypatch.chdir(tmp_path)
    for name, data in cell.files.items():
        (tmp_path / name).write_bytes(data)
    if cell.channel == "robot":
        monkeypatch.setenv("DINGTALK_ROBOT_CODE", "demo-robot")
    doc, fields = templated(cell.document)
    write_flows(flows_file(doc))
    assert (r := cli("flows", "check")).exit_code == 0, r.stderr
    r = cli("submit", "通知", "-f", f"群={cell.group}", *(x for k, v in fields.items() for x in ("-f", f"{k}={v}")))
    assert r.stderr == ""
    assert r.exit_code == 0
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 通知\n"
        rf"flow 发通知: succeeded \(run {RUN_ID}\)\n"
        rf"  succeeded 发送  sent to {cell.group} \({cell.channel}\)\n",
        r.stdout,
    ), r.stdout
    assert arrived(sandbox) == (cell.wire, cell.message)
    [run] = json.loads(cli("runs", "list", "--json").stdout)
    inputs = run["steps"][0]["inputs"]
    assert inputs["kind"] == cell.document["kind"] and inputs["message"]["kind"] == cell.document["kind"]
    if cell.files:  # the run keeps the media id the image was sent with
        assert inputs["message"]["image"] == sandbox.messages()[-1]["message"]["image"]


def test_a_dry_run_of_a_flow_shows_the_upload_and_the_request(cli, groups, sandbox, write_flows, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 10)
    write_flows(flows_file({"kind": "image", "image": "{{ 正文 }}"}))
    r = cli("submit", "--dry-run", "通知", "-f", "群=应用群", "-f", "正文=chart.png")
    assert (r.exit_code, r.stderr) == (0, "dry run: nothing was stored, sent or recorded\n")
    (flow,) = json.loads(r.stdout)["flows"]
    upload, send = flow["would"]
    assert upload["request"]["multipart"] == {"type": "image", "media": {"filename": "chart.png",
                                                                          "content_type": "image/png", "bytes": 18}}
    assert send["request"]["json"]["msg"] == {"msgtype": "image", "image": {"media_id": "@<media_id of chart.png>"}}
    assert sandbox.requests() == []


def test_a_refused_cell_fails_the_run_at_its_node(cli, groups, sandbox, write_flows):
    write_flows(flows_file({"kind": "feed_card", "links": ["周报={{ 正文 }}=https://e.example.com/w.png"]}))
    r = cli("submit", "通知", "-f", "群=应用群", "-f", "正文=https://e.example.com/w")
    assert r.exit_code == 1
    assert re.fullmatch(
        rf"stored record {RECORD_ID} in 通知\n"
        rf"flow 发通知: failed \(run {RUN_ID}\)\n"
        r"  failed    发送  group 应用群: a feed card cannot be sent through chat/send \(app groups, by chat id\): "
        r"DingTalk takes feed cards only through a custom robot's webhook \(groups added with --webhook\)\n",
        r.stdout,
    ), r.stdout
    assert r.stderr.startswith("Error: flow 发通知 failed at node 发送: group 应用群: a feed card cannot be sent")
    assert sandbox.messages() == []


def test_an_empty_rendered_part_fails_the_node_naming_the_template(cli, groups, sandbox, write_flows):
    write_flows(flows_file({"kind": "action_card", "title": "{{ 标题 }}", "text": "x",
                            "buttons": [{"title": "看", "url": "{{ 正文 }}"}]}))
    r = cli("submit", "通知", "-f", "群=通知群", "-f", "标题=T")
    assert r.exit_code == 1
    assert "failed    发送  node 发送: the URL of button 1 is empty ('{{ 正文 }}' gave no value)" in r.stdout
    assert r.stderr.startswith("Error: flow 发通知 failed at node 发送: node 发送: the URL of button 1 is empty")
    assert sandbox.messages() == []


CHECK_CASES = [
    ({"kind": "action_card", "title": "{{ 标 }}", "text": "x", "buttons": ["a={{ nodes.建群.chat_id }}"]},
     ["{{ 标 }}: form 通知 has no field '标' — fix: did you mean '标题'?",
      "{{ nodes.建群.chat_id }}: no node named '建群' before this one"]),
    ({"kind": "link", "title": "t", "text": "x", "url": "u", "links": []},
     ["node 发送 message: a link message has no `links:` — fix: `links:` belongs to kind: feed_card"]),
    ({"kind": "cards"}, ["unknown message kind 'cards'"]),
    ({"kind": "markdown", "text": "x", "at": {"everyone": True}},
     ["node 发送 message: a markdown message needs `title:`", "unknown key 'everyone' in node 发送 message at"]),
]


@pytest.mark.parametrize(("document", "expected"), CHECK_CASES)
def test_flows_check_reports_a_wrong_message_document(cli, write_flows, document, expected):
    path = write_flows(flows_file(document))
    r = cli("flows", "check")
    assert (r.exit_code, r.stdout) == (2, "")
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"Error: {path} has ")
    for want in expected:
        assert any(want in line and re.match(rf"  {re.escape(str(path))}:\d+: ", line) for line in lines), (want, r.stderr)


def test_message_and_text_do_not_mix_in_a_node(cli, write_flows):
    path = write_flows(flows_file({"kind": "text", "text": "x"}, text="y"))
    r = cli("flows", "check")
    assert (r.exit_code, r.stdout) == (2, "")
    assert re.search(rf"{re.escape(str(path))}:\d+: node 发送: `text:` goes inside `message:` when the node has one — "
                     r"fix: move it into the message document", r.stderr), r.stderr


def test_the_cards_example(cli, creds, sandbox, monkeypatch):
    """examples/cards.yaml runs as its comments say: an approval card to an app group, a daily feed
    card to a webhook group."""
    from flowtest_support import REPO

    monkeypatch.setenv("GROUPMSG_FLOWS", str(REPO / "examples" / "cards.yaml"))
    chat_id = sandbox.add_chat(name="审批群", owner="demo-user")["chat_id"]
    assert cli("groups", "add", "审批群", "--chat-id", chat_id).exit_code == 0
    assert cli("groups", "add", "运维群", "--webhook", PLAIN_HOOK).exit_code == 0
    r = cli("submit", "上线申请", "-f", "服务=订单服务", "-f", "版本=v2.3.1", "-f", "申请人=张三",
            "-f", "审批链接=https://oa.example.com/approvals/42", "-f", "通知群=审批群")
    assert (r.exit_code, r.stderr) == (0, "")
    match = re.fullmatch(rf"stored record ({RECORD_ID}) in 上线申请\nflow 上线审批: succeeded \(run {RUN_ID}\)\n"
                         r"  succeeded 审批卡片  sent to 审批群 \(chat\)\n", r.stdout)
    assert match, r.stdout
    card = sandbox.messages()[-1]
    assert card["body"]["msg"] == {"msgtype": "action_card", "action_card": {
        "title": "上线审批：订单服务 v2.3.1",
        "markdown": f"### 订单服务 v2.3.1 申请上线\n- 申请人：张三\n- 记录：{match.group(1)}\n",
        "btn_orientation": "1",
        "btn_json_list": [{"title": "同意", "action_url": "https://oa.example.com/approvals/42?decision=approve"},
                          {"title": "拒绝", "action_url": "https://oa.example.com/approvals/42?decision=reject"}],
    }}
    r = cli("submit", "日报", "-f", "日期=2026-03-01", "-f", "报告=https://bi.example.com/daily/2026-03-01",
            "-f", "告警=https://bi.example.com/alerts/2026-03-01", "-f", "通知群=运维群")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout.endswith("  succeeded 摘要  sent to 运维群 (webhook)\n")
    assert sandbox.messages()[-1]["message"]["links"] == [
        {"title": "2026-03-01 运营日报", "url": "https://bi.example.com/daily/2026-03-01", "pic": "https://bi.example.com/img/daily.png"},
        {"title": "2026-03-01 告警汇总", "url": "https://bi.example.com/alerts/2026-03-01", "pic": "https://bi.example.com/img/alerts.png"},
    ]
