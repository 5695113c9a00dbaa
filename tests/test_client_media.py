"""Media upload (docs/dingtalk-api.md §4.3) and the message model's own rules, below the command line.

The upload runs through both HTTP stacks (the `stack` fixture): a multipart body is the one request
groupmsg sends that is not JSON.
"""

from __future__ import annotations

import json

import pytest

from groupmsg.dingtalk import messages
from groupmsg.dingtalk.messages import Button, FeedLink, Message, parse_button, parse_feed_link
from groupmsg.errors import BadInput, DingTalkError
from kinds_support import PNG
from stack_support import Stack


def test_an_upload_is_multipart_with_the_token_in_the_query(stack: Stack) -> None:
    client = stack.client()
    sent = client.send_message(client.upload_media_request("图表 1.png", PNG, content_type="image/png"))
    assert sent.media_id and sent.media_id.startswith("@") and sent.message_id is None
    [wire] = stack.sent("/media/upload")
    assert wire.method == "POST" and wire.params["type"] == "image" and wire.params["access_token"]
    content_type = wire.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=groupmsg-")
    boundary = content_type.split("boundary=", 1)[1]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="media"; filename="图表 1.png"\r\nContent-Type: image/png\r\n\r\n'
    assert wire.body == head.encode() + PNG + f"\r\n--{boundary}--\r\n".encode()


def test_an_upload_dingtalk_refuses_is_a_delivery_error(stack: Stack) -> None:
    client = stack.client()
    with pytest.raises(DingTalkError, match="DingTalk error 40005"):
        client.send_message(client.upload_media_request("a.png", b"not an image", content_type="image/png"))


def test_a_file_name_cannot_break_the_multipart_header() -> None:
    body, _ = messages.multipart("media", 'a"\r\nX: y.png', b"data", "image/png")
    assert b'filename="a___X: y.png"' in body and body.count(b"\r\n\r\n") == 1


def test_run_documents_written_before_kinds_are_still_read() -> None:
    old = {"text": "**x**", "markdown": True, "title": "T", "at_mobiles": [], "at_user_ids": [], "at_all": False}
    msg = Message.from_doc(old)
    assert (msg.kind, msg.markdown, msg.title) == ("markdown", True, "T")
    card = Message(kind="action_card", title="T", text="x", buttons=(Button("a", "u"), Button("b", "v")), horizontal=True)
    assert Message.from_doc(json.loads(json.dumps(card.to_doc()))) == card
    feed = Message(kind="feed_card", links=(FeedLink("a", "u", "p"),))
    assert Message.from_doc(feed.to_doc()) == feed


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("周报=https://e.com/r=https://e.com/r.png", FeedLink("周报", "https://e.com/r", "https://e.com/r.png")),
        ("周报=https://e.com/r?a=1&b=2=http://e.com/p.png", FeedLink("周报", "https://e.com/r?a=1&b=2", "http://e.com/p.png")),
        ("周报=https://e.com/r?a=1", FeedLink("周报", "https://e.com/r?a=1")),
        (" 周报 = https://e.com/r ", FeedLink("周报", "https://e.com/r")),
        ("周报=dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fe.com&pc_slide=false=https://e.com/p.png",
         FeedLink("周报", "dingtalk://dingtalkclient/page/link?url=https%3A%2F%2Fe.com&pc_slide=false", "https://e.com/p.png")),
    ],
)
def test_feed_links_split_at_the_first_equals_and_the_last_picture_url(text, expected) -> None:
    assert parse_feed_link(text) == expected


def test_buttons_split_at_the_first_equals() -> None:
    assert parse_button("查看=https://e.com/a?x=1&y=2") == Button("查看", "https://e.com/a?x=1&y=2")
    for bad in ("查看", "=https://e.com", "查看=", " = "):
        with pytest.raises(BadInput, match="is not TITLE=URL"):
            parse_button(bad)


def test_the_layout_and_visible_text_of_a_card() -> None:
    one = Message(kind="action_card", title="T", text="x", buttons=(Button("看", "u"),), horizontal=True)
    assert one.layout == "single"  # --horizontal means nothing with one button
    two = Message(kind="action_card", title="T", text="x", buttons=(Button("a", "u"), Button("b", "v")))
    assert two.layout == "vertical" and two.visible_text() == "T\nx\na\nb"
    assert Message(text="hi").layout is None
