"""The sandbox proper: routing, validation and DingTalk-shaped answers.

Transport-free: :meth:`Sandbox.process` takes a request (method, target,
headers, body, client IP) and returns a :class:`Reply`; ``server.py`` puts it
on a socket or behind an httpx transport.  Every behaviour cites the section
of ``/work/shared/reference/dingtalk-api.md`` it comes from.

Families (§1):
* ``oapi``   — legacy, ``?access_token=``, HTTP 200 + errcode/errmsg even on failure;
* ``topapi`` — legacy ``/topapi/…``, also ``success``/``request_id``; token problems
  are errcode 88 with ``sub_code``/``sub_msg`` (§2.3);
* ``api``    — new ``/v1.0/…``, header ``x-acs-dingtalk-access-token``, bare JSON on
  success, HTTP 4xx/5xx + ``{"code","message","requestid"}`` on failure, always
  ``x-acs-request-id``/``x-acs-trace-id`` headers;
* ``webhook`` — custom robot ``/robot/send`` (§5), always HTTP 200.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .catalog import parse_msg_param, validate_chat_msg, validate_webhook_msg, webhook_text_fields
from .config import FAULT_KINDS, RUNTIME_FIELDS, FaultConfig, PresetChat, SandboxConfig
from .errors import ApiError, OapiError, SandboxTimeout
from .state import (
    Chat,
    State,
    iso,
    new_chat_id,
    new_message_id,
    new_open_conversation_id,
    new_process_query_key,
    new_request_id,
    new_topapi_request_id,
    new_trace_id,
)

JSON_CT = "application/json;charset=utf-8"
WEBHOOK_MAX_BODY = 20000  # bytes, §5.4 / 460101
TIMESTAMP_SKEW_MS = 3_600_000  # 1 hour, §5.2
QPS_MESSAGE = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"  # §6


@dataclass
class Reply:
    """What the sandbox answers.  ``drop`` = send nothing (injected timeout)."""

    status: int
    headers: dict[str, str]
    body: bytes
    delay_s: float = 0.0
    drop: bool = False
    hold_s: float = 0.0
    errcode: int | None = None  # for the request log
    code: str | None = None
    fault: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Ctx:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_ip: str
    now: float
    family: str = "oapi"
    api: str = ""
    request_id: str = ""
    app_key: str | None = None
    token: str | None = None
    path_arg: str | None = None
    robot_label: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON; ValueError if it is not JSON."""
        if not self.body.strip():
            raise ValueError("empty body")
        return json.loads(self.body.decode("utf-8"))

    def json_object(self) -> dict[str, Any] | None:
        try:
            data = self.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class _Endpoint:
    family: str  # oapi | topapi | api | webhook | control
    api: str  # name used for per-API QPS and the request log
    methods: tuple[str, ...]
    handler: Callable[[_Ctx], Any]
    auth: bool = True
    token_endpoint: bool = False


@dataclass
class _Injection:
    kind: str
    times: int
    path: str | None = None


_CONVERT_RE = re.compile(r"^/v1\.0/im/chat/([^/]+)/convertToOpenConversationId$")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _split_target(target: str) -> tuple[str, dict[str, str]]:
    if "://" in target:  # absolute-form (proxies)
        parts = urlsplit(target)
        path, raw_query = parts.path or "/", parts.query
    else:
        path, _, raw_query = target.partition("?")
    # "normal query-string decoding exactly once" (§5.2): parse_qs decodes
    # %XX and '+' → ' ' once; first value wins for repeated keys.
    query = {k: v[0] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
    return path or "/", query


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _flag(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


_SETTING_KEYS = (  # (internal snake_case, legacy camelCase) — §3.1/§3.3
    ("show_history_type", "showHistoryType"),
    ("searchable", "searchable"),
    ("validation_type", "validationType"),
    ("mention_all_authority", "mentionAllAuthority"),
    ("management_type", "managementType"),
    ("chat_banned_type", "chatBannedType"),
)


class Sandbox:
    """A local DingTalk: validates like DingTalk, answers like DingTalk, records everything."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self._cfg = dataclasses.replace(config) if config is not None else SandboxConfig()
        self._lock = threading.RLock()
        self._clock: Callable[[], float] = self._cfg.clock or time.time
        self._rng = random.Random(self._cfg.faults.seed)
        self._injections: list[_Injection] = []
        self._state = State(self._cfg.max_request_log)
        self._seed_chats()
        E = _Endpoint
        self._routes: dict[str, _Endpoint] = {
            # tokens (§2)
            "/v1.0/oauth2/accessToken": E("api", "oauth2.accessToken", ("POST",), self._h_api_token, auth=False, token_endpoint=True),
            "/gettoken": E("oapi", "gettoken", ("GET",), self._h_gettoken, auth=False, token_endpoint=True),
            # groups (§3)
            "/chat/create": E("oapi", "chat.create", ("POST",), self._h_chat_create),
            "/chat/get": E("oapi", "chat.get", ("GET",), self._h_chat_get),
            "/topapi/im/chat/scenegroup/create": E("topapi", "scenegroup.create", ("POST",), self._h_topapi_scenegroup_create),
            "/topapi/im/chat/scenegroup/get": E("topapi", "scenegroup.get", ("POST",), self._h_topapi_scenegroup_get),
            "/v1.0/im/group/create": E("api", "im.group.create", ("POST",), self._h_api_group_create),
            "/v1.0/im/sceneGroup/create": E("api", "im.sceneGroup.create", ("POST",), self._h_api_scenegroup_create),
            # sending (§4, §5)
            "/chat/send": E("oapi", "chat.send", ("POST",), self._h_chat_send),
            "/v1.0/robot/groupMessages/send": E("api", "robot.groupMessages.send", ("POST",), self._h_robot_send),
            "/robot/send": E("webhook", "robot.send", ("POST",), self._h_webhook_send, auth=False),
            # sandbox control (never faulted, never logged, no latency)
            "/_sandbox/messages": E("control", "messages", ("GET",), self._c_messages, auth=False),
            "/_sandbox/requests": E("control", "requests", ("GET",), self._c_requests, auth=False),
            "/_sandbox/reset": E("control", "reset", ("POST",), self._c_reset, auth=False),
            "/_sandbox/chats": E("control", "chats", ("GET", "POST"), self._c_chats, auth=False),
            "/_sandbox/config": E("control", "config", ("GET", "POST"), self._c_config, auth=False),
            "/_sandbox/health": E("control", "health", ("GET",), lambda ctx: {"ok": True}, auth=False),
        }
        self._convert = E("api", "im.chat.convertToOpenConversationId", ("POST",), self._h_api_convert)

    # ------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------
    @property
    def config(self) -> SandboxConfig:
        """The live configuration (treat as read-only; change it with :meth:`configure`)."""
        return self._cfg

    def handle(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        client_ip: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request synchronously (sleeping the configured latency).

        Raises :class:`SandboxTimeout` when an injected ``timeout`` fault means
        DingTalk would never answer.
        """
        reply = self.process(method, target, headers, body, client_ip)
        if reply.drop:
            raise SandboxTimeout(f"injected timeout for {method} {target.split('?', 1)[0]}")
        if reply.delay_s > 0:
            time.sleep(reply.delay_s)
        return reply.status, dict(reply.headers), reply.body

    def process(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        client_ip: str = "127.0.0.1",
    ) -> Reply:
        """Answer one request without sleeping; the caller applies ``delay_s``/``drop``."""
        method = method.upper()
        path, query = _split_target(target)
        hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        if client_ip.startswith("::ffff:"):  # IPv4-mapped IPv6 from a dual-stack socket
            client_ip = client_ip[7:]
        with self._lock:
            ctx = _Ctx(method, path, query, hdrs, body or b"", client_ip, self._clock())
            ep = self._route(ctx)
            if ep is not None and ep.family == "control":
                return self._control(ep, ctx)
            reply = self._dispatch(ep, ctx)
            reply.delay_s += self._cfg.latency_ms / 1000.0
            self._log(ctx, reply)
            return reply

    def transport(self, client_ip: str = "127.0.0.1") -> Any:
        """An httpx transport (sync and async) that routes every host to this sandbox."""
        from .server import make_transport

        return make_transport(self, client_ip=client_ip)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            msgs = [m for m in self._state.messages if channel is None or m["channel"] == channel]
            return copy.deepcopy(msgs)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(list(self._state.requests))

    def chats(self) -> list[dict[str, Any]]:
        with self._lock:
            return [c.public() for c in self._state.chats.values()]

    def reset(self) -> None:
        """Back to the configured initial state: no tokens, messages, requests,
        rate windows or injected faults; only the config's preset chats."""
        with self._lock:
            self._state = State(self._cfg.max_request_log)
            self._rng = random.Random(self._cfg.faults.seed)
            self._injections.clear()
            self._seed_chats()

    def add_chat(
        self,
        chat_id: str | None = None,
        open_conversation_id: str | None = None,
        name: str = "group",
        owner: str = "user-owner",
        members: Iterable[str] = (),
        app_key: str | None = None,
        robot_codes: Iterable[str] = (),
        conversation_tag: int = 2,
    ) -> dict[str, Any]:
        """Pre-register a group as if ``app_key`` had created it earlier.

        ``app_key`` defaults to the first configured app.  That app's robots
        are in the group; ``robot_codes`` adds more.  Ids are generated when
        not given.
        """
        with self._lock:
            if app_key is None and self._cfg.apps:
                app_key = next(iter(self._cfg.apps))
            if app_key is not None and app_key not in self._cfg.apps:
                raise ValueError(f"unknown app key {app_key!r}")
            for code in robot_codes:
                if code not in self._cfg.robot_codes:
                    raise ValueError(f"unknown robot code {code!r}")
            member_list = list(dict.fromkeys([owner, *members]))
            chat = Chat(
                chat_id=chat_id or new_chat_id(),
                open_conversation_id=open_conversation_id or new_open_conversation_id(),
                name=name,
                owner=owner,
                members=member_list,
                app_key=app_key,
                org=self._cfg.org_of(app_key) if app_key else "org",
                kind="preset",
                created_at=self._clock(),
                conversation_tag=conversation_tag,
                robot_codes=list(robot_codes),
            )
            return self._state.add_chat(chat).public()

    def configure(self, **changes: Any) -> None:
        """Change runtime settings: latency_ms, faults (FaultConfig or a dict
        merged into the current one), limits, webhook_window_s, webhook_limit,
        webhook_block_s, qps_per_app, token_ttl_s."""
        unknown = set(changes) - RUNTIME_FIELDS
        if unknown:
            raise ValueError(f"not changeable at runtime: {sorted(unknown)}; allowed: {sorted(RUNTIME_FIELDS)}")
        with self._lock:
            faults = changes.get("faults")
            reseed = False
            if isinstance(faults, Mapping):
                changes["faults"] = FaultConfig.from_dict(faults, base=self._cfg.faults)
                reseed = "seed" in faults
            elif isinstance(faults, FaultConfig):
                reseed = True
            elif faults is not None:
                raise TypeError("faults must be a FaultConfig or a mapping")
            new_cfg = dataclasses.replace(self._cfg, **changes)  # re-validates
            self._cfg = new_cfg
            if reseed:
                self._rng = random.Random(new_cfg.faults.seed)

    def inject_fault(self, kind: str, times: int = 1, path: str | None = None) -> None:
        """Force ``kind`` on the next ``times`` DingTalk requests (whose path
        starts with ``path``, if given), regardless of the random rate."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {list(FAULT_KINDS)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._injections.append(_Injection(kind, times, path))

    # ------------------------------------------------------------------
    # pipeline
    # ------------------------------------------------------------------
    def _route(self, ctx: _Ctx) -> _Endpoint | None:
        ep = self._routes.get(ctx.path)
        if ep is None:
            m = _CONVERT_RE.match(ctx.path)
            if m:
                ep = self._convert
                ctx.path_arg = unquote(m.group(1))
        return ep

    def _dispatch(self, ep: _Endpoint | None, ctx: _Ctx) -> Reply:
        if ep is None:
            ctx.family = "api" if ctx.path.startswith("/v1.0/") else "oapi"
            ctx.request_id = new_request_id()
            if ctx.family == "api":
                return self._api_error(ctx, ApiError(404, "NotFound", f"no such api: {ctx.method} {ctx.path}"))
            return self._reply(ctx, 404, {"errcode": 404, "errmsg": f"not found: {ctx.path}"}, errcode=404)
        ctx.family, ctx.api = ep.family, ep.api
        if ep.family == "api":
            ctx.request_id = new_request_id()
        elif ep.family == "topapi":
            ctx.request_id = new_topapi_request_id()
        if ctx.method not in ep.methods:
            reply = self._method_not_allowed(ctx, ep)
            return reply

        fault = self._pick_fault(ep, ctx.path)
        if fault == "timeout":
            # no answer; real server holds the connection, then closes it
            return Reply(0, {}, b"", drop=True, hold_s=self._cfg.faults.timeout_s, fault=fault)
        if fault == "http500":
            return self._http500(ctx, fault)
        try:
            if fault == "busy":
                raise self._busy_error(ctx)
            if fault == "qps":
                raise self._qps_error(ctx)
            if ep.auth:
                self._authenticate(ctx)
                if fault == "token_expired":
                    self._state.revoke_token(ctx.token or "")
                    raise self._invalid_token_error(ctx)
                if self._cfg.limits:
                    self._check_qps(ctx, ctx.app_key or "")
            payload = ep.handler(ctx)
            reply = self._success(ctx, payload)
        except OapiError as e:
            reply = self._oapi_error(ctx, e)
        except ApiError as e:
            reply = self._api_error(ctx, e)
        if fault == "lost_response":
            # processed (and recorded) but the answer never arrives intact
            reply = self._http500(ctx, fault)
        elif fault == "latency":
            reply.delay_s += self._cfg.faults.latency_ms / 1000.0
        reply.fault = fault
        return reply

    def _control(self, ep: _Endpoint, ctx: _Ctx) -> Reply:
        if ctx.method not in ep.methods:
            return Reply(405, {"content-type": JSON_CT, "allow": ", ".join(ep.methods)}, _dumps({"error": "method not allowed"}))
        try:
            payload = ep.handler(ctx)
        except (ValueError, TypeError, KeyError) as e:
            return Reply(400, {"content-type": JSON_CT}, _dumps({"error": str(e)}))
        return Reply(200, {"content-type": JSON_CT}, _dumps(payload))

    def _log(self, ctx: _Ctx, reply: Reply) -> None:
        # Never log the query string: it carries access tokens, webhook tokens,
        # app secrets (/gettoken) and signatures.
        entry: dict[str, Any] = {
            "seq": self._state.next_seq(),
            "time": iso(ctx.now),
            "method": ctx.method,
            "path": ctx.path,
            "api": ctx.api or None,
            "status": None if reply.drop else reply.status,
            "errcode": reply.errcode,
            "code": reply.code,
            "fault": reply.fault,
        }
        if ctx.robot_label:
            entry["robot"] = ctx.robot_label
        if ctx.app_key:
            entry["app_key"] = ctx.app_key
        self._state.requests.append(entry)

    # -- faults -------------------------------------------------------------
    def _pick_fault(self, ep: _Endpoint, path: str) -> str | None:
        faults = self._cfg.faults
        if ep.token_endpoint and not faults.include_token_endpoints:
            return None
        applicable = set(FAULT_KINDS)
        if not ep.auth:  # webhook and token endpoints have no app token to expire
            applicable.discard("token_expired")
        for inj in self._injections:
            if inj.kind in applicable and (inj.path is None or path.startswith(inj.path)):
                inj.times -= 1
                if inj.times <= 0:
                    self._injections.remove(inj)
                return inj.kind
        if faults.rate > 0 and self._rng.random() < faults.rate:
            candidates = [k for k in faults.kinds if k in applicable]
            if candidates:
                return self._rng.choice(candidates)
        return None

    def _http500(self, ctx: _Ctx, fault: str) -> Reply:
        if ctx.family == "api":
            reply = self._api_error(ctx, ApiError(500, "system.error", "系统错误"))
        else:
            # A gateway-level 500 from the legacy host is not a JSON errcode
            # answer; clients must check the HTTP status before parsing.
            body = b"<html><head><title>500 Internal Server Error</title></head><body><h1>500 Internal Server Error</h1></body></html>"
            reply = Reply(500, {"content-type": "text/html;charset=utf-8"}, body)
        reply.fault = fault
        return reply

    def _busy_error(self, ctx: _Ctx) -> Exception:
        # oapi/webhook: -1 系统繁忙 (§3.1, §4.1, §5.3); api: HTTP 429 system.busy (§6)
        if ctx.family == "api":
            return ApiError(429, "system.busy", "系统繁忙")
        return OapiError(-1, "系统繁忙")

    def _qps_error(self, ctx: _Ctx) -> Exception:
        if ctx.family == "api":
            return ApiError(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", QPS_MESSAGE)
        if ctx.family == "webhook":  # the custom robot's own throttle code (§5.3)
            return self._webhook_too_fast()
        return OapiError(90018, f"{QPS_MESSAGE}, apiPath({ctx.path})")

    # -- auth (§1, §2.3) ----------------------------------------------------
    def _authenticate(self, ctx: _Ctx) -> None:
        if ctx.family == "api":
            token = ctx.headers.get("x-acs-dingtalk-access-token", "")
            if not token:
                # Missing header: the reference's generic gateway row (§2.3) is
                # HTTP 401 "Unauthorized"; a *bad* token is 400 InvalidAuthentication.
                raise ApiError(401, "Unauthorized", "缺少x-acs-dingtalk-access-token")
        else:
            token = ctx.query.get("access_token", "")
            if not token:
                if ctx.family == "topapi" and self._cfg.topapi_errcode88:
                    raise OapiError(88, "缺少access_token参数", sub_code="41001", sub_msg="缺少access_token参数")
                raise OapiError(41001, "缺少access_token参数")
        # The value is used verbatim: a JSON-quoted '"abc"' is simply unknown (§1).
        app_key = self._state.token_app(token, ctx.now)
        if app_key is None:
            raise self._invalid_token_error(ctx)
        ctx.token, ctx.app_key = token, app_key

    def _invalid_token_error(self, ctx: _Ctx) -> Exception:
        # Expired tokens answer like unknown ones: 40014 is what an expired
        # token returns in practice (§2.3).
        if ctx.family == "api":
            return ApiError(400, "InvalidAuthentication", "不合法的access_token")
        if ctx.family == "topapi" and self._cfg.topapi_errcode88:
            return OapiError(88, "不合法的access_token", sub_code="40014", sub_msg="不合法的access_token")
        return OapiError(40014, "不合法的access_token")

    def _check_qps(self, ctx: _Ctx, app_key: str) -> None:
        # Per app × per API, 20 QPS by default (§6).
        if not self._state.qps_allow((app_key, ctx.api), ctx.now, self._cfg.qps_per_app):
            raise self._qps_error(ctx)

    # -- reply builders -------------------------------------------------------
    def _reply(self, ctx: _Ctx, status: int, obj: Any, errcode: int | None = None, code: str | None = None) -> Reply:
        headers = {"content-type": JSON_CT}
        if ctx.family == "api":
            headers["x-acs-request-id"] = ctx.request_id
            headers["x-acs-trace-id"] = new_trace_id()
        return Reply(status, headers, _dumps(obj), errcode=errcode, code=code)

    def _success(self, ctx: _Ctx, payload: dict[str, Any]) -> Reply:
        if ctx.family == "api":
            return self._reply(ctx, 200, payload)
        body: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if ctx.family == "topapi":
            body.update(success=True, request_id=ctx.request_id)
        body.update(payload)
        return self._reply(ctx, 200, body, errcode=0)

    def _oapi_error(self, ctx: _Ctx, e: OapiError) -> Reply:
        body: dict[str, Any] = {"errcode": e.errcode, "errmsg": e.errmsg, **e.extra}
        if ctx.family == "topapi":
            body.setdefault("success", False)
            body.setdefault("request_id", ctx.request_id)
        if ctx.family == "api":  # cannot happen by construction; keep shapes honest
            return self._api_error(ctx, ApiError(500, "system.error", e.errmsg))
        return self._reply(ctx, 200, body, errcode=e.errcode)

    def _api_error(self, ctx: _Ctx, e: ApiError) -> Reply:
        body = {"code": e.code, "message": e.message, "requestid": ctx.request_id}
        return self._reply(ctx, e.status, body, code=e.code)

    def _method_not_allowed(self, ctx: _Ctx, ep: _Endpoint) -> Reply:
        if ctx.family == "api":
            reply = self._api_error(ctx, ApiError(405, "MethodNotAllowed", f"{ctx.method} not allowed; use {'/'.join(ep.methods)}"))
        else:
            reply = self._reply(ctx, 405, {"errcode": 405, "errmsg": f"method {ctx.method} not allowed"}, errcode=405)
        reply.headers["allow"] = ", ".join(ep.methods)
        return reply

    # -- helpers --------------------------------------------------------------
    def _visible_chat(self, chat_id: Any, app_key: str | None) -> Chat | None:
        """A chat this app may address: it exists and belongs to the caller's org."""
        if not isinstance(chat_id, str):
            return None
        chat = self._state.chats.get(chat_id)
        if chat is None or app_key is None or chat.org != self._cfg.org_of(app_key):
            return None
        return chat

    def _unknown_users(self, ids: Iterable[str]) -> list[str]:
        users = self._cfg.users
        if users is None:
            return []
        return [u for u in ids if u not in users]

    def _new_chat(self, ctx: _Ctx, **fields: Any) -> Chat:
        assert ctx.app_key is not None
        fields.setdefault("chat_id", new_chat_id())
        fields.setdefault("open_conversation_id", new_open_conversation_id())
        chat = Chat(app_key=ctx.app_key, org=self._cfg.org_of(ctx.app_key), created_at=ctx.now, **fields)
        return self._state.add_chat(chat)

    def _seed_chats(self) -> None:
        for preset in self._cfg.chats:
            self._add_preset(preset)

    def _add_preset(self, p: PresetChat) -> None:
        app_key = p.app_key if p.app_key is not None else next(iter(self._cfg.apps), None)
        chat = Chat(
            chat_id=p.chat_id,
            open_conversation_id=p.open_conversation_id,
            name=p.name,
            owner=p.owner,
            members=list(dict.fromkeys([p.owner, *p.members])),
            app_key=app_key,
            org=self._cfg.org_of(app_key) if app_key else "org",
            kind="preset",
            created_at=self._clock(),
            conversation_tag=p.conversation_tag,
            robot_codes=list(p.robot_codes),
        )
        self._state.add_chat(chat)

    # ------------------------------------------------------------------
    # token endpoints (§2)
    # ------------------------------------------------------------------
    def _h_api_token(self, ctx: _Ctx) -> dict[str, Any]:
        # The gateway rejects a form-encoded (or absent/non-JSON) body with
        # 400 Missingbody (§1, alibabacloud-php-sdk#36).
        data = None
        if _media_type(ctx.headers.get("content-type")) not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            data = ctx.json_object()
        if data is None:
            raise ApiError(400, "Missingbody", "body is mandatory for this action")
        app_key, app_secret = data.get("appKey"), data.get("appSecret")
        if self._cfg.limits and isinstance(app_key, str) and app_key in self._cfg.apps:
            self._check_qps(ctx, app_key)
        if not isinstance(app_key, str) or not isinstance(app_secret, str) or self._cfg.apps.get(app_key) != app_secret:
            raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token, ttl = self._state.issue_token(app_key, ctx.now, self._cfg.token_ttl_s)
        ctx.app_key = app_key
        return {"accessToken": token, "expireIn": ttl}

    def _h_gettoken(self, ctx: _Ctx) -> dict[str, Any]:
        app_key, app_secret = ctx.query.get("appkey", ""), ctx.query.get("appsecret", "")
        if self._cfg.limits and app_key in self._cfg.apps:
            self._check_qps(ctx, app_key)
        if not app_key or self._cfg.apps.get(app_key) != app_secret:
            raise OapiError(40089, "不合法的corpId或corpSecret")
        token, ttl = self._state.issue_token(app_key, ctx.now, self._cfg.token_ttl_s)
        ctx.app_key = app_key
        return {"access_token": token, "expires_in": ttl}

    # ------------------------------------------------------------------
    # groups (§3)
    # ------------------------------------------------------------------
    def _h_chat_create(self, ctx: _Ctx) -> dict[str, Any]:
        """Legacy chat/create (§3.1); error order: name, owner, members."""
        data = ctx.json_object()
        if data is None:
            raise OapiError(43009, "参数需要是json格式")
        name, owner, ids = data.get("name"), data.get("owner"), data.get("useridlist")
        if not isinstance(name, str) or not name.strip():
            raise OapiError(40035, "群名称不能为空")
        if len(name) > 20:
            raise OapiError(400002, "参数过长")
        if not isinstance(owner, str) or not owner.strip():
            raise OapiError(49013, "群主不能为空")
        if ids is None or ids in ([], ""):
            raise OapiError(49010, "群成员不能为空")
        if not isinstance(ids, list) or not all(isinstance(u, str) and u for u in ids):
            raise OapiError(40031, "无效的useridlist列表")
        if len(ids) > 40:
            raise OapiError(49011, "群成员长度超限")
        # "owner must be one of useridlist" (§3.1) — no dedicated errcode is
        # documented, so it is reported as an invalid useridlist.
        if owner not in ids or self._unknown_users(ids):
            raise OapiError(40031, "无效的useridlist列表")
        chat = self._new_chat(
            ctx,
            name=name,
            owner=owner,
            members=list(dict.fromkeys(ids)),
            kind="chat",
            settings={snake: _flag(data.get(camel)) for snake, camel in _SETTING_KEYS},
        )
        return {"chatid": chat.chat_id, "openConversationId": chat.open_conversation_id, "conversationTag": chat.conversation_tag}

    def _h_chat_get(self, ctx: _Ctx) -> dict[str, Any]:
        """Legacy chat/get (§3.2)."""
        chat_id = ctx.query.get("chatid", "")
        if not chat_id:
            raise OapiError(49000, "需要参数chatid")
        chat = self._visible_chat(chat_id, ctx.app_key)
        if chat is None:
            raise OapiError(40016, "无效的chatid")
        info: dict[str, Any] = {
            "name": chat.name,
            "owner": chat.owner,
            "useridlist": list(chat.members),
            "chatid": chat.chat_id,
            "conversationTag": chat.conversation_tag,
        }
        for snake, camel in _SETTING_KEYS:
            info[camel] = chat.settings.get(snake, 0)
        info.update(icon=chat.icon, status=chat.status)
        return {"chat_info": info}

    def _scene_group(
        self,
        ctx: _Ctx,
        data: dict[str, Any],
        user_ids: list[str],
        subadmins: list[str],
        err: Callable[[str, str], Exception],
    ) -> Chat:
        """Shared by the topapi (§3.3) and v1.0 (§3.4) scene-group creation."""
        title, template_id, owner = data.get("title"), data.get("template_id"), data.get("owner_user_id")
        if not isinstance(title, str) or not title.strip() or len(title) > 30:
            raise err("param", "title")
        if not isinstance(template_id, str) or not template_id:
            raise err("param", "template_id")
        if not isinstance(owner, str) or not owner:
            raise err("param", "owner_user_id")
        uuid = data.get("uuid")
        if uuid is not None and not isinstance(uuid, str):
            raise err("param", "uuid")
        if uuid:
            # uuid = idempotency key for group creation (§3.3): a retry of a
            # create whose answer was lost gets the same group back.
            existing = self._state.scene_uuids.get((ctx.app_key or "", uuid))
            if existing and existing in self._state.chats:
                return self._state.chats[existing]
        if template_id not in self._cfg.templates:
            raise err("template", template_id)
        if len(user_ids) > 999:
            raise err("exceed", str(len(user_ids)))
        members = list(dict.fromkeys([owner, *user_ids, *subadmins]))
        unknown = self._unknown_users(members)
        if unknown:
            raise err("user", unknown[0])
        settings = {snake: _flag(data.get(snake)) for snake, _ in _SETTING_KEYS}
        chat = self._new_chat(
            ctx,
            name=title,
            owner=owner,
            members=members,
            kind="scenegroup",
            template_id=template_id,
            sub_admins=list(dict.fromkeys(subadmins)),
            settings=settings,
            icon=data.get("icon") if isinstance(data.get("icon"), str) else "",
        )
        if uuid:
            self._state.scene_uuids[(ctx.app_key or "", uuid)] = chat.chat_id
        return chat

    def _h_topapi_scenegroup_create(self, ctx: _Ctx) -> dict[str, Any]:
        def err(kind: str, detail: str) -> Exception:
            return {
                "param": OapiError(40035, f"参数错误: {detail}"),
                "template": OapiError(665036, "group template not found or offline"),
                "exceed": OapiError(665033, "群成员数量超出限制"),
                "user": OapiError(660041, f"不存在的员工: {detail}"),
            }[kind]

        data = ctx.json_object()
        if data is None:
            raise err("param", "body")
        # user_ids/subadmin_ids are comma-separated *strings* here (§3.3)
        lists: list[list[str]] = []
        for key in ("user_ids", "subadmin_ids"):
            raw = data.get(key)
            if raw is None or raw == "":
                lists.append([])
            elif isinstance(raw, str):
                lists.append([u.strip() for u in raw.split(",") if u.strip()])
            else:
                raise err("param", key)
        chat = self._scene_group(ctx, data, lists[0], lists[1], err)
        return {"result": {"open_conversation_id": chat.open_conversation_id, "chat_id": chat.chat_id}}

    def _h_topapi_scenegroup_get(self, ctx: _Ctx) -> dict[str, Any]:
        """topapi scenegroup/get (§3.3)."""
        data = ctx.json_object()
        cid = data.get("open_conversation_id") if data else None
        if not isinstance(cid, str) or not cid:
            raise OapiError(40035, "参数错误: open_conversation_id")
        chat = self._state.by_cid.get(cid)
        if chat is None:
            raise OapiError(40035, "参数错误: open_conversation_id")
        if chat.kind != "scenegroup" or chat.app_key != ctx.app_key:
            raise OapiError(400020, "无访问权限")
        return {
            "result": {
                "open_conversation_id": chat.open_conversation_id,
                "title": chat.name,
                "template_id": chat.template_id,
                "owner_staff_id": chat.owner,
                "sub_admin_staff_ids": list(chat.sub_admins),
                "icon": chat.icon,
                "group_url": "https://qr.dingtalk.com/action/joingroup?sandbox=1&cid=" + quote(chat.open_conversation_id, safe=""),
                "management_options": {snake: str(chat.settings.get(snake, 0)) for snake, _ in _SETTING_KEYS},
            }
        }

    def _h_api_group_create(self, ctx: _Ctx) -> dict[str, Any]:
        """v1.0 im/group/create (§3.4)."""
        data = ctx.json_object()
        if data is None:
            raise ApiError(400, "parameter.invalid", "body必须是JSON")
        name, owner, ids = data.get("name"), data.get("owner"), data.get("useridlist")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 20:
            raise ApiError(400, "parameter.invalid", "name长度必须在1-20之间")
        if not isinstance(owner, str) or not owner:
            raise ApiError(400, "parameter.invalid", "owner不能为空")
        if not isinstance(ids, list) or not ids or not all(isinstance(u, str) and u for u in ids):
            raise ApiError(400, "parameter.invalid", "useridlist必须是非空数组")
        tag = data.get("conversationTag", 2)
        if tag not in (0, 2):  # 0 普通群 (needs allow-listing) / 2 内部群 (default)
            raise ApiError(400, "parameter.invalid", "conversationTag无效")
        if self._unknown_users([owner]):
            raise ApiError(400, "permession.checkFailed", "群主不在应用可见性内")
        members = list(dict.fromkeys([owner, *ids]))
        if len(members) > 1000:
            raise ApiError(400, "parameter.invalid", "群成员超过上限")
        unknown = self._unknown_users(members)
        if unknown:
            raise ApiError(400, "parameter.invalid", f"无效的用户: {unknown[0]}")
        settings = {snake: _flag(data.get(camel)) for snake, camel in _SETTING_KEYS}
        chat = self._new_chat(ctx, name=name, owner=owner, members=members, kind="chat", conversation_tag=tag, settings=settings)
        return {"conversationTag": chat.conversation_tag, "openConversationId": chat.open_conversation_id, "chatid": chat.chat_id}

    def _h_api_scenegroup_create(self, ctx: _Ctx) -> dict[str, Any]:
        """v1.0 im/sceneGroup/create (§3.4): snake_case fields, *array* user ids."""

        def err(kind: str, detail: str) -> Exception:
            return {
                "param": ApiError(400, "parameter.invalid", f"参数错误: {detail}"),
                "template": ApiError(400, "groupTemplate.notFound", "群模板不存在"),
                "exceed": ApiError(400, "member.exceed", "群成员数量超出限制"),
                "user": ApiError(400, "member.notFound", f"员工不存在: {detail}"),
            }[kind]

        data = ctx.json_object()
        if data is None:
            raise err("param", "body")
        lists: list[list[str]] = []
        for key in ("user_ids", "subadmin_ids"):
            raw = data.get(key)
            if raw is None:
                lists.append([])
            elif isinstance(raw, list) and all(isinstance(u, str) and u for u in raw):
                lists.append(list(raw))
            else:
                raise err("param", key)
        chat = self._scene_group(ctx, data, lists[0], lists[1], err)
        return {"open_conversation_id": chat.open_conversation_id, "chat_id": chat.chat_id}

    def _h_api_convert(self, ctx: _Ctx) -> dict[str, Any]:
        """chatid → openConversationId (§3.4)."""
        chat = self._visible_chat(ctx.path_arg, ctx.app_key)
        if chat is None:
            raise ApiError(400, "parameter.invalid", "chatId无效")
        return {"openConversationId": chat.open_conversation_id}

    # ------------------------------------------------------------------
    # sending (§4, §5)
    # ------------------------------------------------------------------
    def _h_chat_send(self, ctx: _Ctx) -> dict[str, Any]:
        """Legacy chat/send (§4.1): ``{chatid, msg}`` or the flattened legacy form."""
        data = ctx.json_object()
        if data is None:
            raise OapiError(34014, "无效的消息")
        chat = self._visible_chat(data.get("chatid"), ctx.app_key)
        if chat is None:
            raise OapiError(34001, "无效的chatid")
        if "msg" in data:
            msg = data["msg"]
        elif "msgtype" in data:  # flattened: {"chatid":…, "msgtype":"text", "text":{…}}
            msg = {k: v for k, v in data.items() if k != "chatid"}
        else:
            raise OapiError(34014, "无效的消息")
        summary = validate_chat_msg(msg, self._cfg.chat_send_msg_max_bytes)
        message_id = new_message_id()
        self._state.record_message(
            ctx.now,
            channel="chat",
            chat_id=chat.chat_id,
            open_conversation_id=chat.open_conversation_id,
            app_key=ctx.app_key,
            msgtype=summary.msgtype,
            content=summary.content,
            title=summary.title,
            message_id=message_id,
            body=data,
        )
        return {"messageId": message_id}

    def _h_robot_send(self, ctx: _Ctx) -> dict[str, Any]:
        """v1.0 robot/groupMessages/send (§4.2); check order as in §8."""
        data = ctx.json_object()
        if data is None:
            raise ApiError(400, "invalidParameter.msgBody.invalid", "body必须是JSON")
        param, summary = parse_msg_param(data.get("msgKey"), data.get("msgParam"))
        robot_code = data.get("robotCode")
        if robot_code is None:
            raise ApiError(400, "invalidParameter.robotCode.missing", "缺少robotCode")
        if not isinstance(robot_code, str) or not robot_code.strip():
            raise ApiError(400, "invalidParameter.robotCode.empty", "robotCode为空")
        robot_app = self._cfg.robot_codes.get(robot_code)
        if robot_app is None:
            raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        if robot_app != ctx.app_key:
            raise ApiError(400, "invalidParameter.robotCode.auth", "robotCode与调用应用的appKey不匹配")
        cid = data.get("openConversationId")
        if not isinstance(cid, str) or not cid:
            raise ApiError(400, "miss.openConversationId", "缺少openConversationId")
        chat = self._state.by_cid.get(cid)
        if chat is None:
            raise ApiError(400, "invalid.openConversationId", "openConversationId无效")
        if chat.org != self._cfg.org_of(robot_app):
            raise ApiError(400, "conversation.org.notMatch", "群和机器人不属于同一组织")
        if chat.app_key != robot_app and robot_code not in chat.robot_codes:
            raise ApiError(400, "resource.not.found", "机器人不存在，请检查机器人是否在群内")
        key = new_process_query_key()
        self._state.record_message(
            ctx.now,
            channel="robot",
            chat_id=chat.chat_id,
            open_conversation_id=chat.open_conversation_id,
            robot=robot_code,
            app_key=ctx.app_key,
            msgtype=summary.msgtype,
            content=summary.content,
            title=summary.title,
            msg_param=param,
            process_query_key=key,
            body=data,
        )
        return {"processQueryKey": key}

    def _webhook_too_fast(self) -> OapiError:
        if self._cfg.webhook_codes == "documented":
            return OapiError(410100, "发送速度太快而限流")
        return OapiError(130101, "send too fast, exceed 20 times per minute")

    def _h_webhook_send(self, ctx: _Ctx) -> dict[str, Any]:
        """Custom robot webhook (§5).  Always HTTP 200; checks in this order:
        token, robot enabled, rate block, Content-Type, size, JSON, 加签,
        IP allow-list, message shape, keywords, rate window, msgUuid."""
        cfg = self._cfg
        token = ctx.query.get("access_token", "")
        robot = cfg.webhooks.get(token) if token else None
        if robot is None:
            if cfg.webhook_codes == "documented":
                raise OapiError(400101, "access_token不存在")
            raise OapiError(300001, "token is not exist")
        label = robot.name or (token[:4] + "…")
        ctx.robot_label = label
        if not robot.enabled:
            raise OapiError(400102, "机器人已停用")
        if cfg.limits and self._state.webhook_blocked(token, ctx.now):
            raise self._webhook_too_fast()
        if _media_type(ctx.headers.get("content-type")) != "application/json":
            raise OapiError(43004, "无效的HTTP HEADER Content-Type")
        if len(ctx.body) > WEBHOOK_MAX_BODY:
            raise OapiError(460101, "message too long, exceed 20000 bytes")
        data = ctx.json_object()
        if data is None:
            raise OapiError(40035, "缺少参数 json")
        if robot.secret:
            self._check_signature(ctx, robot.secret)
        if robot.ip_allowlist and not _ip_allowed(ctx.client_ip, robot.ip_allowlist):
            raise OapiError(310000, f"ip {ctx.client_ip} not in whitelist")
        summary = validate_webhook_msg(data)
        if robot.keywords:
            texts = webhook_text_fields(data)
            if not any(kw in text for kw in robot.keywords for text in texts):
                raise OapiError(310000, "keywords not in content")
        if cfg.limits and not self._state.webhook_take(token, ctx.now, cfg.webhook_limit, cfg.webhook_window_s, cfg.webhook_block_s):
            # the request over the window is refused and the robot throttled (§5.4)
            raise self._webhook_too_fast()
        msg_uuid = data.get("msgUuid")
        if isinstance(msg_uuid, str) and msg_uuid:
            seen = self._state.webhook_uuids.setdefault(token, set())
            if msg_uuid in seen:
                return {}  # idempotent retry: accepted again, not delivered twice (§5.1)
            seen.add(msg_uuid)
        at = data.get("at")
        self._state.record_message(
            ctx.now,
            channel="webhook",
            robot=label,
            msgtype=summary.msgtype,
            content=summary.content,
            title=summary.title,
            at=at if isinstance(at, dict) else None,
            msg_uuid=msg_uuid if isinstance(msg_uuid, str) and msg_uuid else None,
            body=data,
        )
        return {}

    def _check_signature(self, ctx: _Ctx, secret: str) -> None:
        """加签 (§5.2): timestamp (ms) within 1 h; sign == base64(HMAC-SHA256(secret,
        timestamp + "\\n" + secret)), compared after one normal query decoding —
        so a double-encoded or un-encoded sign does not match."""
        ts_raw = ctx.query.get("timestamp", "")
        if not ts_raw.isdigit():
            raise OapiError(310000, "invalid timestamp")
        if abs(ctx.now * 1000 - int(ts_raw)) > TIMESTAMP_SKEW_MS:
            raise OapiError(310000, "invalid timestamp")
        expected = sign_webhook(secret, ts_raw)
        given = ctx.query.get("sign", "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
            raise OapiError(310000, "sign not match")

    # ------------------------------------------------------------------
    # /_sandbox/* control endpoints
    # ------------------------------------------------------------------
    def _c_messages(self, ctx: _Ctx) -> Any:
        return self.messages(ctx.query.get("channel") or None)

    def _c_requests(self, ctx: _Ctx) -> Any:
        return self.requests()

    def _c_reset(self, ctx: _Ctx) -> Any:
        self.reset()
        return {"ok": True}

    def _c_chats(self, ctx: _Ctx) -> Any:
        if ctx.method == "POST":
            data = ctx.json_object()
            if data is None:
                raise ValueError("body must be a JSON object of add_chat arguments")
            return self.add_chat(**data)
        return self.chats()

    def _c_config(self, ctx: _Ctx) -> Any:
        if ctx.method == "POST":
            data = ctx.json_object()
            if data is None:
                raise ValueError("body must be a JSON object")
            inject = data.pop("inject", None)
            if data:
                self.configure(**data)
            for item in inject or []:
                self.inject_fault(item["kind"], int(item.get("times", 1)), item.get("path"))
        return self._public_config()

    def _public_config(self) -> dict[str, Any]:
        """Runtime settings and non-secret identifiers (no secrets, no webhook tokens)."""
        c = self._cfg
        return {
            "latency_ms": c.latency_ms,
            "limits": c.limits,
            "webhook_window_s": c.webhook_window_s,
            "webhook_limit": c.webhook_limit,
            "webhook_block_s": c.webhook_block_s,
            "qps_per_app": c.qps_per_app,
            "token_ttl_s": c.token_ttl_s,
            "faults": c.faults.to_dict(),
            "pending_injections": [dataclasses.asdict(i) for i in self._injections],
            "apps": sorted(c.apps),
            "robot_codes": dict(c.robot_codes),
            "webhook_robots": [r.name or (t[:4] + "…") for t, r in c.webhooks.items()],
            "templates": sorted(c.templates),
            "webhook_codes": c.webhook_codes,
        }


def sign_webhook(secret: str, timestamp: str | int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")) — §5.2 (not URL-encoded)."""
    string_to_sign = f"{timestamp}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _ip_allowed(ip: str, allowlist: Iterable[str]) -> bool:
    """IPv4 addresses or CIDR blocks; no IPv6 (§5.2)."""
    import ipaddress  # only robots with an allow-list pay for this import

    try:
        addr = ipaddress.IPv4Address(ip)
    except ValueError:
        return False
    for entry in allowlist:
        try:
            if addr in ipaddress.IPv4Network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False
