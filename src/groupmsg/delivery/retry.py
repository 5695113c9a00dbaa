"""Pacing and retrying one request: what is safe to repeat, and how long to wait.

Every attempt takes a slot of the shared rate limit (DingTalk counts them all). Transient failures
(network, timeouts, HTTP 5xx/429, DingTalk's busy and throttling codes) are retried with
exponential backoff and full jitter within the caller's deadline; anything else fails at once. A
request that may already have been delivered is repeated only when it carries an idempotency key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ..errors import DeliveryError

if TYPE_CHECKING:
    from ..dingtalk.client import DingTalkClient, Request, Sent
    from ..settings import Rate
    from ..state.base import RateLimitStore

BACKOFF_BASE_S = 0.25
BACKOFF_MAX_S = 8.0
# The webhook block and QPS bans need longer pauses than a network blip.
THROTTLE_MIN_S = 1.0

OnWait = Callable[[float, str], None]  # (seconds, what is waited for)

# DingTalk's answer to a robot over 20 messages a minute, and how long it then refuses that robot.
WEBHOOK_BLOCK_CODES = frozenset({"130101", "410100"})
WEBHOOK_BLOCK_S = 600.0


@dataclass(frozen=True)
class Pacing:
    """DingTalk's rate limits, shared by every process through the state's windows."""

    limits: RateLimitStore
    webhook_rate: Rate
    api_rate: Rate
    app_key: str | None
    wait: bool = True
    on_wait: OnWait | None = None

    def _key(self, req: Request, label: str) -> tuple[str, Rate, str]:
        """(the shared window's key, its rate, what to call it in messages) for `req`."""
        parts = urlsplit(req.url)
        if req.family == "webhook":
            token = parse_qs(parts.query).get("access_token", [""])[0]
            return f"webhook|{parts.netloc}|{token}", self.webhook_rate, f"robot of {label}"
        return f"app|{self.app_key}|{parts.netloc}{parts.path}", self.api_rate, f"app API {parts.path}"

    def slot(self, req: Request, deadline: float, label: str) -> Callable[[], None]:
        """Wait for a slot for `req`; returns the function that gives it back once answered."""
        key, rate, what = self._key(req, label)
        ident = self.limits.acquire(key, rate, label=what, wait=self.wait, deadline=deadline, on_wait=self.on_wait)
        return lambda: self.limits.release(key, rate, ident)

    def blocked(self, req: Request, label: str) -> None:
        """DingTalk blocked the robot of `req` (130101 / 410100): record it for every process
        sharing the state, so that none of them sends to it until the block is over."""
        key, _, _ = self._key(req, label)
        self.limits.block(key, WEBHOOK_BLOCK_S)


def send_with_retries(
    client: DingTalkClient,
    req: Request,
    *,
    deadline: float,
    pacing: Pacing | None,
    label: str,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[Sent, int]:
    """Send `req`, retrying transient failures until `deadline` (a time.monotonic() value).
    Returns what DingTalk answered and the number of attempts."""
    delay = BACKOFF_BASE_S
    attempt = 0
    while True:
        attempt += 1
        try:
            done = pacing.slot(req, deadline, label) if pacing else None
            try:
                return client.send_message(req, deadline=deadline), attempt
            finally:
                if done:
                    done()
        except DeliveryError as exc:
            exc.attempts = attempt
            if pacing and exc.code in WEBHOOK_BLOCK_CODES and req.family == "webhook":
                pacing.blocked(req, label)  # the next attempt waits the block out, or gives up at once
            if not exc.retryable:
                raise
            if exc.ambiguous and not req.idempotent:
                # chat/send and the robot API take no idempotency key: repeating a request that
                # may have been delivered could post it twice. Say so, and leave it to a person.
                exc.message += " — it may have been delivered, so it was not sent again"
                exc.hint = "check the group; if the message is missing, `groupmsg runs retry` sends it again"
                raise
            import random

            pause = random.uniform(0, delay)  # full jitter: concurrent cron jobs spread out
            if exc.code and not exc.code.startswith(("http-", "timeout", "network")):
                pause = max(pause, THROTTLE_MIN_S)
            if time.monotonic() + pause >= deadline:
                exc.message += f" (gave up after {attempt} attempts)"
                raise
            sleep(pause)
            delay = min(delay * 2, BACKOFF_MAX_S)
