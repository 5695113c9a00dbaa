"""Scheduled flows' marks in Redis (`state.base.ScheduleStore`): `<prefix>schedule:<flow>` holds
the last occurrence a tick took, moved by one compare-and-set script, so that ticks on every host
sharing this Redis move each flow's mark once. Marks do not expire: a mark is what keeps an
occurrence taken long ago from being due again.
"""

from __future__ import annotations

from .conn import Conn


class RedisScheduleMarks:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def last(self, flow: str) -> str | None:
        value = self.conn.call(lambda r: r.get(self.conn.key("schedule", flow)))
        return None if value is None else str(value)

    def compare_and_set(self, flow: str, expected: str | None, new: str) -> bool:
        args = ["0", "", new] if expected is None else ["1", expected, new]
        return bool(self.conn.run("SCHEDULE_CAS", [self.conn.key("schedule", flow)], args))
