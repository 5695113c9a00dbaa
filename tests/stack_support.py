"""The DingTalk client on either HTTP stack, against the sandbox, with the wire recorded.

(A uniquely named module, like tests/sandbox's `sbtest_support`: the `stack` fixture in conftest.py
builds a `Stack`, and test modules import the names they need from here.)

- `httpx`: `HttpxHTTP` with the sandbox's in-process transport — what every other client test uses.
- `stdlib`: `StdlibHTTP` (`http.client`) against the sandbox served on a real 127.0.0.1 socket —
  what cron uses in production.

Both feed the same `Sandbox.process`, which is wrapped to record each request as the server
received it (method, target, headers, body) and what it answered: the query string and the
headers on the wire are what DingTalk sees, so that is what the tests assert on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from groupmsg.dingtalk.client import DingTalkClient, MemoryTokenCache
from groupmsg.dingtalk.http import HttpxHTTP, StdlibHTTP
from groupmsg.sandbox import Sandbox
from groupmsg.sandbox.config import DEMO_APP_KEY, DEMO_APP_SECRET

STACKS = ("httpx", "stdlib")
TOKEN_PATH = "/v1.0/oauth2/accessToken"


@dataclass(frozen=True)
class Wire:
    """One request as the sandbox received it, and its answer (status None: none was sent)."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None
    answer: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    @property
    def params(self) -> dict[str, str]:
        return dict(parse_qsl(self.raw_query, keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)

    def answer_json(self) -> Any:
        return json.loads(self.answer)


@dataclass
class Stack:
    """Builds DingTalkClients that reach `sandbox` through one HTTP stack; `wire` lists what it saw."""

    name: str
    sandbox: Sandbox
    url: str | None = None  # the served sandbox (stdlib); None: in-process, any host
    wire: list[Wire] = field(default_factory=list)
    clients: list[DingTalkClient] = field(default_factory=list)

    def client(self, **kw: Any) -> DingTalkClient:
        """A client with the demo app's credentials (pass app_key=None, app_secret=None for none)."""
        kw.setdefault("app_key", DEMO_APP_KEY)
        kw.setdefault("app_secret", DEMO_APP_SECRET)
        kw.setdefault("tokens", MemoryTokenCache())
        if self.name == "httpx":
            client = DingTalkClient(transport=self.sandbox.transport(), **kw)
            assert isinstance(client.http, HttpxHTTP)
        else:
            assert self.url is not None
            kw.setdefault("oapi_url", self.url)
            kw.setdefault("api_url", self.url)
            client = DingTalkClient(**kw)
            assert isinstance(client.http, StdlibHTTP), "a proxy variable made make_http pick httpx"
        self.clients.append(client)
        return client

    def sent(self, path: str) -> list[Wire]:
        return [w for w in self.wire if w.path == path]

    def tokens_issued(self) -> list[str]:
        return [w.answer_json()["accessToken"] for w in self.sent(TOKEN_PATH) if w.status == 200]

    def record(self) -> None:
        """Wrap `sandbox.process`, which the in-process transport and the server both call."""
        process = self.sandbox.process

        def recording(method: str, target: str, headers: Any = None, body: bytes = b"", client_ip: str = "127.0.0.1"):
            reply = process(method, target, headers, body, client_ip)
            lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
            status = None if reply.drop else reply.status
            self.wire.append(Wire(method.upper(), target, lowered, body or b"", status, reply.body))
            return reply

        self.sandbox.process = recording  # type: ignore[method-assign]

    def close(self) -> None:
        for client in self.clients:
            client.close()
