"""Access tokens: ``POST /v1.0/oauth2/accessToken`` and legacy ``GET /gettoken``
(docs/dingtalk-api.md §2).

Both issue the same token again while it is valid, with its lifetime
extended (§2.1); token endpoints need no token, so they count their own
per-app QPS once the app is known.
"""

from __future__ import annotations

from typing import Any

from ..config import SandboxConfig
from ..errors import ApiError, OapiError
from ..gateway import check_qps
from ..request import Request, media_type
from ..state import State

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def api_token(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """``POST /v1.0/oauth2/accessToken`` with ``{"appKey", "appSecret"}`` (§2.1)."""
    # The gateway rejects a form-encoded (or absent/non-JSON) body with
    # 400 Missingbody (§1.3).
    data = None
    if media_type(req.headers.get("content-type")) not in _FORM_TYPES:
        data = req.json_object()
    if data is None:
        raise ApiError(400, "Missingbody", "body is mandatory for this action")
    app_key, app_secret = data.get("appKey"), data.get("appSecret")
    _count(req, state, cfg, app_key)
    if not isinstance(app_key, str) or not isinstance(app_secret, str) or cfg.apps.get(app_key) != app_secret:
        raise ApiError(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
    token, ttl = _issue(req, state, cfg, app_key)
    return {"accessToken": token, "expireIn": ttl}


def gettoken(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """``GET /gettoken?appkey=…&appsecret=…`` (§2.2)."""
    app_key, app_secret = req.query.get("appkey", ""), req.query.get("appsecret", "")
    _count(req, state, cfg, app_key)
    if not app_key or cfg.apps.get(app_key) != app_secret:
        raise OapiError(40089, "不合法的corpId或corpSecret")
    token, ttl = _issue(req, state, cfg, app_key)
    return {"access_token": token, "expires_in": ttl}


def _count(req: Request, state: State, cfg: SandboxConfig, app_key: Any) -> None:
    if cfg.limits and isinstance(app_key, str) and app_key in cfg.apps:
        check_qps(req, state, cfg, app_key)


def _issue(req: Request, state: State, cfg: SandboxConfig, app_key: str) -> tuple[str, int]:
    req.app_key = app_key  # for the request log
    return state.issue_token(app_key, req.now, cfg.token_ttl_s)
