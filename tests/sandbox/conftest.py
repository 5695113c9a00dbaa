"""Fixtures for the sandbox tests.

The tests talk to the sandbox over HTTP (httpx with the in-process transport,
or a real socket), the way a DingTalk client would, and check the answers
against the wire contract in docs/dingtalk-api.md (§n below refer to it).
"""

from __future__ import annotations

from typing import Any

import pytest
from sbtest_support import EXAMPLE_HOOK, EXAMPLE_SECRET, DingTalk, FakeClock

from groupmsg.sandbox import Sandbox, SandboxConfig, WebhookRobot


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_sb(clock: FakeClock):
    def make(**overrides: Any) -> Sandbox:
        webhooks = dict(SandboxConfig.demo().webhooks)
        webhooks[EXAMPLE_HOOK] = WebhookRobot(secret=EXAMPLE_SECRET, name="example")
        overrides.setdefault("webhooks", webhooks)
        overrides.setdefault("clock", clock)
        return Sandbox(SandboxConfig.demo(**overrides))

    return make


@pytest.fixture
def sb(make_sb) -> Sandbox:
    return make_sb()


@pytest.fixture
def dt(sb: Sandbox, clock: FakeClock) -> DingTalk:
    return DingTalk(sb, clock)


@pytest.fixture
def make_dt(make_sb, clock: FakeClock):
    def make(**overrides: Any) -> DingTalk:
        return DingTalk(make_sb(**overrides), clock)

    return make
