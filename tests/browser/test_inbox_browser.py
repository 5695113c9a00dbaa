"""The web inbox in a real browser: messages sent with the CLI render as DingTalk shows them,
arrive live, run nothing a sender wrote, and survive a restart on the same --state."""

from __future__ import annotations

import time

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_WEBHOOK_PLAIN_TOKEN

pytestmark = pytest.mark.slow

HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
XSS_TEXT = '<script>window.__xss=1</script><img src=x onerror="window.__xss=1"> 注入测试'
XSS_MD = '![x](x" onerror="window.__xss=1) <img src=x onerror="window.__xss=1"> [点我](javascript:window.__xss=1)'


def _send_has_cards(cli) -> bool:
    return "--button" in cli("send", "--help").stdout


def _register(cli) -> None:
    assert cli("groups", "add", "运维告警", "--webhook", HOOK).exit_code == 0
    assert cli("groups", "add", "项目群", "--chat-id", DEMO_CHAT_ID).exit_code == 0


def _ok(r) -> None:
    assert r.exit_code == 0, r.stderr


def _bubbles(page, n: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('#messages .msg').length >= {n}", timeout=5000)


def test_the_inbox_renders_what_the_cli_sent_like_dingtalk(cli, creds, page, artifacts) -> None:
    sb = Sandbox(SandboxConfig.demo())
    cards = _send_has_cards(cli)
    with serve_in_thread(sb) as url:
        _register(cli)
        send = lambda *a: _ok(cli("send", *a, transport=sb.transport()))  # noqa: E731
        send("--group", "项目群", "今晚 22:00 发布 v2.3")
        send("--group", "运维告警", "--markdown", "--title", "磁盘告警", "--at-mobile", "13800000000",
             "### 磁盘告警\n- **web-01** 92%\n- web-02 71%\n\n[查看详情](https://example.com/disk)")
        if cards:
            send("--group", "运维告警", "--title", "发布审批", "--button", "同意=https://example.com/yes",
                 "--button", "拒绝=https://example.com/no", "**v2.3** 等待审批")
            send("--group", "运维告警", "--feed", "今日头条=https://example.com/a=https://example.com/a.png",
                 "--feed", "次条新闻=https://example.com/b=https://example.com/b.png")
        send("--group", "运维告警", XSS_TEXT)
        send("--group", "运维告警", "--markdown", "--title", "注入", XSS_MD)
        sent = 4 + (2 if cards else 0)

        page.goto(url + "/")
        _bubbles(page, sent)
        page.wait_for_selector("#status[data-state=live]", timeout=5000)

        # text, in its group, named as the sandbox knows it
        text = page.locator(".msg", has_text="今晚 22:00 发布 v2.3")
        assert text.locator(".bubble.text").inner_text() == "今晚 22:00 发布 v2.3"
        assert text.locator(".meta .group").inner_text() == "Demo group"
        # markdown: a heading, bold is bold, list items are items, the link carries its URL, the @ is highlighted
        md = page.locator(".msg[data-kind=markdown]", has_text="磁盘告警").first
        assert md.locator("h3").inner_text() == "磁盘告警"
        assert md.locator("li").all_inner_texts() == ["web-01 92%", "web-02 71%"]
        bold = md.locator("strong").first
        assert bold.inner_text() == "web-01" and int(bold.evaluate("e => getComputedStyle(e).fontWeight")) >= 600
        assert md.locator("a", has_text="查看详情").get_attribute("href") == "https://example.com/disk"
        at = md.locator(".at")
        assert at.inner_text() == "@13800000000"
        assert at.evaluate("e => getComputedStyle(e).color") != md.locator("p").last.evaluate("e => getComputedStyle(e).color")
        if cards:
            card = page.locator(".msg[data-kind=action_card]")
            assert card.locator("strong").inner_text() == "v2.3"
            buttons = card.locator(".btns a.btn")
            assert buttons.all_inner_texts() == ["同意", "拒绝"]
            assert [buttons.nth(i).get_attribute("href") for i in range(2)] == ["https://example.com/yes", "https://example.com/no"]
            feed = page.locator(".msg[data-kind=feed_card]")
            assert feed.locator(".feed-title").all_inner_texts() == ["今日头条", "次条新闻"]
            assert feed.locator("a").first.get_attribute("href") == "https://example.com/a"
        # the XSS attempts are shown as text and ran nothing
        assert page.locator(".msg", has_text="<script>window.__xss=1</script>").count() == 1
        assert page.evaluate("window.__xss") is None
        assert page.locator(".messages script").count() == 0 and page.locator(".messages [onerror]").count() == 0

        # groups on the left, the refused request on the right
        assert page.locator("#groups .conv .t", has_text="demo-plain").count() == 1
        with __import__("httpx").Client(base_url=url) as c:
            c.post("/robot/send?access_token=no-such-robot", json={"msgtype": "text", "text": {"content": "x"}})
        page.wait_for_selector("#refused .ref .code:text('300001')", timeout=2000)
        assert "token is not exist" in page.locator("#refused .ref").first.inner_text()

        # a message sent after the page loaded appears within 2 s, without a reload
        t0 = time.perf_counter()
        send("--group", "运维告警", "--at-all", "新消息到了")
        page.wait_for_selector(".msg:has-text('新消息到了')", timeout=2000)
        assert time.perf_counter() - t0 < 2.0
        assert page.locator(".msg", has_text="新消息到了").locator(".at").inner_text() == "@所有人"

        # selecting a group shows only its messages
        page.locator("#groups .conv", has_text="Demo group").click()
        visible = page.locator("#messages .msg:visible")
        assert visible.count() == 1 and "今晚 22:00 发布 v2.3" in visible.first.inner_text()
        page.locator("#groups .conv.all").click()
        page.screenshot(path=str(artifacts / "inbox.png"))
    assert page.evaluate("window.__xss") is None
    if not cards:
        pytest.skip("action and feed cards need `send --button/--feed` (issue 12): the rest passed")


def test_a_sandbox_restarted_on_the_same_state_still_shows_its_groups_and_messages(cli, creds, page, tmp_path) -> None:
    state = tmp_path / "state"
    sb = Sandbox(SandboxConfig.demo(), state_dir=state)
    with serve_in_thread(sb):
        _register(cli)
        _ok(cli("create-group", "新建的群", "--owner", "u1", "--member", "u2", transport=sb.transport()))
        _ok(cli("send", "--group", "新建的群", "重启之前", transport=sb.transport()))
        _ok(cli("send", "--group", "运维告警", "--markdown", "--title", "t", "**重启之前** 的告警", transport=sb.transport()))
    sb.close()

    again = Sandbox(SandboxConfig.demo(), state_dir=state)
    with serve_in_thread(again) as url:
        page.goto(url + "/")
        _bubbles(page, 2)
        assert page.locator(".msg", has_text="重启之前").count() == 2
        assert page.locator("#groups .conv .t", has_text="新建的群").count() == 1
        assert page.locator(".msg[data-kind=markdown] strong").inner_text() == "重启之前"
        # and it still takes messages for the group it created before the restart
        _ok(cli("send", "--group", "新建的群", "重启之后", transport=again.transport()))
        page.wait_for_selector(".msg:has-text('重启之后')", timeout=2000)
    again.close()
