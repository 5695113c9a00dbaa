"""The CI, cron and systemd examples, run as written (bar the install line) against the sandbox."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN

pytestmark = pytest.mark.slow  # each example runs groupmsg in subprocesses

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"
BIN = Path(sys.executable).parent


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


@pytest.fixture
def shell_env(tmp_path, served) -> dict[str, str]:
    """PATH with groupmsg first and a `pip` that does nothing (groupmsg is already installed)."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "pip").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "pip").chmod(0o755)
    _, url = served
    return {
        "PATH": f"{stubs}:{BIN}:{os.environ['PATH']}",
        "GROUPMSG_OAPI_URL": url,
        "GROUPMSG_API_URL": url,
        "NO_COLOR": "1",
    }


def run(script: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], env=env, input=stdin, capture_output=True, text=True,
                          timeout=60)


def github_step() -> dict:
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github-actions.yml").read_text())
    return next(s for s in workflow["jobs"]["deploy"]["steps"] if s.get("name") == "Notify DingTalk")


def expand(value: str, context: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: context[m.group(1)], value)


@pytest.mark.parametrize("secret,expected_exit", [(DEMO_WEBHOOK_SECRET, 0), ("SEC" + "0" * 64, 1)])
def test_github_actions_step(served, shell_env, tmp_path, redis_shared, secret, expected_exit) -> None:
    sandbox, _ = served
    step = github_step()
    context = {"runner.temp": str(tmp_path / "run1"), "secrets.DINGTALK_WEBHOOK": WEBHOOK,
               "secrets.DINGTALK_SECRET": secret, "secrets.GROUPMSG_STORE": redis_shared.url,
               "job.status": "success"}
    env = {**shell_env, **{k: expand(v, context) for k, v in step["env"].items()},
           "GITHUB_REPOSITORY": "acme/shop", "GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "1",
           "GITHUB_SERVER_URL": "https://github.com",
           "GITHUB_SHA": "abc123", "GITHUB_ACTOR": "dev", "GROUPMSG_REDIS_PREFIX": redis_shared.prefix()}
    p = run(step["run"], env)
    assert p.returncode == expected_exit, p.stderr
    if expected_exit:
        assert "310000" in p.stderr and sandbox.messages() == []
        return
    assert p.stdout == "sent to webhook demo…(18) (webhook)\n"
    [msg] = sandbox.messages()
    assert msg["msgtype"] == "actionCard" and msg["title"] == "Deploy success" and "acme/shop" in msg["content"]
    assert msg["message"]["buttons"] == [{"title": "View run", "url": "https://github.com/acme/shop/actions/runs/123"}]
    # A re-run lands on another runner: a new, empty runner.temp. The key is in the team's Redis.
    rerun = {**env, "GROUPMSG_HOME": str(tmp_path / "run2" / "groupmsg")}
    p = run(step["run"], rerun)
    assert p.returncode == 0 and "already sent" in p.stderr and len(sandbox.messages()) == 1
    assert not (tmp_path / "run1" / "groupmsg" / "registry").exists()  # a one-shot send registers nothing


def test_gitlab_ci_job(served, shell_env, tmp_path) -> None:
    sandbox, _ = served
    job = yaml.safe_load((EXAMPLES / "ci" / "gitlab-ci.yml").read_text())["notify-dingtalk"]
    env = {**shell_env, "CI_PROJECT_DIR": str(tmp_path), "DINGTALK_WEBHOOK": WEBHOOK,
           "DINGTALK_SECRET": DEMO_WEBHOOK_SECRET, "CI_PIPELINE_ID": "77", "CI_JOB_ID": "5",
           "CI_PROJECT_PATH": "acme/shop", "CI_COMMIT_SHORT_SHA": "abc"}
    env.update({k: v.replace("$CI_PROJECT_DIR", str(tmp_path)) for k, v in job["variables"].items()})
    p = run("\n".join(job["script"]), env)
    assert p.returncode == 0, p.stderr
    assert [m["content"] for m in sandbox.messages()] == ["Pipeline 77 of acme/shop finished (abc)"]


def _register_webhook(env: dict[str, str], name: str) -> None:
    p = run(f"groupmsg groups add {name} --webhook '{WEBHOOK}' --secret {DEMO_WEBHOOK_SECRET}", env)
    assert p.returncode == 0, p.stderr


def test_crontab_line(served, shell_env, tmp_path) -> None:
    sandbox, _ = served
    line = next(l for l in (EXAMPLES / "cron" / "crontab").read_text().splitlines() if l and not l.startswith("#"))
    command = line.split(None, 5)[5]
    roster = tmp_path / "today.txt"
    roster.write_text("今日值班: 张三 13800000000\n")
    env = {**shell_env, "GROUPMSG_HOME": str(tmp_path / "home")}
    _register_webhook(env, "值班群")
    p = run(command.replace("/etc/oncall/today.txt", str(roster)), env)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")  # --quiet: cron mails nothing on success
    assert sandbox.messages()[0]["content"] == "今日值班: 张三 13800000000\n"


def test_systemd_service(served, shell_env, tmp_path) -> None:
    sandbox, _ = served
    unit = (EXAMPLES / "systemd" / "groupmsg-report.service").read_text()
    exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
    stdin_file = re.search(r"^StandardInput=file:(.*)$", unit, re.M).group(1)
    argv = shlex.split(exec_start.replace("%i", "2026-11-25"))
    argv[0] = str(BIN / "groupmsg")
    env = {**shell_env, "GROUPMSG_HOME": str(tmp_path / "home")}
    _register_webhook(env, "日报群")
    assert stdin_file == "/var/lib/report/nightly.md"
    p = subprocess.run(argv, env=env, input="## 夜间报告\n- 订单: 1024\n", capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "")
    [msg] = sandbox.messages()
    assert msg["msgtype"] == "markdown" and msg["title"] == "夜间报告" and "订单: 1024" in msg["content"]
