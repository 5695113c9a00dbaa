"""A sandbox that remembers (--state), robots and apps changed at run time, and the control token."""

from __future__ import annotations

import json
import stat
import time
from urllib.parse import quote

import httpx
import pytest
from sbtest_support import API, APP_KEY, APP_SECRET, OAPI, PLAIN_HOOK

from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, serve_in_thread, sign_webhook
from groupmsg.sandbox.persist import StateFolderError

TEXT = {"msgtype": "text", "text": {"content": "告警: disk"}}


def _client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(transport=sb.transport(), base_url=OAPI)


def test_groups_tokens_robots_and_messages_survive_a_restart(tmp_path):
    sb = Sandbox(SandboxConfig.demo(), state_dir=tmp_path)
    with _client(sb) as c:
        tok = c.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET}).json()["accessToken"]
        chat = c.post("/chat/create", params={"access_token": tok}, json={"name": "持久群", "owner": "u1", "useridlist": ["u1"]}).json()
        assert c.post("/chat/send", params={"access_token": tok}, json={"chatid": chat["chatid"], "msg": TEXT}).json()["errcode"] == 0
        added = c.post("/_sandbox/robots", json={"name": "ops", "keywords": ["告警"], "secret": True, "group": "运维群"}).json()
        ts = str(int(time.time() * 1000))
        hook = f"{added['webhook']}&timestamp={ts}&sign={quote(sign_webhook(added['secret'], ts), safe='')}"
        assert c.post(hook, json={**TEXT, "msgUuid": "once"}).json()["errcode"] == 0
        c.patch("/_sandbox/robots/demo-plain", json={"enabled": False})
    sb.close()

    again = Sandbox(SandboxConfig.demo(), state_dir=tmp_path)
    with _client(again) as c:
        # the same token still works, the group still exists, the messages are still there
        assert c.post("/chat/send", params={"access_token": tok}, json={"chatid": chat["chatid"], "msg": TEXT}).json()["errcode"] == 0
        assert [m["id"] for m in again.messages()] == ["m1", "m2", "m3"]
        assert "持久群" in [x["name"] for x in again.chats()]
        # the robot added at run time is still there; a repeated msgUuid is still known
        assert c.post(hook, json={**TEXT, "msgUuid": "once"}).json()["errcode"] == 0
        assert len(again.messages()) == 3
        robots = {r["name"]: r for r in again.robots()}
        assert robots["ops"]["group"] == "运维群" and robots["ops"]["signed"] and robots["demo-plain"]["enabled"] is False
        assert c.post(f"/robot/send?access_token={PLAIN_HOOK}", json=TEXT).json()["errcode"] == 400102
        assert [r["path"] for r in again.requests()][:2] == ["/v1.0/oauth2/accessToken", "/chat/create"]
    again.close()


def test_state_files_are_private_and_one_sandbox_per_folder(tmp_path):
    sb = Sandbox(SandboxConfig.demo(), state_dir=tmp_path / "st")
    assert stat.S_IMODE((tmp_path / "st").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "st" / "state.json").stat().st_mode) == 0o600
    with pytest.raises(StateFolderError, match="in use by another sandbox"):
        Sandbox(SandboxConfig.demo(), state_dir=tmp_path / "st")
    sb.close()
    Sandbox(SandboxConfig.demo(), state_dir=tmp_path / "st").close()


def test_a_foreign_state_file_is_refused_not_overwritten(tmp_path):
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(StateFolderError, match="not a sandbox state file"):
        Sandbox(SandboxConfig.demo(), state_dir=tmp_path)
    assert (tmp_path / "state.json").read_text() == "{not json"


def test_reset_forgets_traffic_but_keeps_the_robots_added(tmp_path):
    sb = Sandbox(SandboxConfig.demo(), state_dir=tmp_path)
    sb.add_robot("ops")
    with _client(sb) as c:
        c.post(f"/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
    sb.reset()
    sb.close()
    again = Sandbox(SandboxConfig.demo(), state_dir=tmp_path)
    assert again.messages() == [] and again.requests() == []
    assert "ops" in [r["name"] for r in again.robots()]
    again.close()


def test_a_start_up_config_edit_wins_over_nothing_and_runtime_changes_are_replayed(tmp_path):
    cfg = SandboxConfig.demo(webhooks={"a" * 64: WebhookRobot(name="ops", keywords=("old",))})
    sb = Sandbox(cfg, state_dir=tmp_path)
    sb.add_robot("extra")
    sb.close()
    edited = SandboxConfig.demo(webhooks={"a" * 64: WebhookRobot(name="ops", keywords=("new",))})
    again = Sandbox(edited, state_dir=tmp_path)
    robots = {r["name"]: r for r in again.robots()}
    assert robots["ops"]["keywords"] == ["new"] and "extra" in robots
    again.close()


def test_robots_at_run_time_over_http(dt):
    c = dt.http
    r = c.post(f"{OAPI}/_sandbox/robots", json={"name": "ops", "keywords": ["告警"], "ip_allowlist": ["10.0.0.0/8"]})
    added = r.json()
    assert r.status_code == 200 and len(added["token"]) == 64 and added["secret"] is None
    assert added["webhook"] == f"/robot/send?access_token={added['token']}"
    hook = f"access_token={added['token']}"
    assert dt.hook(hook, TEXT).json() == {"errcode": 310000, "errmsg": "ip 127.0.0.1 not in whitelist"}
    c.patch(f"{OAPI}/_sandbox/robots/ops", json={"ip_allowlist": []})
    assert dt.hook(hook, {"msgtype": "text", "text": {"content": "no keyword"}}).json()["errmsg"] == "keywords not in content"
    assert dt.hook(hook, TEXT).json()["errcode"] == 0
    changed = c.patch(f"{OAPI}/_sandbox/robots/ops", json={"secret": True}).json()
    assert changed["signed"] and changed["secret"].startswith("SEC") and len(changed["secret"]) == 67
    assert dt.hook(hook, TEXT).json() == {"errcode": 310000, "errmsg": "invalid timestamp"}  # now it must be signed
    listed = c.get(f"{OAPI}/_sandbox/robots").json()
    assert {r["name"] for r in listed} == {"demo-signed", "demo-plain", "example", "ops"}
    assert added["token"] not in json.dumps(listed) and changed["secret"] not in json.dumps(listed)
    assert c.delete(f"{OAPI}/_sandbox/robots/ops").status_code == 200
    assert dt.hook(hook, TEXT).json()["errcode"] == 300001
    missing = c.delete(f"{OAPI}/_sandbox/robots/ops")
    assert missing.status_code == 404 and "no webhook robot named 'ops'" in missing.json()["error"]
    bad = c.post(f"{OAPI}/_sandbox/robots", json={"name": "x", "ip_allowlist": ["::1"]})
    assert bad.status_code == 400 and "IPv4" in bad.json()["error"]
    assert c.post(f"{OAPI}/_sandbox/robots", json={"name": "demo-plain"}).status_code == 400


def test_apps_at_run_time(dt):
    c = dt.http
    assert c.post(f"{OAPI}/_sandbox/apps", json={"key": "k2", "secret": "s2", "robot_codes": ["r2"]}).json() == {"key": "k2", "robot_codes": ["r2"]}
    assert dt.token("k2", "s2")
    assert {"key": "k2", "robot_codes": ["r2"]} in c.get(f"{OAPI}/_sandbox/apps").json()
    assert "s2" not in c.get(f"{OAPI}/_sandbox/apps").text
    assert c.delete(f"{OAPI}/_sandbox/apps/k2").status_code == 200
    r = c.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": "k2", "appSecret": "s2"})
    assert r.json()["code"] == "invalidClientIdOrSecret"


def test_control_token_guards_the_control_api_and_the_inbox_not_dingtalk():
    sb = Sandbox(SandboxConfig.demo(), control_token="t0ken")
    with serve_in_thread(sb) as url, httpx.Client(base_url=url) as c:
        for path in ("/_sandbox/messages", "/_sandbox/config", "/_sandbox/robots", "/_sandbox/inbox", "/_sandbox/events"):
            r = c.get(path)
            assert r.status_code == 401 and "control token" in r.json()["error"], path
        assert c.post("/_sandbox/reset").status_code == 401
        assert c.get("/").status_code == 401 and "/?token=" in c.get("/").text
        assert c.get("/_sandbox/health").json() == {"ok": True}  # readiness checks need no token
        assert c.get("/_sandbox/messages", headers={"x-sandbox-token": "t0ken"}).status_code == 200
        assert c.get("/_sandbox/messages", headers={"authorization": "Bearer t0ken"}).status_code == 200
        assert c.get("/?token=t0ken").status_code == 200
        assert c.get("/_sandbox/messages", headers={"x-sandbox-token": "wrong"}).status_code == 401
        # DingTalk's own endpoints answer as DingTalk does, token or not
        assert c.post(f"/robot/send?access_token={PLAIN_HOOK}", json=TEXT).json()["errcode"] == 0


def test_demo_robots_look_like_dingtalks_so_other_tools_take_them():
    import re

    for token, robot in SandboxConfig.demo().webhooks.items():
        assert re.fullmatch(r"[0-9a-f]{64}", token), token
        assert robot.secret is None or re.fullmatch(r"SEC[0-9a-f]{64}", robot.secret)
    sb = Sandbox(SandboxConfig.demo())
    added = sb.add_robot("x", secret=True)
    assert re.fullmatch(r"[0-9a-f]{64}", added["token"]) and re.fullmatch(r"SEC[0-9a-f]{64}", added["secret"])
