"""The one place that knows each channel's message format, field casing and size limits.

A `Message` is channel-neutral: a kind (text, markdown, link, action card, feed card, image) and its
parts. Each channel spells it its own way (docs/dingtalk-api.md §5.1, §4.1, §4.2; sizes in §6.2):

| kind          | webhook `msgtype` | chat/send `msgtype` | robot API `msgKey`                                      |
|---------------|-------------------|---------------------|---------------------------------------------------------|
| `text`        | `text`            | `text`              | `sampleText`                                            |
| `markdown`    | `markdown`        | `markdown`          | `sampleMarkdown`                                        |
| `link`        | `link`            | `link`              | `sampleLink`                                            |
| `action_card` | `actionCard`      | `action_card`       | `sampleActionCard` (1), `…2`–`…5` (vertical), `…6` (2 side by side) |
| `feed_card`   | `feedCard`        | —                   | —                                                       |
| `image`       | —                 | `image` (media id)  | `sampleImageMsg` (a URL or a media id)                  |

A kind a channel does not take is refused before anything is sent (`Refused`, exit 2), saying which
channel does take it; so are parts over a channel's limits (`MessageTooLarge`), with the number.
@mentions exist only on webhooks, and only for text and markdown.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadInput, MessageTooLarge

# Kinds, channels and the capability matrix --------------------------------------------------------
TEXT, MARKDOWN, LINK, ACTION_CARD, FEED_CARD, IMAGE = "text", "markdown", "link", "action_card", "feed_card", "image"
KINDS = (TEXT, MARKDOWN, LINK, ACTION_CARD, FEED_CARD, IMAGE)
WEBHOOK, CHAT, ROBOT = "webhook", "chat", "robot"
CHANNELS = (WEBHOOK, CHAT, ROBOT)
VERTICAL, HORIZONTAL = "vertical", "horizontal"

# kind → channel → the wire's own type; a channel missing from a row does not take that kind.
WIRE_TYPES: dict[str, dict[str, str]] = {
    TEXT: {WEBHOOK: "text", CHAT: "text", ROBOT: "sampleText"},
    MARKDOWN: {WEBHOOK: "markdown", CHAT: "markdown", ROBOT: "sampleMarkdown"},
    LINK: {WEBHOOK: "link", CHAT: "link", ROBOT: "sampleLink"},
    ACTION_CARD: {WEBHOOK: "actionCard", CHAT: "action_card", ROBOT: "sampleActionCard"},
    FEED_CARD: {WEBHOOK: "feedCard"},
    IMAGE: {CHAT: "image", ROBOT: "sampleImageMsg"},
}
CHANNEL_NAMES = {
    WEBHOOK: "a custom robot's webhook (groups added with --webhook)",
    CHAT: "chat/send (app groups, by chat id)",
    ROBOT: "the robot API (app groups, with DINGTALK_ROBOT_CODE)",
}
KIND_NAMES = {
    TEXT: "a text message",
    MARKDOWN: "a markdown message",
    LINK: "a link message",
    ACTION_CARD: "an action card",
    FEED_CARD: "a feed card",
    IMAGE: "an image",
}
# The parts of a message each kind uses (anything else set is a mistake, not silently dropped).
PARTS: dict[str, tuple[str, ...]] = {
    TEXT: ("text", "at"),
    MARKDOWN: ("title", "text", "at"),
    LINK: ("title", "text", "url", "pic"),
    ACTION_CARD: ("title", "text", "buttons", "layout"),
    FEED_CARD: ("links",),
    IMAGE: ("image",),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    TEXT: ("text",),
    MARKDOWN: ("title", "text"),
    LINK: ("title", "text", "url"),
    ACTION_CARD: ("title", "text", "buttons"),
    FEED_CARD: ("links",),
    IMAGE: ("image",),
}
# How each part is given on the command line, for hints.
FLAGS = {
    "text": "the text (an argument, or `-` for stdin)",
    "title": "--title TEXT",
    "url": "--link URL",
    "pic": "--pic URL",
    "buttons": "--button 'TITLE=URL'",
    "layout": "--horizontal",
    "links": "--feed 'TITLE=URL=PIC_URL'",
    "image": "--image URL_OR_FILE",
    "at": "--at-mobile / --at-user / --at-all",
}

# Limits ----------------------------------------------------------------------------------------
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
IMAGE_MAX_BYTES = 1024 * 1024  # an image media: 1 MB (§4.1, §4.3)
IMAGE_FORMATS = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP"}
AT_MAX = 50


class Refused(BadInput):
    """A channel does not take this kind of message, or this shape of it."""


@dataclass(frozen=True)
class Button:
    title: str
    url: str


@dataclass(frozen=True)
class FeedLink:
    title: str
    url: str
    pic: str | None = None


@dataclass(frozen=True)
class Message:
    """One message, channel-neutral. `Message(text=…)` is a text message; `markdown=True` (with a
    title) a markdown one; other kinds name their `kind`."""

    text: str = ""
    markdown: bool = False
    title: str | None = None
    at_mobiles: tuple[str, ...] = ()
    at_user_ids: tuple[str, ...] = ()
    at_all: bool = False
    kind: str = ""  # derived from `markdown` when not given
    url: str | None = None  # a link message's target
    pic: str | None = None  # a link message's picture
    buttons: tuple[Button, ...] = ()
    horizontal: bool = False  # an action card's buttons side by side
    links: tuple[FeedLink, ...] = ()
    image: str | None = None  # an image: a URL, a media id (`@…`) or a local file

    def __post_init__(self) -> None:
        kind = self.kind or (MARKDOWN if self.markdown else TEXT)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "markdown", kind == MARKDOWN)

    # Documents -------------------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        """As a run keeps it, to send it again on a retry. (Documents written before kinds existed
        have no `kind` and are still read: `from_doc`.)"""
        doc: dict[str, Any] = {
            "kind": self.kind,
            "text": self.text,
            "markdown": self.markdown,
            "title": self.title,
            "at_mobiles": list(self.at_mobiles),
            "at_user_ids": list(self.at_user_ids),
            "at_all": self.at_all,
        }
        if self.url is not None:
            doc["url"] = self.url
        if self.pic is not None:
            doc["pic"] = self.pic
        if self.buttons:
            doc["buttons"] = [{"title": b.title, "url": b.url} for b in self.buttons]
            doc["horizontal"] = self.horizontal
        if self.links:
            doc["links"] = [{"title": x.title, "url": x.url, "pic": x.pic} for x in self.links]
        if self.image is not None:
            doc["image"] = self.image
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Message:
        return cls(
            text=doc.get("text") or "",
            markdown=doc.get("markdown", False),
            title=doc.get("title"),
            at_mobiles=tuple(doc.get("at_mobiles", ())),
            at_user_ids=tuple(doc.get("at_user_ids", ())),
            at_all=doc.get("at_all", False),
            kind=doc.get("kind") or "",
            url=doc.get("url"),
            pic=doc.get("pic"),
            buttons=tuple(Button(b["title"], b["url"]) for b in doc.get("buttons", ())),
            horizontal=doc.get("horizontal", False),
            links=tuple(FeedLink(x["title"], x["url"], x.get("pic")) for x in doc.get("links", ())),
            image=doc.get("image"),
        )

    # Views -----------------------------------------------------------------------------------
    @property
    def has_mentions(self) -> bool:
        return bool(self.at_mobiles or self.at_user_ids or self.at_all)

    @property
    def layout(self) -> str | None:
        """An action card's: `single` (one button for the whole card), `vertical` or `horizontal`."""
        if self.kind != ACTION_CARD:
            return None
        if len(self.buttons) == 1:
            return "single"
        return HORIZONTAL if self.horizontal else VERTICAL

    def visible_text(self) -> str:
        """Everything a reader sees as text (titles, texts, button and link titles; not URLs): what
        a robot's keywords are looked for in (docs/dingtalk-api.md §8.2)."""
        parts = [self.title or "", self.text, *(b.title for b in self.buttons), *(x.title for x in self.links)]
        return "\n".join(p for p in parts if p)

    def with_image(self, image: str) -> Message:
        return replace(self, image=image)

    def _set(self, part: str) -> bool:
        value = {
            "text": self.text.strip(),
            "title": (self.title or "").strip(),
            "url": self.url,
            "pic": self.pic,
            "buttons": self.buttons,
            "layout": self.horizontal,
            "links": self.links,
            "image": self.image,
            "at": self.has_mentions,
        }[part]
        return bool(value)

    # Checks that hold whatever the channel ---------------------------------------------------
    def check(self) -> None:
        kind = self.kind
        if kind not in KINDS:
            raise BadInput(f"unknown message kind {kind!r}", hint=f"the kinds are {', '.join(KINDS)}")
        name = KIND_NAMES[kind]
        for part in REQUIRED[kind]:
            if not self._set(part):
                if part == "text" and kind == TEXT:
                    raise BadInput("the message is empty", hint="give the text as an argument, or `-` to read stdin")
                if part == "title" and kind == MARKDOWN:
                    raise BadInput("a markdown message needs a title", hint="add --title TEXT (shown in the chat list)")
                what = {"text": "a text", "title": "a title", "url": "a URL", "buttons": "a button",
                        "links": "a link", "image": "an image"}[part]
                raise BadInput(f"{name} needs {what}", hint=f"add {FLAGS[part]} (or `{part}:` in a message document)")
        for part, flag in FLAGS.items():
            if part not in PARTS[kind] and self._set(part):
                if part == "at":
                    raise BadInput(
                        "@mentions go only with text and markdown messages",
                        hint=f"DingTalk ignores `at` on {name}: drop --at-*, or send the mention as a text message",
                    )
                raise BadInput(f"{name} has no {part}", hint=f"drop {flag} (it belongs to another kind of message)")
        for i, b in enumerate(self.buttons, 1):
            if not b.title.strip() or not b.url.strip():
                raise BadInput(f"button {i} needs a title and a URL", hint="write --button 'TITLE=URL'")
        for i, x in enumerate(self.links, 1):
            if not x.title.strip() or not x.url.strip():
                raise BadInput(f"feed link {i} needs a title and a URL", hint="write --feed 'TITLE=URL=PIC_URL'")
            if not (x.pic or "").strip():
                raise BadInput(
                    f"feed link {i} ({x.title!r}) has no picture: DingTalk requires one (picURL) for every link "
                    "of a feed card",
                    hint="write --feed 'TITLE=URL=PIC_URL'",
                )
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


def image_source(value: str) -> str:
    """`url` (http/https), `media` (a media id from /media/upload: `@…`) or `file` (a local path)."""
    if value.startswith(("https://", "http://")):
        return "url"
    if value.startswith("@"):
        return "media"
    return "file"


def check_image_file(name: str, data: bytes) -> str:
    """The format of an image to upload (PNG, JPG, GIF, BMP); BadInput for anything DingTalk's
    media upload would refuse (docs/dingtalk-api.md §4.3)."""
    if len(data) > IMAGE_MAX_BYTES:
        raise MessageTooLarge(
            f"the image {name} is {len(data):,} bytes; DingTalk accepts images of at most "
            f"{IMAGE_MAX_BYTES:,} bytes (1 MB)",
            hint="shrink it, or give a URL of it to a group sent through the robot API",
        )
    for magic, fmt in IMAGE_FORMATS.items():
        if data.startswith(magic):
            return fmt
    raise BadInput(f"{name} is not a JPG, PNG, GIF or BMP image", hint="DingTalk's media upload takes only those")


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
def parse_button(text: str) -> Button:
    """`TITLE=URL`: the title ends at the first `=` (URLs may contain more)."""
    title, sep, url = text.partition("=")
    if not sep or not title.strip() or not url.strip():
        raise BadInput(f"--button {text!r} is not TITLE=URL", hint="e.g. --button '查看构建=https://ci.example.com/1'")
    return Button(title.strip(), url.strip())


def parse_feed_link(text: str) -> FeedLink:
    """`TITLE=URL=PIC_URL` (or `TITLE=URL`): the title ends at the first `=`; the picture starts at
    the last `=http://` or `=https://` (so a URL's own query keeps its `=`; a URL whose query holds
    another URL must be percent-encoded)."""
    title, sep, rest = text.partition("=")
    if not sep or not title.strip() or not rest.strip():
        raise BadInput(
            f"--feed {text!r} is not TITLE=URL=PIC_URL", hint="e.g. --feed '周报=https://e.com/r=https://e.com/r.png'"
        )
    url, pic = rest, None
    cut = max(rest.rfind("=http://"), rest.rfind("=https://"))
    if cut > 0:
        url, pic = rest[:cut], rest[cut + 1 :]
    return FeedLink(title.strip(), url.strip(), pic.strip() if pic else None)
