"""Shared rate-limit windows and DingTalk's blocks on every backend."""

from __future__ import annotations

import time

import pytest

from groupmsg.errors import RateLimited, RobotBlocked
from groupmsg.settings import Rate


def test_a_full_window_refuses_without_waiting_and_frees_a_window_later(state) -> None:
    limits, rate = state.limits, Rate(3, 0.5)
    slots = [limits.acquire("k", rate, label="robot") for _ in range(3)]
    assert len(set(slots)) == 3
    with pytest.raises(RateLimited, match="window is full"):
        limits.acquire("k", rate, label="robot", wait=False)
    for s in slots:
        limits.release("k", rate, s)
    started = time.monotonic()
    limits.release("k", rate, limits.acquire("k", rate, label="robot"))  # waits for the window
    assert time.monotonic() - started >= 0.3
    limits.acquire("other", rate, label="robot", wait=False)  # keys are independent


def test_a_slot_that_never_reached_dingtalk_is_given_back(state) -> None:
    limits, rate = state.limits, Rate(2, 60)
    a = limits.acquire("k", rate, label="robot")
    b = limits.acquire("k", rate, label="robot")
    limits.release("k", rate, a, reached=False)
    limits.release("k", rate, b)
    c = limits.acquire("k", rate, label="robot", wait=False)  # a's slot is free again
    with pytest.raises(RateLimited):
        limits.acquire("k", rate, label="robot", wait=False)
    limits.release("k", rate, c)


def test_a_recorded_block_is_shared_and_never_shortened(state) -> None:
    limits = state.limits
    assert limits.blocked_for("robot") == 0
    limits.block("robot", 600)
    limits.block("robot", 1)  # a shorter block does not shorten the recorded one
    assert 590 < limits.blocked_for("robot") <= 600.001  # the end is kept to the millisecond, rounded
    limits.block("short", 0.3)
    time.sleep(0.4)
    assert limits.blocked_for("short") == 0


def test_a_recorded_block_stops_every_send_to_the_robot_until_it_ends(state) -> None:
    """The delivery layer reads the block from the state before it asks for a slot, so every
    process (and host) sharing the state leaves a blocked robot alone; one whose --timeout
    reaches past the block waits it out."""
    from groupmsg.delivery.retry import Pacing
    from groupmsg.dingtalk.client import Request

    req = Request("POST", "https://oapi.dingtalk.com/robot/send?access_token=t", b"{}", "webhook", auth=False)
    pacing = Pacing(state.limits, Rate(20, 60), Rate(20, 1), None, block_s=600)
    pacing.block(req, "告警")
    with pytest.raises(RobotBlocked, match="blocked by DingTalk until") as err:
        pacing.slot(req, time.monotonic() + 5, "告警")
    assert err.value.code == "blocked"
    short = Pacing(state.limits, Rate(20, 60), Rate(20, 1), None, block_s=0.3)
    other = Request("POST", "https://oapi.dingtalk.com/robot/send?access_token=u", b"{}", "webhook", auth=False)
    short.block(other, "通知")
    short.slot(other, time.monotonic() + 5, "通知")(True)  # waits the block out, then takes a slot
    assert state.limits.blocked_for("webhook|oapi.dingtalk.com|u") == 0
