"""Mutable sandbox state: tokens, chats, rate windows, idempotency keys, records.

Not thread-safe by itself: ``app.Sandbox`` holds one lock around every use.
Times are seconds from the sandbox clock (``SandboxConfig.clock``).  Section
numbers (§n) refer to ``docs/dingtalk-api.md``.
"""

from __future__ import annotations

import base64
import dataclasses
import os
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# ---------------------------------------------------------------------------
# identifiers — shaped like DingTalk's (§3.1 examples: "chatcf0675d4…",
# "cidL+NXxxxx+MSA==")
# ---------------------------------------------------------------------------

def new_token() -> str:
    return os.urandom(16).hex()


def new_chat_id() -> str:
    return "chat" + os.urandom(16).hex()


def new_open_conversation_id() -> str:
    # Real ids are "cid" + standard base64 and so may contain '+', '/' and
    # '=' — clients must not assume URL-safe characters.
    return "cid" + base64.b64encode(os.urandom(16)).decode("ascii")


def new_message_id() -> str:
    return "msg" + base64.b64encode(os.urandom(15)).decode("ascii").replace("/", "x").replace("+", "y")


def new_process_query_key() -> str:
    return base64.b64encode(os.urandom(24)).decode("ascii").replace("/", "x").replace("+", "y")


def new_request_id() -> str:
    """New-API request ids look like "30EE8654-…" (§1.2): an upper-case UUID."""
    h = os.urandom(16).hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_topapi_request_id() -> str:
    """topapi ``request_id`` values look like "ed669urokuvq" (§3.3)."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in os.urandom(12))


def new_trace_id() -> str:
    return os.urandom(16).hex()


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------------------
# state pieces
# ---------------------------------------------------------------------------

@dataclass
class Chat:
    chat_id: str
    open_conversation_id: str
    name: str
    owner: str
    members: list[str]
    app_key: str | None  # the app that created it: its robots are in the group
    org: str
    kind: str  # "chat" (chat/create, im/group/create), "scenegroup", "preset"
    created_at: float
    conversation_tag: int = 2
    template_id: str | None = None
    sub_admins: list[str] = field(default_factory=list)
    robot_codes: list[str] = field(default_factory=list)  # robots added explicitly
    settings: dict[str, Any] = field(default_factory=dict)  # flags as sent (showHistoryType, …)
    icon: str = ""
    status: int = 1  # 1 normal, 2 disbanded (§3.2)

    def public(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat_id,
            "open_conversation_id": self.open_conversation_id,
            "name": self.name,
            "owner": self.owner,
            "members": list(self.members),
            "app_key": self.app_key,
            "kind": self.kind,
            "conversation_tag": self.conversation_tag,
            "template_id": self.template_id,
            "robot_codes": list(self.robot_codes),
            "created_at": iso(self.created_at),
        }


@dataclass
class TokenInfo:
    app_key: str
    expires_at: float


class State:
    """All the sandbox remembers between requests."""

    def __init__(self, max_request_log: int) -> None:
        self.tokens: dict[str, TokenInfo] = {}  # token -> info
        self.app_token: dict[str, str] = {}  # app_key -> current token
        self.chats: dict[str, Chat] = {}  # chat_id -> chat
        self.by_cid: dict[str, Chat] = {}  # open_conversation_id -> chat
        self.scene_uuids: dict[tuple[str, str], str] = {}  # (app_key, uuid) -> chat_id
        self.webhook_sent: dict[str, deque[float]] = {}  # robot token -> accept times
        self.webhook_blocked_until: dict[str, float] = {}
        self.webhook_uuids: dict[str, set[str]] = {}  # robot token -> msgUuids seen
        self.qps: dict[tuple[str, str], deque[float]] = {}  # (app_key, api) -> times
        self.messages: list[dict[str, Any]] = []
        self.requests: deque[dict[str, Any]] = deque(maxlen=max_request_log)
        self.seq = 0
        self.message_seq = 0

    # -- saving (persist.py) ------------------------------------------------
    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever something that ``to_doc`` saves has changed (messages are saved apart)."""
        return (
            len(self.chats),
            len(self.tokens),
            max((t.expires_at for t in self.tokens.values()), default=0.0),
            len(self.scene_uuids),
            sum(len(seen) for seen in self.webhook_uuids.values()),
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "chats": [dataclasses.asdict(c) for c in self.chats.values()],
            "tokens": {t: [i.app_key, i.expires_at] for t, i in self.tokens.items()},
            "app_token": dict(self.app_token),
            "scene_uuids": [[app, uuid, chat_id] for (app, uuid), chat_id in self.scene_uuids.items()],
            "webhook_uuids": {t: sorted(seen) for t, seen in self.webhook_uuids.items()},
            "seq": self.seq,
            "message_seq": self.message_seq,
        }

    def load_doc(self, doc: dict[str, Any], messages: list[dict[str, Any]], requests: list[dict[str, Any]]) -> None:
        """Take back what ``to_doc`` saved (on top of a fresh state)."""
        self.chats, self.by_cid = {}, {}
        for raw in doc.get("chats", []):
            self.add_chat(Chat(**raw))
        self.tokens = {t: TokenInfo(app, exp) for t, (app, exp) in doc.get("tokens", {}).items()}
        self.app_token = dict(doc.get("app_token", {}))
        self.scene_uuids = {(app, uuid): chat_id for app, uuid, chat_id in doc.get("scene_uuids", [])}
        self.webhook_uuids = {t: set(seen) for t, seen in doc.get("webhook_uuids", {}).items()}
        numbers = [int(m["id"][1:]) for m in messages if str(m.get("id", "")).startswith("m") and str(m["id"])[1:].isdigit()]
        self.message_seq = max([int(doc.get("message_seq", 0)), *numbers])
        self.seq = max([int(doc.get("seq", 0)), *(int(r.get("seq") or 0) for r in requests)])
        self.messages = messages
        self.requests.extend(requests)

    # -- tokens (§2) -------------------------------------------------------
    def issue_token(self, app_key: str, now: float, ttl: float) -> tuple[str, int]:
        """Same token while unexpired, with its lifetime extended (§2.1)."""
        current = self.app_token.get(app_key)
        info = self.tokens.get(current) if current else None
        if current is None or info is None or info.expires_at <= now:
            if current:
                self.tokens.pop(current, None)
            current = new_token()
            self.app_token[app_key] = current
        token: str = current
        self.tokens[token] = TokenInfo(app_key=app_key, expires_at=now + ttl)
        return token, int(ttl)

    def token_app(self, token: str, now: float) -> str | None:
        info = self.tokens.get(token)
        if info is None or info.expires_at <= now:
            return None
        return info.app_key

    def revoke_token(self, token: str) -> None:
        info = self.tokens.pop(token, None)
        if info is not None and self.app_token.get(info.app_key) == token:
            del self.app_token[info.app_key]

    # -- chats -------------------------------------------------------------
    def add_chat(self, chat: Chat) -> Chat:
        if chat.chat_id in self.chats:
            raise ValueError(f"chat id {chat.chat_id!r} already exists")
        if chat.open_conversation_id in self.by_cid:
            raise ValueError(f"openConversationId {chat.open_conversation_id!r} already exists")
        self.chats[chat.chat_id] = chat
        self.by_cid[chat.open_conversation_id] = chat
        return chat

    # -- sliding windows ---------------------------------------------------
    @staticmethod
    def _trim(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def qps_allow(self, key: tuple[str, str], now: float, limit: int) -> bool:
        """Per app × per API QPS (§6.1): at most ``limit`` calls in any 1 s window."""
        window = self.qps.setdefault(key, deque())
        self._trim(window, now, 1.0)
        if len(window) >= limit:
            return False
        window.append(now)
        return True

    def webhook_blocked(self, token: str, now: float) -> bool:
        until = self.webhook_blocked_until.get(token)
        if until is None:
            return False
        if now < until:
            return True
        # block over: start with a clean window
        del self.webhook_blocked_until[token]
        self.webhook_sent.pop(token, None)
        return False

    def webhook_take(self, token: str, now: float, limit: int, span: float, block: float) -> bool:
        """Count one send; False (and start the block) if it exceeds the window (§5.4)."""
        window = self.webhook_sent.setdefault(token, deque())
        self._trim(window, now, span)
        if len(window) >= limit:
            self.webhook_blocked_until[token] = now + block
            return False
        window.append(now)
        return True

    # -- records -----------------------------------------------------------
    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def record_message(self, now: float, **fields: Any) -> dict[str, Any]:
        self.message_seq += 1
        entry = {"id": f"m{self.message_seq}", **{k: v for k, v in fields.items() if v is not None}}
        entry["received_at"] = iso(now)
        self.messages.append(entry)
        return entry

