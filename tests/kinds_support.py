"""Every message kind × channel cell the capability matrix sends: how to ask for it on the command line
and in a message document, and the exact JSON that must arrive (a uniquely named module, like
`stack_support`; the CLI tests and the flow tests both drive these cells).

Channels: `webhook` (the group 通知群, a plain custom robot), `chat` (应用群 through chat/send) and
`robot` (应用群 with DINGTALK_ROBOT_CODE set: the robot API). `MEDIA` stands for the media id the
sandbox issued when the image file was uploaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_OPEN_CONVERSATION_ID, DEMO_ROBOT_CODE

MEDIA = "<the uploaded media id>"
IMAGE_URL = "https://e.example.com/chart.png"
NO_AT = {"mobiles": [], "user_ids": [], "all": False}
GROUP = {"webhook": "通知群", "chat": "应用群", "robot": "应用群"}


@dataclass(frozen=True)
class Cell:
    id: str
    channel: str
    args: tuple[str, ...]  # `send -g GROUP` + these
    document: dict[str, Any]  # the same message as a message document
    wire: dict[str, Any]  # what arrives (webhook: without msgUuid; robot: msgParam decoded)
    message: dict[str, Any]  # the sandbox's channel-neutral record
    files: dict[str, bytes] = field(default_factory=dict)  # files the args name (relative to the test's folder)

    @property
    def group(self) -> str:
        return GROUP[self.channel]


def neutral(kind: str, **parts: Any) -> dict[str, Any]:
    return {"kind": kind, "title": None, "text": None, "url": None, "pic": None, "buttons": [], "layout": None,
            "links": [], "image": None, "at": NO_AT, **parts}


def chat_wire(msgtype: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"chatid": DEMO_CHAT_ID, "msg": {"msgtype": msgtype, msgtype: body}}


def robot_wire(key: str, param: dict[str, Any]) -> dict[str, Any]:
    return {"msgKey": key, "msgParam": param, "openConversationId": DEMO_OPEN_CONVERSATION_ID, "robotCode": DEMO_ROBOT_CODE}


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
TITLE, TEXT = "发布 v2.3", "### 发布完成\n- 服务: api"
LINK_URL, PIC = "https://e.example.com/r?id=7&x=1", "https://e.example.com/p.png"
B1, B2, B3 = ("查看构建", "https://ci.example.com/b/1?x=1"), ("回滚", "https://ci.example.com/r/1"), ("忽略", "https://ci.example.com/i")
FEED = [("周报", "https://e.example.com/w?week=12", "https://e.example.com/w.png"),
        ("日报", "https://e.example.com/d", "https://e.example.com/d.png")]


def _buttons(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"title": t, "url": u} for t, u in pairs]


def _flags(*pairs: tuple[str, str]) -> tuple[str, ...]:
    return tuple(x for t, u in pairs for x in ("--button", f"{t}={u}"))


CARD_DOC = {"kind": "action_card", "title": TITLE, "text": TEXT}


def _cells() -> list[Cell]:
    cells = []
    for channel in ("webhook", "chat", "robot"):
        at_webhook = channel == "webhook"
        # text
        args = ("--at-mobile", "13800000000", "磁盘满了") if at_webhook else ("磁盘满了",)
        doc: dict[str, Any] = {"kind": "text", "text": "磁盘满了"}
        text_at = {"mobiles": ["13800000000"], "user_ids": [], "all": False}
        if at_webhook:
            doc["at"] = {"mobiles": ["13800000000"]}
            wire = {"msgtype": "text", "text": {"content": "磁盘满了\n@13800000000"},
                    "at": {"atMobiles": ["13800000000"], "atUserIds": [], "isAtAll": False}}
            message = neutral("text", text="磁盘满了\n@13800000000", at=text_at)
        else:
            wire = chat_wire("text", {"content": "磁盘满了"}) if channel == "chat" else robot_wire("sampleText", {"content": "磁盘满了"})
            message = neutral("text", text="磁盘满了")
        cells.append(Cell(f"{channel}-text", channel, args, doc, wire, message))
        # markdown
        md = {"title": TITLE, "text": TEXT}
        wire = {"webhook": {"msgtype": "markdown", "markdown": md}, "chat": chat_wire("markdown", md),
                "robot": robot_wire("sampleMarkdown", md)}[channel]
        cells.append(Cell(f"{channel}-markdown", channel, ("--markdown", "--title", TITLE, TEXT),
                          {"kind": "markdown", **md}, wire, neutral("markdown", **md)))
        # link, with a picture
        link = {"title": TITLE, "text": "点击查看", "messageUrl": LINK_URL, "picUrl": PIC}
        wire = {"webhook": {"msgtype": "link", "link": link}, "chat": chat_wire("link", link),
                "robot": robot_wire("sampleLink", link)}[channel]
        cells.append(Cell(f"{channel}-link", channel, ("--title", TITLE, "--link", LINK_URL, "--pic", PIC, "点击查看"),
                          {"kind": "link", "title": TITLE, "text": "点击查看", "url": LINK_URL, "pic": PIC}, wire,
                          neutral("link", title=TITLE, text="点击查看", url=LINK_URL, pic=PIC)))
        # action card: one button for the whole card
        wire = {
            "webhook": {"msgtype": "actionCard", "actionCard": {"title": TITLE, "text": TEXT, "singleTitle": B1[0], "singleURL": B1[1]}},
            "chat": chat_wire("action_card", {"title": TITLE, "markdown": TEXT, "single_title": B1[0], "single_url": B1[1]}),
            "robot": robot_wire("sampleActionCard", {"title": TITLE, "text": TEXT, "singleTitle": B1[0], "singleURL": B1[1]}),
        }[channel]
        cells.append(Cell(f"{channel}-card-single", channel, ("--title", TITLE, *_flags(B1), TEXT),
                          {**CARD_DOC, "buttons": [f"{B1[0]}={B1[1]}"]}, wire,
                          neutral("action_card", title=TITLE, text=TEXT, buttons=_buttons(B1), layout="single")))
        # action card: three buttons, stacked
        wire = {
            "webhook": {"msgtype": "actionCard", "actionCard": {"title": TITLE, "text": TEXT, "btnOrientation": "0",
                        "btns": [{"title": t, "actionURL": u} for t, u in (B1, B2, B3)]}},
            "chat": chat_wire("action_card", {"title": TITLE, "markdown": TEXT, "btn_orientation": "0",
                              "btn_json_list": [{"title": t, "action_url": u} for t, u in (B1, B2, B3)]}),
            "robot": robot_wire("sampleActionCard3", {"title": TITLE, "text": TEXT, "actionTitle1": B1[0], "actionURL1": B1[1],
                                "actionTitle2": B2[0], "actionURL2": B2[1], "actionTitle3": B3[0], "actionURL3": B3[1]}),
        }[channel]
        cells.append(Cell(f"{channel}-card-vertical", channel, ("--title", TITLE, *_flags(B1, B2, B3), TEXT),
                          {**CARD_DOC, "buttons": [{"title": t, "url": u} for t, u in (B1, B2, B3)]}, wire,
                          neutral("action_card", title=TITLE, text=TEXT, buttons=_buttons(B1, B2, B3), layout="vertical")))
        # action card: two buttons side by side
        wire = {
            "webhook": {"msgtype": "actionCard", "actionCard": {"title": TITLE, "text": TEXT, "btnOrientation": "1",
                        "btns": [{"title": t, "actionURL": u} for t, u in (B1, B2)]}},
            "chat": chat_wire("action_card", {"title": TITLE, "markdown": TEXT, "btn_orientation": "1",
                              "btn_json_list": [{"title": t, "action_url": u} for t, u in (B1, B2)]}),
            "robot": robot_wire("sampleActionCard6", {"title": TITLE, "text": TEXT, "buttonTitle1": B1[0], "buttonUrl1": B1[1],
                                "buttonTitle2": B2[0], "buttonUrl2": B2[1]}),
        }[channel]
        cells.append(Cell(f"{channel}-card-horizontal", channel, ("--title", TITLE, *_flags(B1, B2), "--horizontal", TEXT),
                          {**CARD_DOC, "buttons": [{"title": t, "url": u} for t, u in (B1, B2)], "layout": "horizontal"},
                          wire, neutral("action_card", title=TITLE, text=TEXT, buttons=_buttons(B1, B2), layout="horizontal")))
    # webhook only: a link without a picture, a feed card
    cells.append(Cell("webhook-link-no-pic", "webhook", ("--title", TITLE, "--link", LINK_URL, "点击查看"),
                      {"kind": "link", "title": TITLE, "text": "点击查看", "url": LINK_URL},
                      {"msgtype": "link", "link": {"title": TITLE, "text": "点击查看", "messageUrl": LINK_URL}},
                      neutral("link", title=TITLE, text="点击查看", url=LINK_URL)))
    cells.append(Cell("webhook-feed", "webhook", tuple(x for t, u, p in FEED for x in ("--feed", f"{t}={u}={p}")),
                      {"kind": "feed_card", "links": [{"title": t, "url": u, "pic": p} for t, u, p in FEED]},
                      {"msgtype": "feedCard", "feedCard": {"links": [{"title": t, "messageURL": u, "picURL": p} for t, u, p in FEED]}},
                      neutral("feed_card", links=[{"title": t, "url": u, "pic": p} for t, u, p in FEED])))
    # images: a file (uploaded) on chat/send and the robot API; a URL on the robot API
    cells.append(Cell("chat-image-file", "chat", ("--image", "chart.png"), {"kind": "image", "image": "chart.png"},
                      chat_wire("image", {"media_id": MEDIA}), neutral("image", image=MEDIA), {"chart.png": PNG}))
    cells.append(Cell("robot-image-file", "robot", ("--image", "chart.png"), {"kind": "image", "image": "chart.png"},
                      robot_wire("sampleImageMsg", {"photoURL": MEDIA}), neutral("image", image=MEDIA), {"chart.png": PNG}))
    cells.append(Cell("robot-image-url", "robot", ("--image", IMAGE_URL), {"kind": "image", "image": IMAGE_URL},
                      robot_wire("sampleImageMsg", {"photoURL": IMAGE_URL}), neutral("image", image=IMAGE_URL)))
    # the robot API's other card keys: 2, 4 and 5 stacked buttons
    for n in (2, 4, 5):
        pairs = [(f"按钮{i}", f"https://ci.example.com/{i}") for i in range(1, n + 1)]
        param = {"title": TITLE, "text": TEXT}
        for i, (t, u) in enumerate(pairs, 1):
            param.update({f"actionTitle{i}": t, f"actionURL{i}": u})
        cells.append(Cell(f"robot-card-vertical-{n}", "robot", ("--title", TITLE, *_flags(*pairs), TEXT),
                          {**CARD_DOC, "buttons": [f"{t}={u}" for t, u in pairs]}, robot_wire(f"sampleActionCard{n}", param),
                          neutral("action_card", title=TITLE, text=TEXT, buttons=_buttons(*pairs), layout="vertical")))
    return cells


CELLS = _cells()


def arrived(sandbox: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The last message the sandbox accepted: (its wire body — robot msgParam decoded, webhook
    msgUuid removed —, its neutral record), with the uploaded media id replaced by MEDIA."""
    import json

    m = sandbox.messages()[-1]
    body = json.loads(json.dumps(m["body"]))
    if m["channel"] == "robot":
        body["msgParam"] = json.loads(body["msgParam"])
    body.pop("msgUuid", None)
    message = dict(m["message"])
    if m.get("media"):
        media_id = message["image"]
        assert media_id.startswith("@") and m["media"]["filename"] == "chart.png" and m["media"]["bytes"] == len(PNG)
        message["image"] = MEDIA
        body = json.loads(json.dumps(body).replace(json.dumps(media_id)[1:-1], MEDIA))
    return body, message
