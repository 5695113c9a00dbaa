"""One request as the pipeline and the handlers see it (transport-free)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """A parsed request.  The pipeline fills in the family fields; authentication
    (or a token endpoint) names the app; the webhook handler names the robot."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    client_ip: str
    now: float  # sandbox clock, seconds
    family: str = "oapi"  # oapi | topapi | api | webhook
    api: str = ""  # name used for per-API QPS and the request log
    request_id: str = ""
    app_key: str | None = None
    token: str | None = None
    path_arg: str | None = None  # {chatId} of a path template
    robot_label: str | None = None  # webhook robot, for the request log (never its token)

    @classmethod
    def parse(
        cls, method: str, target: str, headers: Mapping[str, str] | None, body: bytes, client_ip: str, now: float
    ) -> Request:
        path, query = split_target(target)
        if client_ip.startswith("::ffff:"):  # IPv4-mapped IPv6 from a dual-stack socket
            client_ip = client_ip[7:]
        lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        return cls(method.upper(), path, query, lowered, body or b"", client_ip, now)

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        if not self.body.strip():
            raise ValueError("empty body")
        return json.loads(self.body.decode("utf-8"))

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None (not JSON, not UTF-8, or not an object)."""
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


def split_target(target: str) -> tuple[str, dict[str, str]]:
    """Path and query of a request target (origin-form or absolute-form)."""
    if "://" in target:  # absolute-form (proxies)
        parts = urlsplit(target)
        path, raw_query = parts.path or "/", parts.query
    else:
        path, _, raw_query = target.partition("?")
    # Normal query-string decoding exactly once (docs/dingtalk-api.md §5.2):
    # parse_qs decodes %XX and '+' → ' ' once; the first value wins for repeated keys.
    query = {k: v[0] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
    return path or "/", query


def media_type(value: str | None) -> str:
    """``application/json`` of ``application/json; charset=utf-8``."""
    return (value or "").split(";", 1)[0].strip().lower()
