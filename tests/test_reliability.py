"""Delivery you can trust: retries, shared rate limits, idempotency, many processes, SIGKILL.

These run whole `groupmsg` processes against the sandbox on a real 127.0.0.1 socket, with the
sandbox's rate-limit windows shortened (and groupmsg told so through GROUPMSG_WEBHOOK_RATE) so that
the minute-long DingTalk windows are exercised in seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from groupmsg.sandbox import FaultConfig, Sandbox, SandboxConfig, WebhookRobot, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN

WINDOW_S = 3.0


def config(robots: int, **kw) -> SandboxConfig:
    kw.setdefault("webhooks", {f"robot-token-{i:03d}": WebhookRobot(name=f"robot{i}") for i in range(robots)})
    kw.setdefault("webhook_window_s", WINDOW_S)
    kw.setdefault("webhook_block_s", 30.0)
    return SandboxConfig.demo(**kw)


@pytest.fixture
def serve():
    stack = []

    def start(cfg: SandboxConfig) -> tuple[Sandbox, str]:
        sandbox = Sandbox(cfg)
        ctx = serve_in_thread(sandbox, host="127.0.0.1", port=0)
        url = ctx.__enter__()
        stack.append(ctx)
        return sandbox, url

    yield start
    for ctx in stack:
        ctx.__exit__(None, None, None)


def env_for(home: Path, url: str, window_s: float = WINDOW_S) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "GROUPMSG_HOME": str(home),
        "GROUPMSG_OAPI_URL": url,
        "GROUPMSG_API_URL": url,
        "DINGTALK_APP_KEY": "demo-app-key",
        "DINGTALK_APP_SECRET": "demo-app-secret",
        "GROUPMSG_WEBHOOK_RATE": f"20/{window_s:g}",
        "NO_COLOR": "1",
    }


def groupmsg(home: Path, url: str, *args: str, window_s: float = WINDOW_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "groupmsg", *args],
        env=env_for(home, url, window_s), capture_output=True, text=True, timeout=120,
    )


def register_robots(home: Path, url: str, count: int, *, same_robot: bool = False) -> None:
    from groupmsg.state.files.registry import Registry
    from groupmsg.state.model import Group

    Registry(home / "registry").add_many(
        [Group(name=f"群{i:03d}", kind="webhook",
               webhook=f"https://oapi.dingtalk.com/robot/send?access_token=robot-token-{0 if same_robot else i:03d}")
         for i in range(count)]
    )


def webhook_errors(sandbox: Sandbox) -> Counter:
    return Counter(r.get("errcode") for r in sandbox.requests() if r["path"] == "/robot/send")


@pytest.mark.slow
def test_eight_processes_with_30_percent_faults_deliver_160_messages_exactly_once(serve, home) -> None:
    kinds = ("http500", "busy", "timeout", "lost_response", "latency")
    sandbox, url = serve(config(8, faults=FaultConfig(rate=0.3, kinds=kinds, seed=7, timeout_s=0.5, latency_ms=50)))
    register_robots(home, url, 8)

    def worker(w: int) -> list[int]:
        return [groupmsg(home, url, "send", "-g", f"群{w:03d}", f"进程{w} 第{i}条").returncode for i in range(20)]

    with ThreadPoolExecutor(8) as pool:
        codes = [c for codes in pool.map(worker, range(8)) for c in codes]
    assert codes == [0] * 160
    received = Counter(m["content"] for m in sandbox.messages())
    assert len(received) == 160 and set(received.values()) == {1}  # every message exactly once
    faults = Counter(r.get("fault") for r in sandbox.requests() if r.get("fault"))
    assert sum(faults.values()) > 20, faults  # faults really were injected
    assert webhook_errors(sandbox)[130101] == 0


@pytest.mark.slow
def test_forty_messages_to_one_robot_from_four_processes_never_trip_the_block(serve, home) -> None:
    sandbox, url = serve(config(1))
    register_robots(home, url, 1)
    started = time.monotonic()

    def worker(w: int) -> list[int]:
        return [groupmsg(home, url, "send", "-g", "群000", f"{w}-{i}").returncode for i in range(10)]

    with ThreadPoolExecutor(4) as pool:
        codes = [c for codes in pool.map(worker, range(4)) for c in codes]
    assert codes == [0] * 40
    assert len(sandbox.messages()) == 40
    assert webhook_errors(sandbox)[130101] == 0
    assert time.monotonic() - started >= WINDOW_S  # the third window's worth had to wait


def test_no_wait_fails_fast_with_exit_1_when_the_window_is_full(serve, home) -> None:
    sandbox, url = serve(config(1, webhook_window_s=60))
    register_robots(home, url, 20, same_robot=True)  # twenty names, one robot
    p = groupmsg(home, url, "send", "--all", "--concurrency", "4", "fill the window", window_s=60)
    assert p.returncode == 0 and len(sandbox.messages()) == 20
    p = groupmsg(home, url, "send", "--no-wait", "-g", "群000", "one too many", window_s=60)
    assert p.returncode == 1 and p.stdout == ""
    assert "window is full" in p.stderr and "--no-wait" in p.stderr
    assert webhook_errors(sandbox)[130101] == 0


def test_non_retryable_errors_fail_fast_with_their_fix(serve, home) -> None:
    sandbox, url = serve(config(1, webhooks={"robot-token-000": WebhookRobot(keywords=("告警",))}))
    register_robots(home, url, 1)
    started = time.monotonic()
    p = groupmsg(home, url, "send", "-g", "群000", "no keyword here")
    took = time.monotonic() - started
    assert p.returncode == 1 and p.stdout == ""
    assert "310000" in p.stderr and "keyword" in p.stderr
    assert took < 3.0  # one interpreter start-up; the error itself is not retried
    assert len([r for r in sandbox.requests() if r["path"] == "/robot/send"]) == 1


def test_a_dedupe_key_makes_a_repeat_a_no_op(serve, home) -> None:
    sandbox, url = serve(config(1))
    register_robots(home, url, 1)
    p = groupmsg(home, url, "send", "--dedupe-key", "deploy-42", "-g", "群000", "deployed 42")
    assert (p.returncode, p.stdout, p.stderr) == (0, "sent to 群000 (webhook)\n", "")
    p = groupmsg(home, url, "send", "--dedupe-key", "deploy-42", "-g", "群000", "deployed 42")
    assert p.returncode == 0 and p.stdout == ""
    assert "already sent" in p.stderr and "deploy-42" in p.stderr
    assert len(sandbox.messages()) == 1


@pytest.mark.slow
def test_a_repeat_of_a_failed_deduplicated_send_resumes_it(serve, home) -> None:
    sandbox, url = serve(config(2, webhooks={"robot-token-000": WebhookRobot(name="ok"), "robot-token-001": WebhookRobot(enabled=False)}))
    register_robots(home, url, 2)
    p = groupmsg(home, url, "send", "--dedupe-key", "k", "-g", "群000", "-g", "群001", "hello")
    assert p.returncode == 1 and "群001" in p.stderr and "400102" in p.stderr
    p = groupmsg(home, url, "send", "--dedupe-key", "k", "-g", "群000", "-g", "群001", "hello")
    assert p.returncode == 1  # still disabled: resumed, failed again, and 群000 was not sent twice
    assert [m["robot"] for m in sandbox.messages()].count(sandbox.messages()[0]["robot"]) == 1
    runs = json.loads(groupmsg(home, url, "runs", "list", "--json").stdout)
    assert len(runs) == 1 and runs[0]["steps"][1]["attempts"] >= 2


@pytest.mark.slow
def test_sigkill_mid_broadcast_leaves_a_run_that_retry_completes_without_duplicates(serve, home) -> None:
    sandbox, url = serve(config(40, latency_ms=100, limits=False))
    register_robots(home, url, 40)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupmsg", "send", "--all", "--concurrency", "2", "广播"],
        env=env_for(home, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 30
    while len(sandbox.messages()) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    delivered_before = len(sandbox.messages())
    assert 6 <= delivered_before < 40

    # the state loads, and the interrupted run is listed as unsettled
    p = groupmsg(home, url, "runs", "list", "--status", "unsettled", "--json")
    assert p.returncode == 0 and p.stderr == ""
    [run] = json.loads(p.stdout)
    assert any(s["status"] == "pending" for s in run["steps"])
    p = groupmsg(home, url, "groups", "list", "--json")
    assert p.returncode == 0 and len(json.loads(p.stdout)) == 40

    p = groupmsg(home, url, "runs", "retry", "--failed")
    assert p.returncode == 0 and p.stdout == f"run {run['id']}: succeeded\n"
    per_robot = Counter(m["robot"] for m in sandbox.messages())
    assert len(per_robot) == 40 and set(per_robot.values()) == {1}  # each group exactly once
    p = groupmsg(home, url, "runs", "list", "--status", "unsettled", "--json")
    assert json.loads(p.stdout) == []


def test_a_damaged_or_old_rate_limit_file_counts_as_a_full_window_and_heals(tmp_path) -> None:
    import json as _json

    from groupmsg.errors import RateLimited
    from groupmsg.settings import Rate
    from groupmsg.state.files.limits import RateLimiter

    limiter = RateLimiter(tmp_path)
    rate = Rate(2, 0.3)
    for junk in (b"[1700000000.0, 1700000001.0]", b"{oops", b'{"a": 1}'):
        limiter._path("k").write_bytes(junk)
        with pytest.raises(RateLimited):  # no burst that could earn the robot a block
            limiter.acquire("k", rate, label="robot", wait=False)
        assert len(_json.loads(limiter._path("k").read_bytes())) == 2  # rewritten as a full window
        ident = limiter.acquire("k", rate, label="robot")  # free again one window later
        limiter.release("k", rate, ident)


@pytest.mark.slow
@pytest.mark.parametrize("kind,robot", [("lost_response", False), ("lost_response", True), ("timeout", False)])
def test_an_app_group_send_that_may_have_been_delivered_is_not_repeated(serve, home, kind, robot) -> None:
    from groupmsg.sandbox.config import DEMO_CHAT_ID, DEMO_OPEN_CONVERSATION_ID

    sandbox, url = serve(config(0, faults=FaultConfig(rate=0.0, timeout_s=0.5)))
    assert groupmsg(home, url, "groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID,
                    "--open-conversation-id", DEMO_OPEN_CONVERSATION_ID).returncode == 0
    path = "/v1.0/robot/groupMessages/send" if robot else "/chat/send"
    sandbox.inject_fault(kind, times=1, path=path)
    env_args = ("send", "-g", "应用群", "只发一次")
    if robot:
        p = subprocess.run([sys.executable, "-m", "groupmsg", *env_args], capture_output=True, text=True,
                           env={**env_for(home, url), "DINGTALK_ROBOT_CODE": "demo-robot"}, timeout=60)
    else:
        p = groupmsg(home, url, *env_args)
    assert p.returncode == 1 and p.stdout == ""
    assert "may have been delivered, so it was not sent again" in p.stderr and "runs retry" in p.stderr
    assert len(sandbox.messages()) == (0 if kind == "timeout" else 1)  # never twice
    assert len([r for r in sandbox.requests() if r["path"] == path]) == 1


@pytest.mark.slow
def test_a_refusal_that_says_nothing_was_delivered_is_retried(serve, home) -> None:
    from groupmsg.sandbox.config import DEMO_CHAT_ID

    sandbox, url = serve(config(0))
    assert groupmsg(home, url, "groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID).returncode == 0
    sandbox.inject_fault("busy", times=1, path="/chat/send")
    sandbox.inject_fault("qps", times=1, path="/chat/send")
    p = groupmsg(home, url, "send", "-g", "应用群", "重试后送达")
    assert (p.returncode, p.stdout, p.stderr) == (0, "sent to 应用群 (chat)\n", "")
    assert len(sandbox.messages()) == 1 and len([r for r in sandbox.requests() if r["path"] == "/chat/send"]) == 3


def test_a_run_being_sent_cannot_be_resumed_twice_and_a_killed_one_is_unsettled(cli, creds, home, sandbox) -> None:
    from groupmsg.app import App
    from groupmsg.settings import Settings
    from groupmsg.state.model import RUNNING, Run, Step

    app = App(Settings.load())
    cli("groups", "add", "g", "--webhook", "https://oapi.dingtalk.com/robot/send?access_token=" + DEMO_WEBHOOK_PLAIN_TOKEN)
    run = Run(id="20260101-000000-aaaaaa", kind="send", name="send", status=RUNNING,
              context={"message": {"text": "hi"}},
              steps=[Step(id="s1", name="g", kind="send_group_message", inputs={"group": "g", "channel": "webhook"})])
    app.state.runs.save(run)
    assert app.state.runs.unsettled(run)  # nobody holds it
    with app.state.runs.hold(run):  # another process delivering it
        assert not app.state.runs.unsettled(run)
        r = cli("runs", "retry", run.id)
        assert r.exit_code == 3 and r.stdout == "" and "being sent right now by another process" in r.stderr
        assert sandbox.messages() == []
    r = cli("runs", "retry", run.id)
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"run {run.id}: succeeded\n", "")
    assert len(sandbox.messages()) == 1


def test_a_group_name_with_glob_characters_is_addressed_exactly(cli, creds, sandbox) -> None:
    from groupmsg.sandbox.config import DEMO_CHAT_ID

    cli("groups", "add", "[prod] 告警*", "--chat-id", DEMO_CHAT_ID)
    cli("groups", "add", "p", "--chat-id", DEMO_CHAT_ID)
    r = cli("send", "-g", "[prod] 告警*", "hi")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "sent to [prod] 告警* (chat)\n", "")
    assert len(sandbox.messages()) == 1


def test_the_size_check_counts_the_msguuid_that_is_sent(cli, sandbox) -> None:
    import json as _json

    from groupmsg.dingtalk.messages import WEBHOOK_BODY_MAX_BYTES

    cli("groups", "add", "g", "--webhook", "https://oapi.dingtalk.com/robot/send?access_token=" + DEMO_WEBHOOK_PLAIN_TOKEN)
    overhead = len(_json.dumps({"msgtype": "text", "text": {"content": ""}}, separators=(",", ":")).encode())
    text = "a" * (WEBHOOK_BODY_MAX_BYTES - overhead)  # exactly the limit without msgUuid
    r = cli("send", "-g", "g", text)
    assert r.exit_code == 2 and r.stdout == "" and "at most 20000 bytes" in r.stderr
    assert sandbox.requests() == [] and _json.loads(cli("runs", "list", "--json").stdout) == []
