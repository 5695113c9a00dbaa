"""Rate limits shared by every groupmsg process on the machine.

DingTalk blocks a custom robot for 10 minutes after its 21st message in a minute, and throttles an
app to 20 requests per second per API. Ten cron jobs firing at the same minute must queue politely
instead of earning the block, so the sliding windows live in the home, one small file per robot or
app API, changed under a file lock.

The windows are a little wider than DingTalk's (GUARD) because a request is stamped here when it
leaves and there when it arrives; the difference must never let two requests look closer together
to DingTalk than they did to us.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import RateLimited
from .store import atomic_write, file_lock

GUARD = 1.05


@dataclass(frozen=True)
class Rate:
    count: int
    per_s: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`20/60` → 20 requests per 60 s."""
        count, _, per = text.partition("/")
        return cls(int(count), float(per))


WEBHOOK_RATE = Rate(20, 60.0)  # per custom robot
API_RATE = Rate(20, 1.0)  # per app × API (标准版)


class RateLimiter:
    def __init__(self, directory: Path, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.directory = directory
        self.sleep = sleep

    def _path(self, key: str) -> Path:
        return self.directory / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".json")

    def _try(self, key: str, rate: Rate) -> float:
        """Take a slot and return 0, or return how long to wait for one."""
        path = self._path(key)
        window = rate.per_s * GUARD
        with file_lock(path.with_suffix(".lock")):
            now = time.time()
            try:
                stamps = [t for t in json.loads(path.read_bytes()) if now - t < window]
            except (FileNotFoundError, ValueError, TypeError):
                stamps = []  # a damaged window file is only a lost optimisation: start afresh
            if len(stamps) >= rate.count:
                return stamps[-rate.count] + window - now
            stamps.append(now)
            # No fsync: losing the last stamps in a power cut costs at worst one early request.
            atomic_write(path, json.dumps(stamps).encode(), fsync=False)
            return 0.0

    def acquire(
        self,
        key: str,
        rate: Rate,
        *,
        label: str,
        wait: bool = True,
        deadline: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        """Block until a slot is free (or fail at once with `wait=False`, or at the deadline)."""
        while True:
            pause = self._try(key, rate)
            if pause <= 0:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if not wait or (remaining is not None and pause > remaining):
                raise RateLimited(
                    f"{label}: DingTalk allows {rate.count} messages per {rate.per_s:g} s and the window is full "
                    f"(next slot in {pause:.1f} s)",
                    hint="send later, drop --no-wait to queue, or raise --timeout",
                    code="rate-limited",
                )
            if on_wait:
                on_wait(pause, label)
            self.sleep(pause)
