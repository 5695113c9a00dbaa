"""Runs: every send and every flow run, step by step — the outbox and the run log in one.

A run is written before anything is sent (its steps `pending`) and each step's outcome after
(`succeeded` with DingTalk's message id, `failed` with code, text and attempts, `skipped`). A process
killed in between leaves `pending` steps that `runs list --status unsettled` shows and `runs retry`
completes.

Storage: TinyDB segments of about SEGMENT_BYTES (`runs/runs-000001.json`, …). New runs go to the
newest segment until it is full, so a send rewrites one small file however long the history is and
however large earlier broadcasts were; older segments are only read by `runs list/show`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import BadInput, NothingToDo
from ..model import FAILED, PENDING, RUNNING, SUCCEEDED, UNSETTLED, Run, record_matches
from .store import Store, atomic_write, file_lock, held_lock

SEGMENT_BYTES = 64 * 1024  # ~100 one-group runs; a broadcast's run may fill one alone
TABLE = "runs"


class RunLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @property
    def lock_path(self) -> Path:
        return self.directory / "runs.lock"

    def _active_path(self, run_id: str) -> Path:
        return self.directory / "active" / f"{run_id}.lock"

    @contextmanager
    def hold(self, run: Run) -> Iterator[Run]:
        """Hold `run` while delivering it, and yield it as stored once held (a copy read before
        could be stale: another process may have finished it meanwhile). A second process (a
        `runs retry`, a repeated dedupe key) is refused instead of sending its steps again. The
        kernel drops the lock when a process dies, which is how an abandoned run is told from a
        live one."""
        path = self._active_path(run.id)
        with held_lock(path) as got:
            if not got:
                raise NothingToDo(
                    f"run {run.id} is being sent right now by another process",
                    hint=f"wait for it, then see `groupmsg runs show {run.id}`",
                )
            fresh = self._reload(run)
            fresh.pid = os.getpid()
            try:
                yield fresh
            finally:
                path.unlink(missing_ok=True)

    def _reload(self, run: Run) -> Run:
        """`run` as its segment holds it now (a run never saved is returned as it is)."""
        if run.segment is None:
            return run
        for doc in self._store(self.directory / run.segment).table(TABLE).values():
            if doc.get("id") == run.id:
                return Run.from_doc(doc)
        return run

    def unsettled(self, run: Run) -> bool:
        """A run left with pending steps by a process that is gone (killed, crashed)."""
        if run.status not in (RUNNING, PENDING):
            return False
        with held_lock(self._active_path(run.id), create=False) as got:
            return got

    def _segments(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("runs-*.json"))

    @staticmethod
    def _store(path: Path) -> Store:
        return Store(path, kind="runs")

    @property
    def head_path(self) -> Path:
        return self.directory / "HEAD"

    def _newest_segment(self) -> Path:
        """The segment new runs go to (caller holds the lock). HEAD names it, so that a send does not
        list a folder that grows by a file every few hundred sends; without HEAD, the folder says."""
        try:
            path = self.directory / self.head_path.read_text().strip()
            exists = path.name.startswith("runs-") and path.exists()
        except OSError:
            exists = False
        if not exists:
            segments = self._segments()
            path = segments[-1] if segments else self.directory / "runs-000001.json"
        if path.exists() and path.stat().st_size >= SEGMENT_BYTES:
            path = self.directory / f"runs-{int(path.stem.split('-')[1]) + 1:06d}.json"
        if not exists or path.name != self.head_path.read_text().strip():
            atomic_write(self.head_path, path.name.encode(), fsync=False)
        return path

    def save(self, run: Run) -> None:
        """Insert or update a run. New runs go to the newest segment, opening a new one when full."""
        with file_lock(self.lock_path):
            if run.segment is None:
                run.segment = self._newest_segment().name
            with self._store(self.directory / run.segment).transaction(locked=True) as db:
                db.table(TABLE).upsert(run.to_doc(), lambda d: d.get("id") == run.id)

    def iter_runs(self) -> Iterator[Run]:
        """Every run, newest first."""
        for path in reversed(self._segments()):
            docs = list(self._store(path).table(TABLE).values())
            for doc in reversed(docs):
                yield Run.from_doc({**doc, "segment": path.name})

    def find(self, run_id: str) -> Run | None:
        return next((run for run in self.iter_runs() if run.id == run_id), None)

    def get(self, run_id: str) -> Run:
        matches = []
        for run in self.iter_runs():
            if run.id == run_id:
                return run
            if run.id.startswith(run_id) or run.id.endswith(run_id):
                matches.append(run)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise BadInput(f"{run_id!r} matches {len(matches)} runs", hint="give more of the run id")
        raise BadInput(f"no run {run_id!r}", hint="see the run ids with `groupmsg runs list`")

    def list(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        limit: int | None = 50,
        record_id: str | None = None,
    ) -> list[Run]:
        out: list[Run] = []
        for run in self.iter_runs():
            if name and run.name != name:
                continue
            if record_id and not record_matches(run, record_id):
                continue
            if status == UNSETTLED and not self.unsettled(run):
                continue
            if status not in (None, UNSETTLED, run.status):
                continue
            out.append(run)
            if limit and len(out) >= limit:
                break
        return out

    def prune(self, older_than_s: float) -> int:
        """Forget runs that finished more than `older_than_s` ago (never running or unsettled ones).
        A segment left empty is deleted; the newest segment, which new runs go to, is kept."""
        cutoff = time.time() - older_than_s
        removed = 0
        with file_lock(self.lock_path):
            segments = self._segments()
            for path in segments[:-1]:
                with self._store(path).transaction(locked=True) as db:
                    table = db.table(TABLE)
                    old = [d.doc_id for d in table.all() if _finished_before(d, cutoff)]
                    if old:
                        table.remove(doc_ids=old)
                        removed += len(old)
                    empty = len(table) == 0
                if empty:
                    path.unlink(missing_ok=True)
        return removed


def _finished_before(doc: dict[str, Any], cutoff: float) -> bool:
    if doc.get("status") not in (SUCCEEDED, FAILED) or not doc.get("finished_at"):
        return False
    try:
        return datetime.fromisoformat(str(doc["finished_at"])).timestamp() < cutoff
    except ValueError:
        return False
