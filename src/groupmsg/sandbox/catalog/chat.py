"""chat/send (legacy, an app sends "as the enterprise"): ``msgtype`` with **snake_case** bodies —
``docs/dingtalk-api.md`` §4.1.  Errors: 34004 unknown msgtype; 34014 missing fields, body key ≠
msgtype, wrong types; 34016 a field over its length limit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import OapiError
from .common import Summary, is_filled, neutral, optional, orientation, text_of

CHAT_MSGTYPES: tuple[str, ...] = ("text", "image", "voice", "file", "link", "oa", "markdown", "action_card")

# Required fields per msgtype (the nested oa and action_card rules are in code).
_CHAT_REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "voice": ("media_id", "duration"),
    "file": ("media_id",),
    "link": ("messageUrl", "picUrl", "title", "text"),
    "markdown": ("title", "text"),
    "action_card": ("title", "markdown"),
    "oa": ("message_url", "head", "body"),
}

# Per-field length limits behind errcode 34016 (§4.1, §6.2): content ≤5000, title ≤64, markdown ≤5000,
# single_title ≤20, single_url ≤500, btn_json_list ≤1000; per button title ≤20, action_url ≤700.
CHAT_LIMITS = {
    "content": 5000,
    "title": 64,
    "markdown": 5000,
    "single_title": 20,
    "single_url": 500,
    "btn_json_list": 1000,
    "btn_title": 20,
    "action_url": 700,
}


def _chat_invalid(detail: str = "") -> OapiError:
    # errmsg exactly as documented (clients match on it); which field is in the request log
    return OapiError(34014, "无效的消息", detail=detail or None)


def _chat_too_long(field: str) -> OapiError:
    return OapiError(34016, "消息内容太长", detail=f"{field} over its limit")


def validate_chat_msg(msg: Any, max_msg_bytes: int | None = None) -> Summary:
    """Validate the ``msg`` object of chat/send."""
    if not isinstance(msg, Mapping):
        raise _chat_invalid("msg必须是json对象")
    msgtype = msg.get("msgtype")
    if not is_filled(msgtype):
        raise _chat_invalid("缺少msgtype")
    if msgtype not in CHAT_MSGTYPES:
        raise OapiError(34004, "无效的消息类型")
    payload = msg.get(msgtype)
    if not isinstance(payload, Mapping):
        # the body object's key must equal msgtype (§4.1 "key ≠ msgtype" → 34014)
        raise _chat_invalid(f"缺少{msgtype}")
    for name in _CHAT_REQUIRED[msgtype]:
        if not is_filled(payload.get(name)):
            raise _chat_invalid(f"缺少{msgtype}.{name}")

    # The disputed "msg ≤ 2048 bytes" sentence (§4.1, open question 3 in §9): DingTalk's own error
    # table documents per-field limits (content/markdown ≤5000 characters…) under 34016, which
    # contradicts a 2048-byte cap on the whole msg (a 5000-character text could never be sent).  We
    # enforce the per-field limits always and the whole-msg byte cap only when configured.
    if max_msg_bytes is not None:
        size = len(json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > max_msg_bytes:
            raise _chat_too_long("msg")

    title: str | None = None
    if msgtype == "text":
        content = text_of(payload["content"])
        if len(content) > CHAT_LIMITS["content"]:
            raise _chat_too_long("content")
        message = neutral("text", text=content)
    elif msgtype in ("image", "file"):
        content = text_of(payload["media_id"])
        message = neutral("image", image=content) if msgtype == "image" else neutral("file")
    elif msgtype == "voice":
        content = text_of(payload["media_id"])
        try:
            duration = int(payload["duration"])
        except (TypeError, ValueError):
            raise _chat_invalid("voice.duration必须是整数") from None
        if not 0 < duration < 60:
            raise _chat_invalid("voice.duration必须小于60")
        message = neutral("voice")
    elif msgtype == "link":
        content, title = text_of(payload["text"]), text_of(payload["title"])
        if len(title) > CHAT_LIMITS["title"]:
            raise _chat_too_long("title")
        message = neutral("link", title=title, text=content, url=payload["messageUrl"], pic=payload["picUrl"])
    elif msgtype == "markdown":
        content, title = text_of(payload["text"]), text_of(payload["title"])
        if len(title) > CHAT_LIMITS["title"]:
            raise _chat_too_long("title")
        if len(content) > CHAT_LIMITS["markdown"]:
            raise _chat_too_long("markdown")
        message = neutral("markdown", title=title, text=content)
    elif msgtype == "action_card":
        content, title = text_of(payload["markdown"]), text_of(payload["title"])
        message = _validate_action_card(payload)
    else:  # oa
        content, title, message = _validate_oa(payload)
    return Summary(msgtype=msgtype, content=content, title=title, message=message)


def _validate_action_card(card: Mapping[str, Any]) -> dict[str, Any]:
    if len(text_of(card["title"])) > CHAT_LIMITS["title"]:
        raise _chat_too_long("title")
    if len(text_of(card["markdown"])) > CHAT_LIMITS["markdown"]:
        raise _chat_too_long("markdown")
    # Either single_title + single_url (whole-card link) or btn_json_list.
    if is_filled(card.get("single_title")) or is_filled(card.get("single_url")):
        if not (is_filled(card.get("single_title")) and is_filled(card.get("single_url"))):
            raise _chat_invalid("single_title和single_url必须同时提供")
        if len(text_of(card["single_title"])) > CHAT_LIMITS["single_title"]:
            raise _chat_too_long("single_title")
        if len(text_of(card["single_url"])) > CHAT_LIMITS["single_url"]:
            raise _chat_too_long("single_url")
        return neutral(
            "action_card",
            title=card["title"],
            text=card["markdown"],
            buttons=[(card["single_title"], card["single_url"])],
            layout="single",
        )
    buttons = card.get("btn_json_list")
    if not isinstance(buttons, list) or not buttons:
        raise _chat_invalid("缺少single_title/single_url或btn_json_list")
    layout = card.get("btn_orientation")
    if layout is not None and str(layout) not in ("0", "1"):
        raise _chat_invalid("btn_orientation必须是0或1")
    for button in buttons:
        if not isinstance(button, Mapping) or not is_filled(button.get("title")) or not is_filled(button.get("action_url")):
            raise _chat_invalid("btn_json_list的每一项需要title和action_url")
        if len(text_of(button["title"])) > CHAT_LIMITS["btn_title"]:
            raise _chat_too_long("btn_json_list.title")
        if len(text_of(button["action_url"])) > CHAT_LIMITS["action_url"]:
            raise _chat_too_long("btn_json_list.action_url")
    if len(json.dumps(buttons, ensure_ascii=False, separators=(",", ":"))) > CHAT_LIMITS["btn_json_list"]:
        raise _chat_too_long("btn_json_list")
    return neutral(
        "action_card",
        title=card["title"],
        text=card["markdown"],
        buttons=[(b["title"], b["action_url"]) for b in buttons],
        layout=orientation(layout),
    )


def _validate_oa(oa: Mapping[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    head, body = oa.get("head"), oa.get("body")
    if not isinstance(head, Mapping) or not is_filled(head.get("bgcolor")) or not is_filled(head.get("text")):
        raise _chat_invalid("oa.head需要bgcolor和text")
    if not isinstance(body, Mapping):
        raise _chat_invalid("oa.body必须是json对象")
    title = body.get("title")
    if title is not None and len(text_of(title)) > CHAT_LIMITS["title"]:
        raise _chat_too_long("title")
    content = body.get("content")
    if content is not None and len(text_of(content)) > CHAT_LIMITS["content"]:
        raise _chat_too_long("content")
    main = text_of(content) if is_filled(content) else text_of(head.get("text"))
    message = neutral("oa", title=title, text=main, url=oa.get("message_url"), image=body.get("image"))
    return main, optional(title), message
