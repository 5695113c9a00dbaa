"""Dedupe keys in Redis: `<prefix>dedupe:<key>` holds "run id|claimed at" and expires with the
retention (7 days), claimed with one script (SET NX semantics): of any number of hosts sending with
the same key at once, one claims it. A claim older than a minute whose run was never saved belongs
to a process killed in between, and is taken over — as with the file store.
"""

from __future__ import annotations

from ..model import DEDUPE_RETENTION_S, ORPHAN_AFTER_S
from .conn import Conn


class RedisDedupe:
    def __init__(self, conn: Conn, retention_s: float = DEDUPE_RETENTION_S) -> None:
        self.conn = conn
        self.retention_ms = int(retention_s * 1000)

    def claim(self, key: str, run_id: str) -> str | None:
        holder = self.conn.run(
            "DEDUPE_CLAIM",
            [self.conn.key("dedupe", key)],
            [run_id, self.retention_ms, int(ORPHAN_AFTER_S * 1000), self.conn.prefix],
        )
        return None if holder is None else str(holder)
