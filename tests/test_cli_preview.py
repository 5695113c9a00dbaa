"""`groupmsg preview`: the message rendered as the sandbox inbox renders it, and DingTalk's verdict; nothing sent."""

from __future__ import annotations

import json
import re

from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_WEBHOOK_PLAIN_TOKEN
from groupmsg.sandbox.handlers.inbox import asset

HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"


def test_preview_without_a_group_renders_the_message_in_a_self_contained_file(cli, tmp_path, sandbox) -> None:
    out = tmp_path / "p.html"
    r = cli("preview", "--markdown", "--title", "周报", "--at-mobile", "138", "### 本周\n- **完成** A\n\n@138 请看", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == f"preview: DingTalk would accept it\nwrote {out}\n"
    assert r.stderr == "  note: the title '周报' shows only in the chat list and notifications, not in the message\n"
    html = out.read_text(encoding="utf-8")
    assert "<h3>本周</h3>" in html and "<li><strong>完成</strong> A</li>" in html and '<span class="at">@138</span>' in html
    assert asset("inbox.css") in html  # the inbox's own stylesheet, inlined
    assert "<script" not in html and not re.search(r'(?:src|href)="(?!https?://)', html)
    assert sandbox.requests() == []  # nothing sent


def test_preview_with_groups_applies_each_channel_and_says_what_dingtalk_would_refuse(cli, creds, tmp_path, sandbox) -> None:
    assert cli("groups", "add", "告警群", "--webhook", HOOK, "--keyword", "告警").exit_code == 0
    assert cli("groups", "add", "项目群", "--chat-id", DEMO_CHAT_ID).exit_code == 0
    out = tmp_path / "p.html"
    r = cli("preview", "-g", "告警群", "-g", "项目群", "--at-mobile", "138", "告警 cpu", "-o", str(out), "--json")
    assert r.exit_code == 2
    doc = json.loads(r.stdout)
    hook, chat = doc["targets"]
    assert (hook["group"], hook["channel"], hook["accepted"]) == ("告警群", "webhook", True)
    assert hook["message"]["text"] == "告警 cpu\n@138"  # the @ token groupmsg adds for a webhook mention
    assert (chat["group"], chat["channel"], chat["accepted"]) == ("项目群", "chat", False)
    assert "@ mentions are not supported when sending through chat/send" in chat["refusal"]
    assert "DingTalk would refuse the message for 1 of 2 group(s)" in r.stderr
    html = out.read_text(encoding="utf-8")
    assert "DingTalk would refuse this" in html and "告警群 · webhook" in html
    r = cli("preview", "-g", "告警群", "no keyword here", "-o", str(out))
    assert r.exit_code == 2 and "none of '告警群''s keywords" in r.stdout
    assert sandbox.requests() == []


def test_preview_escapes_what_the_sender_wrote(cli, tmp_path) -> None:
    out = tmp_path / "p.html"
    r = cli("preview", "--markdown", "--title", "x", '<script>alert(1)</script> <img src=x onerror="alert(1)"> [a](javascript:alert(1))', "-o", str(out))
    assert r.exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "&lt;script&gt;" in html and "<script" not in html and "javascript:" not in html
    assert not re.search(r"<[^>]+\son\w+=", html)  # no event-handler attribute in any tag


def test_preview_of_an_unknown_group_is_bad_input(cli, tmp_path) -> None:
    r = cli("preview", "-g", "nope", "hi", "-o", str(tmp_path / "p.html"))
    assert r.exit_code == 2 and r.stdout == "" and "no group named 'nope'" in r.stderr


def test_preview_takes_sends_card_options(cli, creds, tmp_path) -> None:
    assert cli("groups", "add", "告警群", "--webhook", HOOK).exit_code == 0
    out = tmp_path / "card.html"
    r = cli("preview", "-g", "告警群", "--title", "审批", "--button", "同意=https://e.example/yes", "--button",
            "拒绝=https://e.example/no", "--horizontal", "**v2.3** 待审批", "-o", str(out))
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"告警群 (webhook): DingTalk would accept it\nwrote {out}\n", "")
    html = out.read_text(encoding="utf-8")
    assert '<div class="btns horizontal"><a class="btn" href="https://e.example/yes"' in html and "<strong>v2.3</strong>" in html
    r = cli("preview", "--feed", "头条=https://e.example/a=https://e.example/a.png", "-o", str(out))
    assert r.exit_code == 0 and '<span class="feed-title">头条</span>' in out.read_text(encoding="utf-8")
