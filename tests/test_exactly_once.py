"""A dedupe key is delivered once, however processes interleave.

The interleavings that once sent a message twice are forced here with hooks (never left to luck):
- B reads A's run while it is still pending; A finishes and lets go of the run; B then finds no
  holder and resumes the copy it read before — unless the run is read again once held;
- B opens the run's lock file just before A deletes it and locks it just after, while C creates
  a new one: both would hold the run — unless a lock on a deleted file is taken for what it is.
Then many processes send the same keys at once, repeatedly.
"""

from __future__ import annotations

import os
import threading
from collections import Counter

import pytest

from groupmsg.app import App
from groupmsg.app.types import Message, SendOptions
from groupmsg.errors import NothingToDo
from groupmsg.sandbox.config import DEMO_CHAT_ID
from groupmsg.settings import Settings
from groupmsg.state.files.runs import RunLog
from groupmsg.state.model import RUNNING, Run, Step
from test_reliability import env_for

# An app group (chat/send): nothing at DingTalk's end would drop a second copy (a webhook's msgUuid would).


def two_processes(sandbox) -> tuple[App, App]:
    """Two Apps over one home: each has its own state objects, as two processes would."""
    a, b = (App(Settings.load(), transport=sandbox.transport()) for _ in range(2))
    a.groups.add("g", chat_id=DEMO_CHAT_ID)
    return a, b


def race(sandbox, monkeypatch: pytest.MonkeyPatch) -> tuple[object, int]:
    """A sends with key k and is held inside its request until B has read A's pending run; B's read
    returns only after A has finished and let go of the run. B's result, and the messages delivered."""
    a, b = two_processes(sandbox)
    a_sending, b_read, a_done = threading.Event(), threading.Event(), threading.Event()
    process = sandbox.process

    def held_request(method, target, headers=None, body=b"", client_ip="127.0.0.1"):
        if target.startswith("/chat/send") and not a_sending.is_set():
            a_sending.set()
            assert b_read.wait(10), "B never read A's run"
        return process(method, target, headers, body, client_ip)

    monkeypatch.setattr(sandbox, "process", held_request)
    real_find = b.state.runs.find

    def slow_find(run_id: str):
        run = real_find(run_id)
        assert run is not None and run.status == RUNNING  # B's copy: A's run, still pending
        b_read.set()
        assert a_done.wait(10), "A never finished"
        return run  # … returned once A has finished: stale

    monkeypatch.setattr(b.state.runs, "find", slow_find)

    def send_a() -> None:
        try:
            a.messages.send(["g"], Message(text="once"), SendOptions(), dedupe_key="k")
        finally:
            a_done.set()

    thread = threading.Thread(target=send_a)
    thread.start()
    assert a_sending.wait(10)
    result = b.messages.send(["g"], Message(text="once"), SendOptions(), dedupe_key="k")
    thread.join(10)
    return result, len(sandbox.messages())


def test_a_run_read_before_its_lock_was_taken_is_read_again_and_not_sent_twice(sandbox, creds, monkeypatch) -> None:
    result, delivered = race(sandbox, monkeypatch)
    assert delivered == 1
    assert result.duplicate and not result.resumed and result.run.status == "succeeded"


def test_the_forced_interleaving_does_send_twice_when_the_held_run_is_not_read_again(sandbox, creds, monkeypatch) -> None:
    """The control: without the re-read, the hooks above reproduce the reported double delivery."""
    monkeypatch.setattr(RunLog, "_reload", lambda self, run: run)
    _, delivered = race(sandbox, monkeypatch)
    assert delivered == 2


def test_a_lock_taken_on_a_lock_file_its_holder_just_deleted_is_not_a_hold(tmp_path, monkeypatch) -> None:
    import fcntl

    log = RunLog(tmp_path / "runs")
    run = Run(id="20260101-000000-aaaaaa", kind="send", status=RUNNING,
              steps=[Step(id="s1", name="g", kind="send_group_message")])
    log.save(run)
    a_holds, a_release, a_gone = threading.Event(), threading.Event(), threading.Event()

    def a() -> None:
        with log.hold(run):
            a_holds.set()
            a_release.wait(10)
        a_gone.set()  # A deleted the lock file, then let go of its lock

    thread = threading.Thread(target=a)
    thread.start()
    assert a_holds.wait(10)
    a_inode = os.stat(log._active_path(run.id)).st_ino
    real_flock = fcntl.flock

    def flock(fd: int, operation: int) -> None:
        # B has opened A's lock file; A finishes before B's lock call (the narrow window, held open)
        if operation & fcntl.LOCK_EX and os.fstat(fd).st_ino == a_inode and not a_gone.is_set():
            a_release.set()
            assert a_gone.wait(10)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock)
    with log.hold(run):  # B
        monkeypatch.setattr(fcntl, "flock", real_flock)
        with pytest.raises(NothingToDo, match="being sent right now"), log.hold(run):  # C sees B's hold
            pass
    thread.join(10)


@pytest.mark.slow
def test_many_processes_sending_the_same_keys_at_once_deliver_each_once(home, creds) -> None:
    import subprocess
    import sys

    from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread

    sandbox = Sandbox(SandboxConfig.demo(latency_ms=30, limits=False))
    App(Settings.load()).groups.add("g", chat_id=DEMO_CHAT_ID)
    rounds, keys, per_key = 3, 10, 3
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        for r in range(rounds):
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "groupmsg", "send", "--dedupe-key", f"r{r}-k{k}", "-g", "g", f"r{r}-k{k}"],
                    env=env_for(home, url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                )
                for _ in range(per_key)
                for k in range(keys)
            ]
            outcomes = [(p.wait(60), p.stderr.read() if p.stderr else "") for p in procs]
            for p in procs:
                for stream in (p.stdout, p.stderr):
                    if stream:
                        stream.close()
            # a repeat is a duplicate (0), or refused while the first is being sent (3): never a failure
            assert {code for code, _ in outcomes} <= {0, 3}, outcomes
    delivered = Counter(m["content"] for m in sandbox.messages())
    assert len(delivered) == rounds * keys and set(delivered.values()) == {1}, delivered
