"""Whole `groupmsg` processes against the sandbox on a real 127.0.0.1 socket."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_APP_SECRET, DEMO_CHAT_ID, DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def groupmsg(home: Path, url: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GROUPMSG_HOME": str(home),
        "GROUPMSG_OAPI_URL": url,
        "GROUPMSG_API_URL": url,
        "DINGTALK_APP_KEY": "demo-app-key",
        "DINGTALK_APP_SECRET": DEMO_APP_SECRET,
        "NO_COLOR": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "groupmsg", *args], env=env, input=input, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_ten_processes_in_a_row_ask_for_one_token(served, home) -> None:
    sandbox, url = served
    assert groupmsg(home, url, "groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID).returncode == 0
    for i in range(10):
        p = groupmsg(home, url, "send", "-g", "应用群", f"第{i}条")
        assert (p.returncode, p.stdout, p.stderr) == (0, "sent to 应用群 (chat)\n", "")
    token_calls = [r for r in sandbox.requests() if r["path"] == "/v1.0/oauth2/accessToken"]
    assert len(token_calls) == 1
    assert len(sandbox.messages()) == 10


def test_python_dash_m_and_a_signed_webhook_over_a_real_socket(served, home) -> None:
    _sandbox, url = served
    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
    p = groupmsg(home, url, "groups", "add", "告警", "--webhook", hook, "--secret", "-", input=DEMO_WEBHOOK_SECRET)
    assert p.returncode == 0 and p.stderr == ""
    p = groupmsg(home, url, "send", "-g", "告警", "hi")
    assert (p.returncode, p.stdout, p.stderr) == (0, "sent to 告警 (webhook)\n", "")


@pytest.mark.slow
def test_no_secret_reaches_output_or_any_state_file_but_where_it_must_be_kept(served, home) -> None:
    _sandbox, url = served
    hook = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
    outputs = []
    for args in (
        ("groups", "add", "告警", "--webhook", hook, "--secret", DEMO_WEBHOOK_SECRET),
        ("groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID),
        ("groups", "list"), ("groups", "list", "--json"), ("groups", "show", "告警", "--json"),
        ("send", "-g", "告警", "-g", "应用群", "hi"), ("send", "--dry-run", "-g", "告警", "-g", "应用群", "hi"),
        ("send", "--json", "-g", "告警", "hi"),
        ("runs", "list", "--json"), ("paths",),
    ):
        p = groupmsg(home, url, *args)
        assert p.returncode == 0, p.stderr
        outputs.append(p.stdout + p.stderr)
    # an error path that quotes the URL
    p = groupmsg(home, "http://127.0.0.1:9", "send", "-g", "告警", "--timeout", "1", "hi")
    assert p.returncode == 1
    outputs.append(p.stdout + p.stderr)
    import json

    cached = json.loads((home / "tokens.json").read_text())["tokens"]
    access_tokens = {doc["token"] for doc in cached.values()}
    assert len(access_tokens) == 1
    secrets = {DEMO_WEBHOOK_TOKEN, DEMO_WEBHOOK_SECRET, DEMO_APP_SECRET} | access_tokens
    for text in outputs:
        for secret in secrets:
            assert secret not in text
    # Where each secret must be kept: webhook token and secret in the registry, the token in its cache.
    kept_in = {"registry": {DEMO_WEBHOOK_TOKEN, DEMO_WEBHOOK_SECRET}, "tokens.json": access_tokens}
    for path in home.rglob("*"):
        if path.is_file():
            content = path.read_text(errors="replace")
            allowed = next((v for k, v in kept_in.items() if k in str(path)), set())
            for secret in secrets - allowed:
                assert secret not in content, f"{secret[:6]}… leaked into {path}"
