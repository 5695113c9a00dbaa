"""Interactive `submit` and `groups test` on a real (pseudo-)terminal: a wrong or empty answer is
asked again and nothing typed is lost; choices keep their numbers; a summary is confirmed; Ctrl-C
at any prompt exits 130 with nothing stored; without a terminal nothing is ever asked."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN
from groupmsg.state.files.records import Records
from terminal_support import Terminal

FORM = "群消息内容录入表"
HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"


@pytest.fixture
def served(home: Path):
    """The sandbox on a socket, and three groups registered in this order: 项目B, 项目A (app groups)
    and 机器人 (a webhook group, which has no chat id for the form's 群ID)."""
    from groupmsg.app import App
    from groupmsg.settings import Settings

    sandbox = Sandbox(SandboxConfig.demo())
    app = App(Settings.load(home=home))
    for name in ("项目B", "项目A"):
        chat = sandbox.add_chat(name=name, owner="demo-user")
        app.groups.add(name, chat_id=chat["chat_id"])
    app.groups.add("机器人", webhook=HOOK)
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        env = {
            "GROUPMSG_HOME": str(home),
            "GROUPMSG_OAPI_URL": url,
            "GROUPMSG_API_URL": url,
            "DINGTALK_APP_KEY": "demo-app-key",
            "DINGTALK_APP_SECRET": "demo-app-secret",
        }
        yield sandbox, env


@pytest.fixture
def seed_flows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The repository's own flows.yaml (the processes above find it as ./flows.yaml)."""
    from terminal_support import ROOT

    monkeypatch.setenv("GROUPMSG_FLOWS", str(ROOT / "flows.yaml"))


def stored(home: Path) -> list:
    return Records(home / "records").list(FORM)


def test_a_wrong_or_empty_answer_is_asked_again_and_the_message_typed_before_is_kept(served, home) -> None:
    sandbox, env = served
    t = Terminal(["submit", FORM], env)
    t.expect("消息内容 (end with an empty line):")
    t.type("第一行\n第二行\n\n")
    t.expect("  1) 项目B\n  2) 项目A\n  3) 机器人\n")  # oldest first: numbers stay as groups are added
    t.expect("选择群聊 (a number or a name): ")
    t.type("不存在\n")
    t.expect("Error: 选择群聊: '不存在' is not a registered group")
    t.expect("选择群聊 (a number or a name): ")
    t.type("\n")
    t.expect("Error: 选择群聊: is required")
    t.expect("选择群聊 (a number or a name): ")
    t.type("3\n")  # a webhook group: no chat id for 群ID
    t.expect("Error: 选择群聊: then 群ID: is required, and the data linkage from 选择群聊 gave it no value")
    t.expect("选择群聊 (a number or a name): ")
    t.type("项目A\n")  # by name
    t.expect("About to submit to 群消息内容录入表:")
    t.expect("  选择群聊  项目A")
    t.expect("flow 发送群消息 will:\n  - send a message to 项目A (chat)")
    t.expect("Submit? [Y/n]: ")
    t.type("\n")
    assert t.finish() == 0, t.screen
    assert "stored record FINST-" in t.screen and "sent to 项目A (chat)" in t.screen
    assert [m["content"] for m in sandbox.messages()] == ["第一行\n第二行"]
    assert len(stored(home)) == 1


@pytest.mark.parametrize("where", ["message", "picker", "confirmation"])
def test_ctrl_c_at_any_prompt_exits_130_with_nothing_stored(served, home, where) -> None:
    sandbox, env = served
    t = Terminal(["submit", FORM], env)
    t.expect("消息内容 (end with an empty line):")
    if where != "message":
        t.type("要发的话\n\n")
        t.expect("选择群聊 (a number or a name): ")
    if where == "confirmation":
        t.type("1\n")
        t.expect("Submit? [Y/n]: ")
    t.interrupt()
    assert t.finish() == 130, t.screen
    assert t.screen.rstrip().endswith("Interrupted.") and "Traceback" not in t.screen
    assert stored(home) == [] and sandbox.messages() == []


def test_declining_the_summary_stores_nothing_and_exits_3(served, home) -> None:
    sandbox, env = served
    t = Terminal(["submit", FORM, "-f", "选择群聊=项目B"], env)
    t.expect("消息内容 (end with an empty line):")
    t.type("不发了\n\n")
    t.expect("Submit? [Y/n]: ")
    t.type("maybe\n")
    t.expect("please answer y or n")
    t.type("n\n")
    assert t.finish() == 3, t.screen
    assert "Error: not submitted: nothing was stored in 群消息内容录入表 or sent" in t.screen
    assert stored(home) == [] and sandbox.messages() == []


def test_yes_submits_without_the_summary_and_a_wrong_given_value_is_asked_again(served, home) -> None:
    sandbox, env = served
    t = Terminal(["submit", FORM, "--yes", "-f", "消息内容=hello", "-f", "选择群聊=项目C"], env)
    t.expect("Error: 选择群聊: '项目C' is not a registered group")
    t.expect("选择群聊 (a number or a name): ")
    t.type("1\n")
    assert t.finish() == 0, t.screen
    assert "Submit?" not in t.screen and "sent to 项目B (chat)" in t.screen
    assert [m["content"] for m in sandbox.messages()] == ["hello"]


def test_groups_test_asks_on_a_terminal(served, home) -> None:
    sandbox, env = served
    t = Terminal(["groups", "test", "机器人"], env)
    t.expect("Send a test message to 机器人 (webhook: https://oapi.dingtalk.com/robot/send?access_token=7790…(64))? [Y/n]: ")
    t.type("n\n")
    assert t.finish() == 3 and "no test message sent" in t.screen
    assert sandbox.messages() == []
    t = Terminal(["groups", "test", "机器人"], env)
    t.expect("? [Y/n]: ")
    t.type("y\n")
    assert t.finish() == 0, t.screen
    assert "DingTalk accepted the test message for 机器人 (webhook)" in t.screen
    assert [m["content"] for m in sandbox.messages()] == ["groupmsg 测试消息 / test message"]


# --- in-process: the same dialogue with a stand-in terminal, and never a prompt without one ----


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_without_a_terminal_nothing_is_asked(cli, creds, seed_flows, home) -> None:
    r = cli("submit", FORM, input="typed but never read\n")
    assert r.exit_code == 2 and r.stdout == ""
    assert "消息内容: is required" in r.stderr and "选择群聊: is required" in r.stderr
    assert "(end with an empty line)" not in r.stderr and "Submit?" not in r.stderr
    assert stored(home) == []


def test_answers_are_checked_one_by_one_on_a_terminal(cli, creds, sandbox, seed_flows, monkeypatch, home) -> None:
    chat = sandbox.add_chat(name="项目A", owner="demo-user")
    assert cli("groups", "add", "项目A", "--chat-id", chat["chat_id"]).exit_code == 0
    monkeypatch.setattr(sys, "stdin", FakeTerminal("line one\n\nnope\n\n1\ny\n"))
    monkeypatch.setattr("groupmsg.cli.submit.interactive", lambda: True)
    r = cli("submit", FORM, "--json")
    assert r.exit_code == 0
    assert r.stderr.count("选择群聊 (a number or a name): ") == 3
    assert "Error: 选择群聊: 'nope' is not a registered group" in r.stderr
    assert "Error: 选择群聊: is required\n  Hint: type it again (Ctrl-C to stop; nothing is stored until the end)" in r.stderr
    doc = json.loads(r.stdout)  # stdout holds the JSON alone: every prompt went to stderr
    assert doc["record"]["values"]["消息内容"] == "line one" and doc["record"]["values"]["选择群聊"] == "项目A"


def test_options_from_the_registry_keep_their_numbers_as_groups_are_added(cli, seed_flows) -> None:
    from groupmsg.app import App
    from groupmsg.settings import Settings

    for name in ("甲", "Zulu", "alpha"):
        assert cli("groups", "add", name, "--chat-id", f"chat-{name}").exit_code == 0
    before = App(Settings.load()).forms.prompts(FORM, {"消息内容": "x"})[0].options
    assert cli("groups", "add", "Able", "--chat-id", "chat-able").exit_code == 0
    after = App(Settings.load()).forms.prompts(FORM, {"消息内容": "x"})[0].options
    assert before == ["甲", "Zulu", "alpha"] and after == [*before, "Able"]
