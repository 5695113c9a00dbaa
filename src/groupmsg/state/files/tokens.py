"""Access tokens cached in the home, shared by every groupmsg process.

DingTalk tokens live 7200 s and re-requesting one is throttled, so ten cron runs in a row must ask
for one token, not ten. Reads are lock-free; a refresh happens under the file lock and first
re-reads the file, so processes that refresh at the same moment fetch one token between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .store import Store

TABLE = "tokens"
# Treat a token as expired this long before DingTalk does, so it never dies in flight.
EXPIRY_MARGIN_S = 600  # DingTalk's calling guide suggests refreshing ~10 minutes early


class FileTokenCache:
    def __init__(self, path: Path, *, notify: Callable[[str], None] | None = None) -> None:
        # A cache: when damaged it is moved aside and rebuilt (a new token is fetched), and `notify` says so.
        self.store = Store(path, kind="tokens", derived=True, notify=notify)
        self._memo: dict[str, tuple[str, float]] = {}  # this process's copy: no re-read per request

    @staticmethod
    def _id(key: str) -> str:
        import hashlib

        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def _find(self, docs: Iterable[Mapping[str, Any]], key: str) -> Mapping[str, Any] | None:
        ident = self._id(key)
        for doc in docs:
            expires_at = doc.get("expires_at")
            if (
                doc.get("key") == ident
                and isinstance(doc.get("token"), str)
                and isinstance(expires_at, (int, float))
                and expires_at > time.time()
            ):
                return doc
        return None

    def _remember(self, key: str, doc: Mapping[str, Any] | None) -> str | None:
        if doc is None:
            return None
        self._memo[key] = (doc["token"], doc["expires_at"])
        return str(doc["token"])

    def get(self, key: str) -> str | None:
        token, expires_at = self._memo.get(key, ("", 0.0))
        if token and expires_at > time.time():
            return token
        return self._remember(key, self._find(self.store.table(TABLE).values(), key))

    def refresh(self, key: str, fetch: Callable[[], tuple[str, int]], stale: str | None) -> str:
        with self.store.transaction() as db:
            table = db.table(TABLE)
            current = self._find(table.all(), key)
            if current and current["token"] != stale:
                return str(self._remember(key, current))
            token, expire_in = fetch()
            doc = {"key": self._id(key), "token": token, "expires_at": time.time() + expire_in - EXPIRY_MARGIN_S}
            table.upsert(doc, lambda d: d.get("key") == doc["key"])
            return str(self._remember(key, doc))
