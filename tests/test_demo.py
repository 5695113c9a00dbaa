"""`groupmsg demo`: the README's first command."""

from __future__ import annotations

import json

from groupmsg.sandbox.config import DEMO_WEBHOOK_TOKEN


def test_demo_runs_the_whole_path_and_shows_what_the_sandbox_received(cli) -> None:
    r = cli("demo")
    assert r.exit_code == 0 and r.stderr == ""
    assert "flow 创建群聊: created the group (chat id chat" in r.stdout
    assert "群ID filled by data linkage: chat" in r.stdout and "flow 发送群消息: succeeded" in r.stdout
    assert "sent to 运维告警 via webhook" in r.stdout
    received = r.stdout.split("What the sandbox (DingTalk) received:")[1]
    assert "[chat]" in received and "今晚 22:00 发布 v2.3" in received
    assert "[webhook]" in received and "markdown: ### 磁盘告警" in received
    assert DEMO_WEBHOOK_TOKEN not in r.stdout


def test_demo_json_and_kept_home(cli, tmp_path) -> None:
    home = tmp_path / "demo-home"
    r = cli("--home", str(home), "demo", "--json")
    assert r.exit_code == 0 and "DingTalk sandbox listening" in r.stderr
    doc = json.loads(r.stdout)
    assert doc["kept"] is True and len(doc["received"]) == 2
    assert (home / "registry").is_dir()
    r = cli("--home", str(home), "groups", "list", "--json")
    assert r.exit_code == 0 and r.stderr == ""
    assert {g["name"] for g in json.loads(r.stdout)} == {"发布通知群", "运维告警"}


def test_the_bundled_seed_flows_are_the_repositorys_flows_yaml() -> None:
    from importlib.resources import files
    from pathlib import Path

    top = Path(__file__).resolve().parent.parent / "flows.yaml"
    assert (files("groupmsg") / "data" / "flows.yaml").read_text("utf-8") == top.read_text("utf-8")
