"""Every command shown under "Examples:" in a command's --help works as written, in bash, against the sandbox.

Only the sandbox's address (and, for `sandbox` itself, a free port) comes from the test; the
variables the examples name (OPS_WEBHOOK, OPS_SECRET, app credentials) are set as a user would.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_APP_KEY, DEMO_APP_SECRET, DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

pytestmark = pytest.mark.slow  # each example is a groupmsg process

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
COMMANDS = [["send"], ["create-group"], ["submit"], ["groups", "add"], ["sandbox"]]


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


@pytest.fixture
def user(tmp_path, served) -> dict[str, str]:
    """A user's shell: groupmsg on PATH, credentials exported, a folder with today.txt and flows.yaml."""
    _, url = served
    work = tmp_path / "work"
    (tmp_path / "ops").mkdir()
    work.mkdir()
    shutil.copy(ROOT / "flows.yaml", work / "flows.yaml")
    shutil.copy(ROOT / "flows.yaml", tmp_path / "ops" / "flows.yaml")
    (work / "today.txt").write_text("今日值班: 张三\n", encoding="utf-8")
    return {
        "PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "GROUPMSG_HOME": str(tmp_path / "data"),
        "GROUPMSG_OAPI_URL": url, "GROUPMSG_API_URL": url, "NO_COLOR": "1", "COLUMNS": "200",
        "DINGTALK_APP_KEY": DEMO_APP_KEY, "DINGTALK_APP_SECRET": DEMO_APP_SECRET,
        "OPS_WEBHOOK": WEBHOOK, "OPS_SECRET": DEMO_WEBHOOK_SECRET, "CWD": str(work),
    }


def bash(command: str, env: dict[str, str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], env=env, cwd=env["CWD"], capture_output=True, text=True,
                          timeout=60, **kw)


def examples_of(command: list[str], env: dict[str, str]) -> list[str]:
    p = bash(f"groupmsg {' '.join(command)} --help", env)
    assert p.returncode == 0 and p.stderr == ""
    assert "\nExamples:\n" in p.stdout.replace("\n  Examples:\n", "\nExamples:\n"), p.stdout
    block = p.stdout.split("Examples:", 1)[1]
    found = [line.strip() for line in block.splitlines() if line.strip().startswith("groupmsg ")]
    assert len(found) >= 2, block
    return found


def test_every_listed_command_has_examples_in_its_help(user) -> None:
    for command in COMMANDS:
        assert all(e.split()[0] == "groupmsg" for e in examples_of(command, user))


def test_send_examples(served, user) -> None:
    sandbox, _ = served
    setup = ["groupmsg groups add 运维告警 --webhook-env OPS_WEBHOOK --secret-env OPS_SECRET",
             "groupmsg create-group 项目A群 --owner demo-user --member dev-1"]
    for line in setup:
        assert bash(line, user).returncode == 0
    for example in examples_of(["send"], user):
        p = bash(example, user)
        assert p.returncode == 0 and "Error" not in p.stderr, (example, p.stderr)
    sent = sandbox.messages()
    assert [m["channel"] for m in sent].count("webhook") == 5 and len(sent) == 6  # --dry-run sent nothing
    assert [m["msgtype"] for m in sent if m["channel"] == "webhook"].count("actionCard") == 1
    assert any(m.get("content") == "今日值班: 张三\n" for m in sent)


def test_create_group_examples(served, user) -> None:
    sandbox, _ = served
    chats = len(sandbox.chats())
    outputs = []
    for example in examples_of(["create-group"], user):
        p = bash(example, user)
        assert p.returncode == 0 and p.stderr == "", (example, p.stderr)
        outputs.append(p.stdout)
    assert outputs[0].startswith("created 项目B群") and '"created": false' in outputs[1]
    assert len(sandbox.chats()) == chats + 1


def test_submit_examples(served, user) -> None:
    sandbox, _ = served
    chats = len(sandbox.chats())
    for example in examples_of(["submit"], user):
        p = bash(example, user)
        assert p.returncode == 0 and "Error" not in p.stderr, (example, p.stderr)
    assert len(sandbox.chats()) == chats + 1 and [m["content"] for m in sandbox.messages()] == ["今晚八点发版"]


def test_groups_add_examples(user) -> None:
    for example in examples_of(["groups", "add"], user):
        p = bash(example, user)
        assert p.returncode == 0 and p.stderr == "" and p.stdout.startswith("added "), (example, p.stderr)
    p = bash("groupmsg groups list --json", user)
    assert DEMO_WEBHOOK_TOKEN not in p.stdout and DEMO_WEBHOOK_SECRET not in p.stdout


def test_sandbox_examples_serve(user) -> None:
    for example in examples_of(["sandbox"], user):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        command = re.sub(r"--port \d+", f"--port {port}", example)
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], env=user, cwd=user["CWD"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/messages", timeout=2) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, (example, proc.stderr.read())
                    time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        assert f"DingTalk sandbox on http://127.0.0.1:{port}" in proc.stderr.read()


def test_no_example_needs_the_current_folder_when_it_names_its_flows_file(user) -> None:
    line = next(e for e in examples_of(["submit"], user) if "--flows" in e)
    p = bash(line, {**user, "CWD": "/"})
    assert p.returncode == 0 and "群消息内容录入表" in p.stdout


@pytest.mark.parametrize("columns", [80, 200])
def test_help_uses_the_terminal_width_and_cuts_nothing_on_a_wide_one(user, columns) -> None:
    p = bash("groupmsg --help && groupmsg send --help", {**user, "COLUMNS": str(columns)})
    assert p.returncode == 0 and p.stderr == ""
    widest = max(len(line) for line in p.stdout.splitlines())
    assert widest <= columns and (widest > 100 if columns == 200 else True)
    if columns == 200:
        assert not [line for line in p.stdout.splitlines() if line.endswith("...") and "Usage:" not in line]
