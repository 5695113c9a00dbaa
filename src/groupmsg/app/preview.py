"""Use case: `groupmsg preview` — how a message will look in the group, without sending it.

The message is built exactly as `send` builds it for each group's channel (`delivery.prepare`:
sizes, keywords, @ rules, casing), then run through the sandbox's own checks and rendered by the
sandbox inbox's renderer into one self-contained HTML file. Without a group, it is rendered as a
webhook robot would show it, with no channel's rules applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import GroupmsgError

if TYPE_CHECKING:
    from ..delivery import DeliveryService
    from ..dingtalk.messages import Message
    from ..state.model import Group


@dataclass
class PreviewTarget:
    group: str | None
    channel: str | None
    accepted: bool
    refusal: str | None
    message: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return {"group": self.group, "channel": self.channel, "accepted": self.accepted, "refusal": self.refusal,
                "notes": self.notes, "message": self.message}


@dataclass
class Preview:
    html: str
    targets: list[PreviewTarget]


def _plain(msg: Message) -> dict[str, Any]:
    """The message object of `msg` as given (no channel applied): the shape the sandbox records."""
    return {
        "kind": msg.kind,
        "title": msg.title,
        "text": msg.text,
        "url": msg.url,
        "pic": msg.pic,
        "buttons": [{"title": b.title, "url": b.url} for b in msg.buttons],
        "layout": msg.layout,
        "links": [{"title": x.title, "url": x.url, "pic": x.pic} for x in msg.links],
        "image": msg.image,
        "at": {"mobiles": list(msg.at_mobiles), "user_ids": list(msg.at_user_ids), "all": msg.at_all},
    }


def _notes(message: dict[str, Any]) -> list[str]:
    """What the sender may not expect about how DingTalk shows it."""
    notes = []
    text = message.get("text") or ""
    if message.get("kind") == "markdown":
        import re

        from ..sandbox.render import Mentions, markdown_html

        # the renderer keeps a soft break as a newline inside its paragraph
        if re.search(r"<p>(?:(?!</p>).)*\n", markdown_html(text, Mentions(None)), re.DOTALL):
            notes.append("a single line break in markdown shows as a space: end the line with two spaces, or leave a blank line")
        if message.get("title"):
            notes.append(f"the title {message['title']!r} shows only in the chat list and notifications, not in the message")
    return notes


def _channel(delivery: DeliveryService, group: Group) -> str | None:
    from ..delivery.route import channel_of

    try:
        return channel_of(group, delivery.client.robot_code)
    except GroupmsgError:
        return None


def render(delivery: DeliveryService, groups: list[Group] | None, msg: Message) -> Preview:
    """Each group's verdict and rendering (`groups` None: the message as given, no channel)."""
    from ..sandbox.preview import Target, interpret, page

    targets: list[PreviewTarget] = []
    if groups is None:
        msg.check()
        message = _plain(msg)
        targets.append(PreviewTarget(None, None, True, None, message, _notes(message)))
    else:
        for group in groups:
            try:
                prepared = delivery.prepare(group, msg)
            except GroupmsgError as e:  # what groupmsg refuses before sending: DingTalk would too
                why = e.message + (f" — {e.hint}" if e.hint else "")
                targets.append(PreviewTarget(group.name, _channel(delivery, group), False, why, _plain(msg)))
                continue
            body = json.loads(prepared.request.body) if prepared.request.body else {}
            message, refusal = interpret(prepared.channel, body)
            targets.append(PreviewTarget(group.name, prepared.channel, refusal is None, refusal, message, _notes(message)))
    shown = [
        Target(
            title=f"{t.group} · {t.channel or 'not sendable'}" if t.group else "any group (no channel's rules applied)",
            sender=t.group or "robot",
            message=t.message,
            refusal=t.refusal,
            notes=t.notes,
        )
        for t in targets
    ]
    return Preview(page(shown), targets)
