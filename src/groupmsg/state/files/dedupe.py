"""Idempotency keys: `send --dedupe-key KEY` (and a flow's `dedupe:`) make a repeat a no-op.

CI systems re-run whole jobs; cron jobs overlap. A key claimed within the retention window points
at the run that claimed it, so a repeat finds that run instead of sending again: a run that
succeeded is reported as already sent, a failed or abandoned one is resumed where it stopped.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from pathlib import Path

from ..model import DEDUPE_RETENTION_S as RETENTION_S
from ..model import ORPHAN_AFTER_S
from .store import Store

__all__ = ["ORPHAN_AFTER_S", "RETENTION_S", "DedupeIndex"]

TABLE = "keys"
SHARDS = 16


class DedupeIndex:
    def __init__(
        self, directory: Path, run_exists: Callable[[str], bool], retention_s: float = RETENTION_S
    ) -> None:
        self.directory = directory
        self.run_exists = run_exists
        self.retention_s = retention_s

    def _store(self, key: str) -> Store:
        # Sharded by key, so that a claim reads and rewrites a sixteenth of a week's keys.
        return Store(self.directory / f"keys-{zlib.crc32(key.encode()) % SHARDS:02d}.json", kind="dedupe")

    def claim(self, key: str, run_id: str) -> str | None:
        """Record `key` → `run_id` and return None, or return the run that already holds the key."""
        now = time.time()
        store = self._store(key)
        with store.transaction() as db:
            table = db.table(TABLE)
            for doc in table.all():
                store.convert(doc, _check_key)
            expired = [d.doc_id for d in table.all() if now - d.get("at", 0) > self.retention_s]
            if expired:
                table.remove(doc_ids=expired)
            held = table.get(lambda d: d.get("key") == key)
            if held is None:
                table.insert({"key": key, "run": run_id, "at": now})
                return None
            orphaned = now - held.get("at", 0) > ORPHAN_AFTER_S and not self.run_exists(str(held["run"]))
            if orphaned:
                table.update({"run": run_id, "at": now}, doc_ids=[held.doc_id])
                return None
            return str(held["run"])


def _check_key(doc: dict[str, object]) -> None:
    """A claim is {key: text, run: text, at: seconds}."""
    if not (isinstance(doc.get("key"), str) and isinstance(doc.get("run"), str)):
        raise TypeError("a claim's key and run are not text")
    at = doc.get("at")
    if not isinstance(at, (int, float)) or isinstance(at, bool):
        raise TypeError("a claim's time is not a number")
