"""The request pipeline for DingTalk endpoints.

For every request: family and request id, the method, fault injection,
authentication and per-app QPS (``gateway``), the handler, and a reply in
the family's shape (``replies``); then an entry in the request log.
``/_sandbox/*`` control endpoints do not come through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import replies
from .config import SandboxConfig
from .errors import ApiError, OapiError
from .faults import FaultInjector
from .gateway import authenticate, busy_error, check_qps, invalid_token_error, qps_error
from .replies import Reply
from .request import Request
from .state import State, iso, new_request_id, new_topapi_request_id

#: A DingTalk endpoint: the request, the state it reads and changes, the
#: configuration; returns the success payload or raises OapiError/ApiError.
Handler = Callable[[Request, State, SandboxConfig], dict[str, Any]]


@dataclass(frozen=True)
class Endpoint:
    family: str  # oapi | topapi | api | webhook
    api: str  # name used for per-API QPS and the request log
    methods: tuple[str, ...]
    handler: Handler
    auth: bool = True  # needs an app access token
    token_endpoint: bool = False


def dispatch(ep: Endpoint | None, req: Request, state: State, cfg: SandboxConfig, faults: FaultInjector) -> Reply:
    """Answer one DingTalk request (``ep`` None: no such endpoint)."""
    if ep is None:
        req.family = "api" if req.path.startswith("/v1.0/") else "oapi"
        req.request_id = new_request_id()
        return replies.not_found(req)
    req.family, req.api = ep.family, ep.api
    if ep.family == "api":
        req.request_id = new_request_id()
    elif ep.family == "topapi":
        req.request_id = new_topapi_request_id()
    if req.method not in ep.methods:
        return replies.method_not_allowed(req, ep.methods)

    fault = faults.pick(cfg.faults, req.path, token_endpoint=ep.token_endpoint, app_token=ep.auth)
    if fault == "timeout":
        # no answer; real server holds the connection, then closes it
        return Reply(0, {}, b"", drop=True, hold_s=cfg.faults.timeout_s, fault=fault)
    if fault == "http500":
        return replies.http500(req, fault)
    if fault in ("http429", "http503"):
        return replies.gateway_error(int(fault[4:]), fault, cfg.faults.retry_after_s)
    if fault == "http502":
        return replies.gateway_error(502, fault)
    try:
        if fault == "busy":
            raise busy_error(req.family)
        if fault == "qps":
            raise qps_error(req, cfg.webhook_codes)
        if ep.auth:
            authenticate(req, state, cfg.topapi_errcode88)
            if fault == "token_expired":
                state.revoke_token(req.token or "")
                raise invalid_token_error(req.family, cfg.topapi_errcode88)
            if cfg.limits:
                check_qps(req, state, cfg, req.app_key or "")
        reply = replies.success(req, ep.handler(req, state, cfg))
    except OapiError as e:
        reply = replies.oapi_error(req, e)
    except ApiError as e:
        reply = replies.api_error(req, e)
    if fault == "lost_response":
        # processed (and recorded) but the answer never arrives intact
        reply = replies.http500(req, fault)
    elif fault == "http504":
        # processed (and recorded); the gateway stopped waiting for the answer
        reply = replies.gateway_error(504, fault)
    elif fault == "latency":
        reply.delay_s += cfg.faults.latency_ms / 1000.0
    reply.fault = fault
    return reply


def log_request(state: State, req: Request, reply: Reply) -> dict[str, Any]:
    # Never log the query string: it carries access tokens, webhook tokens,
    # app secrets (/gettoken) and signatures.
    entry: dict[str, Any] = {
        "seq": state.next_seq(),
        "time": iso(req.now),
        "method": req.method,
        "path": req.path,
        "api": req.api or None,
        "status": None if reply.drop else reply.status,
        "errcode": reply.errcode,
        "code": reply.code,
        "fault": reply.fault,
    }
    if reply.message is not None:
        entry["errmsg"] = reply.message
    if reply.reason:
        entry["reason"] = reply.reason
    if req.robot_label:
        entry["robot"] = req.robot_label
    if req.app_key:
        entry["app_key"] = req.app_key
    state.requests.append(entry)
    return entry
