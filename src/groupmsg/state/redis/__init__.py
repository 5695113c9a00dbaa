"""The shared backend: every kind of state in one Redis (6.2+) or Valkey server, for the hosts of a
team (CI runners, cron hosts) that must share DingTalk's limits, dedupe keys, tokens, the registry
and the run log.

`GROUPMSG_STORE=redis://[user:password@]host:port/db` (or `rediss://` for TLS) selects it;
`GROUPMSG_REDIS_PREFIX` (default `groupmsg:`) starts every key, so several teams can share one
server. One module per kind of state; `conn` holds the client and the error translation, `scripts`
the Lua scripts. Nothing here is imported unless the store is Redis.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from ...settings import DEFAULT_RUNS_RETENTION_DAYS
from .conn import Conn

if TYPE_CHECKING:
    from .dedupe import RedisDedupe
    from .limits import RedisRateLimiter
    from .records import RedisRecords
    from .registry import RedisRegistry
    from .runs import RedisRunLog
    from .schedules import RedisScheduleMarks
    from .tokens import RedisTokenCache

MIN_VERSION = (6, 2)


class RedisState:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        password: str | None = None,
        retention_s: float = DEFAULT_RUNS_RETENTION_DAYS * 86400,
    ) -> None:
        self.conn = Conn(url, prefix=prefix, password=password)
        self.retention_s = retention_s

    @cached_property
    def registry(self) -> RedisRegistry:
        from .registry import RedisRegistry

        return RedisRegistry(self.conn)

    @cached_property
    def runs(self) -> RedisRunLog:
        from .runs import RedisRunLog

        return RedisRunLog(self.conn, retention_s=self.retention_s)

    @cached_property
    def records(self) -> RedisRecords:
        from .records import RedisRecords

        return RedisRecords(self.conn)

    @cached_property
    def dedupe(self) -> RedisDedupe:
        from .dedupe import RedisDedupe

        return RedisDedupe(self.conn)

    @cached_property
    def limits(self) -> RedisRateLimiter:
        from .limits import RedisRateLimiter

        return RedisRateLimiter(self.conn)

    @cached_property
    def schedules(self) -> RedisScheduleMarks:
        from .schedules import RedisScheduleMarks

        return RedisScheduleMarks(self.conn)

    @cached_property
    def tokens(self) -> RedisTokenCache:
        from .tokens import RedisTokenCache

        return RedisTokenCache(self.conn)

    def describe(self) -> dict[str, str]:
        where, p = self.conn.where, self.conn.prefix
        return {
            "store": f"redis {where} (prefix {p!r})",
            "registry": f"{where} key {p}registry",
            "runs": f"{where} keys {p}runs, {p}run:*",
            "records": f"{where} keys {p}records:*",
            "tokens": f"{where} keys {p}token:*",
        }

    def probe(self) -> list[tuple[str, str, str, str | None]]:
        """(status, what, detail, fix) for `doctor`: it answers, its version, that it is a primary,
        and what it keeps on disk and evicts."""
        where = self.conn.where
        try:
            info: dict[str, Any] = self.conn.call(lambda r: r.info())
        except Exception as exc:  # noqa: BLE001 - reported as a check, never raised by doctor
            message, hint = getattr(exc, "message", str(exc)), getattr(exc, "hint", None)
            return [("fail", "store", message, hint)]
        checks: list[tuple[str, str, str, str | None]] = []
        version = str(info.get("valkey_version") or info.get("redis_version") or "?")
        server = "Valkey" if info.get("valkey_version") or info.get("server_name") == "valkey" else "Redis"
        parts = tuple(int(x) for x in version.split(".")[:2] if x.isdigit())
        if parts and parts < MIN_VERSION and server == "Redis":
            checks.append(("fail", "store", f"{where}: Redis {version}; groupmsg needs 6.2 or later", "upgrade Redis"))
        else:
            checks.append(("ok", "store", f"{where} answers: {server} {version}, prefix {self.conn.prefix!r}", None))
        if info.get("role") not in (None, "master"):
            checks.append(
                ("fail", "store role", f"{where} is a read-only replica", "point GROUPMSG_STORE at the primary")
            )
        aof = str(info.get("aof_enabled", "0")) == "1"
        save = self._config("save")
        if aof:
            checks.append(("ok", "store persistence", "append-only file on: state survives a restart", None))
        elif save:
            checks.append(("ok", "store persistence", f"RDB snapshots ({save}); the last seconds of state may be "
                           "lost in a crash: consider appendonly yes", None))
        elif save is None:
            checks.append(("warn", "store persistence", "cannot read the save setting (CONFIG GET denied) and the "
                           "append-only file is off", "check that Redis persists its data (appendonly yes)"))
        else:
            checks.append(("warn", "store persistence", "Redis keeps nothing on disk: dedupe keys, runs and the "
                           "registry would not survive its restart", "set appendonly yes (or save points) in redis.conf"))
        policy = str(info.get("maxmemory_policy") or self._config("maxmemory-policy") or "?")
        if policy != "noeviction" and int(info.get("maxmemory") or 0) > 0:
            checks.append(("warn", "store eviction", f"maxmemory-policy {policy}: Redis may drop groupmsg's keys "
                           "when full (a dedupe key lost means a message sent twice)",
                           "CONFIG SET maxmemory-policy noeviction (and in redis.conf)"))
        elif policy != "noeviction":
            checks.append(("warn", "store eviction", f"maxmemory-policy {policy} (no maxmemory set yet)",
                           "set maxmemory-policy noeviction before setting maxmemory"))
        else:
            checks.append(("ok", "store eviction", "maxmemory-policy noeviction", None))
        return checks

    def _config(self, name: str) -> str | None:
        try:
            found = self.conn.call(lambda r: r.config_get(name))
        except Exception:  # noqa: BLE001 - CONFIG is often denied by ACLs or renamed
            return None
        return str(found.get(name, ""))

    def close(self) -> None:
        self.conn.close()
