"""What DingTalk checks before any endpoint runs, and the errors it answers with.

Authentication of both families (docs/dingtalk-api.md §1, §2.3), the per app ×
per API QPS limit (§6), and the busy/throttled answers that several endpoints
share.  Each function raises (or returns) the error in the caller's family.
"""

from __future__ import annotations

from .config import SandboxConfig
from .errors import ApiError, OapiError
from .request import Request
from .state import State

QPS_MESSAGE = "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"  # §6.1


def authenticate(req: Request, state: State, topapi_errcode88: bool) -> None:
    """Name the caller's app from its token (header for api, query for oapi/topapi)."""
    if req.family == "api":
        token = req.headers.get("x-acs-dingtalk-access-token", "")
        if not token:
            # Missing header: the generic gateway row (§2.3) is HTTP 401
            # "Unauthorized"; a *bad* token is 400 InvalidAuthentication.
            raise ApiError(401, "Unauthorized", "缺少x-acs-dingtalk-access-token")
    else:
        token = req.query.get("access_token", "")
        if not token:
            if req.family == "topapi" and topapi_errcode88:
                raise OapiError(88, "缺少access_token参数", sub_code="41001", sub_msg="缺少access_token参数")
            raise OapiError(41001, "缺少access_token参数")
    # The value is used verbatim: a JSON-quoted '"abc"' is simply unknown (§1.3).
    app_key = state.token_app(token, req.now)
    if app_key is None:
        raise invalid_token_error(req.family, topapi_errcode88)
    req.token, req.app_key = token, app_key


def invalid_token_error(family: str, topapi_errcode88: bool) -> Exception:
    # Expired tokens answer like unknown ones: 40014 is what an expired
    # token returns in practice (§2.3).
    if family == "api":
        return ApiError(400, "InvalidAuthentication", "不合法的access_token")
    if family == "topapi" and topapi_errcode88:
        return OapiError(88, "不合法的access_token", sub_code="40014", sub_msg="不合法的access_token")
    return OapiError(40014, "不合法的access_token")


def check_qps(req: Request, state: State, cfg: SandboxConfig, app_key: str) -> None:
    """Per app × per API, ``cfg.qps_per_app`` (20) calls in any second (§6.1)."""
    if not state.qps_allow((app_key, req.api), req.now, cfg.qps_per_app):
        raise qps_error(req, cfg.webhook_codes)


def qps_error(req: Request, webhook_codes: str) -> Exception:
    if req.family == "api":
        return ApiError(403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", QPS_MESSAGE)
    if req.family == "webhook":  # the custom robot's own throttle code (§5.3)
        return webhook_too_fast(webhook_codes)
    return OapiError(90018, f"{QPS_MESSAGE}, apiPath({req.path})")


def busy_error(family: str) -> Exception:
    # oapi/webhook: -1 系统繁忙 (§3.1, §4.1, §5.3); api: HTTP 429 system.busy (§6.1)
    if family == "api":
        return ApiError(429, "system.busy", "系统繁忙")
    return OapiError(-1, "系统繁忙")


def webhook_too_fast(webhook_codes: str) -> OapiError:
    """A custom robot over its 20 messages a minute, or blocked (§5.3, §5.4)."""
    if webhook_codes == "documented":
        return OapiError(410100, "发送速度太快而限流")
    return OapiError(130101, "send too fast, exceed 20 times per minute")
