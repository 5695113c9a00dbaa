"""A real redis-server for the tests: started on a free 127.0.0.1 port in a temporary folder, or
the one `.ci/run` started (GROUPMSG_TEST_REDIS_URL). Tests that need Redis skip where it is not
installed, but fail in CI (CI set when the session starts), so a CI without Redis cannot pass
quietly."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

ENV_URL = "GROUPMSG_TEST_REDIS_URL"
IN_CI = bool(os.environ.get("CI"))  # read at import (session start): tests/conftest.py drops CI per test


def missing(why: str) -> None:
    """Skip locally; fail in CI, where Redis must be there."""
    if IN_CI:
        pytest.fail(f"{why} — .ci/run must install and start redis-server (tests need the real thing in CI)")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A redis-server process of our own (which a test may stop and restart)."""

    def __init__(self, *, appendonly: bool = True, password: str | None = None) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            missing("redis-server is not installed (apt-get install redis-server)")
        self.exe = str(exe)
        self.dir = Path(tempfile.mkdtemp(prefix="groupmsg-redis-"))
        self.port = free_port()
        self.password = password
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                "--save", "", "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
                "--daemonize", "no", "--protected-mode", "no", "--logfile", str(self.dir / "redis.log")]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}: {(self.dir / 'redis.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # SIGTERM: Redis flushes its append-only file and exits
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class SharedRedis:
    """The session's Redis: each test gets its own key prefix in it."""

    def __init__(self) -> None:
        self.own: RedisServer | None = None
        url = os.environ.get(ENV_URL)
        if not url:
            self.own = RedisServer()
            url = self.own.url
        self.url = url

    def prefix(self) -> str:
        return f"t{uuid.uuid4().hex[:10]}:"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, decode_responses=True)

    def close(self) -> None:
        if self.own is not None:
            self.own.close()
