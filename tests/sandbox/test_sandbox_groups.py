"""Group creation and lookup (docs/dingtalk-api.md §3)."""

from __future__ import annotations

import re

import pytest
from sbtest_support import API, DingTalk

from groupmsg.sandbox import Sandbox, SandboxConfig

# --- legacy chat/create + chat/get (§3.1, §3.2) -------------------------------


def test_chat_create_success_shape(dt):
    tok = dt.token()
    r = dt.oapi("POST", "/chat/create", tok, json={"name": "项目群", "owner": "u1", "useridlist": ["u1", "u2"], "showHistoryType": 1})
    assert r.status_code == 200
    body = r.json()
    assert body["errcode"] == 0 and body["errmsg"] == "ok" and body["conversationTag"] == 2
    assert re.fullmatch(r"chat[0-9a-f]{32}", body["chatid"])
    assert body["openConversationId"].startswith("cid")
    info = dt.oapi("GET", "/chat/get", tok, params={"chatid": body["chatid"]}).json()
    assert info["errcode"] == 0
    ci = info["chat_info"]
    assert ci["name"] == "项目群" and ci["owner"] == "u1" and ci["useridlist"] == ["u1", "u2"]
    assert ci["chatid"] == body["chatid"] and ci["conversationTag"] == 2 and ci["status"] == 1
    assert ci["showHistoryType"] == 1 and ci["searchable"] == 0


@pytest.mark.parametrize(
    "body, errcode",
    [
        ({"owner": "u1", "useridlist": ["u1"]}, 40035),  # 群名称不能为空
        ({"name": "", "owner": "u1", "useridlist": ["u1"]}, 40035),
        ({"name": "x" * 21, "owner": "u1", "useridlist": ["u1"]}, 400002),  # 参数过长
        ({"name": "g", "useridlist": ["u1"]}, 49013),  # 群主不能为空
        ({"name": "g", "owner": "u1"}, 49010),  # 群成员不能为空
        ({"name": "g", "owner": "u1", "useridlist": []}, 49010),
        ({"name": "g", "owner": "u0", "useridlist": [f"u{i}" for i in range(41)]}, 49011),  # > 40
        ({"name": "g", "owner": "u9", "useridlist": ["u1", "u2"]}, 40031),  # owner not in list
        ({"name": "g", "owner": "u1", "useridlist": "u1,u2"}, 40031),
    ],
)
def test_chat_create_errors(dt, body, errcode):
    r = dt.oapi("POST", "/chat/create", dt.token(), json=body)
    assert r.status_code == 200
    assert r.json()["errcode"] == errcode
    assert dt.sb.chats() == [c for c in dt.sb.chats() if c["kind"] == "preset"]  # nothing created


def test_chat_create_boundaries_accepted(dt):
    tok = dt.token()
    ids = [f"u{i}" for i in range(40)]
    r = dt.oapi("POST", "/chat/create", tok, json={"name": "x" * 20, "owner": "u0", "useridlist": ids})
    assert r.json()["errcode"] == 0


def test_chat_create_non_json(dt):
    r = dt.oapi("POST", "/chat/create", dt.token(), content=b"name=g", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.json() == {"errcode": 43009, "errmsg": "参数需要是json格式"}


def test_chat_create_unknown_user_when_users_configured(make_dt):
    dt = make_dt(users={"u1", "u2"})
    tok = dt.token()
    assert dt.oapi("POST", "/chat/create", tok, json={"name": "g", "owner": "u1", "useridlist": ["u1", "u3"]}).json()["errcode"] == 40031
    assert dt.oapi("POST", "/chat/create", tok, json={"name": "g", "owner": "u1", "useridlist": ["u1", "u2"]}).json()["errcode"] == 0


def test_chat_get_errors(dt):
    tok = dt.token()
    assert dt.oapi("GET", "/chat/get", tok).json() == {"errcode": 49000, "errmsg": "需要参数chatid"}
    assert dt.oapi("GET", "/chat/get", tok, params={"chatid": "chatunknown"}).json() == {"errcode": 40016, "errmsg": "无效的chatid"}


def test_chats_are_per_org(clock):
    cfg = SandboxConfig.demo(
        apps={"a": "sa", "b": "sb"},
        robot_codes={},
        app_orgs={"a": "org-a", "b": "org-b"},
        chats=(),
        clock=clock,
    )
    dt = DingTalk(Sandbox(cfg), clock)
    ta, tb = dt.token("a", "sa"), dt.token("b", "sb")
    chat = dt.create_chat(ta)
    # token and chatid from different orgs -> 40016 (§3.2), 34001 on send (§4.1)
    assert dt.oapi("GET", "/chat/get", tb, params={"chatid": chat["chatid"]}).json()["errcode"] == 40016
    send = {"chatid": chat["chatid"], "msg": {"msgtype": "text", "text": {"content": "x"}}}
    assert dt.oapi("POST", "/chat/send", tb, json=send).json()["errcode"] == 34001
    assert dt.oapi("POST", "/chat/send", ta, json=send).json()["errcode"] == 0


# --- topapi scene groups (§3.3) --------------------------------------------------


def _scene(**kw):
    body = {"title": "场景群", "template_id": "demo-template", "owner_user_id": "u1", "user_ids": "u2,u3"}
    body.update(kw)
    return body


def test_topapi_scenegroup_create_and_get(dt):
    tok = dt.token()
    r = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=_scene(subadmin_ids="u2", chat_banned_type=1))
    body = r.json()
    assert r.status_code == 200 and body["errcode"] == 0 and body["errmsg"] == "ok" and body["success"] is True
    assert body["request_id"]
    res = body["result"]
    assert res["open_conversation_id"].startswith("cid") and res["chat_id"].startswith("chat")
    got = dt.oapi("POST", "/topapi/im/chat/scenegroup/get", tok, json={"open_conversation_id": res["open_conversation_id"]}).json()
    assert got["errcode"] == 0 and got["success"] is True
    info = got["result"]
    assert info["title"] == "场景群" and info["template_id"] == "demo-template" and info["owner_staff_id"] == "u1"
    assert info["sub_admin_staff_ids"] == ["u2"]
    assert info["management_options"]["chat_banned_type"] == "1"
    assert info["management_options"]["searchable"] == "0"
    # the scene group's chat_id works with chat/get too
    ci = dt.oapi("GET", "/chat/get", tok, params={"chatid": res["chat_id"]}).json()["chat_info"]
    assert ci["useridlist"] == ["u1", "u2", "u3"]


def test_topapi_scenegroup_uuid_is_idempotent(dt):
    tok = dt.token()
    first = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=_scene(uuid="req-1")).json()["result"]
    again = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=_scene(uuid="req-1")).json()["result"]
    other = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=_scene(uuid="req-2")).json()["result"]
    no_uuid = [dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=_scene()).json()["result"] for _ in range(2)]
    assert again == first
    assert other != first
    assert no_uuid[0] != no_uuid[1]
    assert sum(c["kind"] == "scenegroup" for c in dt.sb.chats()) == 4


@pytest.mark.parametrize(
    "body, errcode",
    [
        (_scene(title=""), 40035),
        (_scene(title="x" * 31), 40035),
        ({"title": "t", "owner_user_id": "u1"}, 40035),  # no template_id
        ({"title": "t", "template_id": "demo-template"}, 40035),  # no owner
        (_scene(user_ids=["u2", "u3"]), 40035),  # must be a comma-separated string here
        (_scene(template_id="nope"), 665036),
        (_scene(user_ids=",".join(f"u{i}" for i in range(1000))), 665033),
    ],
)
def test_topapi_scenegroup_create_errors(dt, body, errcode):
    r = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", dt.token(), json=body)
    out = r.json()
    assert r.status_code == 200 and out["errcode"] == errcode and out["success"] is False and out["request_id"]


def test_topapi_scenegroup_unknown_user(make_dt):
    dt = make_dt(users={"u1", "u2"})
    out = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", dt.token(), json=_scene(user_ids="u2,ghost")).json()
    assert out["errcode"] == 660041


def test_topapi_scenegroup_get_errors(dt):
    tok = dt.token()
    assert dt.oapi("POST", "/topapi/im/chat/scenegroup/get", tok, json={}).json()["errcode"] == 40035
    assert dt.oapi("POST", "/topapi/im/chat/scenegroup/get", tok, json={"open_conversation_id": "cidnope"}).json()["errcode"] == 40035
    plain = dt.create_chat(tok)  # not a scene group
    out = dt.oapi("POST", "/topapi/im/chat/scenegroup/get", tok, json={"open_conversation_id": plain["openConversationId"]}).json()
    assert out["errcode"] == 400020 and out["success"] is False


# --- new API (§3.4) --------------------------------------------------------------


def test_api_group_create(dt):
    tok = dt.token()
    r = dt.api("/v1.0/im/group/create", {"name": "新群", "owner": "u1", "useridlist": ["u2"]}, tok)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"conversationTag", "openConversationId", "chatid"} and body["conversationTag"] == 2
    ci = dt.oapi("GET", "/chat/get", tok, params={"chatid": body["chatid"]}).json()["chat_info"]
    assert ci["useridlist"] == ["u1", "u2"]  # owner is a member


@pytest.mark.parametrize(
    "body",
    [
        {"owner": "u1", "useridlist": ["u1"]},
        {"name": "x" * 21, "owner": "u1", "useridlist": ["u1"]},
        {"name": "g", "useridlist": ["u1"]},
        {"name": "g", "owner": "u1", "useridlist": []},
        {"name": "g", "owner": "u1", "useridlist": "u1"},
        {"name": "g", "owner": "u1", "useridlist": ["u1"], "conversationTag": 7},
    ],
)
def test_api_group_create_parameter_invalid(dt, body):
    r = dt.api("/v1.0/im/group/create", body, dt.token())
    assert r.status_code == 400 and r.json()["code"] == "parameter.invalid"


def test_api_group_create_owner_outside_visibility(make_dt):
    dt = make_dt(users={"u1"})
    r = dt.api("/v1.0/im/group/create", {"name": "g", "owner": "ghost", "useridlist": ["u1"]}, dt.token())
    assert r.status_code == 400 and r.json()["code"] == "permession.checkFailed"


def test_api_scenegroup_create_arrays_and_uuid(dt):
    tok = dt.token()
    body = {"title": "t", "template_id": "demo-template", "owner_user_id": "u1", "user_ids": ["u2"], "uuid": "k1"}
    r1 = dt.api("/v1.0/im/sceneGroup/create", body, tok)
    r2 = dt.api("/v1.0/im/sceneGroup/create", body, tok)
    assert r1.status_code == 200 and set(r1.json()) == {"open_conversation_id", "chat_id"}
    assert r2.json() == r1.json()
    # the comma-string form of the topapi is wrong here: arrays (§3.4)
    bad = dict(body, user_ids="u2,u3", uuid="k2")
    r = dt.api("/v1.0/im/sceneGroup/create", bad, tok)
    assert r.status_code == 400 and r.json()["code"] == "parameter.invalid"


@pytest.mark.parametrize(
    "change, code",
    [
        ({"template_id": "nope"}, "groupTemplate.notFound"),
        ({"user_ids": [f"u{i}" for i in range(1000)]}, "member.exceed"),
        ({"title": ""}, "parameter.invalid"),
    ],
)
def test_api_scenegroup_create_errors(dt, change, code):
    body = {"title": "t", "template_id": "demo-template", "owner_user_id": "u1", "user_ids": ["u2"]}
    body.update(change)
    r = dt.api("/v1.0/im/sceneGroup/create", body, dt.token())
    assert r.status_code == 400 and r.json()["code"] == code


def test_api_scenegroup_member_not_found(make_dt):
    dt = make_dt(users={"u1"})
    body = {"title": "t", "template_id": "demo-template", "owner_user_id": "u1", "user_ids": ["ghost"]}
    r = dt.api("/v1.0/im/sceneGroup/create", body, dt.token())
    assert r.status_code == 400 and r.json()["code"] == "member.notFound"


def test_convert_chat_id(dt):
    tok = dt.token()
    chat = dt.create_chat(tok)
    r = dt.http.post(
        f"{API}/v1.0/im/chat/{chat['chatid']}/convertToOpenConversationId",
        headers={"x-acs-dingtalk-access-token": tok},
    )
    assert r.status_code == 200 and r.json() == {"openConversationId": chat["openConversationId"]}
    r = dt.http.post(f"{API}/v1.0/im/chat/chatnope/convertToOpenConversationId", headers={"x-acs-dingtalk-access-token": tok})
    assert r.status_code == 400 and r.json()["code"] == "parameter.invalid"
    r = dt.http.post(f"{API}/v1.0/im/chat/{chat['chatid']}/convertToOpenConversationId")
    assert r.status_code == 401


def test_add_chat_makes_a_known_group(dt):
    tok = dt.token()
    chat = dt.sb.add_chat(chat_id="chatpreset1", open_conversation_id="cidPreset1==", name="预置", owner="boss", members=["a"])
    assert chat["members"] == ["boss", "a"] and chat["app_key"] == "demo-app-key"
    ci = dt.oapi("GET", "/chat/get", tok, params={"chatid": "chatpreset1"}).json()["chat_info"]
    assert ci["name"] == "预置"
    with pytest.raises(ValueError):
        dt.sb.add_chat(chat_id="chatpreset1")
    with pytest.raises(ValueError):
        dt.sb.add_chat(app_key="unknown-app")
