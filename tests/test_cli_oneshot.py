"""One-shot sends without the registry: `send --webhook URL [--secret-env VAR]`, `--chat-id ID`,
`--open-conversation-id ID`. Each sends once, records the run, adds nothing to the registry, and
never stores a webhook's token (so `runs retry` needs the URL again)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from groupmsg.sandbox.config import (
    DEMO_CHAT_ID,
    DEMO_OPEN_CONVERSATION_ID,
    DEMO_WEBHOOK_PLAIN_TOKEN,
    DEMO_WEBHOOK_SECRET,
    DEMO_WEBHOOK_TOKEN,
)

SIGNED = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
PLAIN = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
SIGNED_NAME = "webhook b71e…(64)"
RUN_ID = r"\d{8}-\d{6}-[0-9a-f]{6}"


def registry_is_empty(cli) -> None:
    r = cli("groups", "list", "--json")
    assert (r.exit_code, json.loads(r.stdout)) == (0, [])


def the_run(cli) -> dict:
    [run] = json.loads(cli("runs", "list", "--json").stdout)
    return run


def no_token_stored(home: Path) -> None:
    for path in home.rglob("*"):
        if path.is_file():
            assert DEMO_WEBHOOK_TOKEN.encode() not in path.read_bytes(), path


def test_an_action_card_to_a_signed_webhook_sends_once_and_records_the_run(cli, sandbox, home, monkeypatch):
    monkeypatch.setenv("ROBOT_SECRET", DEMO_WEBHOOK_SECRET)
    r = cli("send", "--webhook", SIGNED, "--secret-env", "ROBOT_SECRET", "--title", "发布",
            "--button", "查看构建=https://ci.example.com/1", "部署完成")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"sent to {SIGNED_NAME} (webhook)\n", "")
    [m] = sandbox.messages()
    assert m["channel"] == "webhook" and m["robot"] == "demo-signed" and m["msgtype"] == "actionCard"
    assert m["message"]["buttons"] == [{"title": "查看构建", "url": "https://ci.example.com/1"}]
    registry_is_empty(cli)
    run = the_run(cli)
    assert run["status"] == "succeeded" and run["context"]["message"]["kind"] == "action_card"
    [step] = run["steps"]
    fingerprint = step["inputs"].pop("webhook_fingerprint")
    assert re.fullmatch(r"[0-9a-f]{16}", fingerprint)
    assert step["inputs"] == {"group": SIGNED_NAME, "channel": "webhook", "one_shot": True, "secret_env": "ROBOT_SECRET",
                              "to": "https://oapi.dingtalk.com/robot/send?access_token=b71e…(64)"}
    no_token_stored(home)


def test_a_chat_id_and_an_open_conversation_id(cli, creds, sandbox, monkeypatch):
    r = cli("send", "--chat-id", DEMO_CHAT_ID, "--markdown", "--title", "T", "**x**")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"sent to {DEMO_CHAT_ID} (chat)\n", "")
    r = cli("send", "--open-conversation-id", DEMO_OPEN_CONVERSATION_ID, "x")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (f"Error: group {DEMO_OPEN_CONVERSATION_ID!r} has only an open conversation id, which needs the "
                        "robot API\n  Hint: export DINGTALK_ROBOT_CODE (the app robot's code), or register the group's "
                        "chat id\n")
    monkeypatch.setenv("DINGTALK_ROBOT_CODE", "demo-robot")
    r = cli("send", "--open-conversation-id", DEMO_OPEN_CONVERSATION_ID, "x")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"sent to {DEMO_OPEN_CONVERSATION_ID} (robot)\n", "")
    assert [m["channel"] for m in sandbox.messages()] == ["chat", "robot"]
    registry_is_empty(cli)
    steps = [run["steps"][0]["inputs"] for run in json.loads(cli("runs", "list", "--json").stdout)]
    assert {"one_shot": True, "chat_id": DEMO_CHAT_ID}.items() <= steps[-1].items()
    assert {"one_shot": True, "open_conversation_id": DEMO_OPEN_CONVERSATION_ID}.items() <= steps[0].items()


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("-g", "x", "--webhook", PLAIN, "hi"),
         "Error: give either registered groups (-g/--all) or one target (--webhook, --chat-id, --open-conversation-id), "
         "not both\n"),
        (("--webhook", PLAIN, "--chat-id", DEMO_CHAT_ID, "hi"),
         "Error: give exactly one of --webhook, --chat-id, --open-conversation-id\n"),
        (("--secret-env", "X", "--chat-id", DEMO_CHAT_ID, "hi"),
         "Error: --secret-env goes with --webhook (it names the variable holding the robot's SEC… secret)\n"),
        (("--webhook", "https://oapi.dingtalk.com/robot/send", "hi"),
         "Error: the webhook URL has no access_token parameter\n  Hint: copy the whole URL from the robot's settings, "
         "including ?access_token=…\n"),
        (("--webhook", SIGNED, "--secret-env", "UNSET_SECRET", "hi"),
         "Error: group 'webhook b71e…(64)' is signed with the secret in $UNSET_SECRET, which is not set\n"
         "  Hint: export UNSET_SECRET=SEC… (in CI, map it from your secrets)\n"),
        (("--webhook", PLAIN, "--image", "https://e.example.com/a.png"),
         "Error: group webhook 7790…(64): an image cannot be sent through a custom robot's webhook (groups added with "
         "--webhook): DingTalk takes images only through chat/send (app groups, by chat id) and the robot API (app "
         "groups, with DINGTALK_ROBOT_CODE)\n  Hint: or embed it in a markdown message: --markdown --title TITLE "
         "'![](IMAGE_URL)'\n"),
    ],
)
def test_bad_targets_exit_2_and_record_nothing(cli, creds, sandbox, args, stderr):
    r = cli("send", *args)
    assert (r.exit_code, r.stdout, r.stderr) == (2, "", stderr)
    assert sandbox.requests() == []
    assert json.loads(cli("runs", "list", "--json").stdout) == []


def test_dry_run_masks_the_token_and_records_nothing(cli, sandbox, monkeypatch):
    monkeypatch.setenv("ROBOT_SECRET", DEMO_WEBHOOK_SECRET)
    r = cli("send", "--dry-run", "--webhook", SIGNED, "--secret-env", "ROBOT_SECRET", "hi")
    assert (r.exit_code, r.stderr) == (0, "dry run: 1 request(s) not sent\n")
    [request] = json.loads(r.stdout)
    assert request["group"] == SIGNED_NAME and request["json"] == {"msgtype": "text", "text": {"content": "hi"}}
    assert request["url"] == ("https://oapi.dingtalk.com/robot/send?access_token=b71e…(64)"
                              "&timestamp=%3Cnow%3E&sign=…")
    assert DEMO_WEBHOOK_TOKEN not in r.stdout and sandbox.requests() == []
    assert json.loads(cli("runs", "list", "--json").stdout) == []


def test_runs_retry_of_a_webhook_run_needs_the_url_again(cli, sandbox, home, monkeypatch):
    monkeypatch.setenv("ROBOT_SECRET", "SEC" + "0" * 60)  # the wrong secret: 310000 sign not match
    r = cli("send", "--webhook", SIGNED, "--secret-env", "ROBOT_SECRET", "--title", "发布",
            "--button", "查看=https://ci.example.com/1", "部署完成")
    assert r.exit_code == 1 and r.stdout == ""
    assert "310000" in r.stderr and "sign not match" in r.stderr and DEMO_WEBHOOK_TOKEN not in r.stderr
    run_id = the_run(cli)["id"]
    assert re.fullmatch(RUN_ID, run_id)
    no_token_stored(home)

    r = cli("runs", "retry", run_id)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "Error: this run was sent to webhook b71e…(64), a webhook given on the command line; its access_token is a "
        "secret and was not stored\n"
        "  Hint: give the URL again: `groupmsg runs retry RUN --webhook URL`\n"
    )
    r = cli("runs", "retry", run_id, "--webhook", PLAIN)
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "Error: --webhook names another robot than the one this run was sent to (webhook b71e…(64))\n"
        "  Hint: give the webhook URL the run was sent to\n"
    )
    monkeypatch.setenv("ROBOT_SECRET", DEMO_WEBHOOK_SECRET)  # the secret is read from the variable again
    r = cli("runs", "retry", run_id, "--webhook", SIGNED)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    [m] = sandbox.messages()
    assert m["msgtype"] == "actionCard" and m["body"]["msgUuid"] == f"{run_id}-s1"
    registry_is_empty(cli)
    no_token_stored(home)


def test_a_one_shot_chat_run_is_retried_without_arguments(cli, creds, sandbox):
    missing = "chat" + "e" * 32
    r = cli("send", "--chat-id", missing, "--title", "T", "--button", "看=https://e.example.com", "x")
    assert r.exit_code == 1 and r.stdout == "" and "DingTalk error 34001" in r.stderr
    run_id = the_run(cli)["id"]
    sandbox.add_chat(chat_id=missing, open_conversation_id="cidE==", name="后补群", owner="u", members=["u"],
                     app_key="demo-app-key")
    r = cli("runs", "retry", "--failed")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert sandbox.messages()[0]["message"]["layout"] == "single"
    registry_is_empty(cli)


def test_a_dedupe_key_holds_for_one_shot_sends(cli, sandbox):
    r = cli("send", "--webhook", PLAIN, "--dedupe-key", "deploy-42", "hi")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to webhook 7790…(64) (webhook)\n", "")
    r = cli("send", "--webhook", PLAIN, "--dedupe-key", "deploy-42", "hi")
    assert r.exit_code == 0 and r.stdout == ""
    assert re.fullmatch(rf"already sent \(run {RUN_ID} at .+, key 'deploy-42'\); nothing sent\n", r.stderr)
    assert len(sandbox.messages()) == 1
