"""What changed, for live views: a bounded log of events and a way to be woken by the next one.

The sandbox publishes an event for every accepted message, every refused
request and every change of its groups or robots (under its own lock); the
web inbox's event stream (``GET /_sandbox/events``) reads them by id and
waits for more.  Waiters are plain callbacks, so a waiter on an asyncio loop
passes ``lambda: loop.call_soon_threadsafe(event.set)``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

KEEP = 2000  # events kept for clients that reconnect; older ones make them reload


@dataclass(frozen=True)
class Event:
    id: int
    kind: str  # message | refused | reload
    data: Any


class Feed:
    def __init__(self, keep: int = KEEP) -> None:
        self._events: deque[Event] = deque(maxlen=keep)
        self._last = 0
        self._waiters: set[Callable[[], None]] = set()
        self._lock = threading.Lock()

    @property
    def last_id(self) -> int:
        return self._last

    def publish(self, kind: str, data: Any = None) -> None:
        with self._lock:
            self._last += 1
            self._events.append(Event(self._last, kind, data))
            waiters = list(self._waiters)
        for wake in waiters:
            with contextlib.suppress(RuntimeError):  # its event loop has closed; it unsubscribes as it ends
                wake()

    def after(self, last_id: int) -> list[Event] | None:
        """Events newer than ``last_id``; None when some of them are no longer kept."""
        with self._lock:
            if last_id >= self._last:
                return []
            if not self._events or self._events[0].id > last_id + 1:
                return None
            return [e for e in self._events if e.id > last_id]

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` after each event until the returned function is called."""
        with self._lock:
            self._waiters.add(wake)

        def unsubscribe() -> None:
            with self._lock:
                self._waiters.discard(wake)

        return unsubscribe
