"""Several hosts sharing one Redis: each "host" is a separate GROUPMSG_HOME running whole `groupmsg`
processes, all with the same GROUPMSG_STORE, against the sandbox on a real 127.0.0.1 socket.

DingTalk's limits are global, so what one host does must count for the others: the registry, the
rate-limit windows and blocks, dedupe keys, the access token and the run log are shared.
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

from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, serve_in_thread
from groupmsg.sandbox.config import DEMO_CHAT_ID

HOSTS = 4


@pytest.fixture
def serve():
    stack = []

    def start(robots: int = 1, **kw) -> tuple[Sandbox, str]:
        kw.setdefault("webhooks", {f"robot-token-{i:03d}": WebhookRobot(name=f"robot{i}") for i in range(robots)})
        sandbox = Sandbox(SandboxConfig.demo(**kw))
        ctx = serve_in_thread(sandbox, host="127.0.0.1", port=0)
        url = ctx.__enter__()
        stack.append(ctx)
        return sandbox, url

    yield start
    for ctx in stack:
        ctx.__exit__(None, None, None)


class Hosts:
    """HOSTS homes sharing one store; `run(host, *args)` is `groupmsg ARGS` on that host."""

    def __init__(self, tmp_path: Path, url: str, store: str, prefix: str, **env: str) -> None:
        self.homes = [tmp_path / f"host{h}" for h in range(HOSTS)]
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "GROUPMSG_OAPI_URL": url,
            "GROUPMSG_API_URL": url,
            "GROUPMSG_STORE": store,
            "GROUPMSG_REDIS_PREFIX": prefix,
            "DINGTALK_APP_KEY": "demo-app-key",
            "DINGTALK_APP_SECRET": "demo-app-secret",
            "NO_COLOR": "1",
            **env,
        }

    def env_of(self, host: int) -> dict[str, str]:
        return {**self.env, "GROUPMSG_HOME": str(self.homes[host])}

    def run(self, host: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "groupmsg", *args], env=self.env_of(host),
                              capture_output=True, text=True, timeout=timeout)

    def everywhere(self, per_host: int, args_of, workers: int = 8) -> list[subprocess.CompletedProcess[str]]:
        """`groupmsg` `per_host` times on every host at once: args_of(host, i) → argv."""
        jobs = [(h, i) for i in range(per_host) for h in range(HOSTS)]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda job: self.run(job[0], *args_of(*job)), jobs))

    def local_state_files(self) -> list[Path]:
        return [p for home in self.homes if home.exists() for p in home.rglob("*") if p.is_file()]


@pytest.fixture
def hosts(tmp_path, redis_shared):
    def make(url: str, **env: str) -> Hosts:
        return Hosts(tmp_path, url, redis_shared.url, redis_shared.prefix(), **env)

    return make


def robot(i: int) -> str:
    return f"https://oapi.dingtalk.com/robot/send?access_token=robot-token-{i:03d}"


def webhook_errors(sandbox: Sandbox) -> Counter:
    return Counter(r.get("errcode") for r in sandbox.requests() if r["path"] == "/robot/send")


@pytest.mark.slow
def test_four_hosts_adding_50_groups_each_at_once_all_see_200(serve, hosts) -> None:
    _, url = serve()
    h = hosts(url)
    results = h.everywhere(50, lambda host, i: ("groups", "add", f"主机{host}-群{i:02d}", "--chat-id", f"chat-{host}-{i}"))
    assert [p.returncode for p in results] == [0] * 200, [p.stderr for p in results if p.returncode][:3]
    for host in range(HOSTS):
        p = h.run(host, "groups", "list", "--json")
        assert p.returncode == 0 and p.stderr == ""
        names = [g["name"] for g in json.loads(p.stdout)]
        assert len(names) == 200 and len(set(names)) == 200
    assert h.local_state_files() == []  # nothing went to local files


@pytest.mark.slow
def test_four_hosts_sending_8_each_to_one_robot_without_waiting_share_its_20_a_minute(serve, hosts) -> None:
    sandbox, url = serve(1, webhook_window_s=60)
    h = hosts(url)
    assert h.run(0, "groups", "add", "告警", "--webhook", robot(0)).returncode == 0
    results = h.everywhere(8, lambda host, i: ("send", "--no-wait", "-g", "告警", f"主机{host} 第{i}条"), workers=16)
    codes = Counter(p.returncode for p in results)
    assert codes == {0: 20, 1: 12}
    refused = [p for p in results if p.returncode == 1]
    assert all("window is full" in p.stderr and p.stdout == "" for p in refused)
    assert len(sandbox.messages()) == 20
    assert webhook_errors(sandbox)[130101] == 0


@pytest.mark.slow
def test_four_hosts_sending_40_each_to_one_robot_deliver_all_without_a_block(serve, hosts) -> None:
    sandbox, url = serve(1, webhook_window_s=2.0, webhook_block_s=30.0)
    h = hosts(url, GROUPMSG_WEBHOOK_RATE="20/2")
    assert h.run(0, "groups", "add", "告警", "--webhook", robot(0)).returncode == 0
    started = time.monotonic()
    results = h.everywhere(40, lambda host, i: ("send", "--timeout", "120", "-g", "告警", f"{host}-{i}"), workers=12)
    assert [p.returncode for p in results] == [0] * 160, [p.stderr for p in results if p.returncode][:3]
    assert len(sandbox.messages()) == 160
    assert webhook_errors(sandbox)[130101] == 0
    assert time.monotonic() - started >= 7 * 2.0  # eight windows' worth: the hosts queued for each other


@pytest.mark.slow
def test_four_hosts_with_the_same_50_dedupe_keys_deliver_each_message_once(serve, hosts) -> None:
    sandbox, url = serve(50)
    h = hosts(url)
    groups = [{"name": f"群{i:02d}", "kind": "webhook", "webhook": robot(i)} for i in range(50)]
    h.homes[0].mkdir(parents=True)
    export = h.homes[0] / "groups.json"
    export.write_text(json.dumps(groups, ensure_ascii=False))
    p = h.run(0, "groups", "import", str(export))
    assert p.returncode == 0, p.stderr
    results = h.everywhere(50, lambda host, i: ("send", "--dedupe-key", f"deploy-{i}", "-g", f"群{i:02d}", f"发布 {i}"),
                           workers=12)
    assert all(p.returncode == 0 for p in results), [p.stderr for p in results if p.returncode][:3]
    per_robot = Counter(m["robot"] for m in sandbox.messages())
    assert len(per_robot) == 50 and set(per_robot.values()) == {1}
    assert sum("already" in p.stderr for p in results) == 150  # the other three hosts were told
    runs = json.loads(h.run(3, "runs", "list", "--limit", "0", "--json").stdout)
    assert len(runs) == 50 and {r["status"] for r in runs} == {"succeeded"}


@pytest.mark.slow
def test_four_hosts_sending_20_cold_each_to_app_groups_fetch_one_token(serve, hosts) -> None:
    sandbox, url = serve(0)
    h = hosts(url)
    assert h.run(0, "groups", "add", "应用群", "--chat-id", DEMO_CHAT_ID).returncode == 0
    results = h.everywhere(20, lambda host, i: ("send", "-g", "应用群", f"主机{host} 第{i}条"), workers=16)
    assert [p.returncode for p in results] == [0] * 80, [p.stderr for p in results if p.returncode][:3]
    token_calls = [r for r in sandbox.requests() if r["path"] in ("/v1.0/oauth2/accessToken", "/gettoken")]
    assert len(token_calls) == 1
    assert len(sandbox.messages()) == 80


@pytest.mark.slow
def test_a_host_killed_mid_broadcast_is_finished_by_another_without_duplicates(serve, hosts) -> None:
    sandbox, url = serve(200, latency_ms=20, limits=False)
    h = hosts(url)
    export = h.homes[0] / "groups.json"
    h.homes[0].mkdir(parents=True)
    export.write_text(json.dumps([{"name": f"群{i:03d}", "webhook": robot(i)} for i in range(200)]))
    assert h.run(0, "groups", "import", str(export)).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "groupmsg", "send", "--all", "--concurrency", "4", "广播"],
                            env=h.env_of(0), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(sandbox.messages()) < 30 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    delivered_before = len(sandbox.messages())
    assert 30 <= delivered_before < 200

    # Another host sees the run; it is unsettled once the killed host's lease runs out.
    p = h.run(1, "runs", "list", "--json")
    [run] = json.loads(p.stdout)
    assert run["status"] == "running"
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        p = h.run(1, "runs", "list", "--status", "unsettled", "--json")
        assert p.returncode == 0 and p.stderr == ""
        if json.loads(p.stdout):
            break
        time.sleep(1)
    assert [r["id"] for r in json.loads(p.stdout)] == [run["id"]]
    p = h.run(2, "runs", "retry", "--failed")
    assert (p.returncode, p.stdout, p.stderr) == (0, f"run {run['id']}: succeeded\n", "")
    per_robot = Counter(m["robot"] for m in sandbox.messages())
    assert len(per_robot) == 200 and set(per_robot.values()) == {1}  # each group exactly once
    assert json.loads(h.run(3, "runs", "list", "--status", "unsettled", "--json").stdout) == []
