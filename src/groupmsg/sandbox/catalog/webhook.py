"""The custom robot webhook: ``msgtype`` with **camelCase** bodies — ``docs/dingtalk-api.md`` §5.1.
An unknown msgtype answers 400105; a missing field 40035 with its path (§8.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import OapiError
from .common import Summary, is_filled, neutral, orientation, text_of

WEBHOOK_MSGTYPES: tuple[str, ...] = ("text", "link", "markdown", "actionCard", "feedCard")
WEBHOOK_MAX_AT = 50  # "at most 50 people can be @-ed" (§5.1): documented, not refused


def _missing(path: str) -> OapiError:
    # DingTalk documents no dedicated errcode for a missing message field; 40035 is its "缺少参数 <x>"
    # (missing parameter) code, used here with the field's path (§8.2).
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
    at = body.get("at")
    if msgtype == "text":
        _require(payload, "text", "content")
        content = text_of(payload["content"])
        message = neutral("text", text=content, at=at)
    elif msgtype == "link":
        # link uses messageUrl/picUrl (lower-case "rl"), unlike feedCard (§5.1); it ignores `at`
        _require(payload, "link", "title", "text", "messageUrl")
        content, title = text_of(payload["text"]), text_of(payload["title"])
        message = neutral("link", title=title, text=content, url=payload["messageUrl"], pic=payload.get("picUrl"))
    elif msgtype == "markdown":
        _require(payload, "markdown", "title", "text")
        content, title = text_of(payload["text"]), text_of(payload["title"])
        message = neutral("markdown", title=title, text=content, at=at)
    elif msgtype == "actionCard":
        _require(payload, "actionCard", "title", "text")
        content, title = text_of(payload["text"]), text_of(payload["title"])
        # singleTitle+singleURL (whole-card jump) wins; otherwise btns[{title, actionURL}].
        if is_filled(payload.get("singleTitle")) and is_filled(payload.get("singleURL")):
            buttons, layout = [(payload["singleTitle"], payload["singleURL"])], "single"
        else:
            if is_filled(payload.get("singleTitle")):
                raise _missing("actionCard.singleURL")
            if is_filled(payload.get("singleURL")):
                raise _missing("actionCard.singleTitle")
            btns = _require_each(payload.get("btns"), "actionCard.btns", "title", "actionURL", absent="actionCard.singleURL")
            buttons, layout = [(b["title"], b["actionURL"]) for b in btns], orientation(payload.get("btnOrientation"))
        message = neutral("action_card", title=title, text=content, buttons=buttons, layout=layout, at=at)
    else:  # feedCard — messageURL/picURL upper-case (§5.1); it ignores `at`
        links = _require_each(payload.get("links"), "feedCard.links", "title", "messageURL", "picURL")
        content = "\n".join(text_of(link["title"]) for link in links)
        title = text_of(links[0]["title"])
        message = neutral("feed_card", links=[(x["title"], x["messageURL"], x["picURL"]) for x in links])
    _validate_at(at)
    return Summary(msgtype=msgtype, content=content, title=title, message=message)


def _require(obj: Mapping[str, Any], where: str, *names: str) -> None:
    for name in names:
        if not is_filled(obj.get(name)):
            raise _missing(f"{where}.{name}")


def _require_each(items: Any, where: str, *names: str, absent: str | None = None) -> list[Mapping[str, Any]]:
    """A non-empty list of objects that each have ``names``; an empty or absent list is reported as
    missing ``absent`` (default: the list itself)."""
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

    Which fields DingTalk scans is undocumented; we scan every human-visible text (titles, texts,
    contents, button titles) but not URLs, so a keyword that only appears inside a link does not pass.
    """
    msgtype = body.get("msgtype")
    payload = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(payload, Mapping):
        return []
    out = [text_of(payload.get(k)) for k in ("content", "title", "text", "singleTitle") if is_filled(payload.get(k))]
    for item in payload.get("btns") or []:
        if isinstance(item, Mapping) and is_filled(item.get("title")):
            out.append(text_of(item["title"]))
    for item in payload.get("links") or []:
        if isinstance(item, Mapping) and is_filled(item.get("title")):
            out.append(text_of(item["title"]))
    return out
