"""The gateway's own answers (docs/dingtalk-api.md §8.3): 429 and 503 with Retry-After, 502 — none
processed — and 504, after the request was processed."""

from __future__ import annotations

import pytest
from sbtest_support import PLAIN_HOOK, DingTalk

from groupmsg.sandbox import FaultConfig

TEXT = {"msgtype": "text", "text": {"content": "hello"}}


@pytest.mark.parametrize(
    "kind,status,retry_after",
    [("http429", 429, "1"), ("http503", 503, "1"), ("http502", 502, None)],
)
def test_a_gateway_refusal_is_an_html_page_and_nothing_is_processed(dt: DingTalk, kind, status, retry_after) -> None:
    tok = dt.token()
    chatid = dt.create_chat(tok)["chatid"]
    for send in (
        lambda: dt.hook(f"access_token={PLAIN_HOOK}", TEXT),
        lambda: dt.oapi("POST", "/chat/send", tok, json={"chatid": chatid, "msg": {"msgtype": "text", "text": {"content": "x"}}}),
        lambda: dt.robot_send(tok, "cidDemoGroup+sandbox/0000=="),
    ):
        dt.sb.inject_fault(kind)
        r = send()
        assert r.status_code == status and r.headers["content-type"].startswith("text/html")
        assert f"<title>{status} " in r.text and r.headers.get("retry-after") == retry_after
    assert dt.sb.messages() == []
    assert [e["fault"] for e in dt.sb.requests()[-3:]] == [kind] * 3


def test_a_504_comes_after_the_message_was_delivered(dt: DingTalk) -> None:
    dt.sb.inject_fault("http504")
    r = dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "msgUuid": "u-1"})
    assert r.status_code == 504 and "504 Gateway Timeout" in r.text and "retry-after" not in r.headers
    assert len(dt.sb.messages()) == 1
    assert dt.hook(f"access_token={PLAIN_HOOK}", {**TEXT, "msgUuid": "u-1"}).json()["errcode"] == 0
    assert len(dt.sb.messages()) == 1  # the retry with the same msgUuid is not delivered twice


def test_retry_after_is_configurable_and_the_new_kinds_are_not_in_the_default_mix(dt: DingTalk) -> None:
    dt.sb.configure(faults={"retry_after_s": 7})
    dt.sb.inject_fault("http429")
    assert dt.hook(f"access_token={PLAIN_HOOK}", TEXT).headers["retry-after"] == "7"
    assert set(FaultConfig().kinds) == {"latency", "http500", "busy", "qps", "token_expired", "lost_response"}
    with pytest.raises(ValueError):
        FaultConfig(retry_after_s=-1)
