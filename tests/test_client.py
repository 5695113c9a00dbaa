"""The DingTalk client against hand-written DingTalk answers (httpx.MockTransport), per the
wire contract in docs/dingtalk-api.md — independent of the sandbox, so the two cannot hide each other's mistakes."""

from __future__ import annotations

import json

import httpx
import pytest

from groupmsg.dingtalk.client import DingTalkClient, MemoryTokenCache
from groupmsg.dingtalk.messages import Message
from groupmsg.errors import ConfigError, DingTalkError, TokenError, TransportError


class FakeDingTalk:
    """Answers scripted per path; records every request."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.answers: dict[str, list[httpx.Response]] = {}

    def script(self, path: str, *responses: httpx.Response) -> None:
        self.answers.setdefault(path, []).extend(responses)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/v1.0/oauth2/accessToken" and not self.answers.get(request.url.path):
            self.tokens_issued += 1
            return httpx.Response(200, json={"accessToken": f"tok{self.tokens_issued}", "expireIn": 7200})
        queue = self.answers.get(request.url.path)
        if not queue:
            return httpx.Response(404, json={"code": "notFound", "message": "no script"})
        return queue.pop(0)

    def client(self, **kw) -> DingTalkClient:
        kw.setdefault("app_key", "key")
        kw.setdefault("app_secret", "the-app-secret")
        return DingTalkClient(transport=httpx.MockTransport(self), tokens=MemoryTokenCache(), **kw)


@pytest.fixture
def dt() -> FakeDingTalk:
    return FakeDingTalk()


def test_token_request_is_json_with_app_key_and_secret_and_is_cached(dt: FakeDingTalk) -> None:
    dt.script("/chat/send", *[httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "messageId": "m"})] * 2)
    client = dt.client()
    for _ in range(2):
        client.send_message(client.chat_send_request("chat1", Message(text="hi")))
    token_req = dt.requests[0]
    assert token_req.method == "POST" and token_req.url.path == "/v1.0/oauth2/accessToken"
    assert token_req.headers["content-type"].startswith("application/json")
    assert json.loads(token_req.content) == {"appKey": "key", "appSecret": "the-app-secret"}
    assert dt.tokens_issued == 1


def test_chat_send_puts_the_token_in_the_query_and_returns_the_message_id(dt: FakeDingTalk) -> None:
    dt.script("/chat/send", httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "messageId": "msg42"}))
    sent = dt.client().send_message(dt.client().chat_send_request("chat1", Message(text="hi")))
    req = dt.requests[-1]
    assert req.url.params["access_token"] == "tok1"
    assert json.loads(req.content) == {"chatid": "chat1", "msg": {"msgtype": "text", "text": {"content": "hi"}}}
    assert sent.message_id == "msg42"


def test_http_200_with_errcode_is_a_failure_with_code_text_and_fix(dt: FakeDingTalk) -> None:
    dt.script("/chat/send", httpx.Response(200, json={"errcode": 34001, "errmsg": "无效的chatid"}))
    client = dt.client()
    with pytest.raises(DingTalkError) as err:
        client.send_message(client.chat_send_request("chatX", Message(text="hi")))
    assert err.value.code == "34001"
    assert "34001" in err.value.message and "无效的chatid" in err.value.message
    assert "create-group" in (err.value.hint or "")
    assert not err.value.retryable


def test_api_errors_are_read_from_status_and_code(dt: FakeDingTalk) -> None:
    dt.script(
        "/v1.0/robot/groupMessages/send",
        httpx.Response(400, json={"code": "invalid.openConversationId", "message": "bad cid", "requestid": "r"}),
    )
    client = dt.client(robot_code="rc")
    with pytest.raises(DingTalkError) as err:
        client.send_message(client.robot_send_request("cid1", Message(text="hi")))
    assert err.value.code == "invalid.openConversationId"
    req = dt.requests[-1]
    assert req.headers["x-acs-dingtalk-access-token"] == "tok1"
    assert "access_token" not in req.url.params


@pytest.mark.parametrize(
    "path,answer",
    [
        ("/chat/send", httpx.Response(200, json={"errcode": 40014, "errmsg": "不合法的access_token"})),
        ("/chat/send", httpx.Response(200, json={"errcode": 42001, "errmsg": "access_token超时"})),
        ("/chat/send", httpx.Response(200, json={"errcode": 40001, "errmsg": "token invalid"})),
        ("/chat/send", httpx.Response(200, json={"errcode": 33001, "errmsg": "无效的企业ID"})),
    ],
)
def test_a_token_error_refreshes_the_token_once_and_retries(dt: FakeDingTalk, path, answer) -> None:
    # DingTalk re-issues the same token while it is valid; a rejected one is replaced.
    dt.script(path, answer, httpx.Response(200, json={"errcode": 0, "errmsg": "ok", "messageId": "m"}))
    client = dt.client()
    sent = client.send_message(client.chat_send_request("chat1", Message(text="hi")))
    assert sent.message_id == "m"
    sends = [r for r in dt.requests if r.url.path == path]
    assert [r.url.params["access_token"] for r in sends] == ["tok1", "tok2"]


def test_api_invalid_authentication_refreshes_once_then_gives_up(dt: FakeDingTalk) -> None:
    bad = httpx.Response(400, json={"code": "InvalidAuthentication", "message": "不合法的access_token", "requestid": "r"})
    dt.script("/v1.0/robot/groupMessages/send", bad, bad)
    client = dt.client(robot_code="rc")
    with pytest.raises(TokenError):
        client.send_message(client.robot_send_request("cid1", Message(text="hi")))
    assert dt.tokens_issued == 2
    assert len([r for r in dt.requests if "groupMessages" in r.url.path]) == 2


def test_webhook_is_signed_per_request_and_needs_no_app_token(dt: FakeDingTalk) -> None:
    dt.script("/robot/send", httpx.Response(200, json={"errcode": 0, "errmsg": "ok"}))
    client = DingTalkClient(transport=httpx.MockTransport(dt))
    url = "https://oapi.dingtalk.com/robot/send?access_token=hook-token"
    client.send_message(client.webhook_request(url, Message(text="hi"), secret="SECabc"))
    req = dt.requests[-1]
    assert dt.tokens_issued == 0
    assert req.url.params["access_token"] == "hook-token"
    from groupmsg.dingtalk.signing import signature

    assert req.url.params["sign"] == signature("SECabc", int(req.url.params["timestamp"]))
    from urllib.parse import quote

    raw_sign = req.url.query.decode().split("sign=")[1]
    assert raw_sign == quote(req.url.params["sign"], safe="")  # URL-encoded exactly once


def test_webhook_errors_in_a_200_answer_are_failures(dt: FakeDingTalk) -> None:
    dt.script("/robot/send", httpx.Response(200, json={"errcode": 310000, "errmsg": "sign not match"}))
    client = DingTalkClient(transport=httpx.MockTransport(dt))
    with pytest.raises(DingTalkError) as err:
        client.send_message(client.webhook_request("http://x/robot/send?access_token=t", Message(text="hi"), secret="SECa"))
    assert err.value.code == "310000" and "secret" in (err.value.hint or "")


def test_a_non_json_answer_is_a_transport_error_not_a_crash(dt: FakeDingTalk) -> None:
    dt.script("/robot/send", httpx.Response(200, text="<html>banned</html>"))
    client = DingTalkClient(transport=httpx.MockTransport(dt))
    with pytest.raises(TransportError, match="without a JSON body"):
        client.send_message(client.webhook_request("http://x/robot/send?access_token=t", Message(text="hi")))


def test_network_errors_never_show_the_webhook_token() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"connection refused for {request.url}")

    client = DingTalkClient(transport=httpx.MockTransport(refuse))
    with pytest.raises(TransportError) as err:
        client.send_message(client.webhook_request("http://x/robot/send?access_token=secret-hook-token", Message(text="hi")))
    assert "secret-hook-token" not in str(err.value) and err.value.retryable


def test_missing_credentials_are_a_config_error(dt: FakeDingTalk) -> None:
    client = DingTalkClient(transport=httpx.MockTransport(dt))
    with pytest.raises(ConfigError, match="credentials") as err:
        client.send_message(client.chat_send_request("c", Message(text="hi")))
    assert "DINGTALK_APP_KEY" in (err.value.hint or "")


def test_create_group_uses_the_v1_api_or_the_scene_group_api_with_a_template(dt: FakeDingTalk) -> None:
    dt.script("/v1.0/im/group/create", httpx.Response(200, json={"chatid": "chatA", "openConversationId": "cidA", "conversationTag": 2}))
    dt.script("/v1.0/im/sceneGroup/create", httpx.Response(200, json={"chat_id": "chatB", "open_conversation_id": "cidB"}))
    client = dt.client()
    assert client.create_group("项目A", "u1", ["u1", "u2"]) == ("chatA", "cidA")
    assert json.loads(dt.requests[-1].content) == {"name": "项目A", "owner": "u1", "useridlist": ["u1", "u2"]}
    assert client.create_group("项目B", "u1", ["u1"], template_id="tpl", uuid="k") == ("chatB", "cidB")
    assert json.loads(dt.requests[-1].content) == {
        "title": "项目B", "template_id": "tpl", "owner_user_id": "u1", "user_ids": ["u1"], "uuid": "k"
    }


def test_webhooks_registered_for_dingtalk_follow_the_oapi_url_setting() -> None:
    client = DingTalkClient(oapi_url="http://127.0.0.1:9")
    assert client.rebase_webhook("https://oapi.dingtalk.com/robot/send?access_token=t") == (
        "http://127.0.0.1:9/robot/send?access_token=t"
    )
    assert client.rebase_webhook("https://other.example/robot/send?access_token=t").startswith("https://other")
