"""The retry policy (delivery/retry.py) on a scripted client and the real file rate limiter, with a
fake clock: what is retried, how often, how long it waits, which slots it keeps, and what it
reports. The same policy against the sandbox and closed ports is in test_failure_matrix.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from groupmsg.delivery import retry
from groupmsg.delivery.retry import Attempt, Pacing, send_with_retries
from groupmsg.dingtalk.client import Request, Sent
from groupmsg.errors import DeliveryError, RateLimited, RobotBlocked, TransportError
from groupmsg.settings import Rate
from groupmsg.state.files.limits import RateLimiter

HOOK = Request("POST", "https://oapi.dingtalk.com/robot/send?access_token=tok", b"{}", "webhook", auth=False,
               idempotent=True)
CHAT = Request("POST", "https://oapi.dingtalk.com/chat/send", b"{}", "oapi")


class Clock:
    """time.monotonic and time.sleep for the policy: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@dataclass
class Script:
    """A client whose answers are scripted: an exception to raise, or "ok"; each call may take time."""

    clock: Clock
    answers: list[object]
    takes: float = 0.0
    calls: list[float] = field(default_factory=list)  # the deadline each call was given

    def send_message(self, req: Request, *, deadline: float | None = None) -> Sent:
        self.calls.append(deadline or 0.0)
        answer = self.answers.pop(0)
        self.clock.now += self.takes
        if isinstance(answer, BaseException):
            raise answer
        return Sent(message_id=None)


def refused() -> TransportError:
    return TransportError("could not reach h: connection refused", code="network", retryable=True, reached=False)


def dingtalk(code: str, *, status: int = 200, ambiguous: bool = False, retry_after: float | None = None) -> DeliveryError:
    from groupmsg.dingtalk.errcodes import is_retryable

    return DeliveryError(f"DingTalk error {code}", code=code, retryable=is_retryable(code, status),
                         ambiguous=ambiguous, retry_after=retry_after)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(retry.time, "monotonic", c.monotonic)
    return c


@pytest.fixture
def limiter(tmp_path: Path) -> RateLimiter:
    return RateLimiter(tmp_path / "limits")


def pacing(limiter: RateLimiter, clock: Clock, **kw) -> Pacing:
    return Pacing(limiter, Rate(20, 60), Rate(20, 1), "app", sleep=clock.sleep, **kw)


def slots(limiter: RateLimiter) -> int:
    return sum(len(json.loads(p.read_text() or "[]")) for p in limiter.directory.glob("*.json"))


def send(client: Script, req: Request, pace: Pacing | None, clock: Clock, *, timeout: float = 60, **kw):
    events: list[Attempt] = []
    result = send_with_retries(client, req, deadline=clock.now + timeout, pacing=pace, label="群", sleep=clock.sleep,
                               on_attempt=events.append, **kw)
    return result, events


def test_a_refused_connection_is_tried_four_times_in_two_seconds_and_gives_every_slot_back(clock, limiter) -> None:
    client = Script(clock, [refused() for _ in range(4)])
    with pytest.raises(TransportError) as err:
        send(client, HOOK, pacing(limiter, clock), clock)
    assert err.value.attempts == 4 and len(client.calls) == 4
    assert str(err.value) == "could not reach h: connection refused (gave up after 4 attempts)"
    assert sum(clock.slept) < 0.25 + 0.5 + 1.0 and slots(limiter) == 0  # nothing counted against the robot


def test_an_outage_with_slow_connect_timeouts_gives_up_within_eight_seconds(clock, limiter) -> None:
    client = Script(clock, [refused() for _ in range(4)], takes=5.0)  # each try waits out a 5 s connect timeout
    with pytest.raises(TransportError):
        send(client, HOOK, pacing(limiter, clock), clock, timeout=600)
    assert len(client.calls) == 2 and client.calls[1] <= 1000.0 + retry.UNREACHABLE_WINDOW_S  # the second is cut short
    assert clock.now - 1000.0 <= 5.0 + retry.UNREACHABLE_WINDOW_S


def test_the_first_answer_after_an_outage_succeeds_and_keeps_one_slot(clock, limiter) -> None:
    client = Script(clock, [refused(), refused(), "ok"])
    (_, attempts), events = send(client, HOOK, pacing(limiter, clock), clock)
    assert attempts == 3 and slots(limiter) == 1
    assert [(e.number, e.error is None, e.retry_in is not None) for e in events] == [
        (1, False, True), (2, False, True), (3, True, False)]


@pytest.mark.parametrize("code", ["130101", "410100"])
def test_a_block_is_recorded_for_everyone_and_the_next_send_fails_without_a_request(clock, limiter, code) -> None:
    client = Script(clock, [dingtalk(code)])
    with pytest.raises(RobotBlocked) as err:
        send(client, HOOK, pacing(limiter, clock), clock)
    assert err.value.attempts == 1 and err.value.code == "blocked"
    assert str(err.value).startswith("blocked by DingTalk until ") and "10 minutes" in (err.value.hint or "")
    assert 599 < limiter.blocked_for(retry.Pacing(limiter, Rate(20, 60), Rate(20, 1), "app")._key(HOOK, "群")[0]) <= 600
    other_process = RateLimiter(limiter.directory)  # the block is in the state, not in this process
    with pytest.raises(RobotBlocked) as again:
        send(Script(clock, []), HOOK, pacing(other_process, clock), clock)
    assert again.value.attempts == 0 and str(again.value) == str(err.value)


def test_a_deadline_past_the_block_waits_for_it_and_sends(clock, limiter) -> None:
    client = Script(clock, [dingtalk("130101"), "ok"])
    (_, attempts), events = send(client, HOOK, pacing(limiter, clock, block_s=30.0), clock, timeout=45)
    assert attempts == 2 and clock.slept and clock.slept[-1] == pytest.approx(30.0, abs=0.5)
    assert events[0].retry_in == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize("code,status", [("http-429", 429), ("http-503", 503)])
def test_retry_after_is_honoured(clock, limiter, code, status) -> None:
    client = Script(clock, [dingtalk(code, status=status, retry_after=7.0), "ok"])
    (_, attempts), _ = send(client, HOOK, pacing(limiter, clock), clock)
    assert attempts == 2 and clock.slept == [7.0] and slots(limiter) == 2


def test_a_retry_after_past_the_deadline_fails_now_and_says_so(clock, limiter) -> None:
    client = Script(clock, [dingtalk("http-503", status=503, retry_after=120.0)])
    with pytest.raises(DeliveryError) as err:
        send(client, HOOK, pacing(limiter, clock), clock, timeout=60)
    assert str(err.value) == "DingTalk error http-503 (gave up after 1 attempt; DingTalk asked to wait 120 s, past --timeout)"
    assert clock.slept == []


def test_busy_and_throttled_answers_pause_at_least_a_second(clock, limiter) -> None:
    client = Script(clock, [dingtalk("-1"), dingtalk("90018"), "ok"])
    (_, attempts), _ = send(client, CHAT, pacing(limiter, clock), clock)
    assert attempts == 3 and all(s >= retry.THROTTLE_MIN_S for s in clock.slept)


def test_a_request_that_may_have_been_delivered_is_repeated_only_when_safe_or_chosen(clock, limiter) -> None:
    lost = lambda: dingtalk("http-502", status=502, ambiguous=True)  # noqa: E731
    with pytest.raises(DeliveryError) as err:
        send(Script(clock, [lost()]), CHAT, pacing(limiter, clock), clock)
    assert "may have been delivered, so it was not sent again" in str(err.value) and err.value.retry == "check"
    assert "--at-least-once" in (err.value.hint or "")
    (_, attempts), _ = send(Script(clock, [lost(), "ok"]), CHAT, pacing(limiter, clock), clock, at_least_once=True)
    assert attempts == 2
    (_, attempts), _ = send(Script(clock, [lost(), "ok"]), HOOK, pacing(limiter, clock), clock)  # msgUuid: safe
    assert attempts == 2


def test_a_refusal_that_no_retry_can_fix_is_not_retried(clock, limiter) -> None:
    client = Script(clock, [dingtalk("310000"), "ok"])
    with pytest.raises(DeliveryError) as err:
        send(client, HOOK, pacing(limiter, clock), clock)
    assert err.value.attempts == 1 and len(client.calls) == 1 and slots(limiter) == 1


def test_when_no_slot_comes_before_the_deadline_while_retrying_the_cause_is_still_the_failure(clock, limiter) -> None:
    pace = Pacing(limiter, Rate(1, 60), Rate(20, 1), "app", sleep=clock.sleep)
    client = Script(clock, [dingtalk("-1")])  # reached DingTalk: its slot is kept, and the window is now full
    with pytest.raises(DeliveryError) as err:
        send(client, HOOK, pace, clock)
    assert not isinstance(err.value, RateLimited)
    assert str(err.value) == "DingTalk error -1 (gave up after 1 attempt)"


def test_a_full_window_on_the_first_attempt_is_the_cause(clock, limiter) -> None:
    pace = Pacing(limiter, Rate(1, 60), Rate(20, 1), "app", sleep=clock.sleep, wait=False)
    send(Script(clock, ["ok"]), HOOK, pace, clock)
    with pytest.raises(RateLimited) as err:
        send(Script(clock, ["ok"]), HOOK, pace, clock)
    assert err.value.attempts == 0 and "robot 群: DingTalk allows 1 messages per 60 s" in str(err.value)


def test_the_sweep_deletes_ended_blocks_and_windows_unused_for_a_day_but_nothing_in_use(limiter) -> None:
    import os
    import time

    rate = Rate(20, 60)
    for key in ("old", "recent", "blocked", "was-blocked"):
        limiter.release(key, rate, limiter.acquire(key, rate, label=key))
    limiter.block("blocked", 600)
    limiter.block("was-blocked", 600)
    limiter._block_path("was-blocked").write_bytes(b"%.3f" % (time.time() - 1))  # ended a second ago
    day_ago = time.time() - 2 * 24 * 3600
    for key in ("old", "blocked", "was-blocked"):
        path = limiter._path(key)
        path.write_bytes(json.dumps([[day_ago, False, "x"]]).encode())
        os.utime(path, (day_ago, day_ago))
    assert limiter.sweep() == 3  # old's window; was-blocked's ended block, then its window
    assert not limiter._path("old").exists() and not limiter._path("was-blocked").exists()
    assert limiter._path("recent").exists() and limiter._path("blocked").exists()
    assert limiter.blocked_for("blocked") > 590 and limiter.blocked_for("was-blocked") == 0
    ident = limiter.acquire("old", rate, label="old")  # a swept key simply starts a new window
    limiter.release("old", rate, ident)
    assert slots(limiter) == 3


def test_the_sweep_runs_once_a_day_from_acquire(limiter, monkeypatch) -> None:
    from groupmsg.state.files import limits

    calls: list[int] = []
    monkeypatch.setattr(limits.RateLimiter, "sweep", lambda self, idle_s=limits.IDLE_S: calls.append(1) or 0)
    rate = Rate(20, 60)
    for _ in range(3):
        limiter.release("k", rate, limiter.acquire("k", rate, label="k"))
    assert calls == [1]  # the first acquire only makes the folder; the second sweeps; the third does not
