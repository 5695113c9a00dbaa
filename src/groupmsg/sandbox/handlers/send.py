"""Sending to a group as an app (docs/dingtalk-api.md §4).

Legacy ``chat/send`` with a snake_case ``msg`` (§4.1), and the new robot API
``robot/groupMessages/send`` with ``msgKey`` + ``msgParam`` (§4.2).  Message
bodies are validated by ``catalog``; accepted messages are recorded.
"""

from __future__ import annotations

from typing import Any

from ..catalog import Summary, parse_msg_param, validate_chat_msg
from ..config import SandboxConfig
from ..errors import ApiError, OapiError
from ..request import Request
from ..state import Chat, State, new_message_id, new_process_query_key
from .groups import visible_chat
from .media import issued


def chat_send(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """Legacy chat/send (§4.1): ``{chatid, msg}`` or the flattened legacy form."""
    data = req.json_object()
    if data is None:
        raise OapiError(34014, "无效的消息")
    chat = visible_chat(state, cfg, data.get("chatid"), req.app_key)
    if chat is None:
        raise OapiError(34001, "无效的chatid")
    if "msg" in data:
        msg = data["msg"]
    elif "msgtype" in data:  # flattened: {"chatid":…, "msgtype":"text", "text":{…}}
        msg = {k: v for k, v in data.items() if k != "chatid"}
    else:
        raise OapiError(34014, "无效的消息")
    summary = validate_chat_msg(msg, cfg.chat_send_msg_max_bytes)
    message_id = new_message_id()
    media = issued(state, summary.content) if summary.msgtype in ("image", "voice", "file") else None
    record(state, req, "chat", summary, chat=chat, app_key=req.app_key, message_id=message_id, body=data, media=media)
    return {"messageId": message_id}


def robot_send(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """v1.0 robot/groupMessages/send (§4.2); checks in the order of §8.1."""
    data = req.json_object()
    if data is None:
        raise ApiError(400, "invalidParameter.msgBody.invalid", "body必须是JSON")
    param, summary = parse_msg_param(data.get("msgKey"), data.get("msgParam"))
    robot_code = data.get("robotCode")
    if robot_code is None:
        raise ApiError(400, "invalidParameter.robotCode.missing", "缺少robotCode")
    if not isinstance(robot_code, str) or not robot_code.strip():
        raise ApiError(400, "invalidParameter.robotCode.empty", "robotCode为空")
    robot_app = cfg.robot_codes.get(robot_code)
    if robot_app is None:
        raise ApiError(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
    if robot_app != req.app_key:
        raise ApiError(400, "invalidParameter.robotCode.auth", "robotCode与调用应用的appKey不匹配")
    cid = data.get("openConversationId")
    if not isinstance(cid, str) or not cid:
        raise ApiError(400, "miss.openConversationId", "缺少openConversationId")
    chat = state.by_cid.get(cid)
    if chat is None:
        raise ApiError(400, "invalid.openConversationId", "openConversationId无效")
    if chat.org != cfg.org_of(robot_app):
        raise ApiError(400, "conversation.org.notMatch", "群和机器人不属于同一组织")
    if chat.app_key != robot_app and robot_code not in chat.robot_codes:
        raise ApiError(400, "resource.not.found", "机器人不存在，请检查机器人是否在群内")
    key = new_process_query_key()
    media = issued(state, param.get("photoURL") or param.get("mediaId") or param.get("videoMediaId"))
    record(state, req, "robot", summary, chat=chat, robot=robot_code, app_key=req.app_key, msg_param=param, process_query_key=key, body=data, media=media)
    return {"processQueryKey": key}


def record(
    state: State,
    req: Request,
    channel: str,
    summary: Summary,
    *,
    chat: Chat | None = None,
    robot: str | None = None,
    app_key: str | None = None,
    **details: Any,
) -> None:
    """Record an accepted message (what ``/_sandbox/messages`` shows): the wire's own fields and the
    channel-neutral ``message`` (``catalog.common``); None values are left out, ``media`` is what an
    uploaded media id stands for (§4.3)."""
    state.record_message(
        req.now,
        channel=channel,
        chat_id=chat.chat_id if chat else None,
        open_conversation_id=chat.open_conversation_id if chat else None,
        robot=robot,
        app_key=app_key,
        msgtype=summary.msgtype,
        content=summary.content,
        title=summary.title,
        message=summary.message,
        **details,
    )
