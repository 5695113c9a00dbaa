"""A message as groupmsg holds it, channel-neutral: its kind, its parts, and the rules every
channel shares (what each kind needs, what it may not have, @mention limits).

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

import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from ...errors import BadInput, MessageTooLarge

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
