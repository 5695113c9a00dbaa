"""Every message kind on every channel, as the sandbox records it: the channel-neutral `message`
object (kind, title, text, url, pic, buttons, layout, links, image, at) that tests assert on and the
web inbox renders; and the media upload (docs/dingtalk-api.md §4.3) whose ids images carry."""

from __future__ import annotations

import json

import pytest
from sbtest_support import PLAIN_HOOK

NO_AT = {"mobiles": [], "user_ids": [], "all": False}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def message(kind: str, **parts) -> dict:
    """The neutral record: every key present, absent parts empty or None."""
    return {"kind": kind, "title": None, "text": None, "url": None, "pic": None, "buttons": [], "layout": None,
            "links": [], "image": None, "at": NO_AT, **parts}


def buttons(*pairs: tuple[str, str]) -> list[dict]:
    return [{"title": t, "url": u} for t, u in pairs]


@pytest.fixture
def chat(dt):
    tok = dt.token()
    return tok, dt.create_chat(tok)


def upload(dt, tok, data: bytes = PNG, kind: str = "image", name: str = "chart.png", field: str = "media"):
    return dt.oapi("POST", "/media/upload", tok, params={"type": kind}, files={field: (name, data, "image/png")})


# --- custom robot webhook (§5.1) ---------------------------------------------------------------------

WEBHOOK_CASES = [
    ({"msgtype": "text", "text": {"content": "hi @138"}, "at": {"atMobiles": ["138"], "isAtAll": "true"}},
     message("text", text="hi @138", at={"mobiles": ["138"], "user_ids": [], "all": True})),
    ({"msgtype": "markdown", "markdown": {"title": "T", "text": "**x**"}, "at": {"atUserIds": ["u1"]}},
     message("markdown", title="T", text="**x**", at={"mobiles": [], "user_ids": ["u1"], "all": False})),
    ({"msgtype": "link", "link": {"title": "T", "text": "x", "messageUrl": "https://e.com/a", "picUrl": "https://e.com/p.png"}},
     message("link", title="T", text="x", url="https://e.com/a", pic="https://e.com/p.png")),
    # no picture (optional on webhooks), and `at` that DingTalk ignores on a link
    ({"msgtype": "link", "link": {"title": "T", "text": "x", "messageUrl": "https://e.com/a", "picUrl": ""},
      "at": {"isAtAll": True}},
     message("link", title="T", text="x", url="https://e.com/a")),
    ({"msgtype": "actionCard", "actionCard": {"title": "T", "text": "md", "singleTitle": "看", "singleURL": "https://e.com/1",
                                              "btnOrientation": 0, "hideAvatar": 0}},
     message("action_card", title="T", text="md", buttons=buttons(("看", "https://e.com/1")), layout="single")),
    ({"msgtype": "actionCard", "actionCard": {"title": "T", "text": "md", "btns": [
        {"title": "a", "actionURL": "https://e.com/a"}, {"title": "b", "actionURL": "https://e.com/b"}]}},
     message("action_card", title="T", text="md", buttons=buttons(("a", "https://e.com/a"), ("b", "https://e.com/b")),
             layout="vertical")),
    ({"msgtype": "actionCard", "actionCard": {"title": "T", "text": "md", "btnOrientation": "1", "btns": [
        {"title": "a", "actionURL": "https://e.com/a"}, {"title": "b", "actionURL": "https://e.com/b"}]}},
     message("action_card", title="T", text="md", buttons=buttons(("a", "https://e.com/a"), ("b", "https://e.com/b")),
             layout="horizontal")),
    ({"msgtype": "feedCard", "feedCard": {"links": [
        {"title": "周报", "messageURL": "https://e.com/w", "picURL": "https://e.com/w.png"},
        {"title": "日报", "messageURL": "https://e.com/d", "picURL": "https://e.com/d.png"}]}},
     message("feed_card", links=[{"title": "周报", "url": "https://e.com/w", "pic": "https://e.com/w.png"},
                                 {"title": "日报", "url": "https://e.com/d", "pic": "https://e.com/d.png"}])),
]


@pytest.mark.parametrize(("body", "expected"), WEBHOOK_CASES, ids=lambda v: v.get("msgtype", "") if "msgtype" in v else "")
def test_webhook_records_each_kind_channel_neutrally(dt, body, expected):
    r = dt.hook(f"access_token={PLAIN_HOOK}", body)
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    [m] = dt.sb.messages()
    assert m["channel"] == "webhook" and m["msgtype"] == body["msgtype"] and m["body"] == body
    assert m["message"] == expected


# --- chat/send (§4.1) ------------------------------------------------------------------------------------

def test_chat_send_records_each_kind_channel_neutrally(dt, chat):
    tok, created = chat
    media_id = upload(dt, tok).json()["media_id"]
    cases = [
        ({"msgtype": "text", "text": {"content": "你好"}}, message("text", text="你好")),
        ({"msgtype": "markdown", "markdown": {"title": "T", "text": "# x"}}, message("markdown", title="T", text="# x")),
        ({"msgtype": "link", "link": {"messageUrl": "https://e.com", "picUrl": "https://e.com/p.png", "title": "T", "text": "x"}},
         message("link", title="T", text="x", url="https://e.com", pic="https://e.com/p.png")),
        ({"msgtype": "image", "image": {"media_id": media_id}}, message("image", image=media_id)),
        ({"msgtype": "action_card", "action_card": {"title": "T", "markdown": "md", "single_title": "看", "single_url": "https://e.com"}},
         message("action_card", title="T", text="md", buttons=buttons(("看", "https://e.com")), layout="single")),
        ({"msgtype": "action_card", "action_card": {"title": "T", "markdown": "md", "btn_orientation": "0", "btn_json_list": [
            {"title": "a", "action_url": "https://e.com/a"}, {"title": "b", "action_url": "https://e.com/b"}]}},
         message("action_card", title="T", text="md", buttons=buttons(("a", "https://e.com/a"), ("b", "https://e.com/b")),
                 layout="vertical")),
        ({"msgtype": "action_card", "action_card": {"title": "T", "markdown": "md", "btn_orientation": "1", "btn_json_list": [
            {"title": "a", "action_url": "https://e.com/a"}]}},
         message("action_card", title="T", text="md", buttons=buttons(("a", "https://e.com/a")), layout="horizontal")),
        ({"msgtype": "voice", "voice": {"media_id": "@v", "duration": "10"}}, message("voice")),
        ({"msgtype": "file", "file": {"media_id": "@f"}}, message("file")),
        ({"msgtype": "oa", "oa": {"message_url": "https://e.com", "head": {"bgcolor": "FFBBBBBB", "text": "头"},
                                  "body": {"title": "OA", "content": "内容", "image": "@i"}}},
         message("oa", title="OA", text="内容", url="https://e.com", image="@i")),
    ]
    for msg, expected in cases:
        r = dt.oapi("POST", "/chat/send", tok, json={"chatid": created["chatid"], "msg": msg})
        assert r.json()["errcode"] == 0, (msg, r.json())
        assert dt.sb.messages()[-1]["message"] == expected, msg["msgtype"]
    image = dt.sb.messages()[3]
    assert image["media"] == {"type": "image", "filename": "chart.png", "bytes": len(PNG), "content_type": "image/png",
                              "app_key": "demo-app-key"}
    assert "media" not in dt.sb.messages()[0]  # only a media id the sandbox issued says what it stands for


# --- robot API (§4.2) ---------------------------------------------------------------------------------------

def _robot_cases(media_id: str) -> list[tuple[str, dict, dict]]:
    two = buttons(("a", "https://e.com/a"), ("b", "https://e.com/b"))
    cases = [
        ("sampleText", {"content": "hi"}, message("text", text="hi")),
        ("sampleMarkdown", {"title": "T", "text": "**x**"}, message("markdown", title="T", text="**x**")),
        ("sampleImageMsg", {"photoURL": "https://e.com/p.png"}, message("image", image="https://e.com/p.png")),
        ("sampleImageMsg", {"photoURL": media_id}, message("image", image=media_id)),
        ("sampleLink", {"text": "x", "title": "T", "picUrl": "https://e.com/p.png", "messageUrl": "https://e.com"},
         message("link", title="T", text="x", url="https://e.com", pic="https://e.com/p.png")),
        ("sampleActionCard", {"title": "T", "text": "md", "singleTitle": "看", "singleURL": "https://e.com"},
         message("action_card", title="T", text="md", buttons=buttons(("看", "https://e.com")), layout="single")),
        ("sampleActionCard6", {"title": "T", "text": "md", "buttonTitle1": "a", "buttonUrl1": "https://e.com/a",
                               "buttonTitle2": "b", "buttonUrl2": "https://e.com/b"},
         message("action_card", title="T", text="md", buttons=two, layout="horizontal")),
        ("sampleFile", {"mediaId": "@f", "fileName": "a.pdf", "fileType": "pdf"}, message("file", title="a.pdf")),
        ("sampleAudio", {"mediaId": "@a", "duration": "3000"}, message("audio")),
        ("sampleVideo", {"duration": "3", "videoMediaId": "@v", "videoType": "mp4", "picMediaId": "@p"}, message("video")),
    ]
    for n in range(2, 6):
        pairs = [(f"b{i}", f"https://e.com/{i}") for i in range(1, n + 1)]
        param = {"title": "T", "text": "md"}
        for i, (t, u) in enumerate(pairs, 1):
            param.update({f"actionTitle{i}": t, f"actionURL{i}": u})
        cases.append((f"sampleActionCard{n}", param,
                      message("action_card", title="T", text="md", buttons=buttons(*pairs), layout="vertical")))
    return cases


def test_robot_api_records_each_msg_key_channel_neutrally(dt, chat):
    tok, created = chat
    media_id = upload(dt, tok).json()["media_id"]
    for key, param, expected in _robot_cases(media_id):
        r = dt.robot_send(tok, created["openConversationId"], key, param)
        assert r.status_code == 200, (key, r.text)
        m = dt.sb.messages()[-1]
        assert (m["msgtype"], json.loads(m["body"]["msgParam"]), m["message"]) == (key, param, expected)
    uploaded = [m for m in dt.sb.messages() if "media" in m]
    assert [m["message"]["image"] for m in uploaded] == [media_id]


# --- media upload (§4.3) ------------------------------------------------------------------------------------

def test_media_upload_answers_a_media_id(dt, clock):
    tok = dt.token()
    r = upload(dt, tok)
    body = r.json()
    assert r.status_code == 200 and body["errcode"] == 0 and body["errmsg"] == "ok" and body["type"] == "image"
    assert body["media_id"].startswith("@") and body["created_at"] == int(clock.t * 1000)
    assert upload(dt, tok).json()["media_id"] != body["media_id"]
    assert dt.sb.requests()[-1]["api"] == "media.upload" and dt.sb.messages() == []


@pytest.mark.parametrize(
    ("call", "errcode"),
    [
        (lambda dt, tok: upload(dt, None), 41001),  # the token goes in the query (§1.1)
        (lambda dt, tok: upload(dt, "not-a-token"), 40014),
        (lambda dt, tok: upload(dt, tok, kind="picture"), 40004),
        (lambda dt, tok: dt.oapi("POST", "/media/upload", tok, params={"type": "image"}), 40035),
        (lambda dt, tok: dt.oapi("POST", "/media/upload", tok, params={"type": "image"}, json={"media": "x"}), 40035),
        (lambda dt, tok: upload(dt, tok, field="file"), 40035),
        (lambda dt, tok: upload(dt, tok, data=b""), 40006),
        (lambda dt, tok: upload(dt, tok, data=PNG + b"\0" * (1024 * 1024)), 40006),
        (lambda dt, tok: upload(dt, tok, data=b"%PDF-1.4 not an image"), 40005),
    ],
    ids=["no-token", "bad-token", "unknown-type", "no-body", "json-body", "no-media-part", "empty", "over-1MB",
         "not-an-image"],
)
def test_media_upload_errors(dt, call, errcode):
    tok = dt.token()
    r = call(dt, tok)
    assert r.status_code == 200 and r.json()["errcode"] == errcode


def test_media_upload_takes_files_of_other_types_and_parses_the_multipart_body(dt):
    tok = dt.token()
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nplain field\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.pdf\"\r\n"
            b"Content-Type: application/pdf\r\n\r\n%PDF\r\n\r\nbinary\r\n--XyZ--\r\n")
    r = dt.oapi("POST", "/media/upload", tok, params={"type": "file"}, content=body,
                headers={"content-type": "multipart/form-data; boundary=XyZ"})
    assert r.json()["errcode"] == 0 and r.json()["type"] == "file"
    media_id = r.json()["media_id"]
    created = dt.create_chat(tok)
    dt.oapi("POST", "/chat/send", tok, json={"chatid": created["chatid"], "msg": {"msgtype": "file", "file": {"media_id": media_id}}})
    assert dt.sb.messages()[-1]["media"] == {"type": "file", "filename": "a.pdf", "bytes": len(b"%PDF\r\n\r\nbinary"),
                                              "content_type": "application/pdf", "app_key": "demo-app-key"}


def test_a_reset_forgets_uploads(dt):
    tok = dt.token()
    media_id = upload(dt, tok).json()["media_id"]
    dt.sb.reset()
    tok = dt.token()
    created = dt.create_chat(tok)
    dt.oapi("POST", "/chat/send", tok, json={"chatid": created["chatid"], "msg": {"msgtype": "image", "image": {"media_id": media_id}}})
    [m] = dt.sb.messages()
    assert m["message"]["image"] == media_id and "media" not in m
