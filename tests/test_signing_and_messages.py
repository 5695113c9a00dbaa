"""Signing and message formats, checked against docs/dingtalk-api.md (not against the sandbox)."""

from __future__ import annotations

import json

import pytest

from groupmsg.dingtalk import messages
from groupmsg.dingtalk.messages import Message
from groupmsg.dingtalk.signing import signature, signed_query
from groupmsg.errors import BadInput, MessageTooLarge


def test_signature_matches_the_references_worked_example() -> None:
    # docs/dingtalk-api.md §5.2: secret SEC0123456789abcdef, timestamp 1700000000000
    assert signature("SEC0123456789abcdef", 1700000000000) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
    assert signed_query("SEC0123456789abcdef", 1700000000000) == (
        "timestamp=1700000000000&sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D"
    )


def test_signed_query_uses_a_fresh_millisecond_timestamp() -> None:
    import time

    before = int(time.time() * 1000)
    ts = int(signed_query("SECabc").split("&")[0].split("=")[1])
    assert before <= ts <= int(time.time() * 1000)


def test_webhook_text_body_uses_camel_case_at_and_appends_missing_mention_tokens() -> None:
    body = json.loads(messages.webhook_body(Message(text="发布完成", at_mobiles=("138",), at_user_ids=("u1",)), "k1"))
    assert body == {
        "msgtype": "text",
        "text": {"content": "发布完成\n@138 @u1"},
        "at": {"atMobiles": ["138"], "atUserIds": ["u1"], "isAtAll": False},
        "msgUuid": "k1",
    }


def test_webhook_markdown_body() -> None:
    body = json.loads(messages.webhook_body(Message(text="### hi @138", markdown=True, title="T", at_mobiles=("138",))))
    assert body["msgtype"] == "markdown"
    assert body["markdown"] == {"title": "T", "text": "### hi @138"}  # token already present: unchanged
    assert "msgUuid" not in body


def test_chat_send_body_is_the_documented_msg_form_with_snake_case_keys() -> None:
    body = json.loads(messages.chat_body("chat1", Message(text="hi")))
    assert body == {"chatid": "chat1", "msg": {"msgtype": "text", "text": {"content": "hi"}}}
    md = json.loads(messages.chat_body("chat1", Message(text="**b**", markdown=True, title="t")))
    assert md["msg"] == {"msgtype": "markdown", "markdown": {"title": "t", "text": "**b**"}}


def test_robot_body_msgparam_is_a_json_string() -> None:
    body = json.loads(messages.robot_body("rc", "cid1", Message(text="你好")))
    assert body["msgKey"] == "sampleText"
    assert isinstance(body["msgParam"], str) and json.loads(body["msgParam"]) == {"content": "你好"}
    assert body["openConversationId"] == "cid1" and body["robotCode"] == "rc"


@pytest.mark.parametrize("build", [lambda m: messages.chat_body("c", m), lambda m: messages.robot_body("r", "c", m)])
def test_mentions_are_refused_where_the_channel_has_no_at(build) -> None:
    with pytest.raises(BadInput, match="@ mentions are not supported"):
        build(Message(text="hi", at_all=True))


def test_sizes_are_checked_in_utf8_bytes_per_channel() -> None:
    # 6,700 Chinese characters = 20,100 bytes: over the webhook's 20,000-byte body limit
    with pytest.raises(MessageTooLarge, match="20000 bytes"):
        messages.webhook_body(Message(text="字" * 6700))
    messages.webhook_body(Message(text="字" * 6600))  # 19,800 bytes + JSON: fits
    with pytest.raises(MessageTooLarge, match="15000 bytes"):
        messages.robot_body("r", "c", Message(text="字" * 5001))
    with pytest.raises(MessageTooLarge, match="5000"):
        messages.chat_body("c", Message(text="a" * 5001))


def test_empty_message_and_markdown_without_title_are_bad_input() -> None:
    with pytest.raises(BadInput, match="empty"):
        messages.webhook_body(Message(text="  "))
    with pytest.raises(BadInput, match="title"):
        messages.chat_body("c", Message(text="x", markdown=True))
