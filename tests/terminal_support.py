"""A groupmsg process on a pseudo-terminal, driven like a person would: wait for a prompt, type.

(A uniquely named helper module, like `stack_support`: `pexpect` in thirty lines, stdlib only.)
"""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Terminal:
    """`groupmsg ARGS…` with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        self.leader, follower = pty.openpty()
        full_env = {**os.environ, **env, "NO_COLOR": "1", "TERM": "dumb"}
        full_env.pop("CI", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "groupmsg", *args], stdin=follower, stdout=follower, stderr=follower,
            env=full_env, cwd=cwd, close_fds=True, start_new_session=True,
        )
        os.close(follower)
        self.screen = ""  # everything shown so far (what was typed is echoed into it)
        self._seen = 0  # how much of the screen `expect` has matched past

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.leader, 4096)
        except OSError:  # the process is gone and the terminal closed
            return False
        if not chunk:
            return False
        self.screen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    def expect(self, text: str, timeout: float = 15) -> None:
        """Wait until `text` appears after what was matched before."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[self._seen:]:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"{text!r} did not appear; the screen shows:\n{self.screen}")
        self._seen = self.screen.index(text, self._seen) + len(text)

    def type(self, text: str) -> None:
        os.write(self.leader, text.encode())

    def interrupt(self) -> None:
        """Ctrl-C, as the terminal sends it: SIGINT to the foreground process."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def finish(self, timeout: float = 20) -> int:
        """Read to the end (the terminal closes when the process is gone); the exit code."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.1):
            pass
        code = self.proc.wait(timeout=5)
        os.close(self.leader)
        return code
