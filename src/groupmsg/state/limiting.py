"""The waiting half of a rate limiter, shared by every backend: ask the backend for a slot, sleep
as long as it says, and give up (RateLimited, exit 1) when the caller will not wait that long.

Backends answer one question atomically — "a slot now, or how long until one may be free?". A
robot DingTalk blocked (130101 / 410100, recorded by `block`) is the delivery layer's to wait out or
refuse (`delivery.retry.Pacing`), before it asks for a slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import RateLimited
from ..settings import Rate

# (slot id or None, seconds to wait before asking again)
Attempt = tuple[str | None, float]


def wait_for_slot(
    try_once: Callable[[], Attempt],
    rate: Rate,
    *,
    label: str,
    wait: bool,
    deadline: float | None,
    on_wait: Callable[[float, str], None] | None,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    told = False
    while True:
        ident, pause = try_once()
        if ident is not None:
            return ident
        remaining = None if deadline is None else deadline - time.monotonic()
        if not wait or (remaining is not None and pause > remaining):
            raise RateLimited(
                f"{label}: DingTalk allows {rate.count} messages per {rate.per_s:g} s and the window is full "
                f"(next slot in {pause:.1f} s)",
                hint="send later, drop --no-wait to queue, or raise --timeout",
                code="rate-limited",
            )
        if on_wait and not told and pause > 1:
            on_wait(pause, label)
            told = True
        sleep(pause)
