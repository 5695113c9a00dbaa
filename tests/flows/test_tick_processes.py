"""Ticks in whole processes started together, as cron on several hosts would: each occurrence runs
once, and the mark per flow (state.files.schedules) moves once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_APP_SECRET
from groupmsg.state.files.schedules import ScheduleMarks

pytestmark = pytest.mark.slow  # whole processes

FLOWS = """
version: 1
flows:
  - name: 值班提醒
    trigger: {schedule: "*/5 9 * * *", timezone: Asia/Shanghai}
    nodes:
      - {kind: send_group_message, chat: 值班群, text: "{{ schedule.time }}"}
"""


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo())
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def start(home: Path, url: str, flows: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    env = {
        **extra,
        "PATH": os.environ.get("PATH", ""),
        "GROUPMSG_HOME": str(home),
        "GROUPMSG_FLOWS": str(flows),
        "GROUPMSG_OAPI_URL": url,
        "GROUPMSG_API_URL": url,
        "DINGTALK_APP_KEY": "demo-app-key",
        "DINGTALK_APP_SECRET": DEMO_APP_SECRET,
        "NO_COLOR": "1",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "groupmsg", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_four_processes_ticking_at_once_run_each_occurrence_once(served, home, tmp_path) -> None:
    sandbox, url = served
    flows = tmp_path / "flows.yaml"
    flows.write_text(FLOWS, encoding="utf-8")
    chat = sandbox.add_chat(name="值班群", owner="demo-user")["chat_id"]
    first = start(home, url, flows, "groups", "add", "值班群", "--chat-id", chat)
    assert first.wait(60) == 0

    def round_of_four(now: str) -> list[tuple[int, str, str]]:
        procs = [start(home, url, flows, "flows", "tick", "--now", now) for _ in range(4)]
        return [(p.wait(60), *p.communicate()) for p in procs]

    seen = round_of_four("2027-01-04T08:58+08:00")  # a new flow: the first to look sets its mark
    assert all(code == 0 and err == "" and ("first seen" in out or "not due" in out) for code, out, err in seen), seen
    assert any("first seen" in out for _, out, _ in seen)
    for minute in ("00", "05", "10", "15", "20"):
        results = round_of_four(f"2027-01-04T09:{minute}+08:00")
        assert all(code == 0 and err == "" for code, _, err in results), results
        succeeded = [out for _, out, _ in results if "flow 值班提醒: succeeded" in out]
        assert len(succeeded) == 1, results
        # the others found it claimed, or (once the winner had moved the mark) not due any more
        assert all("claimed" in out or "not due" in out for _, out, _ in results if out not in succeeded), results
    assert [m["content"] for m in sandbox.messages()] == [
        f"2027-01-04T09:{minute}:00+08:00" for minute in ("00", "05", "10", "15", "20")
    ]
    assert ScheduleMarks(home / "schedules.json").last("值班提醒") == "2027-01-04T09:20:00+08:00"


def test_compare_and_set_across_processes_moves_the_mark_once(tmp_path) -> None:
    """Twenty processes race to move one mark from the same value: exactly one wins."""
    path = tmp_path / "schedules.json"
    assert ScheduleMarks(path).compare_and_set("f", None, "2027-01-01T00:00:00+00:00")
    script = (
        "import sys; from pathlib import Path; from groupmsg.state.files.schedules import ScheduleMarks;"
        "print(ScheduleMarks(Path(sys.argv[1])).compare_and_set('f', '2027-01-01T00:00:00+00:00', sys.argv[2]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path), f"2027-01-01T09:{i:02d}:00+00:00"],
                         stdout=subprocess.PIPE, text=True)
        for i in range(20)
    ]
    answers = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert sorted(answers) == ["False"] * 19 + ["True"]
    winner = answers.index("True")
    assert ScheduleMarks(path).last("f") == f"2027-01-01T09:{winner:02d}:00+00:00"


def test_four_hosts_sharing_redis_run_each_occurrence_once(served, tmp_path, redis_shared) -> None:
    """Four hosts (four homes), one Redis: the marks and the claims are shared, so are the runs."""
    sandbox, url = served
    flows = tmp_path / "flows.yaml"
    flows.write_text(FLOWS, encoding="utf-8")
    store = {"GROUPMSG_STORE": redis_shared.url, "GROUPMSG_REDIS_PREFIX": redis_shared.prefix()}
    homes = [tmp_path / f"host{i}" for i in range(4)]
    chat = sandbox.add_chat(name="值班群", owner="demo-user")["chat_id"]
    assert start(homes[0], url, flows, "groups", "add", "值班群", "--chat-id", chat, **store).wait(60) == 0

    def ticks(now: str) -> list[tuple[int, str, str]]:
        procs = [start(home, url, flows, "flows", "tick", "--now", now, **store) for home in homes]
        return [(p.wait(60), *p.communicate()) for p in procs]

    assert all(code == 0 for code, _, _ in ticks("2027-01-04T08:58+08:00"))
    for minute in ("00", "05", "10"):
        results = ticks(f"2027-01-04T09:{minute}+08:00")
        assert all(code == 0 and err == "" for code, _, err in results), results
        assert sum("flow 值班提醒: succeeded" in out for _, out, _ in results) == 1, results
    assert [m["content"] for m in sandbox.messages()] == [f"2027-01-04T09:{m}:00+08:00" for m in ("00", "05", "10")]
    r = start(homes[3], url, flows, "flows", "next", "--now", "2027-01-04T09:11+08:00", "--json", **store)
    out, _ = r.communicate(timeout=60)
    assert json.loads(out)[0]["last"] == "2027-01-04T09:10:00+08:00"
