"""The DingTalk HTTP client: tokens, group creation, group messages, webhooks.

HTTP 200 is not success: the oapi family reports errors as `errcode != 0` inside a 200 answer, the
new api family as HTTP 4xx/5xx with `{"code", "message", "requestid"}`. Both are checked here and
become `DingTalkError`s that carry DingTalk's code, its text and, where known, the likely fix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from ..errors import ConfigError, DingTalkError, TokenError, TransportError
from ..masking import mask_url, redact
from . import messages
from .errcodes import BUSY_PREFIXES, describe, is_retryable, is_token_error, retry_class
from .http import HTTP, Response, Timeouts, make_http, not_processed, reason_phrase, retry_after
from .messages import Message
from .signing import signed_query

if TYPE_CHECKING:
    import httpx

JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
TOKEN_HEADER = "x-acs-dingtalk-access-token"
CONNECT_TIMEOUT_S = 5.0
# Per request; the caller's total deadline (retries included) is usually longer.
REQUEST_TIMEOUT_S = 15.0
MIN_REQUEST_S = 0.05  # a request with less time than this left still gets this much


@dataclass(frozen=True)
class Request:
    """A request ready to send. `url` may hold a webhook token: show `public()` instead."""

    method: str
    url: str
    body: bytes | None
    family: str  # "oapi" | "api" | "webhook"
    auth: bool = True  # needs an access token (added when sent)
    idempotent: bool = False  # carries an idempotency key (msgUuid, uuid): safe to repeat
    sign_secret: str | None = field(default=None, repr=False)  # webhook: signed when sent
    content_type: str | None = None  # default: JSON
    upload: dict[str, Any] | None = None  # a media upload: what `public()` shows instead of the bytes

    def public(self) -> dict[str, Any]:
        body = json.loads(self.body) if self.body and self.upload is None else None
        url = self.url
        if self.family == "oapi" and self.auth:
            url += ("&" if "?" in url else "?") + "access_token=…"
        if self.sign_secret:
            url += ("&" if "?" in url else "?") + "timestamp=<now>&sign=…"
        headers = self.headers()
        if self.family == "api" and self.auth:
            headers[TOKEN_HEADER] = "…"
        if self.upload is not None:
            headers["Content-Type"] = headers["Content-Type"].split(";")[0] + "; boundary=…"
            return {"method": self.method, "url": mask_url(url), "headers": headers, "multipart": self.upload}
        return {"method": self.method, "url": mask_url(url), "headers": headers, "json": body}

    def headers(self) -> dict[str, str]:
        if self.body is None:
            return {}
        if self.content_type:
            return {**JSON_HEADERS, "Content-Type": self.content_type}
        return dict(JSON_HEADERS)


@dataclass(frozen=True)
class Sent:
    """What DingTalk answered for a delivered message."""

    message_id: str | None  # chat/send messageId, robot processQueryKey; webhooks return none
    media_id: str | None = None  # a media upload's media_id


class TokenCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def refresh(self, key: str, fetch: Callable[[], tuple[str, int]], stale: str | None) -> str:
        """Fetch a new token unless another process already replaced `stale`."""
        ...


class MemoryTokenCache:
    """Per-process token cache (the CLI uses a file-backed one shared by all processes)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        token, expires = self._tokens.get(key, ("", 0.0))
        return token if token and expires > time.time() else None

    def refresh(self, key: str, fetch: Callable[[], tuple[str, int]], stale: str | None) -> str:
        with self._lock:
            current = self.get(key)
            if current and current != stale:
                return current
            token, expire_in = fetch()
            self._tokens[key] = (token, time.time() + expire_in - 600)
            return token


class DingTalkClient:
    def __init__(
        self,
        *,
        oapi_url: str = "https://oapi.dingtalk.com",
        api_url: str = "https://api.dingtalk.com",
        app_key: str | None = None,
        app_secret: str | None = None,
        robot_code: str | None = None,
        tokens: TokenCache | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.oapi_url = oapi_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.app_key = app_key
        self._app_secret = app_secret
        self.robot_code = robot_code
        self.tokens = tokens or MemoryTokenCache()
        self.token_date: str | None = None  # the Date of the last token answer
        self.timeouts: Timeouts = (min(CONNECT_TIMEOUT_S, timeout), min(REQUEST_TIMEOUT_S, timeout))
        # Cheap to build: nothing is imported or connected until the first request.
        self.http: HTTP = make_http(
            transport=transport,
            connect_timeout=self.timeouts[0],
            read_timeout=self.timeouts[1],
            secrets=self._secrets(),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DingTalkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._app_secret,) if s)

    def _raw(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None,
        headers: dict[str, str],
        idempotent: bool = True,
        deadline: float | None = None,
    ) -> Response:
        timeouts = None
        if deadline is not None:  # no request outlives the caller's deadline
            left = max(deadline - time.monotonic(), MIN_REQUEST_S)
            timeouts = (min(self.timeouts[0], left), min(self.timeouts[1], left))
        return self.http.request(method, url, body=body, headers=headers, idempotent=idempotent, timeouts=timeouts)

    @staticmethod
    def needs_token(channel: str) -> bool:
        return channel in ("chat", "robot")

    def probe(self, url: str, method: str = "HEAD") -> Response:
        """A request whose answer is not interpreted (doctor reads its Date header): by default a
        HEAD, which asks no API for anything."""
        return self._raw(method, url, body=None, headers={})

    # Tokens --------------------------------------------------------------------------------
    @property
    def token_host(self) -> str:
        """The host access tokens come from."""
        return urlsplit(self.api_url).netloc

    @property
    def _token_key(self) -> str:
        return f"{self.api_url}|{self.app_key}"

    def check_credentials(self) -> None:
        if not (self.app_key and self._app_secret):
            raise ConfigError(
                "DingTalk app credentials are not set",
                hint="export DINGTALK_APP_KEY and DINGTALK_APP_SECRET (the app's Client ID and Client Secret)",
            )

    def fetch_token(self, *, deadline: float | None = None) -> tuple[str, int]:
        """POST /v1.0/oauth2/accessToken → (accessToken, expireIn seconds)."""
        self.check_credentials()
        body = json.dumps({"appKey": self.app_key, "appSecret": self._app_secret}).encode()
        url = f"{self.api_url}/v1.0/oauth2/accessToken"
        resp = self._raw("POST", url, body=body, headers=JSON_HEADERS, deadline=deadline)
        data = self._parse(resp, family="api")
        self.token_date = resp.headers.get("date")  # DingTalk's clock, for doctor
        token, expire_in = data.get("accessToken"), data.get("expireIn")
        if not isinstance(token, str) or not token:
            raise TransportError("DingTalk's token answer has no accessToken", code="bad-response")
        return token, int(expire_in or 7200)

    def access_token(self, *, stale: str | None = None, deadline: float | None = None) -> str:
        if stale is None:
            cached = self.tokens.get(self._token_key)
            if cached:
                return cached
        return self.tokens.refresh(self._token_key, lambda: self.fetch_token(deadline=deadline), stale)

    # Calls ---------------------------------------------------------------------------------
    def execute(self, req: Request, *, deadline: float | None = None) -> dict[str, Any]:
        """Send a request; on a token error, refresh the token once and send it again. No request
        outlives `deadline` (a time.monotonic() value)."""
        token = self.access_token(deadline=deadline) if req.auth else None
        try:
            return self._send(req, token, deadline)
        except TokenError:
            if not req.auth:
                raise
            return self._send(req, self.access_token(stale=token, deadline=deadline), deadline)

    def _send(self, req: Request, token: str | None, deadline: float | None) -> dict[str, Any]:
        url, headers = req.url, req.headers()
        if token and req.family == "oapi":
            url += ("&" if "?" in url else "?") + "access_token=" + quote(token, safe="")
        elif token and req.family == "api":
            headers[TOKEN_HEADER] = token
        if req.sign_secret:
            url += ("&" if "?" in url else "?") + signed_query(req.sign_secret)
        resp = self._raw(req.method, url, body=req.body, headers=headers, idempotent=req.idempotent, deadline=deadline)
        return self._parse(resp, family=req.family)

    def _parse(self, resp: Response, *, family: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TransportError(
                f"DingTalk answered HTTP {resp.status} {reason_phrase(resp.status)}".rstrip() + " without a JSON body",
                hint=(
                    "an answer that is not JSON from DingTalk usually means this IP is banned for 5 minutes "
                    "(over 10,000 calls in 20 s); wait and retry"
                    if resp.status < 500 and resp.status != 429
                    else "DingTalk (or a proxy in between) did not take the request; it is retried"
                    if not_processed(resp.status)
                    else "DingTalk (or a proxy in between) failed; retry later"
                ),
                code=f"http-{resp.status}",
                retryable=resp.status >= 500 or resp.status == 429,
                ambiguous=resp.status >= 500 and not not_processed(resp.status),
                retry_after=retry_after(resp.headers),
            )
        if family == "api":
            if resp.status < 400:
                return data
            code = str(data.get("code") or data.get("Code") or f"http-{resp.status}")
            text = str(data.get("message") or data.get("Message") or "")
            self._raise(code, text, status=resp.status, headers=resp.headers)
        errcode = data.get("errcode", 0)
        if resp.status >= 400 and not errcode:
            errcode = f"http-{resp.status}"
        if str(errcode) in ("0", ""):
            return data
        text = str(data.get("errmsg") or "")
        if str(errcode) == "88" and data.get("sub_code"):
            errcode, text = data["sub_code"], f"{text} ({data.get('sub_msg') or ''})".strip()
        self._raise(str(errcode), text, status=resp.status, headers=resp.headers)
        raise AssertionError  # pragma: no cover

    def _raise(self, code: str, text: str, *, status: int, headers: dict[str, str] | None = None) -> None:
        text = redact(text, self._secrets())
        hint = describe(code, text)
        cls = TokenError if is_token_error(code) or status == 401 else DingTalkError
        message = f"DingTalk error {code}: {text or '(no message)'}"
        # A 500, 502 or 504 may come after the message was processed; a 503 or 429, and the busy and
        # throttling codes, say it was not.
        ambiguous = status >= 500 and not not_processed(status) and not code.startswith(BUSY_PREFIXES)
        raise cls(
            message,
            hint=hint,
            code=code,
            retryable=is_retryable(code, status),
            ambiguous=ambiguous,
            retry_after=retry_after(headers or {}),
            retry=retry_class(code, text, status),
        )

    # Groups --------------------------------------------------------------------------------
    def create_group_request(
        self,
        name: str,
        owner: str,
        members: list[str],
        *,
        template_id: str | None = None,
        uuid: str | None = None,
    ) -> Request:
        """`/v1.0/im/group/create`, or the scene-group API when a template is given."""
        if template_id:
            body: dict[str, Any] = {
                "title": name,
                "template_id": template_id,
                "owner_user_id": owner,
                "user_ids": members,
            }
            if uuid:
                body["uuid"] = uuid
            return Request(
                "POST", f"{self.api_url}/v1.0/im/sceneGroup/create", json.dumps(body).encode(), "api", idempotent=bool(uuid)
            )
        body = {"name": name, "owner": owner, "useridlist": members}
        return Request("POST", f"{self.api_url}/v1.0/im/group/create", json.dumps(body).encode(), "api")

    def create_group(self, name: str, owner: str, members: list[str], **kw: Any) -> tuple[str, str]:
        """Create a group; returns (chat_id, open_conversation_id)."""
        data = self.execute(self.create_group_request(name, owner, members, **kw))
        chat_id = data.get("chatid") or data.get("chat_id")
        cid = data.get("openConversationId") or data.get("open_conversation_id")
        if not chat_id and not cid:
            raise TransportError("DingTalk's answer has no chat id", code="bad-response")
        return str(chat_id or ""), str(cid or "")

    # Messages ------------------------------------------------------------------------------
    def chat_send_request(self, chat_id: str, msg: Message) -> Request:
        return Request("POST", f"{self.oapi_url}/chat/send", messages.chat_body(chat_id, msg), "oapi")

    def robot_send_request(self, open_conversation_id: str, msg: Message) -> Request:
        if not self.robot_code:
            raise ConfigError("DINGTALK_ROBOT_CODE is not set")
        body = messages.robot_body(self.robot_code, open_conversation_id, msg)
        return Request("POST", f"{self.api_url}/v1.0/robot/groupMessages/send", body, "api")

    def webhook_request(
        self, webhook_url: str, msg: Message, *, secret: str | None = None, msg_uuid: str | None = None
    ) -> Request:
        body = messages.webhook_body(msg, msg_uuid=msg_uuid)
        return Request(
            "POST",
            self.rebase_webhook(webhook_url),
            body,
            "webhook",
            auth=False,
            idempotent=bool(msg_uuid),
            sign_secret=secret,
        )

    def rebase_webhook(self, url: str) -> str:
        """Point a stored oapi.dingtalk.com webhook at GROUPMSG_OAPI_URL (a sandbox, a proxy)."""
        parts = urlsplit(url)
        if parts.netloc == "oapi.dingtalk.com" and self.oapi_url != "https://oapi.dingtalk.com":
            return f"{self.oapi_url}{parts.path}?{parts.query}"
        return url

    def upload_media_request(self, filename: str, data: bytes, *, content_type: str) -> Request:
        """Legacy `POST /media/upload?type=image` with the file as the multipart part `media`
        (docs/dingtalk-api.md §4.3); the answer's `media_id` goes into chat/send or the robot API."""
        body, multipart_type = messages.multipart("media", filename, data, content_type)
        described = {"type": "image", "media": {"filename": filename, "content_type": content_type, "bytes": len(data)}}
        return Request(
            "POST",
            f"{self.oapi_url}/media/upload?type=image",
            body,
            "oapi",
            idempotent=True,  # a second upload makes a second media id, nothing a reader sees
            content_type=multipart_type,
            upload=described,
        )

    def send_message(self, req: Request, *, deadline: float | None = None) -> Sent:
        data = self.execute(req, deadline=deadline)
        message_id = data.get("messageId") or data.get("processQueryKey")
        media_id = data.get("media_id")
        return Sent(message_id=str(message_id) if message_id else None, media_id=str(media_id) if media_id else None)
