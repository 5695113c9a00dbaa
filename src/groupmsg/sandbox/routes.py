"""The routing table: which path is which endpoint (docs/dingtalk-api.md §2–§5).

Legacy (oapi/topapi) and new (``/v1.0``) paths share one table because the
sandbox serves both hosts on one port.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .handlers import control, groups, inbox, media, send, tokens, webhook
from .handlers.control import ControlEndpoint
from .pipeline import Endpoint
from .replies import JSON_CT, Reply, dumps
from .request import Request

_E = Endpoint
ENDPOINTS: dict[str, Endpoint] = {
    # tokens (§2)
    "/v1.0/oauth2/accessToken": _E("api", "oauth2.accessToken", ("POST",), tokens.api_token, auth=False, token_endpoint=True),
    "/gettoken": _E("oapi", "gettoken", ("GET",), tokens.gettoken, auth=False, token_endpoint=True),
    # groups (§3)
    "/chat/create": _E("oapi", "chat.create", ("POST",), groups.chat_create),
    "/chat/get": _E("oapi", "chat.get", ("GET",), groups.chat_get),
    "/topapi/im/chat/scenegroup/create": _E("topapi", "scenegroup.create", ("POST",), groups.topapi_scenegroup_create),
    "/topapi/im/chat/scenegroup/get": _E("topapi", "scenegroup.get", ("POST",), groups.topapi_scenegroup_get),
    "/v1.0/im/group/create": _E("api", "im.group.create", ("POST",), groups.api_group_create),
    "/v1.0/im/sceneGroup/create": _E("api", "im.sceneGroup.create", ("POST",), groups.api_scenegroup_create),
    # sending (§4, §5)
    "/chat/send": _E("oapi", "chat.send", ("POST",), send.chat_send),
    "/v1.0/robot/groupMessages/send": _E("api", "robot.groupMessages.send", ("POST",), send.robot_send),
    "/robot/send": _E("webhook", "robot.send", ("POST",), webhook.webhook_send, auth=False),
    # media (§4.3)
    "/media/upload": _E("oapi", "media.upload", ("POST",), media.media_upload),
}

# POST /v1.0/im/chat/{chatId}/convertToOpenConversationId (§3.4)
_CONVERT_RE = re.compile(r"^/v1\.0/im/chat/([^/]+)/convertToOpenConversationId$")
_CONVERT = _E("api", "im.chat.convertToOpenConversationId", ("POST",), groups.api_convert)

# sandbox control: never faulted, never logged, no latency
CONTROL: dict[str, ControlEndpoint] = {
    "/_sandbox/messages": ControlEndpoint(("GET",), control.messages),
    "/_sandbox/requests": ControlEndpoint(("GET",), control.requests),
    "/_sandbox/reset": ControlEndpoint(("POST",), control.reset),
    "/_sandbox/chats": ControlEndpoint(("GET", "POST"), control.chats),
    "/_sandbox/config": ControlEndpoint(("GET", "POST"), control.config),
    "/_sandbox/health": ControlEndpoint(("GET",), control.health, public=True),
    "/_sandbox/robots": ControlEndpoint(("GET", "POST"), control.robots),
    "/_sandbox/apps": ControlEndpoint(("GET", "POST"), control.apps),
    # the web inbox
    "/": ControlEndpoint(("GET", "HEAD"), inbox.page),
    "/_sandbox/inbox": ControlEndpoint(("GET",), inbox.snapshot),
    "/_sandbox/events": ControlEndpoint(("GET",), inbox.events),
    "/_sandbox/inbox.js": ControlEndpoint(("GET", "HEAD"), inbox.static("inbox.js"), public=True),
    "/_sandbox/inbox.css": ControlEndpoint(("GET", "HEAD"), inbox.static("inbox.css"), public=True),
    "/favicon.ico": ControlEndpoint(("GET", "HEAD"), inbox.favicon, public=True),
}
# /_sandbox/robots/{name}, /_sandbox/apps/{key}
CONTROL_ITEMS: dict[str, ControlEndpoint] = {
    "/_sandbox/robots/": ControlEndpoint(("GET", "PATCH", "DELETE"), control.robot),
    "/_sandbox/apps/": ControlEndpoint(("DELETE",), control.app),
}


def route(req: Request) -> Endpoint | ControlEndpoint | None:
    """The endpoint for ``req.path`` (None: no such endpoint); sets ``req.path_arg``."""
    ep = ENDPOINTS.get(req.path) or CONTROL.get(req.path)
    if ep is None:
        m = _CONVERT_RE.match(req.path)
        if m:
            ep = _CONVERT
            req.path_arg = unquote(m.group(1))
        else:
            prefix, _, name = req.path.rpartition("/")
            ep = CONTROL_ITEMS.get(prefix + "/") if name else None
            req.path_arg = unquote(name) if ep else None
    return ep


def unauthorised(req: Request) -> Reply:
    """A control request without this sandbox's control token (it listens beyond loopback)."""
    why = "this sandbox's control API needs its control token (printed when it started)"
    if req.path == "/":
        page = (
            "<!doctype html><meta charset=utf-8><title>groupmsg sandbox</title>"
            f"<p>{why}: open the inbox with the address it printed, <code>/?token=…</code>.</p>"
        )
        return Reply(401, {"content-type": "text/html;charset=utf-8"}, page.encode("utf-8"))
    hint = "send it as the X-Sandbox-Token header (groupmsg: GROUPMSG_SANDBOX_TOKEN) or ?token="
    return Reply(401, {"content-type": JSON_CT, "www-authenticate": "Bearer"}, dumps({"error": f"{why}; {hint}"}))
