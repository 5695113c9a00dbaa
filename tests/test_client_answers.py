"""The DingTalk client against hand-written DingTalk answers (pytest-httpx), per the wire
contract in docs/dingtalk-api.md — independent of the sandbox, so the two cannot hide each other's mistakes.

These run on the httpx stack only: pytest-httpx answers in place of `httpx.HTTPTransport`, which
the client uses when it is given one. `test_client.py` runs the same behaviours through both
stacks against the sandbox; what stays here is what the sandbox does not say (42001, 40001, 33001,
an HTML page with HTTP 200, a connection error that quotes the URL) and the wire details checked
against answers nobody but the reference wrote.

Every response registered here must be requested, and every request must match one (pytest-httpx's
defaults): a test also fails when the client asks for one token too many, or one too few.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from pytest_httpx import HTTPXMock

from groupmsg.dingtalk.client import DingTalkClient, MemoryTokenCache
from groupmsg.dingtalk.messages import Message
from groupmsg.errors import ConfigError, DingTalkError, TokenError, TransportError

OAPI = "https://oapi.dingtalk.com"
API = "https://api.dingtalk.com"
TOKEN_URL = f"{API}/v1.0/oauth2/accessToken"
CHAT_SEND = f"{OAPI}/chat/send"
ROBOT_SEND = f"{API}/v1.0/robot/groupMessages/send"


def at(url: str) -> re.Pattern[str]:
    """`url` with any query string (pytest-httpx matches a plain URL query included)."""
    return re.compile(re.escape(url) + r"(?:\?|$)")


def issue_tokens(httpx_mock: HTTPXMock, *tokens: str) -> None:
    """DingTalk's token endpoint answers once per token, in order."""
    for token in tokens:
        httpx_mock.add_response(method="POST", url=TOKEN_URL, json={"accessToken": token, "expireIn": 7200})


@pytest.fixture
def client(httpx_mock: HTTPXMock):
    """DingTalkClients on the httpx stack (with app credentials unless app=False), answered by `httpx_mock`."""
    made: list[DingTalkClient] = []

    def make(*, app: bool = True, **kw) -> DingTalkClient:
        if app:
            kw.setdefault("app_key", "key")
            kw.setdefault("app_secret", "the-app-secret")
        kw.setdefault("tokens", MemoryTokenCache())
        # pytest-httpx replaces HTTPTransport.handle_request: nothing leaves the process.
        made.append(DingTalkClient(transport=httpx.HTTPTransport(), **kw))
        return made[-1]

    yield make
    for c in made:
        c.close()


def test_token_request_is_json_with_app_key_and_secret_and_is_cached(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1")
    httpx_mock.add_response(url=at(CHAT_SEND), json={"errcode": 0, "errmsg": "ok", "messageId": "m"})
    httpx_mock.add_response(url=at(CHAT_SEND), json={"errcode": 0, "errmsg": "ok", "messageId": "m"})
    c = client()
    for _ in range(2):
        c.send_message(c.chat_send_request("chat1", Message(text="hi")))
    token_req = httpx_mock.get_requests()[0]
    assert token_req.method == "POST" and token_req.url.path == "/v1.0/oauth2/accessToken"
    assert token_req.headers["content-type"].startswith("application/json")
    assert json.loads(token_req.content) == {"appKey": "key", "appSecret": "the-app-secret"}
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 1


def test_chat_send_puts_the_token_in_the_query_and_returns_the_message_id(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1")
    httpx_mock.add_response(url=at(CHAT_SEND), json={"errcode": 0, "errmsg": "ok", "messageId": "msg42"})
    sent = client().send_message(client().chat_send_request("chat1", Message(text="hi")))
    req = httpx_mock.get_requests()[-1]
    assert req.url.params["access_token"] == "tok1"
    assert json.loads(req.content) == {"chatid": "chat1", "msg": {"msgtype": "text", "text": {"content": "hi"}}}
    assert sent.message_id == "msg42"


def test_http_200_with_errcode_is_a_failure_with_code_text_and_fix(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1")
    httpx_mock.add_response(url=at(CHAT_SEND), json={"errcode": 34001, "errmsg": "无效的chatid"})
    c = client()
    with pytest.raises(DingTalkError) as err:
        c.send_message(c.chat_send_request("chatX", Message(text="hi")))
    assert err.value.code == "34001"
    assert "34001" in err.value.message and "无效的chatid" in err.value.message
    assert "create-group" in (err.value.hint or "")
    assert not err.value.retryable


def test_api_errors_are_read_from_status_and_code(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1")
    httpx_mock.add_response(
        url=ROBOT_SEND,
        status_code=400,
        json={"code": "invalid.openConversationId", "message": "bad cid", "requestid": "r"},
    )
    c = client(robot_code="rc")
    with pytest.raises(DingTalkError) as err:
        c.send_message(c.robot_send_request("cid1", Message(text="hi")))
    assert err.value.code == "invalid.openConversationId"
    req = httpx_mock.get_requests()[-1]
    assert req.headers["x-acs-dingtalk-access-token"] == "tok1"
    assert "access_token" not in req.url.params


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 40014, "errmsg": "不合法的access_token"},
        {"errcode": 42001, "errmsg": "access_token超时"},
        {"errcode": 40001, "errmsg": "token invalid"},
        {"errcode": 33001, "errmsg": "无效的企业ID"},
    ],
)
def test_a_token_error_refreshes_the_token_once_and_retries(httpx_mock: HTTPXMock, client, answer) -> None:
    # DingTalk re-issues the same token while it is valid; a rejected one is replaced.
    issue_tokens(httpx_mock, "tok1", "tok2")
    httpx_mock.add_response(url=at(CHAT_SEND), json=answer)
    httpx_mock.add_response(url=at(CHAT_SEND), json={"errcode": 0, "errmsg": "ok", "messageId": "m"})
    c = client()
    sent = c.send_message(c.chat_send_request("chat1", Message(text="hi")))
    assert sent.message_id == "m"
    sends = httpx_mock.get_requests(url=at(CHAT_SEND))
    assert [r.url.params["access_token"] for r in sends] == ["tok1", "tok2"]


def test_api_invalid_authentication_refreshes_once_then_gives_up(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1", "tok2")
    bad = {"code": "InvalidAuthentication", "message": "不合法的access_token", "requestid": "r"}
    httpx_mock.add_response(url=ROBOT_SEND, status_code=400, json=bad)
    httpx_mock.add_response(url=ROBOT_SEND, status_code=400, json=bad)
    c = client(robot_code="rc")
    with pytest.raises(TokenError):
        c.send_message(c.robot_send_request("cid1", Message(text="hi")))
    assert len(httpx_mock.get_requests(url=TOKEN_URL)) == 2
    assert len(httpx_mock.get_requests(url=ROBOT_SEND)) == 2


def test_webhook_is_signed_per_request_and_needs_no_app_token(httpx_mock: HTTPXMock, client) -> None:
    httpx_mock.add_response(url=at(f"{OAPI}/robot/send"), json={"errcode": 0, "errmsg": "ok"})
    c = client(app=False)
    url = "https://oapi.dingtalk.com/robot/send?access_token=hook-token"
    c.send_message(c.webhook_request(url, Message(text="hi"), secret="SECabc"))
    (req,) = httpx_mock.get_requests()  # no token was asked for
    assert req.url.params["access_token"] == "hook-token"
    from groupmsg.dingtalk.signing import signature

    assert req.url.params["sign"] == signature("SECabc", int(req.url.params["timestamp"]))
    from urllib.parse import quote

    raw_sign = req.url.query.decode().split("sign=")[1]
    assert raw_sign == quote(req.url.params["sign"], safe="")  # URL-encoded exactly once


def test_webhook_errors_in_a_200_answer_are_failures(httpx_mock: HTTPXMock, client) -> None:
    httpx_mock.add_response(url=at("http://x/robot/send"), json={"errcode": 310000, "errmsg": "sign not match"})
    c = client(app=False)
    with pytest.raises(DingTalkError) as err:
        c.send_message(c.webhook_request("http://x/robot/send?access_token=t", Message(text="hi"), secret="SECa"))
    assert err.value.code == "310000" and "secret" in (err.value.hint or "")


def test_a_non_json_answer_is_a_transport_error_not_a_crash(httpx_mock: HTTPXMock, client) -> None:
    httpx_mock.add_response(url=at("http://x/robot/send"), text="<html>banned</html>")
    c = client(app=False)
    with pytest.raises(TransportError, match="without a JSON body"):
        c.send_message(c.webhook_request("http://x/robot/send?access_token=t", Message(text="hi")))


def test_network_errors_never_show_the_webhook_token(httpx_mock: HTTPXMock, client) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for {request.url}")

    httpx_mock.add_callback(refuse)
    c = client(app=False)
    with pytest.raises(TransportError) as err:
        c.send_message(c.webhook_request("http://x/robot/send?access_token=secret-hook-token", Message(text="hi")))
    assert "secret-hook-token" not in str(err.value) and err.value.retryable


def test_missing_credentials_are_a_config_error(client) -> None:
    c = client(app=False)
    with pytest.raises(ConfigError, match="credentials") as err:
        c.send_message(c.chat_send_request("c", Message(text="hi")))
    assert "DINGTALK_APP_KEY" in (err.value.hint or "")
    # and nothing was sent: pytest-httpx fails the test on any request it was not told to expect


def test_create_group_uses_the_v1_api_or_the_scene_group_api_with_a_template(httpx_mock: HTTPXMock, client) -> None:
    issue_tokens(httpx_mock, "tok1")
    httpx_mock.add_response(
        url=f"{API}/v1.0/im/group/create", json={"chatid": "chatA", "openConversationId": "cidA", "conversationTag": 2}
    )
    httpx_mock.add_response(
        url=f"{API}/v1.0/im/sceneGroup/create", json={"chat_id": "chatB", "open_conversation_id": "cidB"}
    )
    c = client()
    assert c.create_group("项目A", "u1", ["u1", "u2"]) == ("chatA", "cidA")
    assert json.loads(httpx_mock.get_requests()[-1].content) == {"name": "项目A", "owner": "u1", "useridlist": ["u1", "u2"]}
    assert c.create_group("项目B", "u1", ["u1"], template_id="tpl", uuid="k") == ("chatB", "cidB")
    assert json.loads(httpx_mock.get_requests()[-1].content) == {
        "title": "项目B", "template_id": "tpl", "owner_user_id": "u1", "user_ids": ["u1"], "uuid": "k"
    }

