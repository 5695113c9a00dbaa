"""Behaviour on a real terminal (a pseudo-terminal): prompting, and refusing before prompting."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_on_tty(args: list[str], home: Path, typed: bytes = b"", timeout: float = 20) -> tuple[int, str]:
    """Run groupmsg with a pseudo-terminal as stdin/stdout/stderr; returns (exit code, screen text)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "GROUPMSG_HOME": str(home), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("CI", None)
    proc = subprocess.Popen([sys.executable, "-m", "groupmsg", *args], stdin=follower, stdout=follower,
                            stderr=follower, env=env, cwd=ROOT, close_fds=True)
    os.close(follower)
    if typed:
        time.sleep(1.0)
        os.write(leader, typed)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    return proc.wait(timeout=5), out.decode("utf-8", "replace")


def test_a_read_only_field_is_refused_before_any_prompt(home) -> None:
    code, screen = run_on_tty(["submit", "群消息内容录入表", "-f", "群ID=chatX"], home)
    assert code == 2
    assert "群ID: is read-only" in screen and "消息内容 (" not in screen  # nothing was asked


def test_a_picker_with_nothing_to_pick_is_refused_before_any_prompt(home) -> None:
    code, screen = run_on_tty(["submit", "群消息内容录入表", "--dry-run", "-f", "选择群聊=不存在"], home)
    assert code == 2 and "消息内容 (" not in screen  # nothing was asked: no answer could satisfy the picker
    assert "选择群聊: has nothing to choose from: no group is registered yet" in screen
