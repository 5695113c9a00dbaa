"""The one clock: wall time for records, monotonic time for deadlines. A leaf module (stdlib only).

Every timestamp groupmsg stores or prints comes from `now_iso()`: local time with its UTC offset,
to the millisecond, so that runs, records and registry rows sort and compare the same way.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

monotonic = time.monotonic
now = time.time


def now_iso() -> str:
    """`2026-11-25T10:30:00.123+08:00`."""
    return datetime.now(UTC).astimezone().isoformat(timespec="milliseconds")


def stamp() -> str:
    """A compact local time for sortable ids: `20261125-103000`."""
    return time.strftime("%Y%m%d-%H%M%S")
