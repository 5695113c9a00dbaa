"""Creating and looking up groups (docs/dingtalk-api.md §3).

Legacy ``chat/create`` and ``chat/get`` (§3.1, §3.2), topapi scene groups
(§3.3), and their new-API counterparts ``im/group/create``,
``im/sceneGroup/create`` and ``convertToOpenConversationId`` (§3.4).
A group is visible only to apps of the org that created it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..config import SandboxConfig
from ..errors import ApiError, OapiError
from ..request import Request
from ..state import Chat, State, new_chat_id, new_open_conversation_id

SETTING_KEYS = (  # (internal snake_case, legacy camelCase) — §3.1/§3.3
    ("show_history_type", "showHistoryType"),
    ("searchable", "searchable"),
    ("validation_type", "validationType"),
    ("mention_all_authority", "mentionAllAuthority"),
    ("management_type", "managementType"),
    ("chat_banned_type", "chatBannedType"),
)


# ---------------------------------------------------------------------------
# legacy chat/create, chat/get (§3.1, §3.2)
# ---------------------------------------------------------------------------


def chat_create(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """Legacy chat/create (§3.1); error order: name, owner, members."""
    data = req.json_object()
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
    if owner not in ids or unknown_users(cfg, ids):
        raise OapiError(40031, "无效的useridlist列表")
    chat = new_chat(
        req,
        state,
        cfg,
        name=name,
        owner=owner,
        members=list(dict.fromkeys(ids)),
        kind="chat",
        settings={snake: _flag(data.get(camel)) for snake, camel in SETTING_KEYS},
    )
    return {"chatid": chat.chat_id, "openConversationId": chat.open_conversation_id, "conversationTag": chat.conversation_tag}


def chat_get(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """Legacy chat/get (§3.2)."""
    chat_id = req.query.get("chatid", "")
    if not chat_id:
        raise OapiError(49000, "需要参数chatid")
    chat = visible_chat(state, cfg, chat_id, req.app_key)
    if chat is None:
        raise OapiError(40016, "无效的chatid")
    info: dict[str, Any] = {
        "name": chat.name,
        "owner": chat.owner,
        "useridlist": list(chat.members),
        "chatid": chat.chat_id,
        "conversationTag": chat.conversation_tag,
    }
    for snake, camel in SETTING_KEYS:
        info[camel] = chat.settings.get(snake, 0)
    info.update(icon=chat.icon, status=chat.status)
    return {"chat_info": info}


# ---------------------------------------------------------------------------
# scene groups: topapi (§3.3) and v1.0 (§3.4)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _SceneErrors:
    """How one family reports each scene-group creation problem (given a detail)."""

    param: Callable[[str], Exception]
    template: Callable[[str], Exception]
    exceed: Callable[[str], Exception]
    user: Callable[[str], Exception]


_TOPAPI_SCENE_ERRORS = _SceneErrors(
    param=lambda d: OapiError(40035, "参数错误", detail=d),
    template=lambda d: OapiError(665036, "group template not found or offline"),
    exceed=lambda d: OapiError(665033, "群成员数量超出限制"),
    user=lambda d: OapiError(660041, "不存在的员工", detail=d),
)
_API_SCENE_ERRORS = _SceneErrors(
    param=lambda d: ApiError(400, "parameter.invalid", f"参数错误: {d}"),
    template=lambda d: ApiError(400, "groupTemplate.notFound", "群模板不存在"),
    exceed=lambda d: ApiError(400, "member.exceed", "群成员数量超出限制"),
    user=lambda d: ApiError(400, "member.notFound", f"员工不存在: {d}"),
)


def topapi_scenegroup_create(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """topapi scenegroup/create (§3.3): ``user_ids``/``subadmin_ids`` are comma-separated *strings*."""
    chat = _create_scene_group(req, state, cfg, _TOPAPI_SCENE_ERRORS, comma_separated=True)
    return {"result": {"open_conversation_id": chat.open_conversation_id, "chat_id": chat.chat_id}}


def api_scenegroup_create(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """v1.0 im/sceneGroup/create (§3.4): the same snake_case fields, but *array* user ids."""
    chat = _create_scene_group(req, state, cfg, _API_SCENE_ERRORS, comma_separated=False)
    return {"open_conversation_id": chat.open_conversation_id, "chat_id": chat.chat_id}


def _user_ids(raw: Any, comma_separated: bool) -> list[str] | None:
    """``user_ids``/``subadmin_ids`` as a list; None when malformed for the family."""
    if raw is None or (comma_separated and raw == ""):
        return []
    if comma_separated and isinstance(raw, str):
        return [u.strip() for u in raw.split(",") if u.strip()]
    if not comma_separated and isinstance(raw, list) and all(isinstance(u, str) and u for u in raw):
        return list(raw)
    return None


def _create_scene_group(req: Request, state: State, cfg: SandboxConfig, err: _SceneErrors, comma_separated: bool) -> Chat:
    data = req.json_object()
    if data is None:
        raise err.param("body")
    lists: list[list[str]] = []
    for key in ("user_ids", "subadmin_ids"):
        ids = _user_ids(data.get(key), comma_separated)
        if ids is None:
            raise err.param(key)
        lists.append(ids)
    user_ids, subadmins = lists
    title, template_id, owner = data.get("title"), data.get("template_id"), data.get("owner_user_id")
    if not isinstance(title, str) or not title.strip() or len(title) > 30:
        raise err.param("title")
    if not isinstance(template_id, str) or not template_id:
        raise err.param("template_id")
    if not isinstance(owner, str) or not owner:
        raise err.param("owner_user_id")
    uuid = data.get("uuid")
    if uuid is not None and not isinstance(uuid, str):
        raise err.param("uuid")
    if uuid:
        # uuid = idempotency key for group creation (§3.3): a retry of a
        # create whose answer was lost gets the same group back.
        existing = state.scene_uuids.get((req.app_key or "", uuid))
        if existing and existing in state.chats:
            return state.chats[existing]
    if template_id not in cfg.templates:
        raise err.template(template_id)
    if len(user_ids) > 999:
        raise err.exceed(str(len(user_ids)))
    members = list(dict.fromkeys([owner, *user_ids, *subadmins]))
    unknown = unknown_users(cfg, members)
    if unknown:
        raise err.user(unknown[0])
    icon = data.get("icon")
    chat = new_chat(
        req,
        state,
        cfg,
        name=title,
        owner=owner,
        members=members,
        kind="scenegroup",
        template_id=template_id,
        sub_admins=list(dict.fromkeys(subadmins)),
        settings={snake: _flag(data.get(snake)) for snake, _ in SETTING_KEYS},
        icon=icon if isinstance(icon, str) else "",
    )
    if uuid:
        state.scene_uuids[(req.app_key or "", uuid)] = chat.chat_id
    return chat


def topapi_scenegroup_get(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """topapi scenegroup/get (§3.3)."""
    data = req.json_object()
    cid = data.get("open_conversation_id") if data else None
    if not isinstance(cid, str) or not cid:
        raise OapiError(40035, "参数错误", detail="open_conversation_id")
    chat = state.by_cid.get(cid)
    if chat is None:
        raise OapiError(40035, "参数错误", detail="open_conversation_id")
    if chat.kind != "scenegroup" or chat.app_key != req.app_key:
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
            "management_options": {snake: str(chat.settings.get(snake, 0)) for snake, _ in SETTING_KEYS},
        }
    }


# ---------------------------------------------------------------------------
# new API (§3.4)
# ---------------------------------------------------------------------------


def api_group_create(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """v1.0 im/group/create (§3.4)."""
    data = req.json_object()
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
    if unknown_users(cfg, [owner]):
        raise ApiError(400, "permession.checkFailed", "群主不在应用可见性内")
    members = list(dict.fromkeys([owner, *ids]))
    if len(members) > 1000:
        raise ApiError(400, "parameter.invalid", "群成员超过上限")
    unknown = unknown_users(cfg, members)
    if unknown:
        raise ApiError(400, "parameter.invalid", f"无效的用户: {unknown[0]}")
    settings = {snake: _flag(data.get(camel)) for snake, camel in SETTING_KEYS}
    chat = new_chat(req, state, cfg, name=name, owner=owner, members=members, kind="chat", conversation_tag=tag, settings=settings)
    return {"conversationTag": chat.conversation_tag, "openConversationId": chat.open_conversation_id, "chatid": chat.chat_id}


def api_convert(req: Request, state: State, cfg: SandboxConfig) -> dict[str, Any]:
    """chatid → openConversationId (§3.4)."""
    chat = visible_chat(state, cfg, req.path_arg, req.app_key)
    if chat is None:
        raise ApiError(400, "parameter.invalid", "chatId无效")
    return {"openConversationId": chat.open_conversation_id}


# ---------------------------------------------------------------------------
# helpers (also used by ``send``)
# ---------------------------------------------------------------------------


def visible_chat(state: State, cfg: SandboxConfig, chat_id: Any, app_key: str | None) -> Chat | None:
    """A chat this app may address: it exists and belongs to the caller's org."""
    if not isinstance(chat_id, str):
        return None
    chat = state.chats.get(chat_id)
    if chat is None or app_key is None or chat.org != cfg.org_of(app_key):
        return None
    return chat


def unknown_users(cfg: SandboxConfig, ids: Iterable[str]) -> list[str]:
    """User ids that are not in the org (none when the config lists no users)."""
    users = cfg.users
    if users is None:
        return []
    return [u for u in ids if u not in users]


def new_chat(req: Request, state: State, cfg: SandboxConfig, **fields: Any) -> Chat:
    """A group created by the calling app, now."""
    assert req.app_key is not None
    fields.setdefault("chat_id", new_chat_id())
    fields.setdefault("open_conversation_id", new_open_conversation_id())
    chat = Chat(app_key=req.app_key, org=cfg.org_of(req.app_key), created_at=req.now, **fields)
    return state.add_chat(chat)


def _flag(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
