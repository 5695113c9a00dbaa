"""When Redis fails: unreachable, wrong password, read-only replica, stopped, restarted mid-broadcast.
Each is a clear error naming the store (password masked) with a fix, exit 4, no traceback, never a
fall-back to local files, and nothing recorded as sent that was not."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot, serve_in_thread
from redis_support import RedisServer, free_port


def hook(i: int) -> str:
    return f"https://oapi.dingtalk.com/robot/send?access_token=robot-token-{i:03d}"


@pytest.fixture
def served():
    sandbox = Sandbox(SandboxConfig.demo(
        webhooks={f"robot-token-{i:03d}": WebhookRobot(name=f"robot{i}") for i in range(100)},
        latency_ms=30, limits=False))
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        yield sandbox, url


def groupmsg(home, url: str, store: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", ""), "GROUPMSG_HOME": str(home), "GROUPMSG_STORE": store,
            "GROUPMSG_OAPI_URL": url, "GROUPMSG_API_URL": url, "NO_COLOR": "1", **env}
    return subprocess.run([sys.executable, "-m", "groupmsg", *args], env=full, capture_output=True, text=True,
                          timeout=120)


def test_an_unreachable_store_is_exit_4_with_the_store_named_and_the_password_masked(served, home) -> None:
    sandbox, url = served
    store = f"redis://ci:s3cret-pw@127.0.0.1:{free_port()}/0"
    p = groupmsg(home, url, store, "send", "-g", "告警", "hi")
    assert p.returncode == 4 and p.stdout == ""
    assert f"the state store redis://ci:****@127.0.0.1:{store.rsplit(':', 1)[1]} cannot be reached" in p.stderr
    assert "does not fall back to local files" in p.stderr and "Traceback" not in p.stderr
    assert "s3cret-pw" not in p.stderr
    assert sandbox.requests() == [] and not home.exists()  # nothing sent, nothing written locally


def test_a_password_on_the_command_line_is_refused(served, home) -> None:
    _, url = served
    p = groupmsg(home, url, "", "--store", "redis://:pw-on-cli@127.0.0.1:6379/0", "paths")
    assert p.returncode == 2 and p.stdout == "" and "must not carry a password" in p.stderr
    assert "pw-on-cli" not in p.stderr


def test_an_unknown_store_is_bad_input(served, home) -> None:
    _, url = served
    p = groupmsg(home, url, "mysql://db/x", "groups", "list")
    assert (p.returncode, p.stdout) == (2, "")
    assert "unknown state store 'mysql://db/x'" in p.stderr and "redis://" in p.stderr


@pytest.fixture
def own_redis():
    server = RedisServer(password="right-pw")
    yield server
    server.close()


def test_a_wrong_password_and_a_read_only_replica_are_exit_4_with_their_fix(served, home, own_redis) -> None:
    sandbox, url = served
    port = own_redis.port
    p = groupmsg(home, url, f"redis://:wrong-pw@127.0.0.1:{port}/0", "groups", "list")
    assert p.returncode == 4 and p.stdout == ""
    assert f"redis://:****@127.0.0.1:{port}/0 refused the credentials" in p.stderr and "wrong-pw" not in p.stderr
    assert "GROUPMSG_STORE" in p.stderr
    store = f"redis://127.0.0.1:{port}/0"
    p = groupmsg(home, url, store, "groups", "add", "g", "--webhook", hook(0), GROUPMSG_REDIS_PASSWORD="right-pw")
    assert (p.returncode, p.stderr) == (0, "")
    import redis

    client = redis.Redis(port=port, password="right-pw")
    client.config_set("replica-read-only", "yes")
    client.replicaof("127.0.0.1", free_port())  # a replica of a primary that is not there
    try:
        p = groupmsg(home, url, store, "send", "-g", "g", "hi", GROUPMSG_REDIS_PASSWORD="right-pw")
        assert p.returncode == 4 and p.stdout == ""
        assert "is a read-only replica" in p.stderr and "primary" in p.stderr and "Traceback" not in p.stderr
        assert sandbox.messages() == []
    finally:
        client.replicaof("NO", "ONE")


@pytest.mark.slow
def test_redis_stopped_then_restarted_mid_broadcast_loses_nothing(served, home, own_redis) -> None:
    sandbox, url = served
    store, env = f"redis://127.0.0.1:{own_redis.port}/0", {"GROUPMSG_REDIS_PASSWORD": "right-pw"}
    groups = home.parent / "groups.json"
    groups.write_text(json.dumps([{"name": f"群{i:03d}", "webhook": hook(i)} for i in range(100)]))
    assert groupmsg(home, url, store, "groups", "import", str(groups), **env).returncode == 0

    # Stopped: a clear error, nothing sent.
    own_redis.stop()
    p = groupmsg(home, url, store, "send", "-g", "群000", "hi", **env)
    assert p.returncode == 4 and "cannot be reached" in p.stderr and sandbox.messages() == []
    own_redis.start()

    # Restarted in the middle of a broadcast: the broadcast stops with exit 4 (or rides it out);
    # either way `runs retry` finishes it and every group gets the message once.
    proc = subprocess.Popen(
        [sys.executable, "-m", "groupmsg", "send", "--all", "--concurrency", "2", "广播"],
        env={"PATH": os.environ.get("PATH", ""), "GROUPMSG_HOME": str(home), "GROUPMSG_STORE": store,
             "GROUPMSG_OAPI_URL": url, "GROUPMSG_API_URL": url, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while len(sandbox.messages()) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    own_redis.stop()
    time.sleep(1.5)  # longer than the client's reconnection attempts
    own_redis.start()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 4), err
    if proc.returncode == 4:
        assert out == "" and "the state store redis://127.0.0.1" in err and "Traceback" not in err
    else:
        assert "100" in out and "Traceback" not in err
    delivered = Counter(m["robot"] for m in sandbox.messages())
    assert set(delivered.values()) == {1}
    runs = json.loads(groupmsg(home, url, store, "runs", "list", "--json", **env).stdout)
    assert len(runs) == 1
    recorded = {s["name"] for s in runs[0]["steps"] if s["status"] == "succeeded"}
    assert recorded <= {f"群{int(r[5:]):03d}" for r in delivered}  # nothing recorded as sent that was not
    if proc.returncode == 4:
        deadline = time.monotonic() + 40  # the lease of the stopped broadcast runs out
        while time.monotonic() < deadline:
            p = groupmsg(home, url, store, "runs", "retry", "--failed", **env)
            if p.returncode != 3:
                break
            time.sleep(1)
        assert p.returncode == 0, p.stderr
    delivered = Counter(m["robot"] for m in sandbox.messages())
    assert len(delivered) == 100 and set(delivered.values()) == {1}
