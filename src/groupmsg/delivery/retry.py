"""Pacing and retrying one request: what is safe to repeat, how long to wait, and when to stop.

The policy, by what a failure says about the request (the README's troubleshooting table):

- **It never reached DingTalk** (connection refused, DNS, TLS, connect timeout): its rate-limit
  slot is given back, and it is tried UNREACHABLE_TRIES times within UNREACHABLE_WINDOW_S of the
  first failure, whatever the deadline: an outage is reported in seconds, with its real cause.
- **DingTalk said "not now"** (HTTP 429/503, busy -1, QPS 90018 / Forbidden.AccessDenied.Qps…):
  retried with exponential backoff and full jitter (at least THROTTLE_MIN_S, or what Retry-After
  asks) until the deadline.
- **DingTalk blocked the robot** (130101 / 410100): the block is recorded for every process (and
  every host sharing the state) for BLOCK_S; the send fails at once, unless the deadline reaches
  past the block's end, in which case it waits for it. Later sends to the robot do the same
  before they make any request.
- **It may have been delivered** (HTTP 500/502/504, no answer after sending, a lost connection):
  repeated only when the request carries an idempotency key (webhook msgUuid) or the sender chose
  at-least-once delivery; otherwise it fails, saying so.
- **Anything else** (signature, keywords, credentials, size…) fails at once with its fix.

The error a send fails with is always the last real cause: a rate-limit wait that would outlast
the deadline while retrying reports the failure that made the retry necessary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs, urlsplit

from ..errors import RETRY_CHECK_FIRST, DeliveryError, RateLimited, RobotBlocked

if TYPE_CHECKING:
    from ..dingtalk.client import DingTalkClient, Request, Sent
    from ..settings import Rate
    from ..state.base import RateLimitStore

T = TypeVar("T")

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 8.0
# DingTalk answered "not now" (busy, throttled, overloaded): a network blip's pause is too short.
THROTTLE_MIN_S = 1.0
# A request that never reached DingTalk: this many tries, within this many seconds of the first.
UNREACHABLE_TRIES = 4
UNREACHABLE_WINDOW_S = 8.0
# DingTalk blocks a custom robot for 10 minutes after its 21st message in a minute.
BLOCK_S = 600.0
BLOCK_CODES = frozenset({"130101", "410100"})

OnWait = Callable[[float, str], None]  # (seconds, what is waited for)


@dataclass(frozen=True)
class Attempt:
    """One attempt to send one message, as it ended (for progress lines and --verbose)."""

    label: str  # the group (or "access token")
    number: int  # 1, 2, …
    error: DeliveryError | None  # None: delivered
    retry_in: float | None  # seconds until the next attempt; None: no next attempt
    took_s: float = 0.0


OnAttempt = Callable[[Attempt], None]


def clock_time(epoch: float) -> str:
    """`14:32:05`, or `2026-11-26 14:32:05` when it is not today."""
    local = time.localtime(epoch)
    same_day = time.strftime("%Y%m%d", local) == time.strftime("%Y%m%d")
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", local)


def blocked_error(seconds_left: float) -> RobotBlocked:
    import math

    from ..dingtalk.errcodes import BLOCK_FIX

    # The block's end, to the second, alike in every process reading it (stores keep milliseconds).
    until = math.ceil(time.time() + seconds_left - 0.0005)
    return RobotBlocked(
        f"blocked by DingTalk until {clock_time(until)}",
        hint=BLOCK_FIX,
        code="blocked",
        retryable=True,
    )


@dataclass(frozen=True)
class Pacing:
    """DingTalk's rate limits and blocks, shared by every process through the state."""

    limits: RateLimitStore
    webhook_rate: Rate
    api_rate: Rate
    app_key: str | None
    wait: bool = True
    on_wait: OnWait | None = None
    block_s: float = BLOCK_S
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def _key(self, req: Request, label: str) -> tuple[str, Rate, str]:
        parts = urlsplit(req.url)
        if req.family == "webhook":
            token = parse_qs(parts.query).get("access_token", [""])[0]
            return f"webhook|{parts.netloc}|{token}", self.webhook_rate, f"robot {label}"
        return f"app|{self.app_key}|{parts.netloc}{parts.path}", self.api_rate, f"app API {parts.path}"

    def slot(self, req: Request, deadline: float, label: str) -> Callable[[bool], None]:
        """Wait out a recorded block and then for a slot for `req` (RobotBlocked / RateLimited if
        that would pass `deadline`); returns the function that gives the slot back once answered:
        `release(reached)`, where `reached=False` returns the slot unused."""
        key, rate, what = self._key(req, label)
        if req.family == "webhook":
            self._sit_out_block(key, deadline, label, what)
        on_wait = self.on_wait
        ident = self.limits.acquire(
            key,
            rate,
            label=what,
            wait=self.wait,
            deadline=deadline,
            on_wait=(lambda s, w: on_wait(s, f"a slot of {w}")) if on_wait else None,
        )

        def release(reached: bool) -> None:
            self.limits.release(key, rate, ident, reached=reached)

        return release

    def _sit_out_block(self, key: str, deadline: float, label: str, what: str) -> None:
        left = self.limits.blocked_for(key)
        if left <= 0:
            return
        if not self.wait or time.monotonic() + left >= deadline:
            raise blocked_error(left)
        if self.on_wait:
            self.on_wait(left, f"DingTalk's block on {what} to end ({clock_time(time.time() + left)})")
        self.sleep(left)

    def block(self, req: Request, label: str) -> float:
        """Record DingTalk's block on `req`'s robot; the seconds it lasts."""
        key, _, _ = self._key(req, label)
        self.limits.block(key, self.block_s)
        return self.limits.blocked_for(key) or self.block_s


def send_with_retries(
    client: DingTalkClient,
    req: Request,
    *,
    deadline: float,
    pacing: Pacing | None,
    label: str,
    at_least_once: bool = False,
    on_attempt: OnAttempt | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Sent, int]:
    """Send `req` under the policy above until `deadline` (a time.monotonic() value). Returns what
    DingTalk answered and the number of attempts; raises the last cause, its `attempts` set."""
    return with_retries(
        lambda until: client.send_message(req, deadline=until),
        deadline=deadline,
        label=label,
        req=req,
        pacing=pacing,
        repeat_ambiguous=req.idempotent or at_least_once,
        on_attempt=on_attempt,
        sleep=sleep,
    )


def with_retries(
    call: Callable[[float], T],
    *,
    deadline: float,
    label: str,
    req: Request | None = None,
    pacing: Pacing | None = None,
    repeat_ambiguous: bool = False,
    on_attempt: OnAttempt | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[T, int]:
    """`call(deadline)` under the policy above (paced when `pacing` and `req` are given)."""
    delay, attempt = BACKOFF_BASE_S, 0
    last: DeliveryError | None = None
    unreachable_since: float | None = None

    def tell(event: Attempt) -> None:
        if on_attempt is not None:
            on_attempt(event)

    while True:
        attempt += 1
        limit = deadline if unreachable_since is None else min(deadline, unreachable_since + UNREACHABLE_WINDOW_S)
        try:
            release = pacing.slot(req, limit, label) if pacing is not None and req is not None else None
        except RateLimited as exc:
            if last is None:  # the window is full and stays full past the deadline: that is the cause
                exc.attempts = 0
                raise
            raise _gave_up(last, attempt - 1) from None  # retrying: the cause is what made it necessary
        except RobotBlocked as exc:
            exc.attempts = attempt - 1
            raise
        started = time.monotonic()
        try:
            result = call(limit)
        except DeliveryError as exc:
            if release is not None:
                release(exc.reached)
            error = exc
        else:
            if release is not None:
                release(True)
            tell(Attempt(label, attempt, None, None, time.monotonic() - started))
            return result, attempt
        took = time.monotonic() - started
        error.attempts, last = attempt, error

        if not error.retryable:
            tell(Attempt(label, attempt, error, None, took))
            raise error
        if error.code in BLOCK_CODES and pacing is not None and req is not None and req.family == "webhook":
            seconds = pacing.block(req, label)
            if not pacing.wait or time.monotonic() + seconds >= deadline:
                blocked = blocked_error(seconds)
                blocked.attempts = attempt
                tell(Attempt(label, attempt, error, None, took))
                raise blocked from None
            tell(Attempt(label, attempt, error, seconds, took))
            continue  # the next slot() waits for the block to end
        if error.ambiguous and not repeat_ambiguous:
            # chat/send and the robot API take no idempotency key: repeating a request that may have
            # been delivered could post it twice. Say so, and leave it to a person (or --at-least-once).
            error.message += " — it may have been delivered, so it was not sent again"
            error.hint = (
                "look in the group before sending it again; --at-least-once repeats such requests "
                "(a rare duplicate instead of a lost message)"
            )
            error.retry = RETRY_CHECK_FIRST
            tell(Attempt(label, attempt, error, None, took))
            raise error
        if not error.reached and unreachable_since is None:
            unreachable_since = started
            limit = min(deadline, started + UNREACHABLE_WINDOW_S)

        import random  # only when retrying: a send that succeeds at once never pays for it

        pause = random.uniform(0, delay)  # full jitter: concurrent cron jobs spread out
        if error.reached and not error.ambiguous:  # DingTalk (or a proxy) answered "not now"
            pause = max(pause, THROTTLE_MIN_S)
        if error.retry_after is not None:
            pause = max(error.retry_after, 0.0)
        out_of_tries = not error.reached and attempt >= UNREACHABLE_TRIES
        if out_of_tries or time.monotonic() + pause >= limit:
            tell(Attempt(label, attempt, error, None, took))
            raise _gave_up(error, attempt, asked=error.retry_after if time.monotonic() + pause >= deadline else None)
        tell(Attempt(label, attempt, error, pause, took))
        sleep(pause)
        delay = min(delay * 2, BACKOFF_MAX_S)


def _gave_up(error: DeliveryError, attempts: int, *, asked: float | None = None) -> DeliveryError:
    note = f"gave up after {attempts} attempt{'' if attempts == 1 else 's'}"
    if asked is not None:
        note += f"; DingTalk asked to wait {asked:g} s, past --timeout"
    if "(gave up after" not in error.message:
        error.message += f" ({note})"
    return error
