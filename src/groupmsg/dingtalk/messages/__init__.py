"""Messages: channel-neutral (`model`) and as each channel spells them (`wire`).

| kind          | webhook `msgtype` | chat/send `msgtype` | robot API `msgKey`                                      |
|---------------|-------------------|---------------------|---------------------------------------------------------|
| `text`        | `text`            | `text`              | `sampleText`                                            |
| `markdown`    | `markdown`        | `markdown`          | `sampleMarkdown`                                        |
| `link`        | `link`            | `link`              | `sampleLink`                                            |
| `action_card` | `actionCard`      | `action_card`       | `sampleActionCard` (1), `…2`–`…5` (vertical), `…6` (2 side by side) |
| `feed_card`   | `feedCard`        | —                   | —                                                       |
| `image`       | —                 | `image` (media id)  | `sampleImageMsg` (a URL or a media id)                  |
"""

from __future__ import annotations

from .model import (
    ACTION_CARD,
    CHANNEL_NAMES,
    CHANNELS,
    CHAT,
    FEED_CARD,
    HORIZONTAL,
    IMAGE,
    KIND_NAMES,
    KINDS,
    LINK,
    MARKDOWN,
    PARTS,
    REQUIRED,
    ROBOT,
    TEXT,
    VERTICAL,
    WEBHOOK,
    WIRE_TYPES,
    Button,
    FeedLink,
    Message,
    Refused,
    check_image_file,
    image_source,
    parse_button,
    parse_feed_link,
)
from .wire import WEBHOOK_BODY_MAX_BYTES, chat_body, multipart, robot_body, robot_key_and_param, webhook_body

__all__ = [
    "ACTION_CARD",
    "CHANNELS",
    "CHANNEL_NAMES",
    "CHAT",
    "FEED_CARD",
    "HORIZONTAL",
    "IMAGE",
    "KINDS",
    "KIND_NAMES",
    "LINK",
    "MARKDOWN",
    "PARTS",
    "REQUIRED",
    "ROBOT",
    "TEXT",
    "VERTICAL",
    "WEBHOOK",
    "WEBHOOK_BODY_MAX_BYTES",
    "WIRE_TYPES",
    "Button",
    "FeedLink",
    "Message",
    "Refused",
    "chat_body",
    "check_image_file",
    "image_source",
    "multipart",
    "parse_button",
    "parse_feed_link",
    "robot_body",
    "robot_key_and_param",
    "webhook_body",
]
