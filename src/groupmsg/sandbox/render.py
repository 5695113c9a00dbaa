"""HTML for a recorded message, the way the DingTalk client shows it.

One renderer for the web inbox (``/``) and for ``groupmsg preview``: both
show :func:`message_html` of a message object (``message`` of a recorded
entry, see README "The sandbox").  Everything a sender wrote is escaped;
only the markup built here is HTML, and links and pictures keep only
``http(s):`` and ``dingtalk:`` addresses, so a message carrying ``<script>``
or ``onerror=`` shows as text and runs nothing.

DingTalk's markdown is a small subset (docs/dingtalk-api.md §4.2 lists it):
headings ``#``…``######``, quotes ``>``, ``**bold**``, ``*italic*``,
``[links](…)``, ``![pictures](…)``, ``-`` and ``1.`` lists, and
``<font color=…>``.  A blank line starts a new paragraph and a line ending
in two spaces breaks the line; a single newline inside a paragraph is only
a space — which is why DingTalk's own examples put two spaces before each
``\\n``.  Text messages keep every newline.  ``@mobile`` / ``@userId``
appear highlighted when the message's ``at`` names them (as in DingTalk,
a mention needs both), and ``isAtAll`` shows ``@所有人``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

SAFE_SCHEMES = ("http://", "https://", "dingtalk://")

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_ORDERED = re.compile(r"^\s{0,3}(\d{1,9})[.)]\s+(.*)$")
_INLINE = re.compile(
    r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]*)\)"
    r"|\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]*)\)"
    r"|\*\*(?P<b1>.+?)\*\*|(?<!\w)__(?P<b2>.+?)__(?!\w)"
    r"|\*(?P<i1>[^\s*](?:.*?[^\s*])?)\*|(?<!\w)_(?P<i2>[^\s_](?:.*?[^\s_])?)_(?!\w)"
    r"|<font\s+color\s*=\s*[\"']?(?P<color>#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})[\"']?\s*>(?P<font>.*?)</font>",
    re.DOTALL,
)
_URL = re.compile(r"(?:https?|dingtalk)://[^\s<>\"'，。；！？、）]+")

AT_ALL = "@所有人"
MAX_AT = 50


def safe_url(url: Any) -> str | None:
    """``url`` when it is an address DingTalk would open (http, https, dingtalk), else None."""
    if not isinstance(url, str):
        return None
    url = url.strip()
    return url if url.lower().startswith(SAFE_SCHEMES) else None


class Mentions:
    """Who a message @-mentions: highlights their ``@tokens`` in escaped text."""

    def __init__(self, at: Mapping[str, Any] | None) -> None:
        at = at or {}
        # DingTalk notifies at most 50 people (docs/dingtalk-api.md §5.1): only they are highlighted
        who = [str(w) for key in ("mobiles", "user_ids") for w in at.get(key) or () if str(w)][:MAX_AT]
        self.all = bool(at.get("all"))
        tokens = sorted({escape(w) for w in who}, key=len, reverse=True)
        if self.all:
            tokens.append(escape(AT_ALL[1:]))
        self._re = re.compile("@(?:" + "|".join(map(re.escape, tokens)) + ")") if tokens else None

    def highlight(self, escaped: str) -> str:
        if self._re is None:
            return escaped
        return self._re.sub(lambda m: f'<span class="at">{m.group(0)}</span>', escaped)

    def missing_all(self, text: str) -> bool:
        return self.all and AT_ALL not in text


# ---------------------------------------------------------------------------
# markdown (DingTalk's subset) and plain text
# ---------------------------------------------------------------------------


def inline(text: str, mentions: Mentions, links: bool = True) -> str:
    """One run of inline markdown: pictures, links, bold, italics, coloured text."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        kind = m.lastgroup
        if kind in ("label", "href") and not links:
            continue  # no links inside a link's own text
        out.append(mentions.highlight(escape(text[pos : m.start()])))
        pos = m.end()
        if m.group("src") is not None:
            src = safe_url(m.group("src"))
            alt = escape(m.group("alt"))
            out.append(f'<img class="md-img" src="{escape(src)}" alt="{alt}">' if src else f'<span class="md-img-bad">[{alt or "图片"}]</span>')
        elif m.group("href") is not None:
            href = safe_url(m.group("href"))
            label = inline(m.group("label"), mentions, links=False)
            out.append(f'<a href="{escape(href)}" target="_blank" rel="noopener noreferrer">{label}</a>' if href else label)
        elif m.group("b1") is not None or m.group("b2") is not None:
            out.append(f"<strong>{inline(m.group('b1') or m.group('b2'), mentions, links)}</strong>")
        elif m.group("i1") is not None or m.group("i2") is not None:
            out.append(f"<em>{inline(m.group('i1') or m.group('i2'), mentions, links)}</em>")
        else:
            color = escape(m.group("color"))
            out.append(f'<span style="color:{color}">{inline(m.group("font"), mentions, links)}</span>')
    out.append(mentions.highlight(escape(text[pos:])))
    return "".join(out)


def _lines_html(lines: list[str], mentions: Mentions) -> str:
    """Lines of one paragraph: two trailing spaces (or a backslash) break the line; a bare
    newline is a soft break (a space)."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        last = i == len(lines) - 1
        hard = line.endswith(("  ", "\\")) and not last
        body = line.rstrip()
        if hard and body.endswith("\\"):
            body = body[:-1]
        parts.append(inline(body.strip() if not hard else body.lstrip(), mentions))
        if not last:
            parts.append("<br>" if hard else "\n")
    return "".join(parts)


def markdown_html(text: str, mentions: Mentions) -> str:
    """DingTalk's markdown subset as HTML (every sender character escaped)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    blocks: list[str] = []
    para: list[str] = []
    quote: list[str] = []
    items: list[str] = []
    list_kind = ""
    start = 1

    def flush() -> None:
        nonlocal para, quote, items, list_kind
        if para:
            blocks.append(f"<p>{_lines_html(para, mentions)}</p>")
            para = []
        if quote:
            blocks.append(f"<blockquote>{markdown_html(chr(10).join(quote), mentions)}</blockquote>")
            quote = []
        if items:
            attrs = f' start="{start}"' if list_kind == "ol" and start != 1 else ""
            blocks.append(f"<{list_kind}{attrs}>" + "".join(f"<li>{i}</li>" for i in items) + f"</{list_kind}>")
            items, list_kind = [], ""

    for line in lines:
        if not line.strip():
            flush()
            continue
        if quote and (q := _QUOTE.match(line)):
            quote.append(q.group(1))
            continue
        if (h := _HEADING.match(line)) is not None:
            flush()
            n = len(h.group(1))
            blocks.append(f"<h{n}>{inline(h.group(2), mentions)}</h{n}>")
        elif (q := _QUOTE.match(line)) is not None:
            flush()
            quote.append(q.group(1))
        elif (b := _BULLET.match(line)) is not None:
            if list_kind != "ul":
                flush()
                list_kind = "ul"
            items.append(inline(b.group(1), mentions))
        elif (o := _ORDERED.match(line)) is not None:
            if list_kind != "ol":
                flush()
                list_kind, start = "ol", int(o.group(1))
            items.append(inline(o.group(2), mentions))
        elif quote:  # a lazy continuation line belongs to the quote
            quote.append(line)
        elif items:  # and one after a list item to that item
            items[-1] += "\n" + inline(line.strip(), mentions)
        else:
            para.append(line)
    flush()
    return "".join(blocks)


def text_html(text: str, mentions: Mentions) -> str:
    """A text message: every newline kept, web addresses linked (as the client does)."""
    out: list[str] = []
    pos = 0
    for m in _URL.finditer(text):
        out.append(mentions.highlight(escape(text[pos : m.start()])))
        url = escape(m.group(0))
        out.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer">{url}</a>')
        pos = m.end()
    out.append(mentions.highlight(escape(text[pos:])))
    return "".join(out).replace("\n", "<br>")


# ---------------------------------------------------------------------------
# message kinds
# ---------------------------------------------------------------------------


def _a(url: Any, inner: str, cls: str) -> str:
    href = safe_url(url)
    if href is None:
        return f'<div class="{cls}">{inner}</div>'
    return f'<a class="{cls}" href="{escape(href)}" target="_blank" rel="noopener noreferrer">{inner}</a>'


def _img(url: Any, cls: str, alt: str = "") -> str:
    src = safe_url(url)
    if src is None:
        label = f"图片 {url}" if isinstance(url, str) and url else "图片"
        return f'<div class="{cls} img-missing">{escape(label)}</div>'
    return f'<img class="{cls}" src="{escape(src)}" alt="{escape(alt)}">'


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ("" if value is None else str(value))


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _buttons(buttons: list[Mapping[str, Any]], layout: str | None) -> str:
    if not buttons:
        return ""
    orientation = "horizontal" if layout == "horizontal" else "vertical"
    cells = "".join(_a(b.get("url"), escape(_s(b.get("title"))), "btn") for b in buttons)
    return f'<div class="btns {orientation}">{cells}</div>'


def message_html(message: Mapping[str, Any]) -> str:
    """The bubble (or card) for one message object."""
    kind = _s(message.get("kind")) or "text"
    title, text = _s(message.get("title")), _s(message.get("text"))
    mentions = Mentions(mapping(message.get("at")))  # link and feed cards ignore at (docs/dingtalk-api.md §5.1)
    if kind == "text":
        body = text_html(text, mentions)
        if mentions.missing_all(text):
            body += f' <span class="at">{AT_ALL}</span>'
        return f'<div class="bubble text">{body}</div>'
    if kind == "markdown":
        body = markdown_html(text, mentions)
        if mentions.missing_all(text):
            body += f'<p><span class="at">{AT_ALL}</span></p>'
        return f'<div class="bubble md">{body}</div>'
    if kind == "link":
        pic = _img(message.get("pic"), "link-pic") if message.get("pic") else ""
        inner = f'<div class="link-title">{escape(title)}</div><div class="link-body"><div class="link-text">{escape(text)}</div>{pic}</div>'
        return _a(message.get("url"), inner, "card link")
    if kind == "action_card":
        buttons = _list(message.get("buttons"))
        layout = _s(message.get("layout")) or None
        body = markdown_html(text, mentions)
        if layout == "single" and buttons:
            b = buttons[0]
            foot = _a(b.get("url"), f'<span>{escape(_s(b.get("title")))}</span><span class="chev">›</span>', "single")
            return f'<div class="card action"><div class="md">{body}</div>{foot}</div>'
        return f'<div class="card action"><div class="md">{body}</div>{_buttons(buttons, layout)}</div>'
    if kind == "feed_card":
        links = _list(message.get("links"))
        rows = []
        for i, link in enumerate(links):
            cls = "feed-first" if i == 0 else "feed-item"
            inner = f'<span class="feed-title">{escape(_s(link.get("title")))}</span>{_img(link.get("pic"), "feed-pic")}'
            rows.append(_a(link.get("url"), inner, cls))
        return f'<div class="card feed">{"".join(rows)}</div>'
    if kind == "image":
        return f'<div class="bubble image">{_img(message.get("image"), "photo")}</div>'
    # file, voice, audio, video, oa: what the client shows on the card.
    icons = {"file": "📄", "voice": "🔊", "audio": "🔊", "video": "🎬", "oa": "📋"}
    head = f'<div class="other-title">{icons.get(kind, "✉")} {escape(title or kind)}</div>'
    detail = f'<div class="other-text">{escape(text)}</div>' if text else ""
    return _a(message.get("url"), head + detail, f"card other {escape(kind)}")


def conversation_preview(message: Mapping[str, Any]) -> str:
    """The one line DingTalk's conversation list shows for a message (plain text, not HTML)."""
    kind = _s(message.get("kind"))
    title, text = _s(message.get("title")), _s(message.get("text"))
    if kind == "text":
        return " ".join(text.split())[:60]
    if kind == "image":
        return "[图片]"
    if kind == "feed_card":
        links = _list(message.get("links"))
        return f"[链接] {_s(links[0].get('title')) if links else ''}".strip()
    if kind == "link":
        return f"[链接] {title}".strip()
    return title or " ".join(text.split())[:60] or f"[{kind}]"


def mentions_in(message: Mapping[str, Any]) -> Iterable[str]:
    """Every person a message @-mentions, as ``@token`` strings (for tests and summaries)."""
    at = mapping(message.get("at"))
    for key in ("mobiles", "user_ids"):
        for who in at.get(key) or ():
            yield f"@{who}"
    if at.get("all"):
        yield AT_ALL
