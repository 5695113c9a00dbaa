"""Each channel's own spelling of a `Message`: the custom-robot webhook, chat/send, the robot API
(docs/dingtalk-api.md §5.1, §4.1, §4.2; sizes in §6.2), and the media upload's multipart body.

A kind a channel does not take is refused here before anything is sent (`Refused`, exit 2), saying
which channel does take it; so are parts over a channel's limits (`MessageTooLarge`), with the number.
"""

from __future__ import annotations

import json
from typing import Any

from ...errors import BadInput, MessageTooLarge
from .model import (
    ACTION_CARD,
    CHANNEL_NAMES,
    CHAT,
    IMAGE,
    KIND_NAMES,
    LINK,
    MARKDOWN,
    ROBOT,
    TEXT,
    WEBHOOK,
    WIRE_TYPES,
    Message,
    Refused,
    image_source,
)

# Limits per channel (§6.2)
WEBHOOK_BODY_MAX_BYTES = 20000  # errcode 460101 (§5.4)
ROBOT_MSGPARAM_MAX_BYTES = 15000  # invalidParameter.msgParam.tooLong (§4.2)
# chat/send: errcode 34016 limits per field, in characters (§4.1). (The page also says "msg ≤ 2048 bytes";
# the error-code table, which is what the server enforces, says 5000.)
CHAT_TEXT_MAX_CHARS = 5000  # text content, markdown text, an action card's markdown
CHAT_TITLE_MAX_CHARS = 64
CHAT_BUTTON_TITLE_MAX_CHARS = 20  # single_title, and each button's title
CHAT_SINGLE_URL_MAX_CHARS = 500
CHAT_ACTION_URL_MAX_CHARS = 700
CHAT_BUTTONS_JSON_MAX_CHARS = 1000  # btn_json_list, serialised
ROBOT_MAX_BUTTONS = 5  # sampleActionCard2 … sampleActionCard5 (§4.2)
ROBOT_SIDE_BY_SIDE_BUTTONS = 2  # sampleActionCard6


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _supported(msg: Message, channel: str) -> str:
    """The wire type of `msg` on `channel`, or Refused naming the channels that take it."""
    wire = WIRE_TYPES[msg.kind].get(channel)
    if wire is None:
        takers = " and ".join(CHANNEL_NAMES[c] for c in WIRE_TYPES[msg.kind])
        hint = "send it to a group reached that way"
        if msg.kind == IMAGE:
            hint = "or embed it in a markdown message: --markdown --title TITLE '![](IMAGE_URL)'"
        raise Refused(
            f"{KIND_NAMES[msg.kind]} cannot be sent through {CHANNEL_NAMES[channel]}: DingTalk takes "
            f"{KIND_NAMES[msg.kind].split(' ', 1)[1]}s only through {takers}",
            hint=hint,
        )
    return wire


def _no_mentions(msg: Message, channel: str) -> None:
    if msg.has_mentions:
        raise Refused(
            f"@ mentions are not supported when sending through {channel}",
            hint="DingTalk supports @ only for custom-robot webhook groups; add the group with "
            "`groupmsg groups add NAME --webhook URL` or drop --at-*",
        )


def _needs_pic(msg: Message, channel: str) -> str:
    if not msg.pic:
        raise Refused(
            f"a link message through {channel} needs a picture: DingTalk requires picUrl there "
            "(only webhooks take a link without one)",
            hint="add --pic URL (or `pic:` in a message document)",
        )
    return msg.pic


def _uploaded(msg: Message, channel: str) -> str:
    """The image of `msg` as the channel takes it: a media id, or (robot API) a URL."""
    image = msg.image or ""
    source = image_source(image)
    if source == "file":  # the delivery uploads files first; a file here is a bug
        raise BadInput(f"the image {image} was not uploaded before building the request")
    if source == "url" and channel == CHAT:
        raise Refused(
            "chat/send takes an image only as a media id, not a URL",
            hint="give the image as a local file (groupmsg uploads it through /media/upload), or send the URL to "
            "a group reached through the robot API (DINGTALK_ROBOT_CODE)",
        )
    return image


# Webhook -----------------------------------------------------------------------------------------
def webhook_body(msg: Message, msg_uuid: str | None = None) -> bytes:
    msg.check()
    wire = _supported(msg, WEBHOOK)
    payload: dict[str, Any]
    if msg.kind == TEXT:
        payload = {"content": msg.with_mention_tokens()}
    elif msg.kind == MARKDOWN:
        payload = {"title": msg.title, "text": msg.with_mention_tokens()}
    elif msg.kind == LINK:
        payload = {"title": msg.title, "text": msg.text, "messageUrl": msg.url}  # camelCase "Url" (§5.1)
        if msg.pic:
            payload["picUrl"] = msg.pic
    elif msg.kind == ACTION_CARD:
        payload = {"title": msg.title, "text": msg.text}
        if msg.layout == "single":
            payload.update(singleTitle=msg.buttons[0].title, singleURL=msg.buttons[0].url)
        else:
            payload["btns"] = [{"title": b.title, "actionURL": b.url} for b in msg.buttons]
            payload["btnOrientation"] = "1" if msg.horizontal else "0"
    else:  # feed card: messageURL / picURL, upper-case "URL" (§5.1)
        payload = {"links": [{"title": x.title, "messageURL": x.url, "picURL": x.pic} for x in msg.links]}
    body: dict[str, Any] = {"msgtype": wire, wire: payload}
    if msg.has_mentions:
        body["at"] = {
            "atMobiles": list(msg.at_mobiles),
            "atUserIds": list(msg.at_user_ids),
            "isAtAll": msg.at_all,
        }
    if msg_uuid:
        body["msgUuid"] = msg_uuid
    raw = _dumps(body)
    if len(raw) > WEBHOOK_BODY_MAX_BYTES:
        raise MessageTooLarge(
            f"the message is {len(raw)} bytes as sent; a webhook robot accepts at most "
            f"{WEBHOOK_BODY_MAX_BYTES} bytes (UTF-8, whole JSON body)",
            hint="shorten the text (Chinese characters take 3 bytes each) or split it into several messages",
        )
    return raw


# chat/send ---------------------------------------------------------------------------------------
def chat_body(chat_id: str, msg: Message) -> bytes:
    msg.check()
    wire = _supported(msg, CHAT)
    _no_mentions(msg, "chat/send (app groups)")
    inner: dict[str, Any]
    if msg.kind == TEXT:
        _limit("text", msg.text, CHAT_TEXT_MAX_CHARS)
        inner = {"content": msg.text}
    elif msg.kind == MARKDOWN:
        _limit("markdown text", msg.text, CHAT_TEXT_MAX_CHARS)
        _limit("markdown title", msg.title or "", CHAT_TITLE_MAX_CHARS)
        inner = {"title": msg.title, "text": msg.text}
    elif msg.kind == LINK:  # the one chat/send body in camelCase (§4.1)
        _limit("link title", msg.title or "", CHAT_TITLE_MAX_CHARS)
        inner = {"messageUrl": msg.url, "picUrl": _needs_pic(msg, "chat/send"), "title": msg.title, "text": msg.text}
    elif msg.kind == ACTION_CARD:
        _limit("card title", msg.title or "", CHAT_TITLE_MAX_CHARS)
        _limit("card text", msg.text, CHAT_TEXT_MAX_CHARS)
        inner = {"title": msg.title, "markdown": msg.text}
        if msg.layout == "single":
            (button,) = msg.buttons
            _limit("button title", button.title, CHAT_BUTTON_TITLE_MAX_CHARS)
            _limit("button URL", button.url, CHAT_SINGLE_URL_MAX_CHARS)
            inner.update(single_title=button.title, single_url=button.url)
        else:
            buttons = [{"title": b.title, "action_url": b.url} for b in msg.buttons]
            for i, b in enumerate(msg.buttons, 1):
                _limit(f"title of button {i}", b.title, CHAT_BUTTON_TITLE_MAX_CHARS)
                _limit(f"URL of button {i}", b.url, CHAT_ACTION_URL_MAX_CHARS)
            listed = json.dumps(buttons, ensure_ascii=False, separators=(",", ":"))
            _limit("button list (btn_json_list, as JSON)", listed, CHAT_BUTTONS_JSON_MAX_CHARS)
            inner.update(btn_orientation="1" if msg.horizontal else "0", btn_json_list=buttons)
    else:  # image
        inner = {"media_id": _uploaded(msg, CHAT)}
    return _dumps({"chatid": chat_id, "msg": {"msgtype": wire, wire: inner}})


def _limit(what: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise MessageTooLarge(
            f"the {what} is {len(value)} characters; chat/send accepts at most {max_chars}",
            hint="shorten it" + (" or split it into several messages" if max_chars >= CHAT_TEXT_MAX_CHARS else ""),
        )


# Robot API ---------------------------------------------------------------------------------------
def robot_key_and_param(msg: Message) -> tuple[str, dict[str, Any]]:
    """`msgKey` and the `msgParam` object (§4.2) for a message the robot API takes."""
    msg.check()
    key = _supported(msg, ROBOT)
    _no_mentions(msg, "the robot API (DINGTALK_ROBOT_CODE)")
    if msg.kind == TEXT:
        return key, {"content": msg.text}
    if msg.kind == MARKDOWN:
        return key, {"title": msg.title, "text": msg.text}
    if msg.kind == LINK:
        return key, {"text": msg.text, "title": msg.title, "picUrl": _needs_pic(msg, "the robot API"), "messageUrl": msg.url}
    if msg.kind == IMAGE:
        return key, {"photoURL": _uploaded(msg, ROBOT)}
    param: dict[str, Any] = {"title": msg.title, "text": msg.text}
    n = len(msg.buttons)
    if n == 1:
        param.update(singleTitle=msg.buttons[0].title, singleURL=msg.buttons[0].url)
        return "sampleActionCard", param
    if msg.horizontal:
        if n != ROBOT_SIDE_BY_SIDE_BUTTONS:
            raise Refused(
                f"the robot API puts buttons side by side only in a pair (sampleActionCard6); this card has {n}",
                hint="drop --horizontal (up to 5 buttons stack vertically), or keep 2 buttons; "
                "a webhook group or chat/send takes any number side by side",
            )
        for i, b in enumerate(msg.buttons, 1):
            param.update({f"buttonTitle{i}": b.title, f"buttonUrl{i}": b.url})
        return "sampleActionCard6", param
    if n > ROBOT_MAX_BUTTONS:
        raise Refused(
            f"the robot API shows at most {ROBOT_MAX_BUTTONS} buttons on a card (sampleActionCard5); this card has {n}",
            hint="keep 5 buttons or fewer, or send it to a webhook group or through chat/send",
        )
    for i, b in enumerate(msg.buttons, 1):
        param.update({f"actionTitle{i}": b.title, f"actionURL{i}": b.url})
    return f"sampleActionCard{n}", param


def robot_body(robot_code: str, open_conversation_id: str, msg: Message) -> bytes:
    key, param = robot_key_and_param(msg)
    msg_param = json.dumps(param, ensure_ascii=False, separators=(",", ":"))
    size = len(msg_param.encode("utf-8"))
    if size > ROBOT_MSGPARAM_MAX_BYTES:
        raise MessageTooLarge(
            f"the message is {size} bytes; the robot API accepts at most {ROBOT_MSGPARAM_MAX_BYTES} bytes",
            hint="shorten the text (Chinese characters take 3 bytes each) or split it",
        )
    return _dumps(
        {
            "msgKey": key,
            "msgParam": msg_param,
            "openConversationId": open_conversation_id,
            "robotCode": robot_code,
        }
    )


# Media upload ------------------------------------------------------------------------------------
def multipart(field: str, filename: str, data: bytes, content_type: str) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part, and its Content-Type (§4.3)."""
    import os

    boundary = "groupmsg-" + os.urandom(12).hex()
    safe_name = filename.replace('"', "_").replace("\r", "_").replace("\n", "_")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# The command line's short forms (also accepted in message documents) ---------------------------------
