"""The DingTalk client through both HTTP stacks, against the sandbox.

Every test here runs twice (the `stack` fixture in conftest.py): `httpx` — `HttpxHTTP` with the
sandbox's in-process transport, as the other client, service and CLI tests run it — and `stdlib` —
`StdlibHTTP` (`http.client`) against the sandbox on a real 127.0.0.1 socket, as cron runs it.
Assertions are on what the sandbox received (`stack.wire`) and on what the client returned or raised.

The same behaviours against hand-written answers, independent of the sandbox, are in
test_client_answers.py (httpx only).
"""

from __future__ import annotations

import socket
import time
from urllib.parse import quote

import pytest

from groupmsg.dingtalk.client import DingTalkClient
from groupmsg.dingtalk.messages import Message
from groupmsg.dingtalk.signing import signature
from groupmsg.errors import ConfigError, DingTalkError, TokenError, TransportError
from groupmsg.sandbox.config import (
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_CHAT_ID,
    DEMO_OPEN_CONVERSATION_ID,
    DEMO_ROBOT_CODE,
    DEMO_TEMPLATE,
    DEMO_WEBHOOK_PLAIN_TOKEN,
    DEMO_WEBHOOK_SECRET,
    DEMO_WEBHOOK_TOKEN,
)
from stack_support import TOKEN_PATH, Stack

ROBOT_PATH = "/v1.0/robot/groupMessages/send"
SIGNED_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
PLAIN_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"


def chat_send(client: DingTalkClient, text: str = "hi", chat_id: str = DEMO_CHAT_ID):
    return client.send_message(client.chat_send_request(chat_id, Message(text=text)))


def robot_send(client: DingTalkClient, text: str = "hi", cid: str = DEMO_OPEN_CONVERSATION_ID):
    return client.send_message(client.robot_send_request(cid, Message(text=text)))


def test_token_request_is_json_with_app_key_and_secret_and_is_cached(stack: Stack) -> None:
    client = stack.client()
    for _ in range(2):
        chat_send(client)
    token_req = stack.wire[0]
    assert token_req.method == "POST" and token_req.path == TOKEN_PATH
    assert token_req.headers["content-type"].startswith("application/json")
    assert token_req.json() == {"appKey": DEMO_APP_KEY, "appSecret": DEMO_APP_SECRET}
    assert len(stack.tokens_issued()) == 1
    assert len(stack.sandbox.messages()) == 2


def test_chat_send_puts_the_token_in_the_query_and_returns_the_message_id(stack: Stack) -> None:
    sent = chat_send(stack.client())
    (req,) = stack.sent("/chat/send")
    assert req.params["access_token"] == stack.tokens_issued()[0]
    assert req.json() == {"chatid": DEMO_CHAT_ID, "msg": {"msgtype": "text", "text": {"content": "hi"}}}
    (message,) = stack.sandbox.messages()
    assert sent.message_id == message["message_id"] == req.answer_json()["messageId"]


def test_http_200_with_errcode_is_a_failure_with_code_text_and_fix(stack: Stack) -> None:
    client = stack.client()
    with pytest.raises(DingTalkError) as err:
        chat_send(client, chat_id="chatX")
    assert stack.sent("/chat/send")[0].status == 200
    assert err.value.code == "34001"
    assert "34001" in err.value.message and "无效的chatid" in err.value.message
    assert "create-group" in (err.value.hint or "")
    assert not err.value.retryable


def test_the_robot_api_sends_with_the_token_in_a_header_and_returns_the_process_query_key(stack: Stack) -> None:
    sent = robot_send(stack.client(robot_code=DEMO_ROBOT_CODE))
    (req,) = stack.sent(ROBOT_PATH)
    assert req.headers["x-acs-dingtalk-access-token"] == stack.tokens_issued()[0]
    assert "access_token" not in req.params
    assert sent.message_id == req.answer_json()["processQueryKey"]
    assert [m["channel"] for m in stack.sandbox.messages()] == ["robot"]


def test_api_errors_are_read_from_status_and_code(stack: Stack) -> None:
    client = stack.client(robot_code=DEMO_ROBOT_CODE)
    with pytest.raises(DingTalkError) as err:
        robot_send(client, cid="cid1")
    assert err.value.code == "invalid.openConversationId"
    (req,) = stack.sent(ROBOT_PATH)
    assert req.status == 400
    assert req.headers["x-acs-dingtalk-access-token"] == stack.tokens_issued()[0]
    assert "access_token" not in req.params


@pytest.mark.parametrize(
    "path,send,refused",
    [
        ("/chat/send", chat_send, ("errcode", 40014)),
        (ROBOT_PATH, robot_send, ("code", "InvalidAuthentication")),
    ],
    ids=["oapi-40014", "api-InvalidAuthentication"],
)
def test_a_token_error_refreshes_the_token_once_and_retries(stack: Stack, path, send, refused) -> None:
    stack.sandbox.inject_fault("token_expired", times=1, path=path)
    sent = send(stack.client(robot_code=DEMO_ROBOT_CODE))
    assert sent.message_id
    first, second = stack.sent(path)
    key, value = refused
    assert first.answer_json()[key] == value and second.status == 200

    def token(w):
        return w.params.get("access_token") or w.headers.get("x-acs-dingtalk-access-token")

    issued = stack.tokens_issued()
    assert [token(first), token(second)] == issued and len(set(issued)) == 2
    assert len(stack.sandbox.messages()) == 1


def test_api_invalid_authentication_refreshes_once_then_gives_up(stack: Stack) -> None:
    stack.sandbox.inject_fault("token_expired", times=2, path=ROBOT_PATH)
    client = stack.client(robot_code=DEMO_ROBOT_CODE)
    with pytest.raises(TokenError):
        robot_send(client)
    assert len(stack.tokens_issued()) == 2
    assert len(stack.sent(ROBOT_PATH)) == 2
    assert stack.sandbox.messages() == []


def test_webhook_is_signed_per_request_and_needs_no_app_token(stack: Stack) -> None:
    client = stack.client(app_key=None, app_secret=None)
    for text in ("one", "two"):
        client.send_message(client.webhook_request(SIGNED_HOOK, Message(text=text), secret=DEMO_WEBHOOK_SECRET))
    assert stack.sent(TOKEN_PATH) == []
    for req in stack.sent("/robot/send"):
        assert req.params["access_token"] == DEMO_WEBHOOK_TOKEN
        assert req.params["sign"] == signature(DEMO_WEBHOOK_SECRET, int(req.params["timestamp"]))
        raw_sign = req.raw_query.split("sign=")[1]
        assert raw_sign == quote(req.params["sign"], safe="")  # URL-encoded exactly once
    assert [m["content"] for m in stack.sandbox.messages()] == ["one", "two"]  # the sandbox checked the signature


def test_webhook_errors_in_a_200_answer_are_failures(stack: Stack) -> None:
    client = stack.client(app_key=None, app_secret=None)
    with pytest.raises(DingTalkError) as err:
        client.send_message(client.webhook_request(SIGNED_HOOK, Message(text="hi"), secret="SECa"))
    assert stack.sent("/robot/send")[0].status == 200
    assert err.value.code == "310000" and "secret" in (err.value.hint or "")
    assert DEMO_WEBHOOK_TOKEN not in str(err.value) and DEMO_WEBHOOK_TOKEN not in (err.value.hint or "")


def test_an_html_error_page_is_a_transport_error_not_a_crash(stack: Stack) -> None:
    stack.sandbox.inject_fault("http500", path="/robot/send")  # the oapi gateway's HTML 500 page
    client = stack.client(app_key=None, app_secret=None)
    with pytest.raises(TransportError, match="without a JSON body") as err:
        client.send_message(client.webhook_request(PLAIN_HOOK, Message(text="hi")))
    assert err.value.code == "http-500" and err.value.retryable and err.value.ambiguous
    assert DEMO_WEBHOOK_PLAIN_TOKEN not in str(err.value)


@pytest.mark.parametrize(
    "path,send,fault,code,retryable,ambiguous",
    [
        ("/chat/send", chat_send, "busy", "-1", True, False),
        ("/chat/send", chat_send, "qps", "90018", True, False),
        (ROBOT_PATH, robot_send, "busy", "system.busy", True, False),  # HTTP 429
        (ROBOT_PATH, robot_send, "qps", "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi", True, False),  # 403
        (ROBOT_PATH, robot_send, "http500", "system.error", True, True),  # 500: may have been processed
    ],
    ids=["oapi-busy", "oapi-qps", "api-429", "api-403", "api-500"],
)
def test_refusals_carry_dingtalks_code_and_whether_a_retry_is_safe(
    stack: Stack, path, send, fault, code, retryable, ambiguous
) -> None:
    stack.sandbox.inject_fault(fault, path=path)
    with pytest.raises(DingTalkError) as err:
        send(stack.client(robot_code=DEMO_ROBOT_CODE))
    assert (err.value.code, err.value.retryable, err.value.ambiguous) == (code, retryable, ambiguous)
    assert not isinstance(err.value, TokenError)
    assert stack.sandbox.messages() == []


def test_a_lost_answer_is_ambiguous_and_the_message_was_delivered(stack: Stack) -> None:
    stack.sandbox.inject_fault("lost_response", path="/chat/send")
    with pytest.raises(TransportError) as err:
        chat_send(stack.client())
    assert err.value.code == "http-500" and err.value.ambiguous
    assert len(stack.sandbox.messages()) == 1


def test_no_answer_is_a_retryable_ambiguous_timeout_and_the_next_request_goes_through(stack: Stack) -> None:
    # The served sandbox holds the request for timeout_s, then hangs up; in-process it is a ReadTimeout.
    stack.sandbox.configure(faults={"timeout_s": 2.0})
    stack.sandbox.inject_fault("timeout", path="/robot/send")
    client = stack.client(app_key=None, app_secret=None, timeout=0.5)
    with pytest.raises(TransportError) as err:
        client.send_message(client.webhook_request(PLAIN_HOOK, Message(text="lost")))
    assert err.value.code == "timeout" and err.value.retryable and err.value.ambiguous
    assert DEMO_WEBHOOK_PLAIN_TOKEN not in str(err.value)
    assert stack.sent("/robot/send")[0].status is None
    client.send_message(client.webhook_request(PLAIN_HOOK, Message(text="next")))
    assert [m["content"] for m in stack.sandbox.messages()] == ["next"]


def test_a_wrong_app_secret_is_named_but_never_shown(stack: Stack) -> None:
    client = stack.client(app_secret="wrong-app-secret-value")
    with pytest.raises(DingTalkError) as err:
        chat_send(client)
    assert err.value.code == "invalidClientIdOrSecret" and "DINGTALK_APP_SECRET" in (err.value.hint or "")
    assert "wrong-app-secret-value" not in str(err.value) + (err.value.hint or "")
    assert stack.sent("/chat/send") == []


def test_missing_credentials_are_a_config_error(stack: Stack) -> None:
    client = stack.client(app_key=None, app_secret=None)
    with pytest.raises(ConfigError, match="credentials") as err:
        chat_send(client)
    assert "DINGTALK_APP_KEY" in (err.value.hint or "")
    assert stack.wire == []


def test_create_group_uses_the_v1_api_or_the_scene_group_api_with_a_template(stack: Stack) -> None:
    client = stack.client()
    chat_a = client.create_group("项目A", "u1", ["u1", "u2"])
    (req,) = stack.sent("/v1.0/im/group/create")
    assert req.json() == {"name": "项目A", "owner": "u1", "useridlist": ["u1", "u2"]}
    chat_b = client.create_group("项目B", "u1", ["u1"], template_id=DEMO_TEMPLATE, uuid="k")
    (req,) = stack.sent("/v1.0/im/sceneGroup/create")
    assert req.json() == {
        "title": "项目B", "template_id": DEMO_TEMPLATE, "owner_user_id": "u1", "user_ids": ["u1"], "uuid": "k"
    }
    made = {c["name"]: (c["chat_id"], c["open_conversation_id"]) for c in stack.sandbox.chats()}
    assert (chat_a, chat_b) == (made["项目A"], made["项目B"])


def test_a_probe_returns_the_answer_uninterpreted_with_lower_case_header_names(stack: Stack) -> None:
    client = stack.client()
    resp = client.probe(client.oapi_url + "/")  # a HEAD: doctor reads the Date header of its answer
    assert resp.status == 200 and stack.wire[-1].method == "HEAD"  # the sandbox's "/" is its inbox; nothing is asked of an API
    assert resp.headers["content-type"].startswith("text/html")
    assert all(name == name.lower() for name in resp.headers)


@pytest.mark.parametrize("stack", ["stdlib"], indirect=True)
def test_one_connection_carries_the_token_request_and_the_sends(stack: Stack, monkeypatch) -> None:
    """stdlib only: the in-process transport has no connections to reuse (and httpx's pool is httpx's)."""
    opened = []
    create_connection = socket.create_connection

    def counting(*args, **kw):
        opened.append(args[0])
        return create_connection(*args, **kw)

    monkeypatch.setattr(socket, "create_connection", counting)
    client = stack.client(robot_code=DEMO_ROBOT_CODE)
    chat_send(client, "one")
    robot_send(client, "two")
    chat_send(client, "three")
    assert len(stack.wire) == 4 and len(opened) == 1


@pytest.mark.parametrize("stack", ["stdlib"], indirect=True)
def test_a_connection_the_server_closed_while_idle_is_replaced_before_a_send(stack: Stack, monkeypatch) -> None:
    """stdlib only: the in-process transport has no connections, and httpx checks an idle one before
    reusing it. chat/send carries no idempotency key, so a send written into a dead connection
    would be reported as possibly delivered and never repeated, though DingTalk never saw it."""
    from groupmsg.sandbox import server

    monkeypatch.setattr(server, "IDLE_TIMEOUT_S", 0.1)  # DingTalk's servers also close idle connections
    client = stack.client()
    chat_send(client, "one")
    time.sleep(0.5)
    chat_send(client, "two")
    assert [m["content"] for m in stack.sandbox.messages()] == ["one", "two"]


def test_webhooks_registered_for_dingtalk_follow_the_oapi_url_setting() -> None:
    """No request: the same on both stacks."""
    client = DingTalkClient(oapi_url="http://127.0.0.1:9")
    assert client.rebase_webhook("https://oapi.dingtalk.com/robot/send?access_token=t") == (
        "http://127.0.0.1:9/robot/send?access_token=t"
    )
    assert client.rebase_webhook("https://other.example/robot/send?access_token=t").startswith("https://other")
