"""Idempotency keys: `send --dedupe-key KEY` (and a flow's `dedupe:`) make a repeat a no-op.

CI systems re-run whole jobs; cron jobs overlap. A key claimed within the retention window points
at the run that claimed it, so a repeat finds that run instead of sending again: a run that
succeeded is reported as already sent, a failed or abandoned one is resumed where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path

from .store import Store

TABLE = "keys"
RETENTION_S = 7 * 24 * 3600


class DedupeIndex:
    def __init__(self, path: Path, retention_s: float = RETENTION_S) -> None:
        self.store = Store(path, kind="dedupe")
        self.retention_s = retention_s

    def claim(self, key: str, run_id: str) -> str | None:
        """Record `key` → `run_id` and return None, or return the run that already holds the key."""
        now = time.time()
        with self.store.transaction() as db:
            table = db.table(TABLE)
            expired = [d.doc_id for d in table.all() if now - d.get("at", 0) > self.retention_s]
            if expired:
                table.remove(doc_ids=expired)
            held = table.get(lambda d: d.get("key") == key)
            if held is not None:
                return str(held["run"])
            table.insert({"key": key, "run": run_id, "at": now})
            return None
