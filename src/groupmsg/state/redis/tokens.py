"""Access tokens in Redis: `<prefix>token:<hash>` holds the token and expires with it (DingTalk's
expireIn less a 10-minute margin, counted by the Redis server).

When it has expired, one host refreshes it: it takes a short lock (`…:lock`, SET NX with a time
to live), fetches, stores, and drops the lock; the others wait for the new token instead of all
asking DingTalk, which throttles that. A lock whose holder died expires after LOCK_MS.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from contextlib import suppress

from .conn import Conn

EXPIRY_MARGIN_S = 600  # DingTalk's calling guide suggests refreshing ~10 minutes early
LOCK_MS = 20_000  # longer than a token request may take (client.REQUEST_TIMEOUT_S is 15 s)
POLL_S = 0.05


class RedisTokenCache:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self._memo: dict[str, tuple[str, float]] = {}  # this process's copy, until its monotonic deadline

    def _keys(self, key: str) -> list[str]:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return [self.conn.key("token", digest), self.conn.key("token", digest, "lock")]

    def _read(self, key: str) -> str | None:
        found = self.conn.run("TOKEN_GET", self._keys(key)[:1], [])
        if not found:
            return None
        token, ms = found
        self._memo[key] = (str(token), time.monotonic() + int(ms) / 1000)
        return str(token)

    def get(self, key: str) -> str | None:
        token, until = self._memo.get(key, ("", 0.0))
        if token and until > time.monotonic():
            return token
        return self._read(key)

    def refresh(self, key: str, fetch: Callable[[], tuple[str, int]], stale: str | None) -> str:
        """A token other than `stale`: the one another host just stored, or one fetched here under
        the lock while the other hosts wait for it."""
        token_key, lock_key = self._keys(key)
        owner = os.urandom(8).hex()
        deadline = time.monotonic() + LOCK_MS / 1000 + 5
        while True:
            current = self._read(key)
            if current and current != stale:
                return current
            if self.conn.call(lambda r: r.set(lock_key, owner, nx=True, px=LOCK_MS)):
                break
            if time.monotonic() > deadline:  # the lock's holder is stuck: fetch one ourselves
                break
            time.sleep(POLL_S)
        try:
            current = self._read(key)  # stored by a host that held the lock just before us
            if current and current != stale:
                return current
            token, expire_in = fetch()
        except BaseException:
            with suppress(Exception):  # the lock expires by itself if the store is gone too
                self.conn.run("RUN_RELEASE", [lock_key], [owner])  # the same compare-and-delete
            raise
        ttl_ms = max(1000, int((expire_in - EXPIRY_MARGIN_S) * 1000))
        self.conn.run("TOKEN_SET", [token_key, lock_key], [token, ttl_ms, owner])
        self._memo[key] = (token, time.monotonic() + ttl_ms / 1000)
        return token
