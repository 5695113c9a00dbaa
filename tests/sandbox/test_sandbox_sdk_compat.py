"""The official DingTalk SDK (alibabacloud-dingtalk), pointed at the sandbox, works.

This is the check that the sandbox speaks DingTalk's wire format rather than
whatever our own client happens to send: a real client library, written by
DingTalk, must be able to get a token, create a group and send a robot
message, and must see the sandbox's error codes as its own TeaException.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("alibabacloud_dingtalk")

from alibabacloud_dingtalk.im_1_0 import models as im_models
from alibabacloud_dingtalk.im_1_0.client import Client as ImClient
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.robot_1_0 import models as robot_models
from alibabacloud_dingtalk.robot_1_0.client import Client as RobotClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util import models as util_models
from Tea.exceptions import TeaException

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread


@pytest.fixture(scope="module")
def served():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        yield sb, url.removeprefix("http://")


def _config(endpoint: str) -> open_api_models.Config:
    return open_api_models.Config(protocol="http", region_id="central", endpoint=endpoint)


def _runtime() -> util_models.RuntimeOptions:
    return util_models.RuntimeOptions(autoretry=False, read_timeout=5000, connect_timeout=2000)


def _token(endpoint: str) -> str:
    resp = OAuthClient(_config(endpoint)).get_access_token(
        oauth_models.GetAccessTokenRequest(app_key="demo-app-key", app_secret="demo-app-secret")
    )
    assert resp.status_code == 200
    assert resp.body.expire_in == 7200
    assert resp.headers["x-acs-request-id"]
    return resp.body.access_token


def test_sdk_token_group_and_robot_message(served):
    sb, endpoint = served
    token = _token(endpoint)
    assert token == _token(endpoint)  # same token while valid

    im = ImClient(_config(endpoint))
    group = im.create_group_with_options(
        im_models.CreateGroupRequest(name="SDK群", owner="u1", useridlist=["u1", "u2"]),
        im_models.CreateGroupHeaders(x_acs_dingtalk_access_token=token),
        _runtime(),
    )
    assert group.status_code == 200
    assert group.body.chatid.startswith("chat") and group.body.open_conversation_id.startswith("cid")
    assert group.body.conversation_tag == 2

    converted = im.chat_id_to_open_conversation_id_with_options(
        group.body.chatid,
        im_models.ChatIdToOpenConversationIdHeaders(x_acs_dingtalk_access_token=token),
        _runtime(),
    )
    assert converted.body.open_conversation_id == group.body.open_conversation_id

    scene = im.create_scene_group_with_options(
        im_models.CreateSceneGroupRequest(title="SDK场景群", template_id="demo-template", owner_user_id="u1", user_ids=["u2"], uuid="sdk-1"),
        im_models.CreateSceneGroupHeaders(x_acs_dingtalk_access_token=token),
        _runtime(),
    )
    assert scene.body.open_conversation_id.startswith("cid") and scene.body.chat_id.startswith("chat")

    robot = RobotClient(_config(endpoint))
    sent = robot.org_group_send_with_options(
        robot_models.OrgGroupSendRequest(
            msg_key="sampleMarkdown",
            msg_param=json.dumps({"title": "周报", "text": "**SDK** 发送"}, ensure_ascii=False),
            open_conversation_id=group.body.open_conversation_id,
            robot_code="demo-robot",
        ),
        robot_models.OrgGroupSendHeaders(x_acs_dingtalk_access_token=token),
        _runtime(),
    )
    assert sent.status_code == 200 and sent.body.process_query_key
    msg = sb.messages()[-1]
    assert msg["channel"] == "robot" and msg["content"] == "**SDK** 发送" and msg["title"] == "周报"
    assert msg["process_query_key"] == sent.body.process_query_key


def test_sdk_sees_sandbox_error_codes(served):
    _, endpoint = served
    robot = RobotClient(_config(endpoint))
    request = robot_models.OrgGroupSendRequest(
        msg_key="sampleText", msg_param='{"content":"x"}', open_conversation_id="cidX==", robot_code="demo-robot"
    )
    with pytest.raises(TeaException) as info:
        robot.org_group_send_with_options(request, robot_models.OrgGroupSendHeaders(x_acs_dingtalk_access_token="bad-token"), _runtime())
    err = info.value
    assert err.code == "InvalidAuthentication"
    assert err.statusCode == 400
    assert "不合法的access_token" in err.message
    assert err.data["requestid"]

    with pytest.raises(TeaException) as info:
        OAuthClient(_config(endpoint)).get_access_token(oauth_models.GetAccessTokenRequest(app_key="demo-app-key", app_secret="wrong"))
    assert info.value.code == "invalidClientIdOrSecret"

    token = _token(endpoint)
    with pytest.raises(TeaException) as info:
        robot.org_group_send_with_options(request, robot_models.OrgGroupSendHeaders(x_acs_dingtalk_access_token=token), _runtime())
    assert info.value.code == "invalid.openConversationId"
