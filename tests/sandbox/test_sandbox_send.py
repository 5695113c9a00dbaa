"""Sending with an app (docs/dingtalk-api.md): legacy chat/send (§4.1) and robot groupMessages/send (§4.2)."""

from __future__ import annotations

import json

import pytest
from sbtest_support import DingTalk

from groupmsg.sandbox import Sandbox, SandboxConfig

# --- chat/send (§4.1) ----------------------------------------------------------

CHAT_SAMPLES = {
    "text": {"content": "你好"},
    "image": {"media_id": "@lADOxxx"},
    "voice": {"media_id": "@lATOxxx", "duration": "10"},
    "file": {"media_id": "@lAJOxxx"},
    "link": {"messageUrl": "https://e.com", "picUrl": "@lADO", "title": "标题", "text": "正文"},
    "oa": {
        "message_url": "https://e.com",
        "head": {"bgcolor": "FFBBBBBB", "text": "头部"},
        "body": {"title": "正文标题", "form": [{"key": "k", "value": "v"}], "content": "内容"},
    },
    "markdown": {"title": "md", "text": "# 标题\n内容"},
    "action_card": {"title": "卡片", "markdown": "**md**", "single_title": "查看", "single_url": "https://e.com"},
}


@pytest.fixture
def chat(dt):
    tok = dt.token()
    return tok, dt.create_chat(tok)["chatid"]


def _send(dt, tok, chatid, msg):
    return dt.oapi("POST", "/chat/send", tok, json={"chatid": chatid, "msg": msg})


@pytest.mark.parametrize("msgtype", sorted(CHAT_SAMPLES))
def test_chat_send_each_msgtype(dt, chat, msgtype):
    tok, chatid = chat
    r = _send(dt, tok, chatid, {"msgtype": msgtype, msgtype: CHAT_SAMPLES[msgtype]})
    body = r.json()
    assert r.status_code == 200 and body["errcode"] == 0 and body["errmsg"] == "ok"
    assert body["messageId"].startswith("msg")
    [m] = dt.sb.messages()
    assert m["channel"] == "chat" and m["chat_id"] == chatid and m["msgtype"] == msgtype
    assert m["message_id"] == body["messageId"]
    assert m["body"]["msg"][msgtype] == CHAT_SAMPLES[msgtype]


def test_chat_send_records_main_text_and_title(dt, chat):
    tok, chatid = chat
    _send(dt, tok, chatid, {"msgtype": "markdown", "markdown": {"title": "T", "text": "body text"}})
    [m] = dt.sb.messages()
    assert m["content"] == "body text" and m["title"] == "T"
    assert m["open_conversation_id"].startswith("cid") and m["received_at"].endswith("Z")


def test_chat_send_action_card_buttons(dt, chat):
    tok, chatid = chat
    card = {"title": "t", "markdown": "m", "btn_orientation": "1", "btn_json_list": [{"title": "a", "action_url": "https://a"}]}
    assert _send(dt, tok, chatid, {"msgtype": "action_card", "action_card": card}).json()["errcode"] == 0
    bad = dict(card, btn_json_list=[{"title": "a", "actionURL": "https://a"}])  # webhook casing: wrong here
    assert _send(dt, tok, chatid, {"msgtype": "action_card", "action_card": bad}).json()["errcode"] == 34014


def test_chat_send_flattened_legacy_form(dt, chat):
    tok, chatid = chat
    r = dt.oapi("POST", "/chat/send", tok, json={"chatid": chatid, "msgtype": "text", "text": {"content": "flat"}})
    assert r.json()["errcode"] == 0
    assert dt.sb.messages()[0]["content"] == "flat"


def test_chat_send_unknown_chat(dt):
    tok = dt.token()
    msg = {"msgtype": "text", "text": {"content": "x"}}
    assert _send(dt, tok, "chatdoesnotexist", msg).json() == {"errcode": 34001, "errmsg": "无效的chatid"}
    assert dt.oapi("POST", "/chat/send", tok, json={"msg": msg}).json()["errcode"] == 34001
    assert dt.sb.messages() == []


def test_chat_send_preset_chat_is_known(dt):
    tok = dt.token()
    dt.sb.add_chat(chat_id="chatold", open_conversation_id="cidold")
    assert _send(dt, tok, "chatold", {"msgtype": "text", "text": {"content": "x"}}).json()["errcode"] == 0


@pytest.mark.parametrize(
    "msg, errcode",
    [
        ({"msgtype": "sampleText", "sampleText": {"content": "x"}}, 34004),  # robot msgKey, not a msgtype
        ({"msgtype": "actionCard", "actionCard": {"title": "t"}}, 34004),  # webhook camelCase name
        ({"msgtype": "feedCard", "feedCard": {}}, 34004),
        ({"text": {"content": "x"}}, 34014),  # no msgtype
        ({"msgtype": "text", "markdown": {"title": "t", "text": "x"}}, 34014),  # key != msgtype
        ({"msgtype": "text", "text": {}}, 34014),
        ({"msgtype": "text", "text": {"content": ""}}, 34014),
        ({"msgtype": "image", "image": {"mediaId": "x"}}, 34014),  # snake_case media_id required
        ({"msgtype": "link", "link": {"messageUrl": "u", "title": "t", "text": "x"}}, 34014),  # picUrl
        ({"msgtype": "voice", "voice": {"media_id": "m", "duration": "75"}}, 34014),
        ({"msgtype": "oa", "oa": {"message_url": "u", "head": {"text": "x"}, "body": {}}}, 34014),
        ({"msgtype": "action_card", "action_card": {"title": "t", "markdown": "m"}}, 34014),
        ({"msgtype": "action_card", "action_card": {"title": "t", "markdown": "m", "single_title": "s"}}, 34014),
        ("not an object", 34014),
    ],
)
def test_chat_send_invalid_messages(dt, chat, msg, errcode):
    tok, chatid = chat
    assert _send(dt, tok, chatid, msg).json()["errcode"] == errcode
    assert dt.sb.messages() == []


def test_chat_send_bad_json(dt, chat):
    tok, _ = chat
    r = dt.oapi("POST", "/chat/send", tok, content=b"{not json", headers={"content-type": "application/json"})
    assert r.json()["errcode"] == 34014


@pytest.mark.parametrize(
    "msgtype, payload",
    [
        ("text", {"content": "字" * 5001}),
        ("markdown", {"title": "t", "text": "x" * 5001}),
        ("markdown", {"title": "t" * 65, "text": "x"}),
        ("link", {"messageUrl": "u", "picUrl": "p", "title": "t" * 65, "text": "x"}),
        ("action_card", {"title": "t", "markdown": "m" * 5001, "single_title": "s", "single_url": "u"}),
        ("action_card", {"title": "t", "markdown": "m", "single_title": "s" * 21, "single_url": "u"}),
        ("action_card", {"title": "t", "markdown": "m", "single_title": "s", "single_url": "u" * 501}),
        ("action_card", {"title": "t", "markdown": "m", "btn_json_list": [{"title": "b" * 21, "action_url": "u"}]}),
        ("action_card", {"title": "t", "markdown": "m", "btn_json_list": [{"title": "b", "action_url": "u" * 701}]}),
        ("action_card", {"title": "t", "markdown": "m", "btn_json_list": [{"title": "b", "action_url": "u" * 600}] * 2}),
    ],
)
def test_chat_send_too_long_34016(dt, chat, msgtype, payload):
    tok, chatid = chat
    assert _send(dt, tok, chatid, {"msgtype": msgtype, msgtype: payload}).json()["errcode"] == 34016


def test_chat_send_limits_are_characters_not_bytes(dt, chat):
    tok, chatid = chat
    # 5000 CJK characters = 15000 UTF-8 bytes: within the 5000-character limit
    assert _send(dt, tok, chatid, {"msgtype": "text", "text": {"content": "字" * 5000}}).json()["errcode"] == 0
    assert _send(dt, tok, chatid, {"msgtype": "markdown", "markdown": {"title": "t" * 64, "text": "x" * 5000}}).json()["errcode"] == 0


def test_chat_send_optional_whole_msg_byte_cap(make_dt):
    dt = make_dt(chat_send_msg_max_bytes=2048)
    tok = dt.token()
    chatid = dt.create_chat(tok)["chatid"]
    assert _send(dt, tok, chatid, {"msgtype": "text", "text": {"content": "x" * 1000}}).json()["errcode"] == 0
    assert _send(dt, tok, chatid, {"msgtype": "text", "text": {"content": "字" * 1000}}).json()["errcode"] == 34016


# --- robot groupMessages/send (§4.2) ---------------------------------------------


@pytest.fixture
def group(dt):
    tok = dt.token()
    return tok, dt.create_chat(tok)["openConversationId"]


ROBOT_SAMPLES = {
    "sampleText": {"content": "hi"},
    "sampleMarkdown": {"title": "t", "text": "**x**"},
    "sampleImageMsg": {"photoURL": "https://e.com/a.png"},
    "sampleLink": {"text": "x", "title": "t", "picUrl": "p", "messageUrl": "https://e.com"},
    "sampleActionCard": {"title": "t", "text": "x", "singleTitle": "go", "singleURL": "https://e.com"},
    "sampleActionCard2": {"title": "t", "text": "x", "actionTitle1": "a", "actionURL1": "u", "actionTitle2": "b", "actionURL2": "u"},
    "sampleActionCard6": {"title": "t", "text": "x", "buttonTitle1": "a", "buttonUrl1": "u", "buttonTitle2": "b", "buttonUrl2": "u"},
    "sampleAudio": {"mediaId": "m", "duration": "3000"},
    "sampleFile": {"mediaId": "m", "fileName": "a.pdf", "fileType": "pdf"},
    "sampleVideo": {"duration": "10", "videoMediaId": "v", "videoType": "mp4", "picMediaId": "p"},
}


@pytest.mark.parametrize("msg_key", sorted(ROBOT_SAMPLES))
def test_robot_send_each_msg_key(dt, group, msg_key):
    tok, cid = group
    r = dt.robot_send(tok, cid, msg_key, ROBOT_SAMPLES[msg_key])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"processQueryKey"} and body["processQueryKey"]
    [m] = dt.sb.messages()
    assert m["channel"] == "robot" and m["open_conversation_id"] == cid and m["robot"] == "demo-robot"
    assert m["msgtype"] == msg_key and m["msg_param"] == ROBOT_SAMPLES[msg_key]
    assert m["process_query_key"] == body["processQueryKey"]
    assert isinstance(m["body"]["msgParam"], str)


def test_robot_send_records_content(dt, group):
    tok, cid = group
    dt.robot_send(tok, cid, "sampleMarkdown", {"title": "周报", "text": "内容"})
    [m] = dt.sb.messages()
    assert m["content"] == "内容" and m["title"] == "周报"


def _raw(dt, tok, **body):
    return dt.api("/v1.0/robot/groupMessages/send", body, tok)


@pytest.mark.parametrize(
    "body, code",
    [
        ({"msgParam": "{}"}, "invalidParameter.msgKey.empty"),
        ({"msgKey": "", "msgParam": "{}"}, "invalidParameter.msgKey.empty"),
        ({"msgKey": "text", "msgParam": "{}"}, "invalidParameter.msgKey.invalid"),
        ({"msgKey": "sampleFeedCard", "msgParam": "{}"}, "invalidParameter.msgKey.invalid"),  # webhook-only type
        ({"msgKey": "sampleText"}, "invalidParameter.msgParam.invalid"),
        ({"msgKey": "sampleText", "msgParam": {"content": "x"}}, "invalidParameter.msgParam.invalid"),  # object, not string
        ({"msgKey": "sampleText", "msgParam": "content=x"}, "invalidParameter.msgParam.invalid"),
        ({"msgKey": "sampleText", "msgParam": '["x"]'}, "invalidParameter.msgParam.invalid"),
        ({"msgKey": "sampleText", "msgParam": "{}"}, "miss.param.contentOfText"),
        ({"msgKey": "sampleText", "msgParam": '{"text": "x"}'}, "miss.param.contentOfText"),
        ({"msgKey": "sampleMarkdown", "msgParam": '{"title": "t"}'}, "miss.param.markdownTotext"),
        ({"msgKey": "sampleLink", "msgParam": '{"text": "x", "picUrl": "p", "messageUrl": "u"}'}, "miss.param.titleOfLink"),
        ({"msgKey": "sampleLink", "msgParam": '{"text": "x", "title": "t", "picUrl": "p", "messageURL": "u"}'}, "miss.param.messageUrlOfLink"),
        ({"msgKey": "sampleActionCard", "msgParam": '{"title": "t", "text": "x", "singleURL": "u"}'}, "miss.param.actionCardTosingleTitle"),
        ({"msgKey": "sampleActionCard", "msgParam": '{"title": "t", "text": "x", "singleTitle": "s", "singleUrl": "u"}'}, "miss.param.actionCardTosingleUrl"),
        ({"msgKey": "sampleActionCard3", "msgParam": '{"title": "t", "text": "x", "actionTitle1": "a", "actionURL1": "u"}'}, "miss.param.actionCardTobtns"),
        ({"msgKey": "sampleImageMsg", "msgParam": '{"photoUrl": "u"}'}, "miss.param.photoTophotoUrl"),
        ({"msgKey": "sampleFile", "msgParam": '{"mediaId": "m"}'}, "miss.param.file"),
        ({"msgKey": "sampleVideo", "msgParam": '{"duration": "1"}'}, "miss.param.video"),
        ({"msgKey": "sampleAudio", "msgParam": '{"mediaId": "m"}'}, "miss.param.audio"),
    ],
)
def test_robot_send_param_errors(dt, group, body, code):
    tok, cid = group
    body.setdefault("robotCode", "demo-robot")
    body.setdefault("openConversationId", cid)
    r = _raw(dt, tok, **body)
    assert r.status_code == 400
    err = r.json()
    assert err["code"] == code and set(err) == {"code", "message", "requestid"}
    assert dt.sb.messages() == []


def test_robot_send_msg_param_size(dt, group):
    tok, cid = group
    filler = "x" * (15000 - len('{"content": ""}'))
    exact = json.dumps({"content": filler})
    assert len(exact.encode()) == 15000
    assert dt.robot_send(tok, cid, "sampleText", exact).status_code == 200
    r = dt.robot_send(tok, cid, "sampleText", json.dumps({"content": filler + "y"}))
    assert r.status_code == 400 and r.json()["code"] == "invalidParameter.msgParam.tooLong"
    # bytes, not characters: 5001 CJK chars = 15003+ bytes
    r = dt.robot_send(tok, cid, "sampleText", json.dumps({"content": "字" * 5000}, ensure_ascii=False))
    assert r.json()["code"] == "invalidParameter.msgParam.tooLong"


def test_robot_send_non_json_body(dt, group):
    tok, _ = group
    r = dt.api("/v1.0/robot/groupMessages/send", None, tok, content=b"msgKey=sampleText")
    assert r.status_code == 400 and r.json()["code"] == "invalidParameter.msgBody.invalid"


def test_robot_code_checks(dt, group):
    tok, cid = group
    base = {"msgKey": "sampleText", "msgParam": '{"content": "x"}', "openConversationId": cid}
    assert _raw(dt, tok, **base).json()["code"] == "invalidParameter.robotCode.missing"
    assert _raw(dt, tok, **base, robotCode="").json()["code"] == "invalidParameter.robotCode.empty"
    assert _raw(dt, tok, **base, robotCode="ghost-robot").json()["code"] == "invalidParameter.robotCode.notExsit"


def test_robot_code_must_belong_to_token_app(clock):
    cfg = SandboxConfig.demo(
        apps={"app-a": "sa", "app-b": "sb"},
        robot_codes={"robot-a": "app-a", "robot-b": "app-b"},
        chats=(),
        clock=clock,
    )
    dt = DingTalk(Sandbox(cfg), clock)
    ta, tb = dt.token("app-a", "sa"), dt.token("app-b", "sb")
    cid_a = dt.create_chat(ta)["openConversationId"]
    r = dt.robot_send(ta, cid_a, robot="robot-b")
    assert r.status_code == 400 and r.json()["code"] == "invalidParameter.robotCode.auth"
    # robot-b (app b) is not in app a's group, even with app b's own token
    r = dt.robot_send(tb, cid_a, robot="robot-b")
    assert r.status_code == 400 and r.json()["code"] == "resource.not.found"
    assert dt.robot_send(ta, cid_a, robot="robot-a").status_code == 200
    # a group registered with robot-b added explicitly
    extra = dt.sb.add_chat(app_key="app-a", robot_codes=["robot-b"])
    assert dt.robot_send(tb, extra["open_conversation_id"], robot="robot-b").status_code == 200


def test_robot_send_conversation_checks(dt, group):
    tok, _ = group
    base = {"msgKey": "sampleText", "msgParam": '{"content": "x"}', "robotCode": "demo-robot"}
    r = _raw(dt, tok, **base)
    assert r.status_code == 400 and r.json()["code"] == "miss.openConversationId"
    r = _raw(dt, tok, **base, openConversationId="cidNotAGroup==")
    assert r.status_code == 400 and r.json()["code"] == "invalid.openConversationId"


def test_robot_send_other_org_group(clock):
    cfg = SandboxConfig.demo(
        apps={"app-a": "sa", "app-b": "sb"},
        robot_codes={"robot-a": "app-a"},
        app_orgs={"app-a": "org1", "app-b": "org2"},
        chats=(),
        clock=clock,
    )
    dt = DingTalk(Sandbox(cfg), clock)
    ta, tb = dt.token("app-a", "sa"), dt.token("app-b", "sb")
    cid_b = dt.create_chat(tb)["openConversationId"]
    r = dt.robot_send(ta, cid_b, robot="robot-a")
    assert r.status_code == 400 and r.json()["code"] == "conversation.org.notMatch"


def test_robot_send_to_scene_and_api_groups(dt):
    tok = dt.token()
    scene = dt.oapi(
        "POST",
        "/topapi/im/chat/scenegroup/create",
        tok,
        json={"title": "t", "template_id": "demo-template", "owner_user_id": "u1"},
    ).json()["result"]
    api_group = dt.api("/v1.0/im/group/create", {"name": "g", "owner": "u1", "useridlist": ["u1"]}, tok).json()
    assert dt.robot_send(tok, scene["open_conversation_id"]).status_code == 200
    assert dt.robot_send(tok, api_group["openConversationId"]).status_code == 200
    assert dt.robot_send(tok, "cidDemoGroup+sandbox/0000==").status_code == 200  # demo preset group
    assert len(dt.sb.messages("robot")) == 3
