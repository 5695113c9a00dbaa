"""`groupmsg send` and `groupmsg create-group` end to end against the in-process sandbox."""

from __future__ import annotations

import json

import pytest

from groupmsg.sandbox.config import (
    DEMO_CHAT_ID,
    DEMO_OPEN_CONVERSATION_ID,
    DEMO_WEBHOOK_PLAIN_TOKEN,
    DEMO_WEBHOOK_SECRET,
    DEMO_WEBHOOK_TOKEN,
)

SIGNED_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
PLAIN_HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"


@pytest.fixture
def groups(cli, creds):
    """An app group (the sandbox's preset chat), a signed webhook and a plain webhook."""
    assert cli("groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID, "--open-conversation-id",
               DEMO_OPEN_CONVERSATION_ID).exit_code == 0
    assert cli("groups", "add", "告警群", "--webhook", SIGNED_HOOK, "--secret", DEMO_WEBHOOK_SECRET).exit_code == 0
    assert cli("groups", "add", "通知群", "--webhook", PLAIN_HOOK).exit_code == 0


def test_send_to_an_app_group_goes_through_chat_send(cli, groups, sandbox) -> None:
    r = cli("send", "--group", "应用群", "今晚发布")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 应用群 (chat)\n", "")
    [msg] = sandbox.messages()
    assert msg["channel"] == "chat" and msg["chat_id"] == DEMO_CHAT_ID and msg["content"] == "今晚发布"


def test_send_to_an_app_group_uses_the_robot_api_when_a_robot_code_is_set(cli, groups, sandbox, monkeypatch) -> None:
    monkeypatch.setenv("DINGTALK_ROBOT_CODE", "demo-robot")
    r = cli("send", "--group", "应用群", "--markdown", "--title", "发布", "**v2**")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 应用群 (robot)\n", "")
    [msg] = sandbox.messages()
    assert msg["channel"] == "robot" and msg["open_conversation_id"] == DEMO_OPEN_CONVERSATION_ID
    assert msg["msgtype"] == "sampleMarkdown" and msg["title"] == "发布"


def test_send_to_a_signed_webhook_with_mentions(cli, groups, sandbox) -> None:
    r = cli("send", "-g", "告警群", "--at-mobile", "13800000000", "磁盘满了")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to 告警群 (webhook)\n", "")
    [msg] = sandbox.messages()
    assert msg["channel"] == "webhook" and msg["content"] == "磁盘满了\n@13800000000"
    assert msg["body"]["at"]["atMobiles"] == ["13800000000"]


def test_send_to_several_groups_and_from_stdin(cli, groups, sandbox) -> None:
    r = cli("send", "-g", "应用群", "-g", "通知群", "-", input="多行\n消息\n")
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout == "sent to 应用群 (chat)\nsent to 通知群 (webhook)\n"
    assert [m["content"] for m in sandbox.messages()] == ["多行\n消息\n", "多行\n消息\n"]


def test_a_wrong_signing_secret_fails_with_dingtalks_code_and_the_fix(cli, creds, sandbox) -> None:
    cli("groups", "add", "错签名", "--webhook", SIGNED_HOOK, "--secret", "SEC" + "0" * 60)
    r = cli("send", "-g", "错签名", "hello")
    assert r.exit_code == 1 and r.stdout == ""
    assert "310000" in r.stderr and "sign not match" in r.stderr and "secret" in r.stderr
    assert DEMO_WEBHOOK_TOKEN not in r.stderr
    assert sandbox.messages() == []


def test_an_unknown_chat_id_fails_with_34001(cli, creds, sandbox) -> None:
    cli("groups", "add", "不存在", "--chat-id", "chat" + "f" * 32)
    r = cli("send", "-g", "不存在", "hello")
    assert r.exit_code == 1 and r.stdout == ""
    assert "DingTalk error 34001" in r.stderr and "create-group" in r.stderr
    assert "runs retry" in r.stderr


def test_unknown_group_exits_2_before_anything_is_sent(cli, groups, sandbox) -> None:
    r = cli("send", "-g", "应用群", "-g", "告警", "hello")
    assert r.exit_code == 2 and r.stdout == ""
    assert "no group named '告警'" in r.stderr and "告警群" in r.stderr
    assert sandbox.messages() == []


def test_too_large_message_is_refused_before_sending(cli, groups, sandbox) -> None:
    r = cli("send", "-g", "告警群", "字" * 7000)
    assert r.exit_code == 2 and r.stdout == "" and "at most 20000 bytes" in r.stderr
    assert sandbox.requests() == []


def test_mentions_on_an_app_group_are_refused(cli, groups) -> None:
    r = cli("send", "-g", "应用群", "--at-all", "hi")
    assert r.exit_code == 2 and r.stdout == "" and "@ mentions are not supported" in r.stderr


def test_markdown_needs_a_title(cli, groups) -> None:
    r = cli("send", "-g", "应用群", "--markdown", "**x**")
    assert r.exit_code == 2 and r.stdout == "" and "--title" in r.stderr


def test_missing_credentials_for_an_app_group(cli, groups, monkeypatch) -> None:
    monkeypatch.delenv("DINGTALK_APP_SECRET")
    r = cli("send", "-g", "应用群", "hi")
    assert r.exit_code == 2 and r.stdout == ""
    assert "credentials are not set" in r.stderr and "DINGTALK_APP_SECRET" in r.stderr
    assert json.loads(cli("runs", "list", "--json").stdout) == []  # refused before a run was recorded


def test_dry_run_prints_the_exact_requests_and_sends_nothing(cli, groups, sandbox) -> None:
    r = cli("send", "--dry-run", "-g", "告警群", "-g", "应用群", "hi")
    assert r.exit_code == 0 and "2 request(s) not sent" in r.stderr
    previews = json.loads(r.stdout)
    hook, chat = previews
    assert hook["channel"] == "webhook" and hook["json"] == {"msgtype": "text", "text": {"content": "hi"}}
    assert DEMO_WEBHOOK_TOKEN not in r.stdout and "sign=" in hook["url"]
    assert chat["url"].endswith("/chat/send?access_token=…") and chat["json"]["chatid"] == DEMO_CHAT_ID
    assert sandbox.requests() == []


def test_json_output_is_the_run(cli, groups) -> None:
    r = cli("send", "--json", "-g", "通知群", "hi")
    assert r.exit_code == 0 and r.stderr == ""
    run = json.loads(r.stdout)
    assert run["status"] == "succeeded" and run["steps"][0]["status"] == "succeeded"


def test_quiet_prints_nothing_on_success(cli, groups) -> None:
    r = cli("--quiet", "send", "-g", "通知群", "hi")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def test_runs_record_the_send_and_retry_completes_a_failed_one(cli, creds, sandbox) -> None:
    cli("groups", "add", "后补群", "--chat-id", "chat" + "e" * 32)
    r = cli("send", "-g", "后补群", "hello")
    assert r.exit_code == 1
    [run] = json.loads(cli("runs", "list", "--json").stdout)
    assert run["status"] == "failed" and run["steps"][0]["error"]["code"] == "34001"
    # the group appears in DingTalk later (e.g. created by an admin): the retry delivers it
    sandbox.add_chat(chat_id="chat" + "e" * 32, open_conversation_id="cidE==", name="后补群", owner="u",
                     members=["u"], app_key="demo-app-key")
    r = cli("runs", "retry", run["id"])
    assert (r.exit_code, r.stderr) == (0, "") and r.stdout == f"run {run['id']}: succeeded\n"
    assert len(sandbox.messages()) == 1
    r = cli("runs", "retry", run["id"])
    assert r.exit_code == 3 and r.stdout == "" and "nothing to retry" in r.stderr


def test_create_group_records_it_and_refuses_a_second_dingtalk_group(cli, creds, sandbox) -> None:
    r = cli("create-group", "项目群", "--owner", "u1", "--member", "u2", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    created = json.loads(r.stdout)
    assert created["created"] is True and created["chat_id"].startswith("chat") and created["source"] == "create-group"
    r = cli("create-group", "项目群", "--owner", "u1", "--member", "u2")
    assert r.exit_code == 2 and r.stdout == "" and "no new DingTalk group was created" in r.stderr
    r = cli("create-group", "项目群", "--owner", "u1", "--reuse")
    assert r.exit_code == 0 and r.stderr == "" and "reused" in r.stdout
    assert len([q for q in sandbox.requests() if "group/create" in q["path"]]) == 1
    r = cli("send", "-g", "项目群", "欢迎")
    assert r.exit_code == 0 and sandbox.messages()[0]["chat_id"] == created["chat_id"]


def test_create_group_error_from_dingtalk(cli, creds) -> None:
    r = cli("create-group", "这个群名字实在是太长了超过了二十个字符的限制吧", "--owner", "u1")
    assert r.exit_code == 2 and r.stdout == "" and "at most 20 characters" in r.stderr
    r = cli("create-group", "群", "--owner", "u1", "--template-id", "no-such-template")
    assert r.exit_code == 1 and r.stdout == "" and "DingTalk error groupTemplate.notFound" in r.stderr


def test_create_scene_group_with_a_template(cli, creds, sandbox) -> None:
    r = cli("create-group", "场景群", "--owner", "u1", "--member", "u2", "--template-id", "demo-template", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    assert json.loads(r.stdout)["open_conversation_id"].startswith("cid")
    assert any("sceneGroup/create" in q["path"] for q in sandbox.requests())


def test_a_group_created_but_not_recorded_says_where_it_is(cli, creds, sandbox, monkeypatch) -> None:
    from groupmsg.state.files.registry import Registry

    real_add = Registry.add

    def racing_add(self, group, **kw):  # another process registers the same name meanwhile
        from groupmsg.state.model import Group

        real_add(self, Group(name=group.name, kind="app", chat_id="chatOTHER"))
        return real_add(self, group, **kw)

    monkeypatch.setattr(Registry, "add", racing_add)
    r = cli("create-group", "并发群", "--owner", "u1")
    assert r.exit_code == 2 and r.stdout == ""
    created = sandbox.chats()[-1]["chat_id"] if isinstance(sandbox.chats(), list) else None
    assert "created DingTalk group '并发群' (chat id chat" in r.stderr and "could not record it" in r.stderr
    assert f"groups add NAME --chat-id {created}" in r.stderr
