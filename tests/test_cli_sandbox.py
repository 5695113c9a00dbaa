"""`groupmsg sandbox` and its subcommands against a sandbox on a real 127.0.0.1 socket."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

ROOT = Path(__file__).resolve().parent.parent
TEXT = {"msgtype": "text", "text": {"content": "告警 disk"}}


@pytest.fixture
def served():
    sb = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sb) as url:
        yield sb, url


def test_messages_are_named_by_the_registry_where_it_knows_them(cli, creds, served) -> None:
    sb, url = served
    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"
    assert cli("groups", "add", "运维告警", "--webhook", hook).exit_code == 0
    with httpx.Client(base_url=url) as c:
        c.post(f"/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}", json={**TEXT, "at": {"atMobiles": ["138"]}})
    assert cli("send", "--group", "运维告警", "--markdown", "--title", "周报", "**本周** 完成", transport=sb.transport()).exit_code == 0
    r = cli("sandbox", "messages", "--url", url)
    assert r.exit_code == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert "运维告警  [webhook]  text: 告警 disk  @138" in lines[0]
    assert "运维告警  [webhook]  markdown: 周报: **本周** 完成" in lines[1]
    assert DEMO_WEBHOOK_PLAIN_TOKEN not in r.stdout
    r = cli("sandbox", "messages", "--url", url, "--group", "Demo group", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == [] and r.stderr == ""
    r = cli("sandbox", "messages", "--url", url, "-g", "运维告警", "--json")
    docs = json.loads(r.stdout)
    assert [d["group"] for d in docs] == ["运维告警", "运维告警"] and docs[1]["message"]["kind"] == "markdown"


def test_unregistered_groups_take_the_sandbox_names(cli, creds, served) -> None:
    _sb, url = served
    with httpx.Client(base_url=url) as c:
        c.post(f"/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}", json=TEXT)
    r = cli("sandbox", "messages", "--url", url)
    assert r.exit_code == 0 and "demo-plain  [webhook]  text: 告警 disk" in r.stdout and r.stderr == ""


def test_follow_prints_what_is_there_then_messages_as_they_arrive(cli, served) -> None:
    _sb, url = served

    def post(text: str) -> None:
        with httpx.Client(base_url=url) as c:
            c.post(f"/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}", json={"msgtype": "text", "text": {"content": text}})

    post("before")
    env = {**os.environ, "GROUPMSG_SANDBOX_URL": url}
    p = subprocess.Popen([sys.executable, "-m", "groupmsg", "sandbox", "messages", "--follow", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    t = threading.Thread(target=lambda: (time.sleep(0.3), post("after")))  # whenever the follower gets there
    t.start()
    try:
        lines = [p.stdout.readline(), p.stdout.readline()]
    finally:
        p.kill()
        p.communicate()
        t.join()
    entries = [json.loads(line) for line in lines]
    assert [e["message"]["text"] for e in entries] == ["before", "after"]
    assert {e["group"] for e in entries} == {"demo-plain"}


def test_robot_add_change_remove_and_list(cli, served) -> None:
    _sb, url = served
    r = cli("sandbox", "robot", "add", "ops", "--group", "运维群", "--signed", "--keyword", "告警", "--url", url)
    assert r.exit_code == 0
    token = re.search(r"access_token=([0-9a-f]{64})", r.stdout).group(1)
    assert re.search(r"secret:  SEC[0-9a-f]{64}", r.stdout)
    assert f"register it: groupmsg groups add 运维群 --webhook 'https://oapi.dingtalk.com/robot/send?access_token={token}' --keyword 告警 --secret -" in r.stderr
    r = cli("sandbox", "robot", "list", "--url", url)
    assert r.exit_code == 0 and "ops  group 运维群  signed  keywords 告警" in r.stdout and token not in r.stdout and r.stderr == ""
    r = cli("sandbox", "robot", "change", "ops", "--disable", "--no-secret", "--url", url)
    assert r.exit_code == 0 and "ops  group 运维群  unsigned  keywords 告警  DISABLED" in r.stdout and r.stderr == ""
    with httpx.Client(base_url=url) as c:
        assert c.post(f"/robot/send?access_token={token}", json=TEXT).json()["errcode"] == 400102
    r = cli("sandbox", "robot", "remove", "ops", "--url", url)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "removed robot ops\n", "")
    r = cli("sandbox", "robot", "remove", "ops", "--url", url)
    assert r.exit_code == 2 and r.stdout == "" and "no webhook robot named 'ops'" in r.stderr
    r = cli("sandbox", "robot", "change", "demo-plain", "--url", url)
    assert r.exit_code == 2 and "nothing to change" in r.stderr


def test_apps_faults_and_reset(cli, creds, served) -> None:
    sb, url = served
    r = cli("sandbox", "app", "add", "k2:s2", "--robot-code", "r2", "--url", url)
    assert (r.exit_code, r.stdout, r.stderr) == (0, "added app k2 with robot codes r2\n", "")
    r = cli("sandbox", "app", "list", "--url", url, "--json")
    assert {"key": "k2", "robot_codes": ["r2"]} in json.loads(r.stdout) and "s2" not in r.stdout
    r = cli("sandbox", "fault", "inject", "busy", "--times", "2", "--path", "/robot/send", "--url", url)
    assert r.exit_code == 0 and "next 2 request(s) to /robot/send: busy" in r.stdout and r.stderr == ""
    with httpx.Client(base_url=url) as c:
        assert c.post(f"/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}", json=TEXT).json()["errcode"] == -1
    r = cli("sandbox", "fault", "inject", "meteor", "--url", url)
    assert r.exit_code == 2 and "unknown fault kind 'meteor'" in r.stderr and r.stdout == ""
    r = cli("sandbox", "fault", "rate", "0.5", "--kinds", "busy,http500", "--seed", "3", "--url", url)
    assert r.exit_code == 0 and "random faults: rate 0.5 of busy, http500 (seed 3)" in r.stdout
    r = cli("sandbox", "fault", "latency", "20", "--url", url, "--json")
    assert json.loads(r.stdout)["latency_ms"] == 20
    r = cli("sandbox", "reset", "--url", url)
    assert (r.exit_code, r.stderr) == (0, "") and r.stdout == f"reset the sandbox at {url}\n"
    assert sb.messages() == [] and sb.pending_faults() == []


def test_no_sandbox_there_is_a_clear_error(cli) -> None:
    r = cli("sandbox", "messages", "--url", "http://127.0.0.1:9")
    assert r.exit_code == 1 and r.stdout == ""
    assert "no sandbox answers at http://127.0.0.1:9" in r.stderr and "groupmsg sandbox" in r.stderr


def test_a_bad_config_file_names_the_key(cli, tmp_path) -> None:
    cfg = tmp_path / "sb.yaml"
    cfg.write_text("webhooks:\n  - name: ops\n    ip_allowlist: ['::1']\n", encoding="utf-8")
    r = cli("sandbox", "--config", str(cfg), "--port", "0")
    assert r.exit_code == 2 and r.stdout == ""
    assert "sb.yaml: webhooks[0]: '::1' is not an IPv4 address" in r.stderr



def test_a_port_in_use_is_named_with_the_way_out(cli) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = cli("sandbox", "--port", str(port))
    assert r.exit_code == 2 and r.stdout == ""
    assert f"cannot listen on 127.0.0.1:{port}" in r.stderr and "--port" in r.stderr
    assert "bug" not in r.stderr and "Traceback" not in r.stderr

def _start(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, list[str]]:
    p = subprocess.Popen([sys.executable, "-m", "groupmsg", "sandbox", "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    lines: list[str] = []
    while True:
        line = p.stderr.readline()
        if not line:
            raise AssertionError("sandbox exited: " + "".join(lines))
        lines.append(line)
        if line.startswith("  inbox: "):
            break
    url = next(re.search(r"on (http://\S+)", x).group(1) for x in lines if "DingTalk sandbox on" in x)
    return p, url, lines


def _stop(p: subprocess.Popen) -> str:
    import signal

    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=10)
    return err


@pytest.mark.slow
def test_a_non_loopback_host_warns_and_guards_the_control_api(cli) -> None:
    p, url, lines = _start("--host", "0.0.0.0")
    try:
        head = "".join(lines)
        assert head.startswith("Warning: --host 0.0.0.0 is not a loopback address")
        assert "/_sandbox/*: messages, requests, config, robots, apps, reset" in head
        token = re.search(r"GROUPMSG_SANDBOX_TOKEN=(\S+)", head).group(1)
        assert f"?token={token}" in head
        local = url.replace("0.0.0.0", "127.0.0.1")
        with httpx.Client(base_url=local) as c:
            r = c.get("/_sandbox/messages")
            assert r.status_code == 401 and "control token" in r.json()["error"]
            assert c.post("/_sandbox/reset").status_code == 401
            assert c.get("/_sandbox/messages", headers={"x-sandbox-token": token}).status_code == 200
        r = cli("sandbox", "messages", "--url", local)
        assert r.exit_code == 2 and "wants its control token" in r.stderr
        r = cli("sandbox", "messages", "--url", local, "--token", token)
        assert r.exit_code == 0 and "no messages yet" in r.stderr
    finally:
        _stop(p)
    p, url, lines = _start()  # loopback: no warning, no token
    try:
        assert not any("Warning" in x or "TOKEN" in x for x in lines)
        assert httpx.get(url + "/_sandbox/messages").status_code == 200
    finally:
        _stop(p)


@pytest.mark.slow
def test_a_restarted_sandbox_remembers_its_groups_and_messages(cli, creds, tmp_path, monkeypatch) -> None:
    state = str(tmp_path / "st")
    p, url, lines = _start("--state", state)
    try:
        monkeypatch.setenv("GROUPMSG_OAPI_URL", url)
        monkeypatch.setenv("GROUPMSG_API_URL", url)
        assert f"  state: {state} (groups, tokens, robots and messages are kept)\n" in lines
        assert cli("create-group", "持久群", "--owner", "u1", "--member", "u2", transport=httpx.HTTPTransport()).exit_code == 0
        assert cli("send", "--group", "持久群", "第一条", transport=httpx.HTTPTransport()).exit_code == 0
    finally:
        _stop(p)
    p, url2, _ = _start("--state", state)
    try:
        monkeypatch.setenv("GROUPMSG_OAPI_URL", url2)
        monkeypatch.setenv("GROUPMSG_API_URL", url2)
        r = cli("sandbox", "messages")
        assert r.exit_code == 0 and "持久群  [chat]  text: 第一条" in r.stdout
        # the group still exists for DingTalk: sending again works (no 34001)
        r = cli("send", "--group", "持久群", "第二条", transport=httpx.HTTPTransport())
        assert r.exit_code == 0 and r.stdout == "sent to 持久群 (chat)\n"
    finally:
        _stop(p)


@pytest.mark.slow
def test_a_config_file_declares_robots_users_and_groups(cli, tmp_path) -> None:
    cfg = tmp_path / "sandbox.yaml"
    cfg.write_text(
        "webhooks:\n"
        "  - {name: ops-bot, group: 运维告警, secret: true, keywords: [告警]}\n"
        "chats:\n"
        "  - {name: 项目群, owner: u1, members: [u2], chat_id: chatproject}\n"
        "users: [u1, u2]\n",
        encoding="utf-8",
    )
    p, url, lines = _start("--config", str(cfg))
    try:
        made = next(x for x in lines if x.startswith("  robot ops-bot: "))
        token, secret = re.search(r"access_token=([0-9a-f]{64})  secret (SEC[0-9a-f]{64})", made).groups()
        r = cli("sandbox", "robot", "list", "--url", url, "--json")
        [robot] = json.loads(r.stdout)
        assert robot["group"] == "运维告警" and robot["keywords"] == ["告警"] and robot["signed"]
        assert token not in r.stdout and secret not in r.stdout
        inbox = httpx.get(url + "/_sandbox/inbox").json()
        assert {c["name"] for c in inbox["conversations"]} == {"运维告警", "项目群"}
        with httpx.Client(base_url=url) as c:  # unsigned: refused as DingTalk would
            assert c.post(f"/robot/send?access_token={token}", json=TEXT).json()["errcode"] == 310000
    finally:
        _stop(p)
