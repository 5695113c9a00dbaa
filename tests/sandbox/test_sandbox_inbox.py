"""The web inbox endpoints: the page, its data, the live event stream, refused requests."""

from __future__ import annotations

import json
import threading
import time

import httpx
from sbtest_support import APP_SECRET, OAPI, PLAIN_HOOK

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_CHAT_ID

TEXT = {"msgtype": "text", "text": {"content": "hello <b>there</b>"}}


def test_the_page_is_self_contained_and_locked_down(dt):
    r = dt.http.get(f"{OAPI}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    # only its own script and style, nothing from elsewhere
    assert set(__import__("re").findall(r'(?:src|href)="([^"]+)"', r.text)) == {"/_sandbox/inbox.css", "/_sandbox/inbox.js"}
    for asset, ctype in (("inbox.js", "text/javascript"), ("inbox.css", "text/css")):
        a = dt.http.get(f"{OAPI}/_sandbox/{asset}")
        assert a.status_code == 200 and a.headers["content-type"].startswith(ctype)
        assert not __import__("re").search(r"https?://", a.text)  # nothing fetched from elsewhere


def test_inbox_lists_groups_robots_messages_and_refused_requests(dt):
    tok = dt.token()
    dt.oapi("POST", "/chat/send", tok, json={"chatid": DEMO_CHAT_ID, "msg": {"msgtype": "markdown", "markdown": {"title": "周报", "text": "**x**"}}})
    dt.hook(f"access_token={PLAIN_HOOK}", TEXT)
    dt.hook(f"access_token={PLAIN_HOOK}", {"msgtype": "text", "text": {}})  # refused: 40035
    dt.oapi("POST", "/chat/send", tok, json={"chatid": "nope", "msg": TEXT["text"]})  # refused: 34001
    data = dt.http.get(f"{OAPI}/_sandbox/inbox").json()
    convs = {c["key"]: c for c in data["conversations"]}
    assert convs[DEMO_CHAT_ID]["name"] == "Demo group" and convs[DEMO_CHAT_ID]["preview"] == "周报"
    assert convs["hook:demo-plain"]["kind"] == "webhook" and convs["hook:demo-signed"]["last_time"] is None
    first, second = data["messages"]
    assert first["conversation"] == DEMO_CHAT_ID and first["sender"] == "demo-app-key" and "<strong>x</strong>" in first["html"]
    assert second["conversation"] == "hook:demo-plain" and "hello &lt;b&gt;there&lt;/b&gt;" in second["html"]
    refused = {(r["errcode"], r["errmsg"]) for r in data["refused"]}
    assert refused == {(40035, "缺少参数 text.content"), (34001, "无效的chatid")}
    assert data["last_event"] >= 4


def test_refused_requests_say_why_beyond_dingtalks_own_text(dt):
    tok = dt.token()
    r = dt.oapi("POST", "/chat/send", tok, json={"chatid": DEMO_CHAT_ID, "msg": {"msgtype": "text", "text": {}}})
    assert r.json()["errmsg"] == "无效的消息"  # exactly DingTalk's text: clients match on it
    [log] = [x for x in dt.sb.requests() if x["path"] == "/chat/send"]
    assert log["errcode"] == 34014 and log["errmsg"] == "无效的消息" and log["reason"] == "缺少text.content"


def _events(url: str, after: int, want: int, out: list, timeout: float = 5.0) -> None:
    with httpx.Client(timeout=timeout) as c, c.stream("GET", f"{url}/_sandbox/events", params={"after": after}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        event: dict = {}
        for line in r.iter_lines():
            if line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line == "" and event:
                out.append(event)
                event = {}
                if len(out) >= want:
                    return


def test_event_stream_delivers_messages_and_refusals_as_they_happen():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        got: list = []
        reader = threading.Thread(target=_events, args=(url, sb.feed.last_id, 2, got))
        reader.start()
        time.sleep(0.3)  # the reader is waiting
        t0 = time.perf_counter()
        with httpx.Client(base_url=url) as c:
            c.post(f"/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
            c.post("/robot/send?access_token=unknown", json=TEXT)
        reader.join(5)
        assert time.perf_counter() - t0 < 2.0
    assert [e["event"] for e in got] == ["message", "refused"]
    assert got[0]["data"]["conversation"] == "hook:demo-plain" and "hello &lt;b&gt;" in got[0]["data"]["html"]
    assert got[1]["data"]["errcode"] == 300001 and got[1]["data"]["errmsg"] == "token is not exist"
    assert got[1]["id"] == got[0]["id"] + 1


def test_event_stream_resumes_after_an_id_and_says_reload_when_too_far_behind():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        with httpx.Client(base_url=url) as c:
            for _ in range(3):
                c.post(f"/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
        got: list = []
        _events(url, 1, 2, got)  # resumes after event 1: the 2nd and 3rd messages
        assert [e["id"] for e in got] == [2, 3]
        sb.reset()
        got = []
        _events(url, 0, 1, got)
        assert got[0]["event"] in ("message", "reload")
    # a reset, and a new group created through the API, make the page reload / add the group
    kinds = [e.kind for e in sb.feed.after(0) or []]
    assert kinds[-1] == "reload"


def test_new_groups_are_announced(dt):
    last = dt.sb.feed.last_id
    tok = dt.token()
    chat = dt.create_chat(tok, name="新群")
    [event] = [e for e in dt.sb.feed.after(last) or [] if e.kind == "group"]
    assert event.data == {"key": chat["chatid"], "name": "新群", "kind": "group", "members": 2}
    assert APP_SECRET not in json.dumps(dt.http.get(f"{OAPI}/_sandbox/inbox").json())
