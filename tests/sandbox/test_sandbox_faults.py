"""Per-app QPS limits (docs/dingtalk-api.md §6.1) and fault injection (§8.3)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sbtest_support import API, APP_KEY, APP_SECRET, OAPI, PLAIN_HOOK, DingTalk

from groupmsg.sandbox import FaultConfig, Sandbox, SandboxConfig, SandboxTimeout

TEXT = {"msgtype": "text", "text": {"content": "x"}}


def _chat_send(dt, tok, chatid):
    return dt.oapi("POST", "/chat/send", tok, json={"chatid": chatid, "msg": TEXT})


# --- QPS (§6.1) -------------------------------------------------------------------


def test_legacy_qps_limit_per_app_per_api(make_dt, clock):
    dt = make_dt(qps_per_app=3)
    tok = dt.token()
    chatid = dt.create_chat(tok)["chatid"]  # chat.create: a different API
    codes = [_chat_send(dt, tok, chatid).json()["errcode"] for _ in range(4)]
    assert codes == [0, 0, 0, 90018]
    r = _chat_send(dt, tok, chatid)
    assert r.status_code == 200 and r.json()["errcode"] == 90018
    assert "请求都被暂时禁用了" in r.json()["errmsg"]
    # another API of the same app is not throttled
    assert dt.oapi("GET", "/chat/get", tok, params={"chatid": chatid}).json()["errcode"] == 0
    clock.advance(1.01)
    assert _chat_send(dt, tok, chatid).json()["errcode"] == 0
    assert len(dt.sb.messages()) == 4


def test_new_api_qps_limit(make_dt, clock):
    dt = make_dt(qps_per_app=2)
    tok = dt.token()
    cid = "cidDemoGroup+sandbox/0000=="
    statuses = [dt.robot_send(tok, cid).status_code for _ in range(3)]
    assert statuses == [200, 200, 403]
    r = dt.robot_send(tok, cid)
    assert r.status_code == 403
    assert r.json()["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    assert r.json()["message"] == "您的企业应用调用钉钉开放平台当前接口的所有请求都被暂时禁用了"
    clock.advance(1.0)
    assert dt.robot_send(tok, cid).status_code == 200


def test_qps_is_per_app(clock):
    cfg = SandboxConfig.demo(apps={"a": "sa", "b": "sb"}, robot_codes={}, chats=(), qps_per_app=1, clock=clock)
    dt = DingTalk(Sandbox(cfg), clock)
    ta, tb = dt.token("a", "sa"), dt.token("b", "sb")
    assert dt.oapi("GET", "/chat/get", ta, params={"chatid": "x"}).json()["errcode"] == 40016
    assert dt.oapi("GET", "/chat/get", ta, params={"chatid": "x"}).json()["errcode"] == 90018
    assert dt.oapi("GET", "/chat/get", tb, params={"chatid": "x"}).json()["errcode"] == 40016


def test_token_endpoint_qps(make_dt):
    dt = make_dt(qps_per_app=2)
    body = {"appKey": APP_KEY, "appSecret": APP_SECRET}
    statuses = [dt.http.post(f"{API}/v1.0/oauth2/accessToken", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 403]
    r = dt.http.get(f"{OAPI}/gettoken", params={"appkey": APP_KEY, "appsecret": APP_SECRET})
    assert r.json()["errcode"] == 0  # gettoken is a different API
    dt.http.get(f"{OAPI}/gettoken", params={"appkey": APP_KEY, "appsecret": APP_SECRET})
    assert dt.http.get(f"{OAPI}/gettoken", params={"appkey": APP_KEY, "appsecret": APP_SECRET}).json()["errcode"] == 90018


def test_no_qps_when_limits_off(make_dt):
    dt = make_dt(qps_per_app=1, limits=False)
    tok = dt.token()
    assert all(dt.oapi("GET", "/chat/get", tok, params={"chatid": "x"}).json()["errcode"] == 40016 for _ in range(5))


# --- fault kinds --------------------------------------------------------------------


@pytest.fixture
def ready(dt):
    tok = dt.token()
    chatid = dt.create_chat(tok)["chatid"]
    return dt, tok, chatid


def test_http500(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("http500")
    r = _chat_send(dt, tok, chatid)
    assert r.status_code == 500
    assert dt.sb.messages() == []
    dt.sb.inject_fault("http500")
    r = dt.robot_send(tok, "cidDemoGroup+sandbox/0000==")
    assert r.status_code == 500 and r.json()["code"] == "system.error" and r.headers["x-acs-request-id"]
    assert dt.sb.messages() == []
    assert _chat_send(dt, tok, chatid).json()["errcode"] == 0  # one-shot


def test_busy(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("busy", times=3)
    assert _chat_send(dt, tok, chatid).json() == {"errcode": -1, "errmsg": "系统繁忙"}
    r = dt.robot_send(tok, "cidDemoGroup+sandbox/0000==")
    assert r.status_code == 429 and r.json()["code"] == "system.busy"
    r = dt.hook(f"access_token={PLAIN_HOOK}", TEXT)
    assert r.status_code == 200 and r.json()["errcode"] == -1
    assert dt.sb.messages() == []


def test_qps_fault(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("qps", times=3)
    assert _chat_send(dt, tok, chatid).json()["errcode"] == 90018
    r = dt.robot_send(tok, "cidDemoGroup+sandbox/0000==")
    assert r.status_code == 403 and r.json()["code"] == "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi"
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).json()["errcode"] == 130101
    assert dt.sb.messages() == []
    # a qps *fault* does not start the webhook's 10-minute block
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).json()["errcode"] == 0


def test_token_expired_fault(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("token_expired")
    assert _chat_send(dt, tok, chatid).json()["errcode"] == 40014
    assert _chat_send(dt, tok, chatid).json()["errcode"] == 40014  # really invalidated
    new = dt.token()
    assert new != tok
    assert _chat_send(dt, new, chatid).json()["errcode"] == 0
    dt.sb.inject_fault("token_expired")
    r = dt.robot_send(new, "cidDemoGroup+sandbox/0000==")
    assert r.status_code == 400 and r.json()["code"] == "InvalidAuthentication"
    dt.sb.inject_fault("token_expired")
    out = dt.oapi("POST", "/topapi/im/chat/scenegroup/get", dt.token(), json={}).json()
    assert out["errcode"] == 88 and out["sub_code"] == "40014"


def test_token_expired_never_hits_webhooks(dt):
    dt.sb.configure(faults=FaultConfig(rate=1.0, kinds=("token_expired",)))
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).json()["errcode"] == 0


def test_lost_response_processes_then_500(ready):
    dt, _tok, _chatid = ready
    dt.sb.inject_fault("lost_response")
    body = {**TEXT, "msgUuid": "retry-me"}
    r = dt.hook(f"access_token={PLAIN_HOOK}", body)
    assert r.status_code == 500
    assert len(dt.sb.messages()) == 1  # it was delivered
    r = dt.hook(f"access_token={PLAIN_HOOK}", body)  # client retries with the same msgUuid
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    assert len(dt.sb.messages()) == 1  # ...and it is not delivered twice


def test_lost_response_scene_group_uuid(ready):
    dt, tok, _ = ready
    body = {"title": "t", "template_id": "demo-template", "owner_user_id": "u1", "uuid": "create-1"}
    dt.sb.inject_fault("lost_response")
    assert dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=body).status_code == 500
    r = dt.oapi("POST", "/topapi/im/chat/scenegroup/create", tok, json=body)
    assert r.json()["errcode"] == 0
    scene = [c for c in dt.sb.chats() if c["kind"] == "scenegroup"]
    assert len(scene) == 1 and scene[0]["chat_id"] == r.json()["result"]["chat_id"]


def test_timeout_in_process_raises_read_timeout(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("timeout")
    with pytest.raises(httpx.ReadTimeout):
        _chat_send(dt, tok, chatid)
    assert dt.sb.messages() == []
    assert dt.sb.requests()[-1]["fault"] == "timeout" and dt.sb.requests()[-1]["status"] is None


def test_timeout_async_transport(sb):
    async def main():
        sb.inject_fault("timeout")
        async with httpx.AsyncClient(transport=sb.transport()) as c:
            with pytest.raises(httpx.ReadTimeout):
                await c.post(f"{OAPI}/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
            r = await c.post(f"{OAPI}/robot/send?access_token={PLAIN_HOOK}", json=TEXT)
            assert r.json()["errcode"] == 0

    asyncio.run(main())


def test_handle_raises_sandbox_timeout(sb):
    sb.inject_fault("timeout")
    with pytest.raises(SandboxTimeout):
        sb.handle("POST", f"/robot/send?access_token={PLAIN_HOOK}", {"content-type": "application/json"}, b"{}")


def test_latency_fault_and_configured_latency(sb):
    hook = f"/robot/send?access_token={PLAIN_HOOK}"
    hdrs = {"content-type": "application/json"}
    body = b'{"msgtype":"text","text":{"content":"x"}}'
    assert sb.process("POST", hook, hdrs, body).delay_s == 0
    sb.configure(faults={"latency_ms": 120})
    sb.inject_fault("latency")
    reply = sb.process("POST", hook, hdrs, body)
    assert reply.delay_s == pytest.approx(0.12) and reply.status == 200
    sb.configure(latency_ms=30)
    t0 = time.perf_counter()
    status, _headers, _ = sb.handle("POST", hook, hdrs, body)
    assert status == 200 and time.perf_counter() - t0 >= 0.03
    # control endpoints are never slowed down
    assert sb.process("GET", "/_sandbox/messages").delay_s == 0


def test_random_faults_are_seeded_and_deterministic():
    def run(seed):
        sb = Sandbox(SandboxConfig.demo(faults=FaultConfig(rate=0.5, kinds=("http500", "busy"), seed=seed), limits=False))
        out = []
        for _ in range(40):
            reply = sb.process("POST", f"/robot/send?access_token={PLAIN_HOOK}", {"content-type": "application/json"}, b'{"msgtype":"text","text":{"content":"x"}}')
            out.append((reply.status, reply.fault))
        return out

    a, b, c = run(7), run(7), run(8)
    assert a == b and a != c
    kinds = {f for _, f in a}
    assert kinds == {None, "http500", "busy"}
    assert 8 <= sum(f is not None for _, f in a) <= 32  # about half


def test_faults_spare_control_and_token_endpoints(dt):
    dt.sb.configure(faults=FaultConfig(rate=1.0, kinds=("http500",)))
    tok = dt.token()  # token endpoints spared by default
    assert dt.http.get(f"{OAPI}/_sandbox/messages").status_code == 200
    assert dt.oapi("GET", "/chat/get", tok, params={"chatid": "x"}).status_code == 500
    dt.sb.configure(faults={"include_token_endpoints": True})
    r = dt.http.post(f"{API}/v1.0/oauth2/accessToken", json={"appKey": APP_KEY, "appSecret": APP_SECRET})
    assert r.status_code == 500


def test_injection_path_filter(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("http500", path="/robot/send")
    assert _chat_send(dt, tok, chatid).status_code == 200
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).status_code == 500
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).status_code == 200


def test_config_endpoint_changes_faults_and_latency(dt):
    r = dt.http.post(f"{OAPI}/_sandbox/config", json={"latency_ms": 5, "faults": {"rate": 1.0, "kinds": ["busy"], "seed": 1}})
    assert r.status_code == 200
    cfg = r.json()
    assert cfg["latency_ms"] == 5 and cfg["faults"]["rate"] == 1.0 and cfg["faults"]["kinds"] == ["busy"]
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).json()["errcode"] == -1
    dt.http.post(f"{OAPI}/_sandbox/config", json={"faults": {"rate": 0}, "inject": [{"kind": "http500", "times": 2}]})
    assert [dt.hook(f"access_token={PLAIN_HOOK}", TEXT).status_code for _ in range(3)] == [500, 500, 200]
    bad = dt.http.post(f"{OAPI}/_sandbox/config", json={"faults": {"kinds": ["meteor"]}})
    assert bad.status_code == 400
    bad = dt.http.post(f"{OAPI}/_sandbox/config", json={"apps": {"x": "y"}})  # not a runtime setting
    assert bad.status_code == 400


def test_fault_config_validation():
    with pytest.raises(ValueError):
        FaultConfig(rate=1.5)
    with pytest.raises(ValueError):
        FaultConfig(kinds=("nope",))
    sb = Sandbox(SandboxConfig.demo())
    with pytest.raises(ValueError):
        sb.inject_fault("nope")
    with pytest.raises(ValueError):
        sb.configure(users={"x"})


def test_requests_log_marks_faults(ready):
    dt, tok, chatid = ready
    dt.sb.inject_fault("busy")
    _chat_send(dt, tok, chatid)
    last = dt.sb.requests()[-1]
    assert last["fault"] == "busy" and last["errcode"] == -1 and last["path"] == "/chat/send"
