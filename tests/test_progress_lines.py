"""While a send waits, a terminal shows one live line (erased when the wait ends); `-v` writes one
line per attempt and per wait on any stderr; neither appears in a cron log by default."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from groupmsg.sandbox import Sandbox, SandboxConfig, serve_in_thread
from groupmsg.sandbox.config import DEMO_WEBHOOK_PLAIN_TOKEN
from terminal_support import Terminal
from test_failure_matrix import closed_port

HOOK = f"https://oapi.dingtalk.com/robot/send?access_token={DEMO_WEBHOOK_PLAIN_TOKEN}"


def add_group(home: Path) -> None:
    from groupmsg.app import App
    from groupmsg.settings import Settings

    App(Settings.load(home=home)).groups.add("g", webhook=HOOK)


@pytest.mark.slow
def test_a_retry_shows_a_live_line_on_a_terminal_that_is_gone_before_the_error(home) -> None:
    add_group(home)
    url = closed_port()
    t = Terminal(["send", "-g", "g", "hi"], {"GROUPMSG_HOME": str(home), "GROUPMSG_OAPI_URL": url, "COLUMNS": "200"})
    t.expect("g: retrying in ")
    t.expect(f" — attempt 1: could not reach {url[7:]}: connection refused")
    assert t.finish() == 1
    last = t.screen.rsplit("Error:", 1)
    assert last[0].endswith("\r\x1b[K")  # the live line was erased before the error was printed
    assert last[1].startswith(f" g: could not reach {url[7:]}: connection refused (gave up after 4 attempts)")


@pytest.mark.slow
def test_verbose_writes_every_attempt_anywhere_and_nothing_without_it(home) -> None:
    add_group(home)
    url = closed_port()
    env = {"PATH": os.environ.get("PATH", ""), "GROUPMSG_HOME": str(home), "GROUPMSG_OAPI_URL": url, "NO_COLOR": "1"}
    run = [sys.executable, "-m", "groupmsg"]
    p = subprocess.run([*run, "-v", "send", "-g", "g", "hi"], env=env, capture_output=True, text=True, timeout=30)
    host = url[7:]
    lines = p.stderr.splitlines()
    assert p.returncode == 1 and p.stdout == ""
    assert [re.sub(r"retrying in \d\.\d s", "retrying in N s", line) for line in lines[:4]] == [
        f"g: attempt 1: could not reach {host}: connection refused; retrying in N s",
        f"g: attempt 2: could not reach {host}: connection refused; retrying in N s",
        f"g: attempt 3: could not reach {host}: connection refused; retrying in N s",
        f"g: attempt 4: could not reach {host}: connection refused; giving up",
    ]
    p = subprocess.run([*run, "send", "-g", "g", "hi"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "attempt 1" not in p.stderr and "retrying" not in p.stderr  # a cron log stays short
    p = subprocess.run([*run, "-q", "-v", "send", "-g", "g", "hi"], env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "--quiet and --verbose contradict each other" in p.stderr


@pytest.mark.slow
def test_waiting_for_a_slot_shows_a_live_line_on_a_terminal(home) -> None:
    add_group(home)
    sandbox = Sandbox(SandboxConfig.demo(limits=False))
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        env = {"GROUPMSG_HOME": str(home), "GROUPMSG_OAPI_URL": url, "GROUPMSG_WEBHOOK_RATE": "1/3"}
        first = Terminal(["send", "-g", "g", "one"], env)
        assert first.finish() == 0
        t = Terminal(["send", "-g", "g", "two"], env)
        t.expect("waiting ")
        t.expect(" for a slot of robot g")
        assert t.finish() == 0 and "sent to g (webhook)" in t.screen
    assert re.search(r"waiting \d\.\d s for a slot of robot g", t.screen)
    assert len(sandbox.messages()) == 2


def test_the_lines_say_what_is_waited_for_and_why(capsys) -> None:
    from groupmsg.cli.output import Output
    from groupmsg.delivery.retry import Attempt
    from groupmsg.errors import TransportError

    refused = TransportError("could not reach h: connection refused", code="network", retryable=True, reached=False)
    verbose = Output(verbose=True)
    verbose.attempt(Attempt("运维告警", 3, refused, 2.1))
    verbose.attempt(Attempt("运维告警", 4, refused, None))
    verbose.waiting(12.0, "a slot of robot 运维告警")
    verbose.waiting(552.0, "DingTalk's block on robot 运维告警 to end (14:32:05)")
    verbose.attempt(Attempt("运维告警", 5, None, None, 0.12))
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "运维告警: attempt 3: could not reach h: connection refused; retrying in 2.1 s\n"
        "运维告警: attempt 4: could not reach h: connection refused; giving up\n"
        "waiting 12 s for a slot of robot 运维告警\n"
        "waiting 9 min 12 s for DingTalk's block on robot 运维告警 to end (14:32:05)\n"
        "运维告警: attempt 5: delivered (0.12 s)\n"
    )
    quiet_log = Output()  # not a terminal, not verbose: a cron log gets nothing of this
    quiet_log.attempt(Attempt("g", 1, refused, 2.1))
    quiet_log.waiting(12.0, "a slot of robot g")
    assert capsys.readouterr() == ("", "")
