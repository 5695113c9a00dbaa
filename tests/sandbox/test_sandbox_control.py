"""/_sandbox/* inspection endpoints, reset, routing, and secrets never leaking."""

from __future__ import annotations

import json

from sbtest_support import (
    API,
    APP_SECRET,
    EXAMPLE_HOOK,
    EXAMPLE_SECRET,
    EXAMPLE_SIGN_PARAM,
    EXAMPLE_TS,
    OAPI,
    PLAIN_HOOK,
)

from groupmsg.sandbox import Sandbox, SandboxConfig
from groupmsg.sandbox.config import DEMO_WEBHOOK_TOKEN

TEXT = {"msgtype": "text", "text": {"content": "x"}}


def _traffic(dt) -> str:
    """Exercise every channel; return the access token used."""
    tok = dt.token()
    chat = dt.create_chat(tok)
    dt.oapi("POST", "/chat/send", tok, json={"chatid": chat["chatid"], "msg": TEXT})
    dt.robot_send(tok, chat["openConversationId"])
    dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "msgUuid": "m1", "at": {"atMobiles": ["138"]}})
    dt.hook(f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={EXAMPLE_SIGN_PARAM}", TEXT)
    dt.hook("access_token=not-a-robot", TEXT)
    dt.http.get(f"{OAPI}/gettoken", params={"appkey": "demo-app-key", "appsecret": APP_SECRET})
    dt.oapi("GET", "/chat/get", tok, params={"chatid": chat["chatid"]})
    return tok


def test_messages_endpoint(dt):
    _traffic(dt)
    r = dt.http.get(f"{OAPI}/_sandbox/messages")
    assert r.status_code == 200
    msgs = r.json()
    assert [m["channel"] for m in msgs] == ["chat", "robot", "webhook", "webhook"]
    assert msgs == dt.sb.messages()
    for m in msgs:
        assert {"id", "channel", "robot" if m["channel"] != "chat" else "chat_id", "msgtype", "content", "received_at", "body"} <= set(m)
    hook = msgs[2]
    assert hook["robot"] == "demo-plain" and hook["msg_uuid"] == "m1" and hook["at"] == {"atMobiles": ["138"]}
    only = dt.http.get(f"{OAPI}/_sandbox/messages", params={"channel": "webhook"}).json()
    assert [m["channel"] for m in only] == ["webhook", "webhook"]
    assert len({m["id"] for m in msgs}) == 4


def test_no_secrets_anywhere(dt):
    tok = _traffic(dt)
    secrets = [tok, APP_SECRET, PLAIN_HOOK, EXAMPLE_HOOK, EXAMPLE_SECRET, "not-a-robot", EXAMPLE_SIGN_PARAM, DEMO_WEBHOOK_TOKEN]
    secrets += [SandboxConfig.demo().webhooks[DEMO_WEBHOOK_TOKEN].secret]
    dumps = [dt.http.get(f"{OAPI}/_sandbox/{what}").text for what in ("messages", "requests", "chats", "config")]
    dumps += [json.dumps(dt.sb.messages()), json.dumps(dt.sb.requests()), json.dumps(dt.sb.chats())]
    for text in dumps:
        for secret in secrets:
            assert secret not in text, f"{secret[:6]}… leaked"


def test_webhook_label_without_name_is_token_prefix(clock):
    from groupmsg.sandbox import WebhookRobot

    sb = Sandbox(SandboxConfig.demo(webhooks={"abcdefgh-secret-token": WebhookRobot()}, clock=clock))
    sb.handle("POST", "/robot/send?access_token=abcdefgh-secret-token", {"content-type": "application/json"}, json.dumps(TEXT).encode())
    [m] = sb.messages()
    assert m["robot"] == "abcd…"
    assert "abcdefgh-secret-token" not in json.dumps(sb.requests())


def test_requests_log(dt):
    _traffic(dt)
    reqs = dt.http.get(f"{OAPI}/_sandbox/requests").json()
    assert reqs == dt.sb.requests()
    paths = [r["path"] for r in reqs]
    assert paths[:3] == ["/v1.0/oauth2/accessToken", "/chat/create", "/chat/send"]
    assert all("?" not in p for p in paths)
    bad = next(r for r in reqs if r["path"] == "/robot/send" and r["errcode"] == 300001)
    assert bad["status"] == 200
    robot = next(r for r in reqs if r["path"] == "/v1.0/robot/groupMessages/send")
    assert robot["status"] == 200 and robot["code"] is None
    # control requests are not logged, so polling doesn't disturb assertions
    assert not any(p.startswith("/_sandbox") for p in paths)
    # "no 130101 was ever returned"
    assert all(r["errcode"] != 130101 for r in reqs)


def test_reset(dt):
    tok = _traffic(dt)
    dt.sb.add_chat(chat_id="chatextra", open_conversation_id="cidextra")
    assert dt.http.post(f"{OAPI}/_sandbox/reset").json() == {"ok": True}
    assert dt.sb.messages() == [] and dt.sb.requests() == []
    # tokens are gone, added chats are gone, the configured preset chat is back
    assert dt.oapi("GET", "/chat/get", tok, params={"chatid": "chatextra"}).json()["errcode"] == 40014
    assert [c["chat_id"] for c in dt.sb.chats()] == [SandboxConfig.demo().chats[0].chat_id]


def test_chats_endpoint(dt):
    tok = dt.token()
    chat = dt.create_chat(tok, name="列表")
    listed = dt.http.get(f"{OAPI}/_sandbox/chats").json()
    mine = next(c for c in listed if c["chat_id"] == chat["chatid"])
    assert mine["open_conversation_id"] == chat["openConversationId"] and mine["name"] == "列表"
    assert mine["members"] == ["u1", "u2"] and mine["app_key"] == "demo-app-key"
    r = dt.http.post(f"{OAPI}/_sandbox/chats", json={"chat_id": "chatviahttp", "open_conversation_id": "cidviahttp", "owner": "o"})
    assert r.status_code == 200 and r.json()["chat_id"] == "chatviahttp"
    assert dt.oapi("POST", "/chat/send", tok, json={"chatid": "chatviahttp", "msg": TEXT}).json()["errcode"] == 0
    assert dt.http.post(f"{OAPI}/_sandbox/chats", json={"bogus": 1}).status_code == 400


def test_unknown_paths_404_json(dt):
    r = dt.http.get(f"{OAPI}/no/such/thing")
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    assert r.json()["errcode"] == 404
    r = dt.http.post(f"{API}/v1.0/robot/nothing", json={})
    assert r.status_code == 404 and r.json()["code"] and r.json()["requestid"]
    assert r.headers["x-acs-request-id"]


def test_wrong_method(dt):
    r = dt.http.get(f"{OAPI}/chat/send")
    assert r.status_code == 405 and "POST" in r.headers["allow"] and r.json()["errcode"] == 405
    r = dt.http.get(f"{API}/v1.0/robot/groupMessages/send")
    assert r.status_code == 405 and r.json()["code"]


def test_any_host_routes_to_the_sandbox(sb):
    import httpx

    with httpx.Client(transport=sb.transport()) as c:
        for base in ("https://oapi.dingtalk.com", "https://api.dingtalk.com", "http://whatever.local:9"):
            r = c.post(f"{base}/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
            assert r.json()["errcode"] == 0
    assert len(sb.messages()) == 3


def test_demo_defaults():
    cfg = SandboxConfig.demo()
    assert cfg.apps == {"demo-app-key": "demo-app-secret"}
    assert cfg.robot_codes == {"demo-robot": "demo-app-key"}
    signed = [r for r in cfg.webhooks.values() if r.secret]
    plain = [r for r in cfg.webhooks.values() if not r.secret]
    assert len(signed) == 1 and len(plain) == 1 and signed[0].secret.startswith("SEC")
    assert cfg.users is None and "demo-template" in cfg.templates


def test_config_is_validated():
    import pytest

    with pytest.raises(ValueError):
        SandboxConfig(apps={"a": "s"}, robot_codes={"r": "missing-app"})
    with pytest.raises(ValueError):
        SandboxConfig(webhook_codes="whatever")
    with pytest.raises(TypeError):
        SandboxConfig(webhooks={"t": {"secret": "x"}})  # type: ignore[dict-item]


def test_import_is_cheap():
    import os
    import subprocess
    import sys
    from pathlib import Path

    import groupmsg.sandbox

    src = str(Path(groupmsg.sandbox.__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}

    code = (
        "import sys; import groupmsg.sandbox as s; "
        "heavy = [m for m in ('httpx', 'asyncio', 'http.server', 'groupmsg.sandbox.app') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
    code = "import sys; from groupmsg.sandbox import Sandbox; print('httpx' in sys.modules, 'asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "False False"
