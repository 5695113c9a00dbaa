"""The connection to Redis: the one module that imports redis-py, the key names, the Lua scripts,
and the one place Redis errors become StoreUnavailable (exit 4) with a fix.

redis-py is imported on first use only (`import redis` costs ~75 ms): a `send` with the file store
never pays for it. Every command's failure — refused connection, wrong password, read-only replica,
out of memory, a server gone mid-command — is reported naming the store with its password masked,
and never falls back to local files.

Connections: one pool per process, created lazily; a dropped connection is retried 3 times over
about a second (a Redis restart or fail-over), which is why every script is written so that
running it twice does what running it once does (client-made ids, compare-and-set, SET NX with
the caller's own token).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ...errors import ConfigError, GroupmsgError, StateError, StoreUnavailable
from ...masking import mask_store_url
from . import scripts

SCHEMA = 1  # the layout of the keys below; a newer groupmsg writing a newer layout is refused
CONNECT_TIMEOUT_S = 5.0
SOCKET_TIMEOUT_S = 15.0  # a big import (add_many of 100,000 groups) runs one script for a second or two
RETRIES = 3


def dumps(doc: Any) -> str:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class Conn:
    """A lazily opened Redis client for one store URL and key prefix."""

    def __init__(self, url: str, *, prefix: str, password: str | None = None) -> None:
        self.url = url
        self.prefix = prefix
        self.password = password
        self.where = mask_store_url(url)
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._checked = False
        self._lock = threading.Lock()

    # Keys ------------------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # The client ------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._connect()
        return self._client

    def _connect(self) -> Any:
        try:
            import redis
            from redis.backoff import ExponentialBackoff
            from redis.retry import Retry
        except ImportError:
            raise ConfigError(
                f"the state store is Redis ({self.where}) but redis-py is not installed",
                hint="pip install 'groupmsg[redis]' (or unset GROUPMSG_STORE to keep state in local files)",
            ) from None
        kwargs: dict[str, Any] = {
            "socket_connect_timeout": CONNECT_TIMEOUT_S,
            "socket_timeout": SOCKET_TIMEOUT_S,
            "decode_responses": True,
            "protocol": 2,  # RESP2 on every redis-py release (8.x would say HELLO 3: one more command per process)
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
            "retry_on_error": [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
        }
        # No CLIENT SETINFO on connect: two commands per process that tell the server nothing we need.
        if "DriverInfo" in vars(redis.connection):
            kwargs["driver_info"] = None
        else:  # redis-py < 7.1
            kwargs["lib_name"] = kwargs["lib_version"] = None
        if self.password:
            kwargs["password"] = self.password
        try:
            return redis.Redis.from_url(self.url, **kwargs)
        except ValueError as exc:
            raise ConfigError(
                f"the state store URL {self.where} is not valid: {exc}",
                hint="redis://[user:password@]host:port/db, or rediss://… for TLS",
            ) from None

    def script(self, name: str) -> Any:
        """A registered Lua script (EVALSHA, loaded on first NOSCRIPT)."""
        found = self._scripts.get(name)
        if found is None:
            found = self._scripts[name] = self.client.register_script(getattr(scripts, name))
        return found

    def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one script, with errors translated."""
        with self.errors():
            self.ensure_schema()
            return self.script(name)(keys=list(keys), args=list(args))

    def call(self, fn: Callable[[Any], Any]) -> Any:
        """`fn(client)`, with errors translated (and the schema checked once per process)."""
        with self.errors():
            self.ensure_schema()
            return fn(self.client)

    @contextmanager
    def errors(self) -> Iterator[None]:
        try:
            yield
        except GroupmsgError:
            raise
        except Exception as exc:
            translated = self.translate(exc)
            if translated is None:
                raise
            raise translated from None

    def translate(self, exc: BaseException) -> GroupmsgError | None:
        """A redis-py exception as a person-facing error naming the store; None for anything else."""
        try:
            from redis import exceptions as rx
        except ImportError:  # pragma: no cover - only reached with redis-py installed
            return None
        if not isinstance(exc, rx.RedisError):
            return None
        where, text = self.where, str(exc) or exc.__class__.__name__
        if self.password:
            text = text.replace(self.password, "****")
        lowered = text.lower()
        if isinstance(exc, rx.AuthenticationError) or "wrongpass" in lowered or "noauth" in lowered or (
            "auth" in lowered and "password" in lowered
        ):
            return StoreUnavailable(
                f"the state store {where} refused the credentials ({text})",
                hint="check the user and password in GROUPMSG_STORE (or GROUPMSG_REDIS_PASSWORD)",
            )
        if isinstance(exc, rx.ReadOnlyError) or "readonly" in lowered:
            return StoreUnavailable(
                f"the state store {where} is a read-only replica",
                hint="point GROUPMSG_STORE at the primary (groupmsg writes on every send)",
            )
        if "oom" in lowered or "maxmemory" in lowered:
            return StoreUnavailable(
                f"the state store {where} is out of memory ({text})",
                hint="raise maxmemory, or prune old runs with `groupmsg runs prune`; keep "
                "maxmemory-policy noeviction so that Redis never drops groupmsg's keys",
            )
        if "noperm" in lowered or "no permissions" in lowered:
            return StoreUnavailable(
                f"the state store {where} denied a command to this user ({text})",
                hint=f"grant the ACL user +@all on keys {self.prefix}* (or at least the commands of the README)",
            )
        if isinstance(exc, rx.BusyLoadingError) or "loading" in lowered:
            return StoreUnavailable(
                f"the state store {where} is loading its data after a restart",
                hint="retry in a few seconds",
            )
        if isinstance(exc, (rx.ConnectionError, rx.TimeoutError)):
            return StoreUnavailable(
                f"the state store {where} cannot be reached ({text})",
                hint="start Redis or fix GROUPMSG_STORE; groupmsg does not fall back to local files, "
                "which other hosts would not see. Runs left unfinished are resumed by `groupmsg runs retry --failed`",
            )
        if "unknown command" in lowered or "err unknown" in lowered:
            return StoreUnavailable(
                f"the state store {where} does not know a command groupmsg needs ({text})",
                hint="groupmsg needs Redis 6.2 or later (or Valkey)",
            )
        return StoreUnavailable(f"the state store {where} answered an error: {text}", hint="see `groupmsg doctor`")

    # Schema ------------------------------------------------------------------------------------
    @property
    def meta_key(self) -> str:
        return self.key("meta")

    def ensure_schema(self, found: Any = None, *, have: bool = False) -> None:
        """Check once per process that the prefix holds groupmsg data of a layout this version
        reads (and mark a fresh one). `found`/`have`: the meta value, fetched by a caller's pipeline."""
        if self._checked:
            return
        if not have:
            found = self.client.hget(self.meta_key, "schema")
        if found is None:
            self.client.hsetnx(self.meta_key, "schema", SCHEMA)
        elif not str(found).isdigit():
            raise StateError(
                f"{self.meta_key} in {self.where} is not groupmsg's",
                hint="set GROUPMSG_REDIS_PREFIX to a prefix nothing else uses",
            )
        elif int(found) > SCHEMA:
            raise StateError(
                f"the data under {self.prefix!r} in {self.where} was written by a newer groupmsg "
                f"(schema {found}, this one reads {SCHEMA})",
                hint="upgrade groupmsg on this host (pip install -U 'groupmsg[redis]')",
            )
        self._checked = True

    def pipeline_first(self, fn: Callable[[Any], None]) -> list[Any]:
        """Run the commands `fn` queues on a pipeline, with the schema check in the same round trip
        the first time; returns their results."""
        with self.errors():
            pipe = self.client.pipeline(transaction=False)
            checking = not self._checked
            if checking:
                pipe.hget(self.meta_key, "schema")
            fn(pipe)
            results: list[Any] = pipe.execute()
            if checking:
                self.ensure_schema(results[0], have=True)
                results = results[1:]
            return results

    def close(self) -> None:
        if self._client is not None:
            with suppress(Exception):  # closing a dead connection is not worth an error
                self._client.close()
            self._client = None
