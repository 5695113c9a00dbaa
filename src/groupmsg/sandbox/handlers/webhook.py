"""The custom robot webhook ``POST /robot/send`` (docs/dingtalk-api.md §5).

Always HTTP 200 with ``errcode``/``errmsg``.  A robot is addressed by its
webhook ``access_token`` (never echoed: records name it by its label) and may
have a 加签 secret, keywords and an IP allow-list (§5.2); every robot may send
20 messages a minute and is blocked for 10 minutes after that (§5.4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Any

from ..catalog import validate_webhook_msg, webhook_text_fields
from ..config import SandboxConfig
from ..errors import OapiError
from ..gateway import webhook_too_fast
from ..request import Request, media_type
from ..state import State
from .send import record

WEBHOOK_MAX_BODY = 20000  # bytes, §5.4 / 460101
TIMESTAMP_SKEW_MS = 3_600_000  # 1 hour, §5.2


def webhook_send(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """Checks in this order: token, robot enabled, rate block, Content-Type,
    size, JSON, 加签, IP allow-list, message shape, keywords, rate window, msgUuid."""
    token = req.query.get("access_token", "")
    robot = cfg.webhooks.get(token) if token else None
    if robot is None:
        if cfg.webhook_codes == "documented":
            raise OapiError(400101, "access_token不存在")
        raise OapiError(300001, "token is not exist")
    req.robot_label = robot.name or (token[:4] + "…")
    if not robot.enabled:
        raise OapiError(400102, "机器人已停用")
    if cfg.limits and state.webhook_blocked(token, req.now):
        raise webhook_too_fast(cfg.webhook_codes)
    if media_type(req.headers.get("content-type")) != "application/json":
        raise OapiError(43004, "无效的HTTP HEADER Content-Type")
    if len(req.body) > WEBHOOK_MAX_BODY:
        raise OapiError(460101, "message too long, exceed 20000 bytes")
    data = req.json_object()
    if data is None:
        raise OapiError(40035, "缺少参数 json")
    if robot.secret:
        check_signature(req, robot.secret)
    if robot.ip_allowlist and not ip_allowed(req.client_ip, robot.ip_allowlist):
        raise OapiError(310000, f"ip {req.client_ip} not in whitelist")
    summary = validate_webhook_msg(data)
    if robot.keywords:
        texts = webhook_text_fields(data)
        if not any(kw in text for kw in robot.keywords for text in texts):
            raise OapiError(310000, "keywords not in content")
    if cfg.limits and not state.webhook_take(token, req.now, cfg.webhook_limit, cfg.webhook_window_s, cfg.webhook_block_s):
        # the request over the window is refused and the robot throttled (§5.4)
        raise webhook_too_fast(cfg.webhook_codes)
    msg_uuid = data.get("msgUuid")
    if isinstance(msg_uuid, str) and msg_uuid:
        seen = state.webhook_uuids.setdefault(token, set())
        if msg_uuid in seen:
            return {}  # idempotent retry: accepted again, not delivered twice (§5.1)
        seen.add(msg_uuid)
    at = data.get("at")
    record(
        state,
        req,
        "webhook",
        summary,
        robot=req.robot_label,
        at=at if isinstance(at, dict) else None,
        msg_uuid=msg_uuid if isinstance(msg_uuid, str) and msg_uuid else None,
        body=data,
    )
    return {}


def check_signature(req: Request, secret: str) -> None:
    """加签 (§5.2): timestamp (ms) within 1 h; sign == base64(HMAC-SHA256(secret,
    timestamp + "\\n" + secret)), compared after one normal query decoding —
    so a double-encoded or un-encoded sign does not match."""
    ts_raw = req.query.get("timestamp", "")
    if not ts_raw.isdigit():
        raise OapiError(310000, "invalid timestamp")
    if abs(req.now * 1000 - int(ts_raw)) > TIMESTAMP_SKEW_MS:
        raise OapiError(310000, "invalid timestamp")
    expected = sign_webhook(secret, ts_raw)
    given = req.query.get("sign", "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("ascii")):
        raise OapiError(310000, "sign not match")


def sign_webhook(secret: str, timestamp: str | int) -> str:
    """base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")) — §5.2 (not URL-encoded)."""
    string_to_sign = f"{timestamp}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def ip_allowed(ip: str, allowlist: Iterable[str]) -> bool:
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
