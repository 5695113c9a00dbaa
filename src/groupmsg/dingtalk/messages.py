"""The one place that knows each channel's message format, field casing and size limits.

Three channels, three formats (see the wire reference):
- `webhook`: custom robot, `{"msgtype": "text", "text": {...}, "at": {...}}` (camelCase, @ supported);
- `chat`: legacy chat/send, `{"chatid": ..., "msg": {"msgtype": ..., ...}}` (snake_case, no @);
- `robot`: /v1.0/robot/groupMessages/send, `msgKey` + `msgParam` as a JSON *string* (no @).
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Any

from ..errors import BadInput, MessageTooLarge

WEBHOOK_BODY_MAX_BYTES = 20000  # errcode 460101
ROBOT_MSGPARAM_MAX_BYTES = 15000  # invalidParameter.msgParam.tooLong
# chat/send: errcode 34016 limits per field, in characters. (The page also says "msg ≤ 2048 bytes";
# the error-code table, which is what the server enforces, says 5000.)
CHAT_TEXT_MAX_CHARS = 5000
CHAT_TITLE_MAX_CHARS = 64
AT_MAX = 50


@dataclass(frozen=True)
class Message:
    text: str
    markdown: bool = False
    title: str | None = None
    at_mobiles: tuple[str, ...] = ()
    at_user_ids: tuple[str, ...] = ()
    at_all: bool = False

    def to_doc(self) -> dict[str, Any]:
        """As a run keeps it, to send it again on a retry."""
        return {
            "text": self.text,
            "markdown": self.markdown,
            "title": self.title,
            "at_mobiles": list(self.at_mobiles),
            "at_user_ids": list(self.at_user_ids),
            "at_all": self.at_all,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Message:
        return cls(
            text=doc["text"],
            markdown=doc.get("markdown", False),
            title=doc.get("title"),
            at_mobiles=tuple(doc.get("at_mobiles", ())),
            at_user_ids=tuple(doc.get("at_user_ids", ())),
            at_all=doc.get("at_all", False),
        )

    @property
    def has_mentions(self) -> bool:
        return bool(self.at_mobiles or self.at_user_ids or self.at_all)

    def check(self) -> None:
        if not self.text.strip():
            raise BadInput("the message is empty", hint="give the text as an argument, or `-` to read stdin")
        if self.markdown and not (self.title or "").strip():
            raise BadInput("a markdown message needs a title", hint="add --title TEXT (shown in the chat list)")
        if len(self.at_mobiles) + len(self.at_user_ids) > AT_MAX:
            raise BadInput(f"DingTalk can @ at most {AT_MAX} people in one message")
        # One-line values that are stored with the run and printed back: no control characters
        # (the text itself may have newlines and tabs).
        for what, value in (("the title", self.title), *(("an @mention", v) for v in (*self.at_mobiles, *self.at_user_ids))):
            if value and any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
                raise BadInput(f"{what} {value!r} contains a control character", hint="give it on one line, as text")

    def with_mention_tokens(self) -> str:
        """The text with any missing `@mobile` / `@userId` appended: DingTalk renders a mention only
        when the token is also in the text."""
        missing = [f"@{who}" for who in (*self.at_mobiles, *self.at_user_ids) if f"@{who}" not in self.text]
        return self.text if not missing else f"{self.text}\n{' '.join(missing)}"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def webhook_body(msg: Message, msg_uuid: str | None = None) -> bytes:
    msg.check()
    text = msg.with_mention_tokens()
    body: dict[str, Any]
    if msg.markdown:
        body = {"msgtype": "markdown", "markdown": {"title": msg.title, "text": text}}
    else:
        body = {"msgtype": "text", "text": {"content": text}}
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


def _no_mentions(msg: Message, channel: str) -> None:
    if msg.has_mentions:
        raise BadInput(
            f"@ mentions are not supported when sending through {channel}",
            hint="DingTalk supports @ only for custom-robot webhook groups; add the group with "
            "`groupmsg groups add NAME --webhook URL` or drop --at-*",
        )


def chat_body(chat_id: str, msg: Message) -> bytes:
    msg.check()
    _no_mentions(msg, "chat/send (app groups)")
    inner: dict[str, Any]
    if msg.markdown:
        _limit("markdown text", msg.text, CHAT_TEXT_MAX_CHARS)
        _limit("markdown title", msg.title or "", CHAT_TITLE_MAX_CHARS)
        inner = {"msgtype": "markdown", "markdown": {"title": msg.title, "text": msg.text}}
    else:
        _limit("text", msg.text, CHAT_TEXT_MAX_CHARS)
        inner = {"msgtype": "text", "text": {"content": msg.text}}
    return _dumps({"chatid": chat_id, "msg": inner})


def _limit(what: str, value: str, max_chars: int) -> None:
    if len(value) > max_chars:
        raise MessageTooLarge(
            f"the {what} is {len(value)} characters; chat/send accepts at most {max_chars}",
            hint="shorten it or split it into several messages",
        )


def robot_body(robot_code: str, open_conversation_id: str, msg: Message) -> bytes:
    msg.check()
    _no_mentions(msg, "the robot API (DINGTALK_ROBOT_CODE)")
    if msg.markdown:
        key, param = "sampleMarkdown", {"title": msg.title, "text": msg.text}
    else:
        key, param = "sampleText", {"content": msg.text}
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
