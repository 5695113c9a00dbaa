"""Replies in DingTalk's shapes (docs/dingtalk-api.md §1).

* legacy ``oapi``: HTTP 200 with ``errcode``/``errmsg``, also on failure;
* ``topapi``: the same plus ``success`` and ``request_id``;
* new ``api``: bare JSON on success, HTTP 4xx/5xx + ``{"code", "message",
  "requestid"}`` on failure, and always ``x-acs-request-id``/``x-acs-trace-id``;
* ``webhook``: like oapi, always HTTP 200.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ApiError, OapiError
from .request import Request
from .state import new_trace_id

JSON_CT = "application/json;charset=utf-8"


@dataclass
class Reply:
    """What the sandbox answers.  ``drop`` = send nothing (injected timeout).

    ``stream``, when set, makes the body a stream (server-sent events): the
    socket server sends ``body`` first, then each chunk the iterator yields,
    until it ends or the client goes away.
    """

    status: int
    headers: dict[str, str]
    body: bytes
    delay_s: float = 0.0
    drop: bool = False
    hold_s: float = 0.0
    errcode: int | None = None  # for the request log
    code: str | None = None
    fault: str | None = None
    message: str | None = None  # errmsg / message of a failure, for the request log
    reason: str | None = None  # the sandbox's own explanation of a failure (not on the wire)
    stream: Callable[[], AsyncIterator[bytes]] | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class Processor(Protocol):
    """Turns a request into a :class:`Reply` (``Sandbox.process``); what the
    socket server and the httpx transport need of a sandbox."""

    def process(
        self, method: str, target: str, headers: Mapping[str, str] | None = ..., body: bytes = ..., client_ip: str = ...
    ) -> Reply: ...


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def json_reply(req: Request, status: int, obj: Any, errcode: int | None = None, code: str | None = None) -> Reply:
    headers = {"content-type": JSON_CT}
    if req.family == "api":
        headers["x-acs-request-id"] = req.request_id
        headers["x-acs-trace-id"] = new_trace_id()
    return Reply(status, headers, dumps(obj), errcode=errcode, code=code)


def success(req: Request, payload: dict[str, Any]) -> Reply:
    if req.family == "api":
        return json_reply(req, 200, payload)
    body: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
    if req.family == "topapi":
        body.update(success=True, request_id=req.request_id)
    body.update(payload)
    return json_reply(req, 200, body, errcode=0)


def oapi_error(req: Request, e: OapiError) -> Reply:
    body: dict[str, Any] = {"errcode": e.errcode, "errmsg": e.errmsg, **e.extra}
    if req.family == "topapi":
        body.setdefault("success", False)
        body.setdefault("request_id", req.request_id)
    if req.family == "api":  # cannot happen by construction; keep shapes honest
        return api_error(req, ApiError(500, "system.error", e.errmsg))
    reply = json_reply(req, 200, body, errcode=e.errcode)
    reply.message, reply.reason = e.errmsg, e.detail
    return reply


def api_error(req: Request, e: ApiError) -> Reply:
    body = {"code": e.code, "message": e.message, "requestid": req.request_id}
    reply = json_reply(req, e.status, body, code=e.code)
    reply.message = e.message
    return reply


def not_found(req: Request) -> Reply:
    if req.family == "api":
        return api_error(req, ApiError(404, "NotFound", f"no such api: {req.method} {req.path}"))
    return json_reply(req, 404, {"errcode": 404, "errmsg": f"not found: {req.path}"}, errcode=404)


def method_not_allowed(req: Request, methods: tuple[str, ...]) -> Reply:
    if req.family == "api":
        reply = api_error(req, ApiError(405, "MethodNotAllowed", f"{req.method} not allowed; use {'/'.join(methods)}"))
    else:
        reply = json_reply(req, 405, {"errcode": 405, "errmsg": f"method {req.method} not allowed"}, errcode=405)
    reply.headers["allow"] = ", ".join(methods)
    return reply


def http500(req: Request, fault: str) -> Reply:
    if req.family == "api":
        reply = api_error(req, ApiError(500, "system.error", "系统错误"))
    else:
        # A gateway-level 500 from the legacy host is not a JSON errcode
        # answer; clients must check the HTTP status before parsing.
        body = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1></body></html>"
        reply = Reply(500, {"content-type": "text/html;charset=utf-8"}, body)
    reply.fault = fault
    return reply


GATEWAY_PAGES = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


def gateway_error(status: int, fault: str, retry_after_s: int | None = None) -> Reply:
    """What the gateway in front of DingTalk answers when it gives up (§8.3): an HTML page, in
    every family, with ``Retry-After`` for 429 and 503."""
    title = f"{status} {GATEWAY_PAGES.get(status, 'Error')}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>".encode()
    headers = {"content-type": "text/html;charset=utf-8"}
    if retry_after_s is not None:
        headers["retry-after"] = str(retry_after_s)
    return Reply(status, headers, body, fault=fault)
