"""Shared fixtures: every test gets its own home, an in-process sandbox, and a `cli` runner.

No test reaches the network: DingTalk traffic goes to the sandbox in-process (an httpx transport) or
on 127.0.0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from groupmsg.cli import main

SANDBOX_ENV = {
    "DINGTALK_APP_KEY": "demo-app-key",
    "DINGTALK_APP_SECRET": "demo-app-secret",
}


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GROUPMSG_HOME per test, and no credentials or URLs leaking in from the environment."""
    home = tmp_path / "home"
    monkeypatch.setenv("GROUPMSG_HOME", str(home))
    for var in ("DINGTALK_APP_KEY", "DINGTALK_APP_SECRET", "DINGTALK_ROBOT_CODE", "GROUPMSG_OAPI_URL",
                "GROUPMSG_API_URL", "GROUPMSG_FLOWS", "CI", "GROUPMSG_STORE", "GROUPMSG_REDIS_PREFIX",
                "GROUPMSG_REDIS_PASSWORD", "GROUPMSG_RUNS_RETENTION_DAYS", "GROUPMSG_REGISTRY_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def sandbox():
    """The DingTalk sandbox with its demo configuration, in-process."""
    from groupmsg.sandbox import Sandbox, SandboxConfig

    return Sandbox(SandboxConfig.demo())


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for k, v in SANDBOX_ENV.items():
        monkeypatch.setenv(k, v)
    return SANDBOX_ENV


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], sandbox, monkeypatch: pytest.MonkeyPatch):
    """Run `groupmsg ARGS…` in-process against the sandbox; returns exit code, stdout, stderr."""

    def run(*args: str, input: str | None = None, transport=None) -> Result:
        import io
        import sys

        capsys.readouterr()  # drop anything printed before
        if input is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(input))
        code = main(list(args), transport=transport if transport is not None else sandbox.transport())
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("NO_COLOR", "1")


@pytest.fixture(params=["httpx", "stdlib"])
def stack(request: pytest.FixtureRequest, sandbox, monkeypatch: pytest.MonkeyPatch):
    """The DingTalk client through each HTTP stack: `httpx` (the sandbox in-process) and `stdlib`
    (`http.client` against the sandbox on a real 127.0.0.1 socket, as cron runs it)."""
    from groupmsg.dingtalk.http import PROXY_VARIABLES
    from groupmsg.sandbox import serve_in_thread
    from stack_support import Stack

    for var in PROXY_VARIABLES:  # a proxy variable would make the client pick httpx
        monkeypatch.delenv(var, raising=False)
    if request.param == "httpx":
        st = Stack("httpx", sandbox)
        st.record()
        yield st
        st.close()
        return
    with serve_in_thread(sandbox, host="127.0.0.1", port=0) as url:
        st = Stack("stdlib", sandbox, url)
        st.record()
        yield st
        st.close()


# --- Redis: the shared state store (tests/redis_support.py) ----------------------------------
@pytest.fixture(scope="session")
def redis_shared():
    """The session's real Redis (started here, or by .ci/run); skipped without redis-server,
    failed in CI."""
    from redis_support import SharedRedis, missing

    try:
        import redis  # noqa: F401
    except ImportError:
        missing("redis-py is not installed (pip install -e '.[test]')")
    shared = SharedRedis()
    yield shared
    shared.close()


@pytest.fixture
def redis_store(redis_shared, monkeypatch: pytest.MonkeyPatch) -> str:
    """GROUPMSG_STORE pointing at the session's Redis, under a key prefix of this test's own."""
    monkeypatch.setenv("GROUPMSG_STORE", redis_shared.url)
    monkeypatch.setenv("GROUPMSG_REDIS_PREFIX", redis_shared.prefix())
    return redis_shared.url
