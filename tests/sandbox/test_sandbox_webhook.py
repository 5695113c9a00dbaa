"""Custom-robot webhook /robot/send (docs/dingtalk-api.md §5): always HTTP 200, errcode in the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sbtest_support import (
    EXAMPLE_HOOK,
    EXAMPLE_SECRET,
    EXAMPLE_SIGN_B64,
    EXAMPLE_SIGN_PARAM,
    EXAMPLE_TS,
    PLAIN_HOOK,
    DingTalk,
    FakeClock,
)

from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, sign_webhook

TEXT = {"msgtype": "text", "text": {"content": "hello"}}


def _ok(r):
    assert r.status_code == 200
    return r.json()


def _independent_sign(secret: str, ts: str) -> str:
    """§5.2 computed here, independently of the sandbox's code."""
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def test_plain_webhook_success_and_record(dt):
    body = _ok(dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "at": {"atUserIds": ["u1"], "isAtAll": False}}))
    assert body == {"errcode": 0, "errmsg": "ok"}
    [m] = dt.sb.messages()
    assert m["channel"] == "webhook" and m["robot"] == "demo-plain"
    assert m["msgtype"] == "text" and m["content"] == "hello"
    assert m["at"] == {"atUserIds": ["u1"], "isAtAll": False}
    assert m["body"]["text"] == {"content": "hello"}


def test_unknown_token(dt, make_dt):
    assert _ok(dt.hook("access_token=nope", TEXT)) == {"errcode": 300001, "errmsg": "token is not exist"}
    assert _ok(dt.hook("", TEXT))["errcode"] == 300001
    documented = make_dt(webhook_codes="documented")
    assert _ok(documented.hook("access_token=nope", TEXT))["errcode"] == 400101


@pytest.mark.parametrize("ct", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_content_type_must_be_json(dt, ct):
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT, content_type=ct))["errcode"] == 43004


def test_content_type_variants_accepted(dt):
    for ct in ("application/json", "application/json;charset=utf-8", "Application/JSON; charset=UTF-8"):
        assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT, content_type=ct))["errcode"] == 0


def test_bad_json(dt):
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", b"{oops"))["errcode"] == 40035
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", b'["text"]'))["errcode"] == 40035
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", b""))["errcode"] == 40035


def test_body_size_limit_is_20000_bytes_of_the_serialized_body(dt):
    def body_of(n: int) -> bytes:
        skeleton = json.dumps({"msgtype": "text", "text": {"content": ""}}).encode()
        return json.dumps({"msgtype": "text", "text": {"content": "x" * (n - len(skeleton))}}).encode()

    assert len(body_of(20000)) == 20000
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", body_of(20000)))["errcode"] == 0
    r = _ok(dt.hook(f"access_token={PLAIN_HOOK}", body_of(20001)))
    assert r == {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
    # \uXXXX escaping: 3400 CJK chars are 20400 bytes on the wire with ensure_ascii
    escaped = json.dumps({"msgtype": "text", "text": {"content": "字" * 3400}}).encode()
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", escaped))["errcode"] == 460101
    raw_utf8 = json.dumps({"msgtype": "text", "text": {"content": "字" * 3400}}, ensure_ascii=False).encode()
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", raw_utf8))["errcode"] == 0


# --- signing (§5.2) ----------------------------------------------------------------


def test_worked_example_signature(dt):
    assert _independent_sign(EXAMPLE_SECRET, EXAMPLE_TS) == EXAMPLE_SIGN_B64  # the worked example's numbers (§5.2)
    assert sign_webhook(EXAMPLE_SECRET, EXAMPLE_TS) == EXAMPLE_SIGN_B64
    assert quote_plus(EXAMPLE_SIGN_B64) == EXAMPLE_SIGN_PARAM
    q = f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={EXAMPLE_SIGN_PARAM}"
    assert _ok(dt.hook(q, TEXT)) == {"errcode": 0, "errmsg": "ok"}
    assert dt.sb.messages()[0]["robot"] == "example"


def test_double_encoded_sign_rejected(dt):
    double = quote(EXAMPLE_SIGN_PARAM, safe="")  # %2F -> %252F
    assert "%252F" in double
    q = f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={double}"
    assert _ok(dt.hook(q, TEXT)) == {"errcode": 310000, "errmsg": "sign not match"}
    assert dt.sb.messages() == []


def test_unencoded_plus_in_sign_rejected(dt, clock):
    # find a timestamp whose signature contains '+': sent raw it decodes to ' '
    ts = next(str(int(clock() * 1000) + i) for i in range(1000) if "+" in _independent_sign(EXAMPLE_SECRET, str(int(clock() * 1000) + i)))
    sig = _independent_sign(EXAMPLE_SECRET, ts)
    raw = f"access_token={EXAMPLE_HOOK}&timestamp={ts}&sign={sig}"
    assert _ok(dt.hook(raw, TEXT))["errmsg"] == "sign not match"
    good = f"access_token={EXAMPLE_HOOK}&timestamp={ts}&sign={quote_plus(sig)}"
    assert _ok(dt.hook(good, TEXT))["errcode"] == 0


def test_wrong_secret_and_missing_sign(dt):
    ts = EXAMPLE_TS
    wrong = quote_plus(_independent_sign("SECother", ts))
    assert _ok(dt.hook(f"access_token={EXAMPLE_HOOK}&timestamp={ts}&sign={wrong}", TEXT))["errmsg"] == "sign not match"
    assert _ok(dt.hook(f"access_token={EXAMPLE_HOOK}&timestamp={ts}", TEXT))["errmsg"] == "sign not match"
    assert _ok(dt.hook(f"access_token={EXAMPLE_HOOK}", TEXT)) == {"errcode": 310000, "errmsg": "invalid timestamp"}


@pytest.mark.parametrize("offset_ms, ok", [(3_600_000, True), (-3_600_000, True), (3_600_001, False), (-3_600_001, False)])
def test_timestamp_window_one_hour(dt, clock, offset_ms, ok):
    ts = str(int(clock() * 1000) + offset_ms)
    q = f"access_token={EXAMPLE_HOOK}&timestamp={ts}&sign={quote_plus(_independent_sign(EXAMPLE_SECRET, ts))}"
    body = _ok(dt.hook(q, TEXT))
    assert body == ({"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "invalid timestamp"})


def test_stale_signature_reused_after_an_hour(dt, clock):
    q = f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={EXAMPLE_SIGN_PARAM}"
    assert _ok(dt.hook(q, TEXT))["errcode"] == 0
    clock.advance(3601)
    assert _ok(dt.hook(q, TEXT))["errmsg"] == "invalid timestamp"


def test_timestamp_in_seconds_rejected(dt):
    ts = EXAMPLE_TS[:-3]  # seconds instead of milliseconds
    q = f"access_token={EXAMPLE_HOOK}&timestamp={ts}&sign={quote_plus(_independent_sign(EXAMPLE_SECRET, ts))}"
    assert _ok(dt.hook(q, TEXT))["errmsg"] == "invalid timestamp"


# slow: the first st.text() of a run builds Hypothesis's Unicode tables (3-5 s on a clean checkout);
# once they are cached the test itself takes ~0.2 s.
@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(secret=st.text(min_size=1, max_size=40), skew_ms=st.integers(-3_600_000, 3_600_000))
def test_signature_property(secret, skew_ms):
    clock = FakeClock()
    sb = Sandbox(SandboxConfig.demo(webhooks={"tok": WebhookRobot(secret=secret)}, clock=clock))
    dt = DingTalk(sb, clock)
    ts = str(int(clock() * 1000) + skew_ms)
    sig = _independent_sign(secret, ts)
    assert _ok(dt.hook(f"access_token=tok&timestamp={ts}&sign={quote(sig, safe='')}", TEXT))["errcode"] == 0
    double = quote(quote(sig, safe=""), safe="")
    assume(double != quote(sig, safe=""))
    assert _ok(dt.hook(f"access_token=tok&timestamp={ts}&sign={double}", TEXT))["errmsg"] == "sign not match"


# --- keywords and IP allow-list (§5.2) -----------------------------------------------


@pytest.fixture
def guarded(clock):
    cfg = SandboxConfig.demo(
        webhooks={
            "kw": WebhookRobot(keywords=("告警", "alert")),
            "ip": WebhookRobot(ip_allowlist=("10.0.0.0/24", "192.168.1.7")),
            "off": WebhookRobot(enabled=False),
        },
        clock=clock,
    )
    return DingTalk(Sandbox(cfg), clock)


@pytest.mark.parametrize(
    "body, ok",
    [
        ({"msgtype": "text", "text": {"content": "服务告警: disk"}}, True),
        ({"msgtype": "text", "text": {"content": "all good"}}, False),
        ({"msgtype": "markdown", "markdown": {"title": "alert", "text": "x"}}, True),  # title counts
        ({"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://e.com/alert"}}, False),  # URL doesn't
        ({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btns": [{"title": "alert", "actionURL": "u"}]}}, True),
        ({"msgtype": "feedCard", "feedCard": {"links": [{"title": "告警1", "messageURL": "u", "picURL": "p"}]}}, True),
        ({"msgtype": "text", "text": {"content": "ALERT"}}, False),  # case-sensitive
    ],
)
def test_keywords(guarded, body, ok):
    out = _ok(guarded.hook("access_token=kw", body))
    assert out == ({"errcode": 0, "errmsg": "ok"} if ok else {"errcode": 310000, "errmsg": "keywords not in content"})


def test_ip_allowlist(clock):
    cfg = SandboxConfig.demo(webhooks={"ip": WebhookRobot(ip_allowlist=("10.0.0.0/24", "192.168.1.7"))}, clock=clock)
    sb = Sandbox(cfg)
    import httpx

    def send(ip: str) -> dict:
        with httpx.Client(transport=sb.transport(client_ip=ip)) as c:
            return c.post("https://oapi.dingtalk.com/robot/send?access_token=ip", json=TEXT).json()

    assert send("10.0.0.42")["errcode"] == 0
    assert send("192.168.1.7")["errcode"] == 0
    assert send("10.0.1.1") == {"errcode": 310000, "errmsg": "ip 10.0.1.1 not in whitelist"}
    assert send("::1")["errcode"] == 310000  # no IPv6 (§5.2)


def test_disabled_robot(guarded):
    assert _ok(guarded.hook("access_token=off", TEXT)) == {"errcode": 400102, "errmsg": "机器人已停用"}


# --- message types (§5.1) -------------------------------------------------------------

VALID = [
    {"msgtype": "text", "text": {"content": "x"}},
    {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://e.com", "picUrl": "https://e.com/p.png"}},
    {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://e.com"}},  # picUrl optional
    {"msgtype": "markdown", "markdown": {"title": "t", "text": "#### x"}},
    {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "go", "singleURL": "https://e.com", "btnOrientation": "0"}},
    {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btns": [{"title": "a", "actionURL": "u"}, {"title": "b", "actionURL": "u"}]}},
    {"msgtype": "feedCard", "feedCard": {"links": [{"title": "t", "messageURL": "u", "picURL": "p"}]}},
]


@pytest.mark.parametrize("body", VALID, ids=lambda b: b["msgtype"])
def test_valid_msgtypes(dt, body):
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", body))["errcode"] == 0
    assert dt.sb.messages()[0]["msgtype"] == body["msgtype"]


@pytest.mark.parametrize(
    "body, errcode",
    [
        ({"msgtype": "image", "image": {"picURL": "u"}}, 400105),  # DingtalkChatbot's undocumented type
        ({"msgtype": "action_card", "action_card": {"title": "t"}}, 400105),  # chat/send naming
        ({"msgtype": "file", "file": {"media_id": "m"}}, 400105),
        ({"text": {"content": "x"}}, 400105),
        ({"msgtype": "text", "text": {}}, 40035),
        ({"msgtype": "text", "markdown": {"title": "t", "text": "x"}}, 40035),
        ({"msgtype": "link", "link": {"title": "t", "text": "x", "messageURL": "u"}}, 40035),  # link wants messageUrl
        ({"msgtype": "feedCard", "feedCard": {"links": [{"title": "t", "messageUrl": "u", "picUrl": "p"}]}}, 40035),  # feedCard wants messageURL/picURL
        ({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "go", "singleUrl": "u"}}, 40035),
        ({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btns": [{"title": "a", "actionUrl": "u"}]}}, 40035),
        ({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x"}}, 40035),
        ({"msgtype": "feedCard", "feedCard": {"links": []}}, 40035),
        ({**TEXT, "at": ["u1"]}, 40035),
        ({**TEXT, "at": {"atMobiles": "138"}}, 40035),
    ],
)
def test_invalid_messages(dt, body, errcode):
    r = dt.hook(f"access_token={PLAIN_HOOK}", body)
    assert r.status_code == 200  # webhook failures are always HTTP 200 (§5.3)
    assert r.json()["errcode"] == errcode
    assert dt.sb.messages() == []


def test_more_than_50_mentions_is_accepted_as_dingtalk_documents_no_error_for_it(dt):
    # docs/dingtalk-api.md §5.1 says "at most 50 people" but lists no errcode for more (§8.2)
    at = {"atUserIds": [f"u{i}" for i in range(51)]}
    r = dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "at": at})
    assert r.json() == {"errcode": 0, "errmsg": "ok"}
    [m] = dt.sb.messages()
    assert m["at"] == at and len(m["message"]["at"]["user_ids"]) == 51


# --- msgUuid idempotency (§5.1) -----------------------------------------------------


def test_msg_uuid_dedupe(dt):
    body = {**TEXT, "msgUuid": "u-1"}
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", body))["errcode"] == 0
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", body))["errcode"] == 0  # accepted again
    assert len(dt.sb.messages()) == 1 and dt.sb.messages()[0]["msg_uuid"] == "u-1"
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "msgUuid": "u-2"}))["errcode"] == 0
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 0
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 0  # no uuid: no dedupe
    assert len(dt.sb.messages()) == 4


def test_msg_uuid_is_per_robot(dt):
    body = {**TEXT, "msgUuid": "same"}
    dt.hook(f"access_token={PLAIN_HOOK}", body)
    dt.hook(f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={EXAMPLE_SIGN_PARAM}", body)
    assert [m["robot"] for m in dt.sb.messages()] == ["demo-plain", "example"]


# --- rate limit (§5.4) ----------------------------------------------------------------


def test_window_then_block(make_dt, clock):
    dt = make_dt(webhook_limit=3, webhook_window_s=1.0, webhook_block_s=5.0)
    send = lambda: _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))  # noqa: E731
    assert [send()["errcode"] for _ in range(3)] == [0, 0, 0]
    over = send()
    assert over == {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
    clock.advance(2.0)  # window passed, but the robot is blocked
    assert send()["errcode"] == 130101
    clock.advance(3.1)  # block over
    assert [send()["errcode"] for _ in range(3)] == [0, 0, 0]
    assert len(dt.sb.messages()) == 6
    # other robots are not affected
    q = f"access_token={EXAMPLE_HOOK}&timestamp={EXAMPLE_TS}&sign={EXAMPLE_SIGN_PARAM}"
    assert send()["errcode"] == 130101 and _ok(dt.hook(q, TEXT))["errcode"] == 0


def test_sliding_window(make_dt, clock):
    dt = make_dt(webhook_limit=2, webhook_window_s=10.0, webhook_block_s=60.0)
    send = lambda: _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"]  # noqa: E731
    assert send() == 0
    clock.advance(6)
    assert send() == 0
    clock.advance(5)  # first send left the 10 s window; second is still in it
    assert send() == 0
    assert send() == 130101


def test_default_limit_is_20_per_minute(dt, clock):
    codes = []
    for _ in range(21):
        codes.append(_ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"])
        clock.advance(1)
    assert codes == [0] * 20 + [130101]
    clock.advance(598)  # 599 s after the refused send
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 130101  # 10-minute block
    clock.advance(1.5)
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 0


def test_documented_rate_code(make_dt):
    dt = make_dt(webhook_limit=1, webhook_codes="documented")
    dt.hook(f"access_token={PLAIN_HOOK}", TEXT)
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 410100


def test_limits_off(make_dt):
    dt = make_dt(webhook_limit=1, limits=False)
    assert all(_ok(dt.hook(f"access_token={PLAIN_HOOK}", TEXT))["errcode"] == 0 for _ in range(5))


@pytest.mark.slow  # the first st.text() of a run is slow, see test_signature_property
@settings(max_examples=30, deadline=None)
@given(content=st.text(min_size=1, max_size=300).filter(lambda s: s.strip()))
def test_any_text_is_recorded_verbatim(content):
    sb = Sandbox(SandboxConfig.demo())
    dt = DingTalk(sb, FakeClock())
    assert _ok(dt.hook(f"access_token={PLAIN_HOOK}", {"msgtype": "text", "text": {"content": content}}))["errcode"] == 0
    assert sb.messages()[0]["content"] == content
