"""A message document (`MessageSpec`, every string a template) rendered into the `Message` that is sent.

Shared by the `send_group_message` node (`message:`) and `groupmsg send --message FILE`, whose
documents have no references to fill in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..dingtalk.messages import HORIZONTAL, Button, FeedLink, Message
from .templating import Ref, Template, to_text


@dataclass(frozen=True)
class CardButton:
    title: Template
    url: Template


@dataclass(frozen=True)
class CardLink:
    title: Template
    url: Template
    pic: Template | None = None


@dataclass(frozen=True)
class MessageSpec:
    """A message document (`message:` of a send node, or `send --message FILE`): groupmsg's
    channel-neutral form, every string a template. Which parts a kind takes is checked on load."""

    kind: str
    line: int
    title: Template | None = None
    text: Template | None = None
    url: Template | None = None
    pic: Template | None = None
    buttons: tuple[CardButton, ...] = ()
    layout: str = "vertical"  # "vertical" | "horizontal" (an action card of several buttons)
    links: tuple[CardLink, ...] = ()
    image: Template | None = None
    at_mobiles: Template | None = None
    at_users: Template | None = None
    at_all: bool = False

Lookup = Callable[[Ref], Any]
# (what, the template) → the error to raise for a required part that rendered empty
OnEmpty = Callable[[str, Template], Exception]


def people(value: Any) -> tuple[str, ...]:
    """Mobiles or user ids to @: a list (a multiselect field), or text separated by commas/spaces."""
    items = value if isinstance(value, (list, tuple)) else to_text(value).replace(",", " ").replace("，", " ").split()
    return tuple(str(v).strip() for v in items if str(v).strip())


def render(spec: MessageSpec, lookup: Lookup, on_empty: OnEmpty | None = None) -> Message:
    def text(template: Template | None, what: str, *, required: bool = False, strip: bool = True) -> str | None:
        if template is None:
            return None
        value = to_text(template.render(lookup))
        value = value.strip() if strip else value
        if required and not value.strip() and on_empty is not None:
            raise on_empty(what, template)
        return value

    buttons = tuple(
        Button(text(b.title, f"the title of button {i}", required=True) or "",
               text(b.url, f"the URL of button {i}", required=True) or "")
        for i, b in enumerate(spec.buttons, 1)
    )
    links = tuple(
        FeedLink(
            text(x.title, f"the title of link {i}", required=True) or "",
            text(x.url, f"the URL of link {i}", required=True) or "",
            text(x.pic, f"the picture of link {i}") or None,
        )
        for i, x in enumerate(spec.links, 1)
    )
    return Message(
        kind=spec.kind,
        text=text(spec.text, "the message text", required=True, strip=False) or "",
        title=text(spec.title, "the message title", required=True),
        url=text(spec.url, "the link's URL", required=True),
        pic=text(spec.pic, "the link's picture") or None,
        buttons=buttons,
        horizontal=spec.layout == HORIZONTAL,
        links=links,
        image=text(spec.image, "the image", required=True),
        at_mobiles=people(spec.at_mobiles.render(lookup)) if spec.at_mobiles else (),
        at_user_ids=people(spec.at_users.render(lookup)) if spec.at_users else (),
        at_all=spec.at_all,
    )
