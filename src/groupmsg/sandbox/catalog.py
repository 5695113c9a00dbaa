"""Message catalogues and their validation, one per sending channel.

* chat/send (legacy, app sends "as the enterprise"): ``msgtype`` with
  **snake_case** bodies — ``docs/dingtalk-api.md`` §4.1.
* robot groupMessages/send (new API): ``msgKey`` + ``msgParam`` — §4.2.
* custom-robot webhook: ``msgtype`` with **camelCase** bodies — §5.1.

Each validator returns a :class:`Summary` (what the sandbox records as the
message's type/title/main text) or raises the channel's error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, OapiError


@dataclass(frozen=True)
class Summary:
    msgtype: str
    content: str
    title: str | None = None


def _is_filled(value: Any) -> bool:
    """Present and non-empty.  Numbers count as filled (e.g. ``duration``)."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (int, float)):
        return True
    return bool(value)


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


# ---------------------------------------------------------------------------
# chat/send — §4.1
# ---------------------------------------------------------------------------

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

# Per-field length limits behind errcode 34016 (§4.1, §6.2): content ≤5000, title ≤64, markdown ≤5000, single_title ≤20,
# single_url ≤500, btn_json_list ≤1000; per button title ≤20, action_url ≤700.
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
    """Validate the ``msg`` object of chat/send.

    Errors: 34004 unknown msgtype; 34014 missing fields / body key ≠ msgtype /
    wrong types; 34016 a field over its length limit.
    """
    if not isinstance(msg, Mapping):
        raise _chat_invalid("msg必须是json对象")
    msgtype = msg.get("msgtype")
    if not _is_filled(msgtype):
        raise _chat_invalid("缺少msgtype")
    if msgtype not in CHAT_MSGTYPES:
        raise OapiError(34004, "无效的消息类型")
    payload = msg.get(msgtype)
    if not isinstance(payload, Mapping):
        # the body object's key must equal msgtype (§4.1 "key ≠ msgtype" → 34014)
        raise _chat_invalid(f"缺少{msgtype}")
    for name in _CHAT_REQUIRED[msgtype]:
        if not _is_filled(payload.get(name)):
            raise _chat_invalid(f"缺少{msgtype}.{name}")

    # The disputed "msg ≤ 2048 bytes" sentence (§4.1, open question 3 in §9):
    # DingTalk's own error table documents per-field limits (content/markdown
    # ≤5000 characters…) under 34016, which contradicts a 2048-byte cap on the
    # whole msg (a 5000-character text could never be sent).  We enforce the
    # per-field limits always and the whole-msg byte cap only when configured.
    if max_msg_bytes is not None:
        size = len(json.dumps(msg, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size > max_msg_bytes:
            raise _chat_too_long("msg")

    title: str | None = None
    if msgtype == "text":
        content = _s(payload["content"])
        if len(content) > CHAT_LIMITS["content"]:
            raise _chat_too_long("content")
    elif msgtype in ("image", "file"):
        content = _s(payload["media_id"])
    elif msgtype == "voice":
        content = _s(payload["media_id"])
        try:
            duration = int(payload["duration"])
        except (TypeError, ValueError):
            raise _chat_invalid("voice.duration必须是整数") from None
        if not 0 < duration < 60:
            raise _chat_invalid("voice.duration必须小于60")
    elif msgtype == "link":
        content, title = _s(payload["text"]), _s(payload["title"])
        if len(title) > CHAT_LIMITS["title"]:
            raise _chat_too_long("title")
    elif msgtype == "markdown":
        content, title = _s(payload["text"]), _s(payload["title"])
        if len(title) > CHAT_LIMITS["title"]:
            raise _chat_too_long("title")
        if len(content) > CHAT_LIMITS["markdown"]:
            raise _chat_too_long("markdown")
    elif msgtype == "action_card":
        content, title = _s(payload["markdown"]), _s(payload["title"])
        _validate_action_card(payload)
    else:  # oa
        content, title = _validate_oa(payload)
    return Summary(msgtype=msgtype, content=content, title=title)


def _validate_action_card(card: Mapping[str, Any]) -> None:
    if len(_s(card["title"])) > CHAT_LIMITS["title"]:
        raise _chat_too_long("title")
    if len(_s(card["markdown"])) > CHAT_LIMITS["markdown"]:
        raise _chat_too_long("markdown")
    # Either single_title + single_url (whole-card link) or btn_json_list.
    if _is_filled(card.get("single_title")) or _is_filled(card.get("single_url")):
        if not (_is_filled(card.get("single_title")) and _is_filled(card.get("single_url"))):
            raise _chat_invalid("single_title和single_url必须同时提供")
        if len(_s(card["single_title"])) > CHAT_LIMITS["single_title"]:
            raise _chat_too_long("single_title")
        if len(_s(card["single_url"])) > CHAT_LIMITS["single_url"]:
            raise _chat_too_long("single_url")
        return
    buttons = card.get("btn_json_list")
    if not isinstance(buttons, list) or not buttons:
        raise _chat_invalid("缺少single_title/single_url或btn_json_list")
    orientation = card.get("btn_orientation")
    if orientation is not None and str(orientation) not in ("0", "1"):
        raise _chat_invalid("btn_orientation必须是0或1")
    for button in buttons:
        if not isinstance(button, Mapping) or not _is_filled(button.get("title")) or not _is_filled(button.get("action_url")):
            raise _chat_invalid("btn_json_list的每一项需要title和action_url")
        if len(_s(button["title"])) > CHAT_LIMITS["btn_title"]:
            raise _chat_too_long("btn_json_list.title")
        if len(_s(button["action_url"])) > CHAT_LIMITS["action_url"]:
            raise _chat_too_long("btn_json_list.action_url")
    if len(json.dumps(buttons, ensure_ascii=False, separators=(",", ":"))) > CHAT_LIMITS["btn_json_list"]:
        raise _chat_too_long("btn_json_list")


def _validate_oa(oa: Mapping[str, Any]) -> tuple[str, str | None]:
    head, body = oa.get("head"), oa.get("body")
    if not isinstance(head, Mapping) or not _is_filled(head.get("bgcolor")) or not _is_filled(head.get("text")):
        raise _chat_invalid("oa.head需要bgcolor和text")
    if not isinstance(body, Mapping):
        raise _chat_invalid("oa.body必须是json对象")
    title = body.get("title")
    if title is not None and len(_s(title)) > CHAT_LIMITS["title"]:
        raise _chat_too_long("title")
    content = body.get("content")
    if content is not None and len(_s(content)) > CHAT_LIMITS["content"]:
        raise _chat_too_long("content")
    main = _s(content) if _is_filled(content) else _s(head.get("text"))
    return main, (_s(title) if _is_filled(title) else None)


# ---------------------------------------------------------------------------
# robot groupMessages/send — §4.2
# ---------------------------------------------------------------------------

# Missing-field codes as documented for the robot API (§4.2); a
# required field without a documented code gets the generic
# ``invalidParameter.param.invalid``.
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

# Which msgParam field is the "main text" / title recorded for each key.
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
    if not _is_filled(msg_key):
        raise ApiError(400, "invalidParameter.msgKey.empty", "缺少msgKey")
    if not isinstance(msg_key, str) or msg_key not in MSG_KEYS:
        raise ApiError(400, "invalidParameter.msgKey.invalid", "msgKey无效")
    # msgParam is a *string* holding a JSON document (§4.2): an object sent
    # directly is a classic client mistake and is rejected like bad JSON.
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
        if not _is_filled(param.get(name)):
            raise ApiError(400, code, f"缺少参数 {name}")
    content_field = _MSG_KEY_CONTENT.get(msg_key, "text")
    title = param.get("title")
    return param, Summary(
        msgtype=msg_key,
        content=_s(param.get(content_field)),
        title=_s(title) if _is_filled(title) else None,
    )


# ---------------------------------------------------------------------------
# custom-robot webhook — §5.1
# ---------------------------------------------------------------------------

WEBHOOK_MSGTYPES: tuple[str, ...] = ("text", "link", "markdown", "actionCard", "feedCard")
WEBHOOK_MAX_AT = 50  # "at most 50 people can be @-ed" (§5.1): documented, not refused


def _missing(path: str) -> OapiError:
    # DingTalk documents no dedicated errcode for a missing message field;
    # 40035 is its "缺少参数 <x>" (missing parameter) code, used here with the
    # field's path (§8.2).
    return OapiError(40035, f"缺少参数 {path}")


def validate_webhook_msg(body: Mapping[str, Any]) -> Summary:
    """Validate a webhook body (camelCase keys).  Unknown msgtype → 400105."""
    msgtype = body.get("msgtype")
    if msgtype not in WEBHOOK_MSGTYPES:
        raise OapiError(400105, "不支持的消息类型")
    payload = body.get(msgtype)
    if not isinstance(payload, Mapping):
        raise _missing(str(msgtype))
    title: str | None = None
    if msgtype == "text":
        _require(payload, "text", "content")
        content = _s(payload["content"])
    elif msgtype == "link":
        # link uses messageUrl/picUrl (lower-case "rl"), unlike feedCard (§5.1)
        _require(payload, "link", "title", "text", "messageUrl")
        content, title = _s(payload["text"]), _s(payload["title"])
    elif msgtype == "markdown":
        _require(payload, "markdown", "title", "text")
        content, title = _s(payload["text"]), _s(payload["title"])
    elif msgtype == "actionCard":
        _require(payload, "actionCard", "title", "text")
        content, title = _s(payload["text"]), _s(payload["title"])
        # singleTitle+singleURL (whole-card jump) wins; otherwise btns[{title, actionURL}].
        if not (_is_filled(payload.get("singleTitle")) and _is_filled(payload.get("singleURL"))):
            if _is_filled(payload.get("singleTitle")):
                raise _missing("actionCard.singleURL")
            if _is_filled(payload.get("singleURL")):
                raise _missing("actionCard.singleTitle")
            _require_each(payload.get("btns"), "actionCard.btns", "title", "actionURL", absent="actionCard.singleURL")
    else:  # feedCard — messageURL/picURL upper-case (§5.1)
        links = _require_each(payload.get("links"), "feedCard.links", "title", "messageURL", "picURL")
        content = "\n".join(_s(link["title"]) for link in links)
        title = _s(links[0]["title"])
    _validate_at(body.get("at"))
    return Summary(msgtype=msgtype, content=content, title=title)


def _require(obj: Mapping[str, Any], where: str, *names: str) -> None:
    for name in names:
        if not _is_filled(obj.get(name)):
            raise _missing(f"{where}.{name}")


def _require_each(items: Any, where: str, *names: str, absent: str | None = None) -> list[Mapping[str, Any]]:
    """A non-empty list of objects that each have ``names``; an empty or absent
    list is reported as missing ``absent`` (default: the list itself)."""
    if not isinstance(items, list) or not items:
        raise _missing(absent or where)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _missing(f"{where}[{i}]")
        _require(item, f"{where}[{i}]", *names)
    return items


def _validate_at(at: Any) -> None:
    if at is None:
        return
    if not isinstance(at, Mapping):
        raise OapiError(40035, "缺少参数 at")
    for key in ("atMobiles", "atUserIds"):
        value = at.get(key)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise OapiError(40035, f"缺少参数 at.{key}")
    is_at_all = at.get("isAtAll")
    # Some clients send "true"/"false" strings; DingTalk's field is a bool.
    if is_at_all is not None and not isinstance(is_at_all, bool) and str(is_at_all).lower() not in ("true", "false"):
        raise OapiError(40035, "缺少参数 at.isAtAll")
    # More than WEBHOOK_MAX_AT people: DingTalk documents the limit but no error for it, so the
    # message is accepted (docs/dingtalk-api.md §8.2); the inbox highlights the first 50 only.


def webhook_text_fields(body: Mapping[str, Any]) -> list[str]:
    """The text-bearing fields scanned for security keywords (§5.2, §8.2).

    Which fields DingTalk scans is undocumented; we scan every human-visible
    text (titles, texts, contents, button titles) but not URLs, so a keyword
    that only appears inside a link does not pass.
    """
    msgtype = body.get("msgtype")
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(payload, Mapping):
        return []
    out = [_s(payload.get(k)) for k in ("content", "title", "text", "singleTitle") if _is_filled(payload.get(k))]
    for item in payload.get("btns") or []:
        if isinstance(item, Mapping) and _is_filled(item.get("title")):
            out.append(_s(item["title"]))
    for item in payload.get("links") or []:
        if isinstance(item, Mapping) and _is_filled(item.get("title")):
            out.append(_s(item["title"]))
    return out
