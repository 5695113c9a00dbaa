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
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import NothingToDo
from ..model import FAILED, PENDING, RUNNING, SUCCEEDED, UNSETTLED, Run, pick_by_id, record_matches, run_choices
from .store import Store, atomic_write, file_lock, held_lock
from .trust import check_folder, read_file, set_aside

SEGMENT_BYTES = 64 * 1024  # ~100 one-group runs; a broadcast's run may fill one alone
TABLE = "runs"
SEGMENT_NAME = re.compile(r"runs-(\d{6,})\.json")
RUN_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]{0,80}")


class RunLog:
    def __init__(self, directory: Path, *, notify: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.notify = notify  # says that a damaged HEAD was moved aside and rebuilt
        check_folder(directory)

    @property
    def lock_path(self) -> Path:
        return self.directory / "runs.lock"

    def _active_path(self, run_id: str) -> Path:
        if not RUN_ID.fullmatch(run_id):  # it becomes a file name
            from ...errors import StateError

            raise StateError(f"a run in {self.directory} has the malformed id {run_id[:40]!r}")
        return self.directory / "active" / f"{run_id}.lock"

    @contextmanager
    def hold(self, run: Run) -> Iterator[Run]:
        """Hold `run` while delivering it, and yield it as stored once held (a copy read before
        could be stale: another process may have finished it meanwhile). A second process (a
        `runs retry`, a repeated dedupe key) is refused instead of sending its steps again. The
        kernel drops the lock when a process dies, which is how an abandoned run is told from a
        live one."""
        path = self._active_path(run.id)
        check_folder(path.parent)
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
        if run.segment is None or not SEGMENT_NAME.fullmatch(run.segment):
            return run
        store = self._store(self.directory / run.segment)
        for doc in store.table(TABLE).values():
            if doc.get("id") == run.id:
                return store.convert({**doc, "segment": run.segment}, Run.from_doc)
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
        return sorted(p for p in self.directory.glob("runs-*.json") if SEGMENT_NAME.fullmatch(p.name))

    @staticmethod
    def _store(path: Path) -> Store:
        return Store(path, kind="runs")

    @property
    def head_path(self) -> Path:
        return self.directory / "HEAD"

    def _head(self) -> str | None:
        """The segment HEAD names, or None when there is no HEAD. A HEAD that is not what groupmsg
        writes (a link, a folder, bytes that are not a segment's name) is moved aside, said, and
        rebuilt from the folder: it only saves a listing (caller holds the lock)."""
        from ...errors import StateError

        try:
            name = read_file(self.head_path).decode("ascii").strip()
            if SEGMENT_NAME.fullmatch(name):
                return name
            problem = f"does not name a segment ({name[:40]!r})"
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            problem = "is not text"
        except StateError as exc:
            problem = exc.message.removeprefix(f"{self.head_path} ")
        aside = set_aside(self.head_path)
        if self.notify:
            self.notify(f"note: {self.head_path} {problem}; moved it aside to {aside} and rebuilt it from the folder")
        return None

    def _newest_segment(self) -> Path:
        """The segment new runs go to (caller holds the lock). HEAD names it, so that a send does not
        list a folder that grows by a file every few hundred sends; without HEAD, the folder says."""
        head = self._head()
        path = self.directory / head if head else None
        if path is None or not path.exists():
            segments = self._segments()
            path = segments[-1] if segments else self.directory / "runs-000001.json"
        if path.exists() and path.stat().st_size >= SEGMENT_BYTES:
            match = SEGMENT_NAME.fullmatch(path.name)
            path = self.directory / f"runs-{int(match.group(1)) + 1 if match else 1:06d}.json"
        if path.name != head:
            atomic_write(self.head_path, path.name.encode(), fsync=False)
        return path

    def save(self, run: Run) -> None:
        """Insert or update a run. New runs go to the newest segment, opening a new one when full."""
        with file_lock(self.lock_path):
            if run.segment is None or not SEGMENT_NAME.fullmatch(run.segment):  # never a path elsewhere
                run.segment = self._newest_segment().name
            with self._store(self.directory / run.segment).transaction(locked=True) as db:
                db.table(TABLE).upsert(run.to_doc(), lambda d: d.get("id") == run.id)

    def iter_runs(self) -> Iterator[Run]:
        """Every run, newest first."""
        for path in reversed(self._segments()):
            store = self._store(path)
            docs = list(store.table(TABLE).values())
            for doc in reversed(docs):
                yield store.convert({**doc, "segment": path.name}, Run.from_doc)

    def find(self, run_id: str) -> Run | None:
        return next((run for run in self.iter_runs() if run.id == run_id), None)

    def get(self, run_id: str) -> Run:
        return pick_by_id(self.iter_runs(), run_id, id_of=lambda r: r.id, **run_choices(run_id))

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
        A segment left empty is deleted, but for the newest one, which new runs go to."""
        cutoff = time.time() - older_than_s
        removed = 0
        with file_lock(self.lock_path):
            segments = self._segments()
            for path in segments:
                with self._store(path).transaction(locked=True) as db:
                    table = db.table(TABLE)
                    old = [d.doc_id for d in table.all() if _finished_before(d, cutoff)]
                    if old:
                        table.remove(doc_ids=old)
                        removed += len(old)
                    empty = len(table) == 0
                if empty and path != segments[-1]:
                    path.unlink(missing_ok=True)
        return removed


def _finished_before(doc: dict[str, Any], cutoff: float) -> bool:
    if doc.get("status") not in (SUCCEEDED, FAILED) or not doc.get("finished_at"):
        return False
    try:
        return datetime.fromisoformat(str(doc["finished_at"])).timestamp() < cutoff
    except ValueError:
        return False
