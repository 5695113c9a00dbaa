"""A client of a running sandbox's control API (``/_sandbox/*``), standard library only.

What ``groupmsg sandbox messages|reset|robot|app|fault`` use: plain JSON in and out, the control
token sent as ``X-Sandbox-Token`` when given, and :meth:`ControlClient.events` to follow the
server-sent event stream.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit


class ControlError(Exception):
    """The sandbox could not be reached, or refused a control request (``status`` 0: unreachable)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class ControlClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ControlError(f"{url!r} is not a sandbox address like http://127.0.0.1:8765")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self._parts = parts
        self.token = token
        self.timeout = timeout

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._parts.scheme == "https" else http.client.HTTPConnection
        return cls(self._parts.hostname or "127.0.0.1", self._parts.port, timeout=timeout)

    def _headers(self, body: bool) -> dict[str, str]:
        headers = {"accept": "application/json"}
        if body:
            headers["content-type"] = "application/json"
        if self.token:
            headers["x-sandbox-token"] = self.token
        return headers

    def request(self, method: str, path: str, body: Any = None) -> Any:
        conn = self._connection(self.timeout)
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            conn.request(method, path, body=data, headers=self._headers(data is not None))
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as e:
            raise ControlError(f"no sandbox answers at {self.url} ({e.strerror or e})") from None
        finally:
            conn.close()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            raise ControlError(f"{self.url} answered HTTP {resp.status} with something other than JSON: is it a sandbox?", resp.status) from None
        if resp.status >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            raise ControlError(str(error or f"HTTP {resp.status}"), resp.status)
        return payload

    # -- what the commands use ---------------------------------------------
    def messages(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/_sandbox/messages")
        return result

    def chats(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/_sandbox/chats")
        return result

    def robots(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/_sandbox/robots")
        return result

    def robot_path(self, name: str) -> str:
        return "/_sandbox/robots/" + quote(name, safe="")

    def app_path(self, key: str) -> str:
        return "/_sandbox/apps/" + quote(key, safe="")

    def events(self, after: int | None = None) -> Iterator[tuple[str, Any]]:
        """Follow ``/_sandbox/events``: (event, data) pairs until the sandbox goes away."""
        conn = self._connection(None)
        path = "/_sandbox/events" + (f"?after={after}" if after is not None else "")
        try:
            conn.request("GET", path, headers=self._headers(False))
            resp = conn.getresponse()
            if resp.status != 200:
                raw = resp.read()
                try:
                    error = json.loads(raw).get("error")
                except (ValueError, AttributeError):
                    error = None
                raise ControlError(str(error or f"HTTP {resp.status}"), resp.status)
            event, data = "message", ""
            for line in resp:
                text = line.decode("utf-8").rstrip("\r\n")
                if text.startswith("event:"):
                    event = text[6:].strip()
                elif text.startswith("data:"):
                    data += text[5:].strip()
                elif not text and data:
                    yield event, json.loads(data)
                    event, data = "message", ""
        except OSError as e:
            raise ControlError(f"lost the sandbox at {self.url} ({e.strerror or e})") from None
        finally:
            conn.close()
