"""Shared rate-limit windows and DingTalk's blocks on every backend."""

from __future__ import annotations

import time

import pytest

from groupmsg.errors import RateLimited
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


def test_a_recorded_block_stops_every_acquire_until_it_ends(state) -> None:
    limits, rate = state.limits, Rate(20, 60)
    assert limits.blocked_for("robot") == 0
    limits.block("robot", 600)
    limits.block("robot", 1)  # a shorter block does not shorten the recorded one
    assert 590 < limits.blocked_for("robot") <= 600
    with pytest.raises(RateLimited, match="blocked") as err:
        limits.acquire("robot", rate, label="robot of 告警", deadline=time.monotonic() + 5)
    assert err.value.code == "blocked"
    limits.block("short", 0.3)
    limits.release("short", rate, limits.acquire("short", rate, label="robot"))  # waits the block out
    assert limits.blocked_for("short") == 0
