"""The robot API's ``groupMessages/send`` (new API): ``msgKey`` + ``msgParam``, a JSON document in
a string — ``docs/dingtalk-api.md`` §4.2.  All failures are HTTP 400.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ApiError
from .common import Summary, is_filled, neutral, text_of

# Missing-field codes as documented for the robot API (§4.2); a required field without a documented
# code gets the generic ``invalidParameter.param.invalid``.
_GENERIC = "invalidParameter.param.invalid"


def _card_buttons(n: int) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = [("title", _GENERIC), ("text", _GENERIC)]
    for i in range(1, n + 1):
        fields += [(f"actionTitle{i}", "miss.param.actionCardTobtns"), (f"actionURL{i}", "miss.param.actionCardTobtns")]
    return fields


MSG_KEYS: dict[str, list[tuple[str, str]]] = {
    "sampleText": [("content", "miss.param.contentOfText")],
    "sampleMarkdown": [("title", _GENERIC), ("text", "miss.param.markdownTotext")],
    "sampleImageMsg": [("photoURL", "miss.param.photoTophotoUrl")],
    "sampleLink": [
        ("text", _GENERIC),
        ("title", "miss.param.titleOfLink"),
        ("picUrl", _GENERIC),
        ("messageUrl", "miss.param.messageUrlOfLink"),
    ],
    "sampleActionCard": [
        ("title", _GENERIC),
        ("text", _GENERIC),
        ("singleTitle", "miss.param.actionCardTosingleTitle"),
        ("singleURL", "miss.param.actionCardTosingleUrl"),
    ],
    "sampleActionCard2": _card_buttons(2),
    "sampleActionCard3": _card_buttons(3),
    "sampleActionCard4": _card_buttons(4),
    "sampleActionCard5": _card_buttons(5),
    "sampleActionCard6": [
        ("title", _GENERIC),
        ("text", _GENERIC),
        ("buttonTitle1", "miss.param.actionCardTobtns"),
        ("buttonUrl1", "miss.param.actionCardTobtns"),
        ("buttonTitle2", "miss.param.actionCardTobtns"),
        ("buttonUrl2", "miss.param.actionCardTobtns"),
    ],
    "sampleAudio": [("mediaId", "miss.param.audio"), ("duration", "miss.param.audio")],
    "sampleFile": [("mediaId", "miss.param.file"), ("fileName", "miss.param.file"), ("fileType", "miss.param.file")],
    "sampleVideo": [
        ("duration", "miss.param.video"),
        ("videoMediaId", "miss.param.video"),
        ("videoType", "miss.param.video"),
        ("picMediaId", "miss.param.video"),
    ],
}

# Which msgParam field is the "main text" recorded for each key.
_MSG_KEY_CONTENT = {
    "sampleText": "content",
    "sampleMarkdown": "text",
    "sampleImageMsg": "photoURL",
    "sampleLink": "text",
    "sampleAudio": "mediaId",
    "sampleFile": "fileName",
    "sampleVideo": "videoMediaId",
}

MSG_PARAM_MAX_BYTES = 15000  # §4.2, §6.2


def parse_msg_param(msg_key: Any, msg_param: Any) -> tuple[dict[str, Any], Summary]:
    """Validate ``msgKey`` + ``msgParam`` of groupMessages/send (all failures HTTP 400)."""
    if not is_filled(msg_key):
        raise ApiError(400, "invalidParameter.msgKey.empty", "缺少msgKey")
    if not isinstance(msg_key, str) or msg_key not in MSG_KEYS:
        raise ApiError(400, "invalidParameter.msgKey.invalid", "msgKey无效")
    # msgParam is a *string* holding a JSON document (§4.2): an object sent directly is a classic
    # client mistake and is rejected like bad JSON.
    if not isinstance(msg_param, str) or not msg_param.strip():
        raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式")
    if len(msg_param.encode("utf-8")) > MSG_PARAM_MAX_BYTES:
        raise ApiError(400, "invalidParameter.msgParam.tooLong", "消息内容太长")
    try:
        param = json.loads(msg_param)
    except ValueError:
        raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式") from None
    if not isinstance(param, dict):
        raise ApiError(400, "invalidParameter.msgParam.invalid", "msgParam必须是json格式")
    for name, code in MSG_KEYS[msg_key]:
        if not is_filled(param.get(name)):
            raise ApiError(400, code, f"缺少参数 {name}")
    title = param.get("title")
    return param, Summary(
        msgtype=msg_key,
        content=text_of(param.get(_MSG_KEY_CONTENT.get(msg_key, "text"))),
        title=text_of(title) if is_filled(title) else None,
        message=robot_message(msg_key, param),
    )


def robot_message(msg_key: str, p: dict[str, Any]) -> dict[str, Any]:
    """The channel-neutral ``message`` of an accepted ``msgKey`` + ``msgParam``."""
    if msg_key == "sampleText":
        return neutral("text", text=p["content"])
    if msg_key == "sampleMarkdown":
        return neutral("markdown", title=p["title"], text=p["text"])
    if msg_key == "sampleImageMsg":
        return neutral("image", image=p["photoURL"])
    if msg_key == "sampleLink":
        return neutral("link", title=p["title"], text=p["text"], url=p["messageUrl"], pic=p["picUrl"])
    if msg_key == "sampleActionCard":
        buttons = [(p["singleTitle"], p["singleURL"])]
        return neutral("action_card", title=p["title"], text=p["text"], buttons=buttons, layout="single")
    if msg_key == "sampleActionCard6":
        buttons = [(p["buttonTitle1"], p["buttonUrl1"]), (p["buttonTitle2"], p["buttonUrl2"])]
        return neutral("action_card", title=p["title"], text=p["text"], buttons=buttons, layout="horizontal")
    if msg_key.startswith("sampleActionCard"):  # 2 … 5: that many buttons, stacked
        n = int(msg_key.removeprefix("sampleActionCard"))
        buttons = [(p[f"actionTitle{i}"], p[f"actionURL{i}"]) for i in range(1, n + 1)]
        return neutral("action_card", title=p["title"], text=p["text"], buttons=buttons, layout="vertical")
    if msg_key == "sampleFile":
        return neutral("file", title=p["fileName"])
    return neutral("audio" if msg_key == "sampleAudio" else "video")
