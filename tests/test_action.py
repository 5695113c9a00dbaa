"""The GitHub Action (action.yml): its steps run as GitHub's runner runs them (tests/github_actions.py),
installing groupmsg from the action's own checkout, against the sandbox."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from github_actions import run_action
from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_SECRET, DEMO_WEBHOOK_TOKEN
from package_support import ROOT, cron_env, fresh_clone

pytestmark = pytest.mark.slow  # installs groupmsg from the checkout, runs processes

WEBHOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_TOKEN}"


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> dict[str, Path]:
    """One job: the action's checkout, the runner's temp folder (shared by the job's steps, so the
    venv is installed once) and the workspace with the user's repository."""
    root = tmp_path_factory.mktemp("job")
    dirs = {"action": fresh_clone(root / "action"), "temp": root / "temp", "workspace": root / "workspace",
            "home": root / "home"}
    for d in ("temp", "workspace", "home"):
        dirs[d].mkdir()
    return dirs


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def act(job, served, inputs: dict[str, str], **step_env: str):
    _, url = served
    # The runner's environment (cron-like: /usr/bin's python3), plus what the workflow's step sets.
    env = cron_env(job["home"], GROUPMSG_OAPI_URL=url, GROUPMSG_API_URL=url, NO_COLOR="1", **step_env)
    return run_action(job["action"], inputs, env=env, runner_temp=job["temp"], workspace=job["workspace"])


def test_action_yml_is_a_composite_action_that_passes_inputs_as_variables() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert {"text", "markdown", "title", "webhook", "secret", "group", "registry-file", "dedupe-key",
            "at-mobiles", "buttons", "link", "message-file"} <= set(action["inputs"])
    assert set(action["outputs"]) >= {"run-id", "status"}
    for step in action["runs"]["steps"]:
        # never `${{ inputs.* }}` pasted into a script (script injection); and no INPUT_* (not set for composites)
        assert "${{" not in step["run"] and "INPUT_" not in step["run"], step["name"]
    scripts = "".join(p.read_text() for p in (ROOT / "action").glob("*.sh"))
    assert "INPUT_" not in scripts and "${{" not in scripts


def test_a_signed_markdown_message_with_mentions_sent_once_per_dedupe_key(job, served) -> None:
    sandbox, _ = served
    inputs = {"webhook": WEBHOOK, "secret": DEMO_WEBHOOK_SECRET, "markdown": "### 发布成功\n- 版本: v1.2",
              "title": "发布", "at-mobiles": "13800000000, 13900000000", "dedupe-key": "acme/shop-101-1"}
    r = act(job, served, inputs)
    assert r.code == 0, r.stderr
    assert f"::add-mask::{DEMO_WEBHOOK_TOKEN}" in r.stdout and re.search(r"^sent \(run \S+\)$", r.stdout, re.M)
    assert r.outputs["status"] == "succeeded" and r.outputs["duplicate"] == "false" and r.outputs["run-id"]
    [msg] = sandbox.messages()
    assert msg["msgtype"] == "markdown" and msg["title"] == "发布" and "版本: v1.2" in msg["content"]
    assert msg["at"]["atMobiles"] == ["13800000000", "13900000000"]
    assert DEMO_WEBHOOK_TOKEN not in r.stderr and DEMO_WEBHOOK_SECRET not in r.stdout + r.stderr
    # the run is recorded under the id the output names
    show = subprocess.run([str(job["temp"] / _venv(job) / "bin" / "groupmsg"), "runs", "show", r.outputs["run-id"],
                           "--json"], env=cron_env(job["home"], GROUPMSG_HOME=str(job["temp"] / "groupmsg-home")),
                          capture_output=True, text=True)
    assert show.returncode == 0 and json.loads(show.stdout)["status"] == "succeeded", show.stderr
    # a re-run of the step: nothing sent again
    again = act(job, served, inputs)
    assert again.code == 0 and "nothing sent again" in again.stdout, again.stderr
    assert again.outputs == {**r.outputs, "duplicate": "true"} and len(sandbox.messages()) == 1


def test_a_refused_message_fails_the_step_with_groupmsgs_error(job, served) -> None:
    sandbox, _ = served
    r = act(job, served, {"webhook": WEBHOOK, "secret": "SEC" + "0" * 64, "text": "hi"})
    assert r.code == 1 and sandbox.messages() == []
    assert "Error: " in r.stderr and "310000" in r.stderr
    assert re.search(r"^::error title=groupmsg::.*310000", r.stdout, re.M), r.stdout
    assert r.outputs["status"] == "failed" and r.outputs["run-id"]


def test_a_group_of_a_registry_file_kept_in_the_repository(job, served) -> None:
    sandbox, _ = served
    registry = job["workspace"] / ".github" / "dingtalk-groups.json"
    registry.parent.mkdir(exist_ok=True)
    registry.write_text(json.dumps([{"name": "运维告警", "webhook_env": "OPS_WEBHOOK", "secret_env": "OPS_SECRET"}],
                                   ensure_ascii=False), encoding="utf-8")
    inputs = {"group": "运维告警", "registry-file": ".github/dingtalk-groups.json", "text": "构建失败", "at-all": "true"}
    r = act(job, served, inputs, OPS_WEBHOOK=WEBHOOK, OPS_SECRET=DEMO_WEBHOOK_SECRET)
    assert r.code == 0 and r.outputs["status"] == "succeeded", r.stdout + r.stderr
    [msg] = sandbox.messages()
    assert msg["content"].startswith("构建失败") and msg["at"]["isAtAll"] is True
    # without the secret's variable in the step's env, the step says which variable is missing
    r = act(job, served, inputs, OPS_WEBHOOK=WEBHOOK)
    assert r.code == 2 and "$OPS_SECRET, which is not set" in r.stderr and r.outputs["status"] == "error"
    assert "::error title=groupmsg::" in r.stdout


def test_an_action_card_with_buttons_and_a_message_file(job, served) -> None:
    sandbox, _ = served
    inputs = {"webhook": WEBHOOK, "secret": DEMO_WEBHOOK_SECRET, "title": "上线审批", "markdown": "**api v2.3** 申请上线",
              "buttons": "同意=https://oa.example.com/1?ok=1\n  拒绝=https://oa.example.com/1?ok=0  \n",
              "horizontal": "true"}
    r = act(job, served, inputs)
    assert r.code == 0 and r.outputs["status"] == "succeeded", r.stdout + r.stderr
    [card] = sandbox.messages()
    assert card["msgtype"] == "actionCard" and card["title"] == "上线审批"
    assert card["body"]["actionCard"]["btnOrientation"] == "1"
    assert [b["title"] for b in card["body"]["actionCard"]["btns"]] == ["同意", "拒绝"]
    (job["workspace"] / "feed.yaml").write_text(
        "kind: feed_card\nlinks:\n  - 周报=https://e.example.com/w=https://e.example.com/w.png\n", encoding="utf-8")
    r = act(job, served, {"webhook": WEBHOOK, "secret": DEMO_WEBHOOK_SECRET, "message-file": "feed.yaml"})
    assert r.code == 0 and r.outputs["status"] == "succeeded", r.stdout + r.stderr
    assert sandbox.messages()[-1]["msgtype"] == "feedCard"


@pytest.mark.parametrize("inputs,message", [
    ({"text": "hi"}, "say where to send"),
    ({"webhook": WEBHOOK, "group": "x", "text": "hi"}, "give either webhook or group"),
    ({"webhook": WEBHOOK, "text": "a", "markdown": "b"}, "give either text or markdown"),
    ({"webhook": WEBHOOK, "text": "a", "message-file": "m.yaml"}, "message-file is the whole message"),
])
def test_bad_inputs_fail_the_step_before_anything_is_sent(job, served, inputs, message) -> None:
    sandbox, _ = served
    r = act(job, served, inputs)
    assert r.code == 2 and f"::error title=groupmsg::{message}" in r.stdout
    assert r.outputs == {"run-id": "", "status": "error", "duplicate": "false"} and sandbox.messages() == []


def _venv(job) -> str:
    [venv] = [p.name for p in job["temp"].iterdir() if p.name.startswith("groupmsg-") and p.is_dir()
              and (p / "bin").is_dir()]
    return venv
