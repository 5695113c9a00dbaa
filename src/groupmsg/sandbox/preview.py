"""What a request would look like in the group, and whether DingTalk would take it
(``groupmsg preview``), with the inbox's own renderer and the sandbox's own checks.

:func:`interpret` runs a request body through the same message checks the sandbox applies to
what it receives, and gives the message object the inbox renders (or DingTalk's refusal);
:func:`page` lays out one or more messages as a self-contained HTML file that shows them
exactly as the inbox does (its stylesheet inlined, no script at all).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .catalog import neutral, parse_msg_param, validate_chat_msg, validate_webhook_msg
from .errors import ApiError, OapiError
from .handlers.inbox import asset, bubble
from .state import iso

CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Target:
    """One message as one group would get it."""

    title: str  # e.g. "运维告警 · webhook"
    sender: str
    message: Mapping[str, Any]
    refusal: str | None = None  # what DingTalk would answer instead of delivering it
    notes: Sequence[str] = ()


def interpret(channel: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The message object of a request body for ``channel`` (webhook | chat | robot), and
    DingTalk's refusal (``"34014 无效的消息 (…)"``) if its checks would refuse it."""
    try:
        if channel == "webhook":
            summary = validate_webhook_msg(body)
        elif channel == "chat":
            summary = validate_chat_msg(body.get("msg"))
        else:
            summary = parse_msg_param(body.get("msgKey"), body.get("msgParam"))[1]
    except OapiError as e:
        return fallback(body, channel), f"{e.errcode} {e.errmsg}" + (f" ({e.detail})" if e.detail else "")
    except ApiError as e:
        return fallback(body, channel), f"HTTP {e.status} {e.code} {e.message}"
    return dict(summary.message), None


def fallback(body: Mapping[str, Any], channel: str) -> dict[str, Any]:
    """A body the checks refused, shown as what it is: its JSON, as text."""
    return neutral("text", text=json.dumps(body, ensure_ascii=False, indent=1))


def page(targets: Sequence[Target], heading: str = "groupmsg preview") -> str:
    """A self-contained HTML page: each message in a chat frame, with DingTalk's verdict."""
    now = iso(__import__("time").time())
    sections = []
    for i, t in enumerate(targets, 1):
        if t.refusal:
            verdict = f'<div class="verdict refused">DingTalk would refuse this: <strong>{escape(t.refusal)}</strong>'
        else:
            verdict = '<div class="verdict">DingTalk would accept this.'
        if t.notes:
            verdict += "<ul>" + "".join(f"<li>{escape(n)}</li>" for n in t.notes) + "</ul>"
        verdict += "</div>"
        entry = {"id": f"p{i}", "received_at": now}
        sections.append(
            f'<section class="target"><h2>{escape(t.title)}</h2>{verdict}'
            f'<div class="messages">{bubble(entry, t.message, t.sender, now)}</div></section>'
        )
    return (
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(heading)}</title><style>{asset('inbox.css')}</style></head>"
        f'<body><div class="preview"><h1>{escape(heading)}</h1>{"".join(sections)}</div></body></html>\n'
    )
