"""TinyDB files that many processes share safely. The only module that imports tinydb.

Every file is a TinyDB JSON document with a `_meta` table naming what it holds and its schema
version, so that a foreign or newer file is refused rather than overwritten.

- Reads take no lock: writers replace the file atomically, so a reader always sees a whole state.
- Writes happen in `transaction()`: an exclusive file lock (flock, which the kernel drops when a
  process dies), one read, any number of TinyDB operations in memory,
  then at most one rewrite: temp file (mode 0600), fsync, rename. A process killed at any point
  leaves either the old or the new file, never half of one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from ...errors import StateError

META_TABLE = "_meta"
LOCK_TIMEOUT_S = 60.0


class _Snapshot(Storage):
    """TinyDB storage over a dict already loaded under the lock; remembers whether it changed."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = False

    def read(self) -> dict[str, Any]:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data
        self.dirty = True


def ensure_private_dir(path: Path) -> None:
    """Create a state folder readable by its owner only."""
    if path.is_dir():
        return
    ensure_private_dir(path.parent)
    path.mkdir(mode=0o700, exist_ok=True)


def atomic_write(path: Path, payload: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `payload`: temp file created 0600, fsync, rename."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def locked_file(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[int]:
    """Open `path` (created 0600) and hold an exclusive lock on it; yields its file descriptor.

    The lock is shared by every groupmsg process and thread on the machine. POSIX: flock, taken
    without blocking and retried so that a timeout is possible; the kernel releases it when a
    process dies. Elsewhere: the `filelock` package on a sibling `.lock` file (it costs ~7 ms of
    imports, so cron runs on POSIX do without it).

    A holder may delete the file as it lets go (a run's activity lock, an idle rate-limit window).
    A process that opened it just before and locks it just after holds a lock on a deleted file,
    which nobody else will ever see: so once locked, the file must still be the one at `path`, or
    it is opened and locked again.
    """
    ensure_private_dir(path.parent)
    if os.name != "posix":  # pragma: no cover - exercised on Windows only
        import filelock

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        lock = filelock.FileLock(str(path) + ".lock", timeout=timeout, mode=0o600)
        try:
            try:
                lock.acquire()
            except filelock.Timeout:
                raise _locked(path, timeout) from None
            try:
                yield fd
            finally:
                lock.release()
        finally:
            os.close(fd)
        return
    import fcntl

    deadline = time.monotonic() + timeout
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        pause = 0.001
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise _locked(path, timeout) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.02)
        except BaseException:
            os.close(fd)
            raise
        if _still_at(fd, path):
            break
        fcntl.flock(fd, fcntl.LOCK_UN)  # deleted while we waited: lock the file at `path` now
        os.close(fd)
    try:
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _still_at(fd: int, path: Path) -> bool:
    """The open file `fd` is still the one at `path` (not deleted or replaced since it was opened)."""
    try:
        here = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (here.st_ino, here.st_dev) == (held.st_ino, held.st_dev)


@contextmanager
def held_lock(path: Path, *, create: bool = True) -> Iterator[bool]:
    """Try once to lock `path` exclusively; yields whether this process got it (then holds it).
    With `create=False`, a missing file counts as free."""
    if not create and not path.exists():
        yield True
        return
    acquired = False
    try:
        with locked_file(path, timeout=0):
            acquired = True
            yield True
    except StateError:
        if acquired:  # raised by the caller's block, not by the lock
            raise
        yield False


@contextmanager
def file_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock, held on the (empty) file `path`."""
    with locked_file(path, timeout):
        yield


def _locked(path: Path, timeout: float) -> StateError:
    return StateError(
        f"{path} is locked by another groupmsg process (waited {timeout:.0f} s)",
        hint=f"wait for the other process to finish, or find it with `fuser '{path}'`",
    )


class Store:
    """One TinyDB file of a given kind (`registry`, `tokens`, `runs`, …)."""

    def __init__(self, path: Path, kind: str, version: int = 1) -> None:
        self.path = path
        self.kind = kind
        self.version = version

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def load(self) -> dict[str, Any]:
        """The file's tables as plain dicts (empty when the file does not exist yet)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {META_TABLE: {"1": {"kind": self.kind, "version": self.version}}}
        except OSError as exc:
            raise StateError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            data = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            raise StateError(
                f"{self.path} is not valid JSON ({exc.__class__.__name__}); groupmsg will not overwrite it",
                hint=f"move it aside (mv '{self.path}' '{self.path}.corrupt') and restore it from a backup "
                "or a `groups export`; groupmsg starts a fresh file when none exists",
            ) from None
        self._check_meta(data)
        assert isinstance(data, dict)
        return data

    def _check_meta(self, data: Any) -> None:
        meta = data.get(META_TABLE, {}).get("1") if isinstance(data, dict) else None
        if not isinstance(meta, dict) or meta.get("kind") != self.kind:
            raise StateError(
                f"{self.path} is not a groupmsg {self.kind} file; groupmsg will not overwrite it",
                hint="point GROUPMSG_HOME (or --home) at a groupmsg data folder, or move the file aside",
            )
        if not isinstance(meta.get("version"), int) or meta["version"] > self.version:
            raise StateError(
                f"{self.path} was written by a newer groupmsg (schema {meta.get('version')}, "
                f"this one reads {self.version})",
                hint="upgrade groupmsg (pip install -U groupmsg)",
            )

    def table(self, name: str) -> dict[str, Any]:
        """One table's raw documents, keyed by document id; cheaper than a TinyDB query for scans."""
        table: dict[str, Any] = self.load().get(name, {})
        return table

    def staged(self, change: Callable[[TinyDB], None]) -> bytes:
        """The file's content after `change`, without writing it (for `write_all`)."""
        db = TinyDB(storage=_Snapshot, data=self.load())
        change(db)
        storage = db.storage
        assert isinstance(storage, _Snapshot)
        return dump_json(storage.data)

    @contextmanager
    def transaction(self, *, locked: bool = False) -> Iterator[TinyDB]:
        """Read, modify and write the file as one step that no other process can interleave.

        `locked=True` means the caller already holds a lock covering this file (several files
        changed as one step).
        """
        with nullcontext() if locked else file_lock(self.lock_path):
            storage_data = self.load()
            db = TinyDB(storage=_Snapshot, data=storage_data)
            yield db
            storage = db.storage
            assert isinstance(storage, _Snapshot)
            if storage.dirty:
                storage.data.setdefault(META_TABLE, {"1": {"kind": self.kind, "version": self.version}})
                atomic_write(self.path, dump_json(storage.data))


def write_all(files: dict[Path, bytes], journal: Path) -> None:
    """Replace several files as one step, for a caller holding the lock that covers them.

    Each new file is staged next to its target, then a journal naming the renames is written,
    then the renames are done and the journal removed. A process killed after the journal is
    written leaves it behind, and `recover` completes the renames: all of the files change, or none.
    """
    staged = []
    for path, payload in files.items():
        tmp = path.with_name(f".{path.name}.staged")
        atomic_write(tmp, payload)
        staged.append([str(tmp), str(path)])
    atomic_write(journal, json.dumps(staged).encode())
    recover(journal)


def recover(journal: Path) -> None:
    """Finish the renames of an interrupted `write_all` (the caller holds the lock)."""
    try:
        renames = json.loads(journal.read_bytes())
    except FileNotFoundError:
        return
    for tmp, final in renames:
        if os.path.exists(tmp):
            os.replace(tmp, final)
    journal.unlink()


def dump_json(data: Any) -> bytes:
    """Compact UTF-8 JSON: Chinese names stay readable and half the size of `\\uXXXX` escapes."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
