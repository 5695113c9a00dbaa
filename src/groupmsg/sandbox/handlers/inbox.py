"""The web inbox: ``/`` (the page), ``/_sandbox/inbox`` (everything it shows, as JSON) and
``/_sandbox/events`` (server-sent events as messages arrive and requests are refused).

Groups on the left — every group the sandbox knows and every webhook robot, named by the group
it was added to — a chat view in the middle, the refused requests on the right.  Messages are
rendered here, by ``render``, so the page only inserts finished, escaped HTML; the page's own
script and style are served from the package (``assets/``): nothing is fetched from elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from functools import cache
from html import escape
from importlib import resources
from typing import TYPE_CHECKING, Any

from ..config import robot_label
from ..render import conversation_preview, mapping, message_html
from ..replies import Reply, dumps

if TYPE_CHECKING:
    from ..feed import Event
    from ..request import Request
    from .control import Controls

HEARTBEAT_S = 15.0
HTML_CT = "text/html;charset=utf-8"
# The page runs only its own script; pictures in messages may come from anywhere (as in DingTalk).
CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src * data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
ASSETS = {"inbox.js": "text/javascript;charset=utf-8", "inbox.css": "text/css;charset=utf-8"}


@cache
def asset(name: str) -> str:
    return resources.files(__package__.rsplit(".", 1)[0]).joinpath("assets", name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# conversations and items
# ---------------------------------------------------------------------------


def conversation_key(entry: Mapping[str, Any], chat_of_cid: Mapping[str, str]) -> str:
    """Which conversation a recorded message belongs to: a group's chat id, or a webhook robot."""
    if entry.get("channel") == "webhook":
        return "hook:" + str(entry.get("robot") or "")
    if entry.get("chat_id"):
        return str(entry["chat_id"])
    cid = str(entry.get("open_conversation_id") or "")
    return chat_of_cid.get(cid, "cid:" + cid)


def sender_of(entry: Mapping[str, Any]) -> str:
    if entry.get("channel") == "chat":
        return str(entry.get("app_key") or "app")
    return str(entry.get("robot") or entry.get("app_key") or "robot")


def bubble(entry: Mapping[str, Any], message: Mapping[str, Any], sender: str, when: str) -> str:
    """One message in the chat view: avatar, sender, time and the rendered message."""
    initial = escape(sender[:1].upper() or "?")
    kind = escape(str(message.get("kind") or "text"))
    return (
        f'<div class="msg" data-id="{escape(str(entry.get("id", "")))}" data-kind="{kind}">'
        f'<div class="avatar">{initial}</div><div class="main">'
        f'<div class="meta"><span class="sender">{escape(sender)}</span><time datetime="{escape(when)}">{escape(when[11:19])}</time></div>'
        f"{message_html(message)}</div></div>"
    )


def item(entry: Mapping[str, Any], conversation: str) -> dict[str, Any]:
    message = mapping(entry.get("message"))
    sender = sender_of(entry)
    when = str(entry.get("received_at") or "")
    return {
        "id": entry.get("id"),
        "conversation": conversation,
        "channel": entry.get("channel"),
        "sender": sender,
        "time": when,
        "kind": message.get("kind"),
        "preview": conversation_preview(message),
        "html": bubble(entry, message, sender, when),
        "entry": entry,  # the record itself, as /_sandbox/messages has it
    }


def is_refused(log: Mapping[str, Any]) -> bool:
    errcode = log.get("errcode")
    return bool(log.get("code") or (errcode not in (None, 0)) or log.get("fault") or (log.get("status") or 200) >= 400 or log.get("status") is None)


def refused_item(log: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("seq", "time", "method", "path", "api", "status", "errcode", "code", "errmsg", "reason", "fault", "robot", "app_key")
    return {k: log.get(k) for k in keys}


def conversations(controls: Controls, items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every group and webhook robot, the most recently active first (as DingTalk lists them)."""
    convs: dict[str, dict[str, Any]] = {}
    for chat in controls.chats():
        convs[chat["chat_id"]] = {"key": chat["chat_id"], "name": chat["name"], "kind": "group", "members": len(chat["members"])}
    for token, robot in controls.config.webhooks.items():
        label = robot_label(token, robot)
        convs["hook:" + label] = {"key": "hook:" + label, "name": robot.group or label, "kind": "webhook", "robot": label, "enabled": robot.enabled}
    last: dict[str, tuple[str, str]] = {}
    for it in items:
        key = it["conversation"]
        convs.setdefault(key, {"key": key, "name": key.removeprefix("hook:"), "kind": "gone"})
        last[key] = (str(it["time"]), str(it["preview"]))
    out = []
    for key, conv in convs.items():
        when, preview = last.get(key, ("", ""))
        out.append({**conv, "last_time": when or None, "preview": preview})
    out.sort(key=lambda c: c["last_time"] or "", reverse=True)
    return out


def snapshot(req: Request, controls: Controls) -> dict[str, Any]:
    """Everything the page shows."""
    last_event = controls.feed.last_id
    chat_of_cid = {c["open_conversation_id"]: c["chat_id"] for c in controls.chats()}
    items = [item(m, conversation_key(m, chat_of_cid)) for m in controls.messages()]
    refused = [refused_item(r) for r in controls.requests() if is_refused(r)]
    return {"conversations": conversations(controls, items), "messages": items, "refused": refused[-500:], "last_event": last_event}


# ---------------------------------------------------------------------------
# the page, its assets, the event stream
# ---------------------------------------------------------------------------


def page(req: Request, controls: Controls) -> Reply:
    html = asset("inbox.html")
    return Reply(200, {"content-type": HTML_CT, "content-security-policy": CSP, "cache-control": "no-store"}, html.encode("utf-8"))


def static(name: str) -> Callable[[Request, Controls], Reply]:
    def serve(req: Request, controls: Controls) -> Reply:
        return Reply(200, {"content-type": ASSETS[name], "cache-control": "no-cache"}, asset(name).encode("utf-8"))

    return serve


def favicon(req: Request, controls: Controls) -> Reply:
    return Reply(204, {"content-type": "image/x-icon"}, b"")


def _sse(event: Event) -> bytes:
    data = event.data if event.kind != "reload" else {}
    return f"id: {event.id}\nevent: {event.kind}\ndata: ".encode() + dumps(data) + b"\n\n"


def events(req: Request, controls: Controls) -> Reply:
    """``text/event-stream``: ``message`` (an inbox item), ``refused`` (a refused request) and
    ``reload`` (groups or robots changed, a reset, or too much missed: fetch /_sandbox/inbox again).
    Resumes after ``Last-Event-ID`` (or ``?after=``)."""
    raw = req.headers.get("last-event-id") or req.query.get("after") or str(controls.feed.last_id)
    try:
        after = int(raw)
    except ValueError:
        raise ValueError("after / Last-Event-ID must be an event id (a number)") from None
    feed = controls.feed

    def render(event: Event) -> Event:
        if event.kind == "message":
            entry, conversation = event.data
            return type(event)(event.id, event.kind, item(entry, conversation))
        return event

    async def stream() -> AsyncIterator[bytes]:
        import asyncio

        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        def wakeup() -> None:
            loop.call_soon_threadsafe(wake.set)

        unsubscribe = feed.subscribe(wakeup)
        cursor = after
        try:
            while True:
                wake.clear()
                batch = feed.after(cursor)
                if batch is None:  # fell behind what the feed keeps: start again
                    batch = []
                    cursor = feed.last_id
                    yield f"id: {cursor}\nevent: reload\ndata: {{}}\n\n".encode()
                for event in batch:
                    cursor = event.id
                    yield _sse(render(event))
                if batch:
                    continue
                try:
                    await asyncio.wait_for(wake.wait(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
        finally:
            unsubscribe()

    headers = {"content-type": "text/event-stream;charset=utf-8", "cache-control": "no-store", "x-accel-buffering": "no"}
    return Reply(200, headers, b"retry: 1000\n\n", stream=stream)
