"""Hints that lead to the fix: `groups set` changes a secret or webhook in place, `groups test`
asks DingTalk for its verdict, `--replace` says what it did, and a duplicate name says how out."""

from __future__ import annotations

import json

from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN, DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

SIGNED = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
PLAIN = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
WRONG = "SEC" + "0" * 64


def test_sign_not_match_names_groups_set_which_fixes_it_in_place(cli, sandbox) -> None:
    assert cli("groups", "add", "告警", "--webhook", SIGNED, "--secret", WRONG, "--owner", "u1").exit_code == 0
    created = json.loads(cli("groups", "show", "告警", "--json").stdout)["created_at"]
    r = cli("send", "-g", "告警", "hi")
    assert r.exit_code == 1 and r.stdout == ""
    run_id = r.stderr.split("(run ")[1].split(")")[0]
    assert r.stderr == (
        f"Error: 告警: DingTalk error 310000: sign not match (run {run_id})\n"
        "  Hint: the signature does not match: the group's SEC… secret is wrong; copy it again from the robot's "
        "加签 setting and `groupmsg groups set 告警 --secret -` (reads it from stdin); "
        f"then `groupmsg runs retry {run_id}` sends it again\n"
    )
    r = cli("groups", "set", "告警", "--secret", "-", input=DEMO_WEBHOOK_SECRET + "\n")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == "changed secret of 告警 (webhook: https://oapi.dingtalk.com/robot/send?access_token=b71e…(64))\n"
    shown = json.loads(cli("groups", "show", "告警", "--json").stdout)
    assert (shown["owner"], shown["created_at"], shown["source"], shown["signed"]) == ("u1", created, "manual", True)
    assert DEMO_WEBHOOK_SECRET not in json.dumps(shown)
    r = cli("runs", "retry", run_id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run_id}: succeeded\n", "")
    assert [m["content"] for m in sandbox.messages()] == ["hi"]


def test_groups_set_changes_the_webhook_and_keywords_and_says_when_nothing_changed(cli) -> None:
    cli("groups", "add", "g", "--webhook", PLAIN, "--keyword", "告警")
    r = cli("groups", "set", "g", "--webhook", SIGNED, "--secret", DEMO_WEBHOOK_SECRET, "--keyword", "发布", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    doc = json.loads(r.stdout)
    assert doc["changed"] == ["webhook", "secret", "keywords"] and doc["keywords"] == ["发布"]
    assert DEMO_WEBHOOK_TOKEN not in r.stdout and DEMO_WEBHOOK_SECRET not in r.stdout
    r = cli("groups", "set", "g", "--keyword", "发布")
    assert (r.exit_code, r.stdout) == (0, "") and "nothing changed" in r.stderr
    r = cli("groups", "set", "g", "--no-secret", "--no-keywords")
    assert r.exit_code == 0 and r.stdout.startswith("changed secret, keywords of g")


def test_groups_set_refuses_what_does_not_fit_the_group(cli) -> None:
    cli("groups", "add", "app", "--chat-id", "chat1")
    r = cli("groups", "set", "app", "--secret", DEMO_WEBHOOK_SECRET)
    assert r.exit_code == 2 and r.stdout == "" and "is an app group" in r.stderr and "--replace" in r.stderr
    r = cli("groups", "set", "app")
    assert r.exit_code == 2 and "nothing to change" in r.stderr
    r = cli("groups", "set", "nope", "--chat-id", "x")
    assert r.exit_code == 2 and "no group named 'nope'" in r.stderr
    cli("groups", "add", "hook", "--webhook", PLAIN)
    r = cli("groups", "set", "hook", "--secret", "not-a-secret")
    assert r.exit_code == 2 and "starts with SEC" in r.stderr


def test_a_duplicate_name_mentions_replace_and_replace_says_replaced(cli) -> None:
    cli("groups", "add", "g", "--chat-id", "chat1")
    r = cli("groups", "add", "g", "--chat-id", "chat2")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr == (
        "Error: a group named 'g' is already registered\n"
        "  Hint: add --replace to replace it, `groupmsg groups set g …` to change some of its settings "
        "(secret, webhook, keywords), or choose another name\n"
    )
    r = cli("groups", "add", "g", "--chat-id", "chat2", "--replace")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "replaced g (app: chat2)\n", "")
    r = cli("groups", "add", "h", "--chat-id", "chat3", "--replace")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "added h (app: chat3)\n", "")


def test_groups_test_reports_dingtalks_verdict(cli, sandbox) -> None:
    cli("groups", "add", "好", "--webhook", SIGNED, "--secret", DEMO_WEBHOOK_SECRET, "--keyword", "告警")
    r = cli("groups", "test", "好")  # no terminal: no question
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == "DingTalk accepted the test message for 好 (webhook): look for it in the group\n"
    assert [m["content"] for m in sandbox.messages()] == ["告警 groupmsg 测试消息 / test message"]  # with a keyword
    cli("groups", "add", "坏", "--webhook", SIGNED, "--secret", WRONG)
    r = cli("groups", "test", "坏", "--json")
    assert r.exit_code == 1
    assert json.loads(r.stdout)["error"]["code"] == "310000"
    assert "Error: the test message to 坏 was not delivered: DingTalk error 310000: sign not match" in r.stderr
    assert "groups set 坏 --secret" in r.stderr
    assert len(sandbox.messages()) == 1 and len(json.loads(cli("runs", "list", "--json").stdout)) == 0  # no run
