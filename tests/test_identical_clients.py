"""A message sent through groupmsg and the same message sent through the clients DingTalk users
know arrive at the sandbox identical: DingtalkChatbot on the webhook, DingTalk's official SDK
(alibabacloud-dingtalk) on the robot API. Everything goes over a real 127.0.0.1 socket, groupmsg
through its production HTTP stack (http.client).

"Identical" is the sandbox's channel-neutral record (kind, title, text, url, pic, buttons, layout,
links, image, at) and the wire's type; where the two clients spell a field differently (DingtalkChatbot
adds an empty `at`, `hideAvatar` and numeric `btnOrientation`; groupmsg adds `msgUuid`), both are
what DingTalk documents (docs/dingtalk-api.md §5.1), and the payloads are compared where they agree."""

from __future__ import annotations

import io
import json
import sys

import pytest

pytest.importorskip("dingtalkchatbot")
pytest.importorskip("alibabacloud_dingtalk")

from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.robot_1_0 import models as robot_models
from alibabacloud_dingtalk.robot_1_0.client import Client as RobotClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from dingtalkchatbot.chatbot import ActionCard, CardItem, DingtalkChatbot

from groupmsg.cli import main
from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import (
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_OPEN_CONVERSATION_ID,
    DEMO_ROBOT_CODE,
    DEMO_WEBHOOK_SECRET,
    DEMO_WEBHOOK_TOKEN,
)
from kinds_support import CELLS

TITLE, TEXT = "发布 v2.3", "### 发布完成\n- 服务: api"
PIC = "https://e.example.com/p.png"


@pytest.fixture(scope="module")
def served():
    sb = Sandbox(SandboxConfig.demo(limits=False))
    with serve_in_thread(sb) as url:
        yield sb, url


@pytest.fixture
def groupmsg(served, monkeypatch, capsys):
    """`groupmsg ARGS…` in-process, over the socket with the production HTTP stack (no transport)."""
    from groupmsg.dingtalk.http import PROXY_VARIABLES

    _, url = served
    for var in PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GROUPMSG_OAPI_URL", url)
    monkeypatch.setenv("GROUPMSG_API_URL", url)
    monkeypatch.setenv("DINGTALK_APP_KEY", DEMO_APP_KEY)
    monkeypatch.setenv("DINGTALK_APP_SECRET", DEMO_APP_SECRET)
    monkeypatch.setenv("DINGTALK_ROBOT_CODE", DEMO_ROBOT_CODE)
    monkeypatch.setenv("ROBOT_SECRET", DEMO_WEBHOOK_SECRET)

    def run(*args: str) -> None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        assert (code, out.err) == (0, ""), out.err
        assert out.out.startswith("sent to ")

    return run


def last(sb: Sandbox) -> dict:
    return sb.messages()[-1]


# --- the webhook: DingtalkChatbot --------------------------------------------------------------------------

def _chatbot_cells(bot: DingtalkChatbot):
    """(what DingtalkChatbot does, the same message as groupmsg flags). DingtalkChatbot wraps every
    URL in `dingtalk://dingtalkclient/page/link?url=…&pc_slide=false`; groupmsg sends URLs as given,
    so it is given the wrapped one."""
    wrap = bot.msg_open_type
    u1, u2, u3 = "https://ci.example.com/b/1", "https://ci.example.com/r/1", "https://e.example.com/w"
    return [
        ("text", lambda: bot.send_text("磁盘满了", at_mobiles=["13800000000"]),
         ("--at-mobile", "13800000000", "磁盘满了")),
        ("markdown", lambda: bot.send_markdown(TITLE, TEXT, is_at_all=True), ("--markdown", "--title", TITLE, "--at-all", TEXT)),
        ("link", lambda: bot.send_link(TITLE, "点击查看", "https://e.example.com/r?id=7", PIC),
         ("--title", TITLE, "--link", wrap("https://e.example.com/r?id=7"), "--pic", PIC, "点击查看")),
        ("link-no-pic", lambda: bot.send_link(TITLE, "点击查看", "https://e.example.com/r"),
         ("--title", TITLE, "--link", wrap("https://e.example.com/r"), "点击查看")),
        ("card-single", lambda: bot.send_action_card(ActionCard(TITLE, TEXT, [CardItem("查看构建", u1)])),
         ("--title", TITLE, "--button", f"查看构建={wrap(u1)}", TEXT)),
        ("card-vertical", lambda: bot.send_action_card(ActionCard(TITLE, TEXT, [CardItem("查看", u1), CardItem("回滚", u2)])),
         ("--title", TITLE, "--button", f"查看={wrap(u1)}", "--button", f"回滚={wrap(u2)}", TEXT)),
        ("card-horizontal", lambda: bot.send_action_card(
            ActionCard(TITLE, TEXT, [CardItem("同意", u1), CardItem("拒绝", u2)], btn_orientation=1)),
         ("--title", TITLE, "--button", f"同意={wrap(u1)}", "--button", f"拒绝={wrap(u2)}", "--horizontal", TEXT)),
        ("feed", lambda: bot.send_feed_card([CardItem("周报", u3, PIC), CardItem("日报", u1, PIC)]),
         ("--feed", f"周报={wrap(u3)}={PIC}", "--feed", f"日报={wrap(u1)}={PIC}")),
    ]


CHATBOT_IDS = ["text", "markdown", "link", "link-no-pic", "card-single", "card-vertical", "card-horizontal", "feed"]


@pytest.mark.parametrize("case", CHATBOT_IDS)
def test_webhook_messages_arrive_as_dingtalkchatbots(served, groupmsg, case):
    sb, url = served
    hook = f"{url}/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
    bot = DingtalkChatbot(hook, secret=DEMO_WEBHOOK_SECRET)  # signed, like groupmsg below
    _, send, args = next(c for c in _chatbot_cells(bot) if c[0] == case)
    assert send() == {"errcode": 0, "errmsg": "ok"}
    theirs = last(sb)
    groupmsg("send", "--webhook", hook, "--secret-env", "ROBOT_SECRET", *args)
    ours = last(sb)
    assert ours["id"] != theirs["id"] and ours["robot"] == theirs["robot"] == "demo-signed"
    assert (ours["msgtype"], ours["message"]) == (theirs["msgtype"], theirs["message"])
    wire = ours["msgtype"]
    if case in ("text", "markdown", "link", "feed"):  # the payloads agree field for field
        assert ours["body"][wire] == theirs["body"][wire]


# --- the robot API: the official SDK ------------------------------------------------------------------------

def _config(url: str) -> open_api_models.Config:
    return open_api_models.Config(protocol="http", region_id="central", endpoint=url.removeprefix("http://"))


ROBOT_CELLS = [c for c in CELLS if c.channel == "robot" and not c.files]


@pytest.mark.parametrize("cell", ROBOT_CELLS, ids=lambda c: c.id)
def test_robot_messages_arrive_as_the_official_sdks(served, groupmsg, cell):
    sb, url = served
    token = OAuthClient(_config(url)).get_access_token(
        oauth_models.GetAccessTokenRequest(app_key=DEMO_APP_KEY, app_secret=DEMO_APP_SECRET)).body.access_token
    sent = RobotClient(_config(url)).org_group_send_with_options(
        robot_models.OrgGroupSendRequest(
            msg_key=cell.wire["msgKey"],
            msg_param=json.dumps(cell.wire["msgParam"], ensure_ascii=False),
            open_conversation_id=DEMO_OPEN_CONVERSATION_ID,
            robot_code=DEMO_ROBOT_CODE,
        ),
        robot_models.OrgGroupSendHeaders(x_acs_dingtalk_access_token=token),
        util_models.RuntimeOptions(autoretry=False, read_timeout=5000, connect_timeout=2000),
    )
    assert sent.status_code == 200
    theirs = last(sb)
    groupmsg("send", "--open-conversation-id", DEMO_OPEN_CONVERSATION_ID, *cell.args)
    ours = last(sb)
    assert ours["id"] != theirs["id"]
    assert (ours["msgtype"], ours["message"]) == (theirs["msgtype"], theirs["message"])
    assert json.loads(ours["body"]["msgParam"]) == json.loads(theirs["body"]["msgParam"])
    assert {k: v for k, v in ours["body"].items() if k != "msgParam"} == {
        k: v for k, v in theirs["body"].items() if k != "msgParam"}
