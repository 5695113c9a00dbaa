"""Rate limits in Redis, shared by every host and process using the store.

Per robot (or app and API) two sorted sets — slots in flight (id → when it left) and answered slots
(id → when its answer came back) — and the block DingTalk put on it, all changed by one script that
reads the Redis server's clock: hosts whose clocks disagree still share one window. The rule is the
file store's (see `state.files.limits`): a slot is stamped with its answer's time, so the 21st
request leaves a full window after the 1st one's answer. A key names a hash of the robot's
address, never its token.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

from ...settings import Rate
from ..limiting import Attempt, wait_for_slot
from .conn import Conn

INFLIGHT_MAX_MS = 30_000  # a slot held longer than this belongs to a process that died mid-request
POLL_MS = 20  # how often to look again while the window is full of requests in flight


class RedisRateLimiter:
    def __init__(self, conn: Conn, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.conn = conn
        self.sleep = sleep

    def _keys(self, key: str) -> list[str]:
        digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        return [self.conn.key("limit", digest, part) for part in ("inflight", "done", "block")]

    def acquire(
        self,
        key: str,
        rate: Rate,
        *,
        label: str,
        wait: bool = True,
        deadline: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> str:
        keys = self._keys(key)
        window_ms = int(rate.per_s * 1000)

        def try_once() -> Attempt:
            ident = os.urandom(6).hex()
            taken, ms = self.conn.run(
                "LIMIT_ACQUIRE", keys[:2], [rate.count, window_ms, INFLIGHT_MAX_MS, ident, POLL_MS]
            )
            return (ident if int(taken) else None), int(ms) / 1000

        return wait_for_slot(
            try_once, rate, label=label, wait=wait, deadline=deadline, on_wait=on_wait, sleep=self.sleep
        )

    def release(self, key: str, rate: Rate, ident: str, *, reached: bool = True) -> None:
        self.conn.run("LIMIT_RELEASE", self._keys(key)[:2], [ident, "1" if reached else "0", int(rate.per_s * 1000)])

    def block(self, key: str, seconds: float) -> None:
        self.conn.run("LIMIT_BLOCK", self._keys(key)[2:], [int(seconds * 1000)])

    def blocked_for(self, key: str) -> float:
        ms = int(self.conn.call(lambda r: r.pttl(self._keys(key)[2])))
        return max(0.0, ms / 1000)
