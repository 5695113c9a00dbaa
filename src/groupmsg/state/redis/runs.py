"""Runs in Redis: the outbox and the run log of every host in one place.

Keys: `run:<id>` (the run's JSON document), `runs` (sorted set: id → a sequence number shared by
every host, so `runs list` is newest first whichever host started a run), `runs:finished` (id →
the server's time when it finished: what retention reads), `run:<id>:lease` (who holds it).

Holding a run. A process delivering a run holds a lease on it: a key holding the process's random
token, with a time to live of LEASE_MS, renewed every RENEW_S by a thread while the run is held. A
host that is SIGKILLed, loses power or its network stops renewing, and its run becomes unsettled
LEASE_MS later: `runs retry` from any host then completes it. Why 20 s: long enough that a busy
host (a stop-the-world pause, a slow disk, a Redis fail-over of a few seconds) never loses a lease
it is still using — three renewals must fail in a row — and short enough that a killed CI job's
broadcast can be retried by the next job without waiting minutes. Every save of a held run checks
the token first, so a holder that was frozen past its lease and taken over by another host stops
(a StateError) instead of writing over the new holder's progress.

A new run (never saved) is leased by its first save, in the same script; the save that finishes a
run drops the lease; so a one-group send spends no command on the lease itself.

Retention: the save that finishes a run also forgets up to 10 runs that finished longer ago than the
retention (GROUPMSG_RUNS_RETENTION_DAYS, default 30), so memory stays bounded without a cron job;
`runs prune` does the same on demand.
"""

from __future__ import annotations

import builtins
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from ...errors import NothingToDo, StateError
from ..model import FAILED, PENDING, RUNNING, SUCCEEDED, UNSETTLED, Run, pick_by_id, record_matches, run_choices
from .conn import Conn, dumps

LEASE_MS = 20_000
RENEW_S = 5.0
PAGE = 200
SEGMENT = "redis"  # what Run.segment says for a run kept here (None: never saved)


@dataclass
class _Lease:
    token: str
    taken: bool  # the lease key is set (False for a new run until its first save)
    lost: bool = False


class RedisRunLog:
    def __init__(self, conn: Conn, *, retention_s: float) -> None:
        self.conn = conn
        self.retention_ms = int(retention_s * 1000)
        self.index = conn.key("runs")
        self.finished = conn.key("runs", "finished")
        self.seq = conn.key("runs", "seq")
        self._held: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._renewer: threading.Thread | None = None
        self._wake = threading.Event()

    def _doc_key(self, run_id: str) -> str:
        return self.conn.key("run", run_id)

    def _lease_key(self, run_id: str) -> str:
        return self.conn.key("run", run_id, "lease")

    @staticmethod
    def _load(raw: str) -> Run:
        run = Run.from_doc(json.loads(raw))
        run.segment = SEGMENT
        return run

    # Holding -----------------------------------------------------------------------------------
    @contextmanager
    def hold(self, run: Run) -> Iterator[Run]:
        token = f"{os.uname().nodename}:{os.getpid()}:{os.urandom(6).hex()}"
        fresh = run
        if run.segment is None:  # never saved: nobody else can know it; its first save takes the lease
            lease = _Lease(token, taken=False)
        else:
            got, value = self.conn.run("RUN_HOLD", [self._lease_key(run.id), self._doc_key(run.id)], [token, LEASE_MS])
            if not int(got):
                raise NothingToDo(
                    f"run {run.id} is being sent right now by another process ({value.rsplit(':', 1)[0]})",
                    hint=f"wait for it, then see `groupmsg runs show {run.id}`",
                )
            if value:
                fresh = self._load(value)
            lease = _Lease(token, taken=True)
        fresh.pid = os.getpid()
        with self._lock:
            self._held[run.id] = lease
        self._start_renewing()
        try:
            yield fresh
        finally:
            with self._lock:
                self._held.pop(run.id, None)
            if lease.taken and not lease.lost:
                with suppress(Exception):  # the store is gone: the lease expires by itself
                    self.conn.run("RUN_RELEASE", [self._lease_key(run.id)], [token])

    def _start_renewing(self) -> None:
        with self._lock:
            if self._renewer is not None and self._renewer.is_alive():
                return
            self._renewer = threading.Thread(target=self._renew_loop, name="groupmsg-lease", daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._wake.wait(RENEW_S):
            with self._lock:
                held = [(run_id, lease) for run_id, lease in self._held.items() if lease.taken and not lease.lost]
                if not self._held:
                    self._renewer = None
                    return
            for run_id, lease in held:
                try:
                    renewed = self.conn.run("RUN_RENEW", [self._lease_key(run_id)], [lease.token, LEASE_MS])
                except Exception:  # noqa: BLE001 - the next save reports the store's failure
                    continue
                if not int(renewed):
                    lease.lost = True

    def unsettled(self, run: Run) -> bool:
        """A run left with pending steps by a process that no longer holds it (killed, crashed)."""
        if run.status not in (RUNNING, PENDING):
            return False
        return not self.conn.call(lambda r: r.exists(self._lease_key(run.id)))

    def _unsettled_many(self, runs: builtins.list[Run]) -> builtins.list[bool]:
        open_runs = [run for run in runs if run.status in (RUNNING, PENDING)]
        if not open_runs:
            return [False] * len(runs)

        def check(r: object) -> builtins.list[int]:
            pipe = r.pipeline(transaction=False)  # type: ignore[attr-defined]
            for run in open_runs:
                pipe.exists(self._lease_key(run.id))
            return list(pipe.execute())

        leased = dict(zip((run.id for run in open_runs), self.conn.call(check), strict=True))
        return [run.id in leased and not leased[run.id] for run in runs]

    # Writing -----------------------------------------------------------------------------------
    def save(self, run: Run) -> None:
        lease = self._held.get(run.id)
        finished = run.status in (SUCCEEDED, FAILED)
        doc = run.to_doc()
        doc.pop("segment", None)
        outcome = self.conn.run(
            "RUN_SAVE",
            [self._doc_key(run.id), self.index, self.seq, self._lease_key(run.id), self.finished],
            [
                run.id,
                dumps(doc),
                "1" if finished else "0",
                lease.token if lease is not None else "",
                LEASE_MS,
                self.retention_ms,
                self.conn.prefix,
            ],
        )
        if outcome == "lost":
            if lease is not None:
                lease.lost = True
            raise StateError(
                f"run {run.id} was taken over by another process while this one was stalled for longer than "
                f"its {LEASE_MS // 1000} s lease; this process stopped sending it",
                hint=f"see `groupmsg runs show {run.id}`",
            )
        run.segment = SEGMENT
        if lease is not None:
            lease.taken = not finished

    def prune(self, older_than_s: float) -> int:
        removed = 0
        while True:
            n = int(
                self.conn.run(
                    "RUN_PRUNE", [self.index, self.finished], [int(older_than_s * 1000), self.conn.prefix, 1000]
                )
            )
            removed += n
            if n < 1000:
                return removed

    # Reading -----------------------------------------------------------------------------------
    def iter_runs(self) -> Iterator[Run]:
        """Every run, newest first, a page at a time."""
        start = 0
        while True:
            ids: list[str] = self.conn.call(partial(_page, self.index, start))
            if not ids:
                return
            docs: list[str | None] = self.conn.call(partial(_mget, [self._doc_key(x) for x in ids]))
            for raw in docs:
                if raw is not None:
                    yield self._load(raw)
            if len(ids) < PAGE:
                return
            start += PAGE

    def find(self, run_id: str) -> Run | None:
        raw = self.conn.call(lambda r: r.get(self._doc_key(run_id)))
        return None if raw is None else self._load(raw)

    def get(self, run_id: str) -> Run:
        found = self.find(run_id) if run_id else None
        if found is not None:
            return found
        ids = self.conn.call(lambda r: r.zrevrange(self.index, 0, -1))
        found = self.find(pick_by_id(ids, run_id, id_of=str, **run_choices(run_id)))
        if found is None:  # pruned a moment ago
            return pick_by_id([], run_id, id_of=str, **run_choices(run_id))  # raises "no run …"
        return found

    def list(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        limit: int | None = 50,
        record_id: str | None = None,
    ) -> builtins.list[Run]:
        out: builtins.list[Run] = []
        page: builtins.list[Run] = []

        def flush() -> bool:
            """Filter a page into `out`; True once `limit` is reached."""
            flags = self._unsettled_many(page) if status == UNSETTLED else [False] * len(page)
            for run, unsettled in zip(page, flags, strict=True):
                if status == UNSETTLED and not unsettled:
                    continue
                if status not in (None, UNSETTLED, run.status):
                    continue
                out.append(run)
                if limit and len(out) >= limit:
                    return True
            page.clear()
            return False

        for run in self.iter_runs():
            if name and run.name != name:
                continue
            if record_id and not record_matches(run, record_id):
                continue
            page.append(run)
            if len(page) >= PAGE and flush():
                return out
        flush()
        return out


def _page(key: str, start: int, r: Any) -> Any:
    return r.zrevrange(key, start, start + PAGE - 1)


def _mget(keys: builtins.list[str], r: Any) -> Any:
    return r.mget(keys)
