"""Scheduled flows' marks (`state.base.ScheduleStore`): one small TinyDB file, `schedules.json`.

A compare-and-set is one transaction under the file's lock, so ticks started together by cron (or
by hand) on this machine move each flow's mark once. Other hosts share marks only through a
shared backend.
"""

from __future__ import annotations

from pathlib import Path

from ...clock import now_iso
from .store import Store

TABLE = "flows"


class ScheduleMarks:
    def __init__(self, path: Path) -> None:
        self.store = Store(path, kind="schedules")

    def last(self, flow: str) -> str | None:
        for doc in self.store.table(TABLE).values():
            if doc.get("flow") == flow:
                return str(doc["last"])
        return None

    def compare_and_set(self, flow: str, expected: str | None, new: str) -> bool:
        with self.store.transaction() as db:
            table = db.table(TABLE)
            doc = table.get(lambda d: d.get("flow") == flow)
            current = None if doc is None else str(doc["last"])
            if current == new:  # as Redis answers a repeated call: the mark is what was asked
                return True
            if current != expected:
                return False
            table.upsert({"flow": flow, "last": new, "updated_at": now_iso()}, lambda d: d.get("flow") == flow)
            return True
