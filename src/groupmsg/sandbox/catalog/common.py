"""What the channel validators share: the recorded summary and the channel-neutral ``message``.

Every accepted message is recorded with the wire's own type (``msgtype``: the webhook or chat/send
``msgtype``, or the robot API ``msgKey``) and with one channel-neutral object, ``message``, that
tests assert on and the web inbox renders::

    {"kind": "text | markdown | link | action_card | feed_card | image | file | oa | voice | audio | video",
     "title": str | None, "text": str | None, "url": str | None, "pic": str | None,
     "buttons": [{"title", "url"}], "layout": "single | vertical | horizontal | None",
     "links": [{"title", "url", "pic"}], "image": str | None,
     "at": {"mobiles": [...], "user_ids": [...], "all": bool}}

Absent parts are empty lists or None, never missing keys. Section numbers (§n) refer to
``docs/dingtalk-api.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Summary:
    """What the sandbox records of an accepted message besides its body."""

    msgtype: str
    content: str
    title: str | None = None
    message: dict[str, Any] = field(default_factory=dict)


def is_filled(value: Any) -> bool:
    """Present and non-empty.  Numbers count as filled (e.g. ``duration``)."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (int, float)):
        return True
    return bool(value)


def text_of(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def optional(value: Any) -> str | None:
    """A part that may be absent: None when missing or blank."""
    return text_of(value) if is_filled(value) else None


def neutral(
    kind: str,
    *,
    title: Any = None,
    text: Any = None,
    url: Any = None,
    pic: Any = None,
    buttons: Iterable[tuple[Any, Any]] = (),
    layout: str | None = None,
    links: Iterable[tuple[Any, Any, Any]] = (),
    image: Any = None,
    at: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The channel-neutral ``message`` object, every key present."""
    return {
        "kind": kind,
        "title": optional(title),
        "text": None if text is None else text_of(text),
        "url": optional(url),
        "pic": optional(pic),
        "buttons": [{"title": text_of(t), "url": text_of(u)} for t, u in buttons],
        "layout": layout,
        "links": [{"title": text_of(t), "url": text_of(u), "pic": optional(p)} for t, u, p in links],
        "image": optional(image),
        "at": at_of(at),
    }


def at_of(at: Mapping[str, Any] | None) -> dict[str, Any]:
    """A webhook's ``at`` (``atMobiles``, ``atUserIds``, ``isAtAll``: §5.1) in the neutral form."""
    if not isinstance(at, Mapping):
        return {"mobiles": [], "user_ids": [], "all": False}
    everyone = at.get("isAtAll")
    return {
        "mobiles": [text_of(m) for m in at.get("atMobiles") or ()],
        "user_ids": [text_of(u) for u in at.get("atUserIds") or ()],
        "all": everyone is True or text_of(everyone).lower() == "true",
    }


def orientation(value: Any) -> str:
    """``btnOrientation`` / ``btn_orientation``: "1" (or 1) lays buttons side by side."""
    return "horizontal" if text_of(value) == "1" else "vertical"
