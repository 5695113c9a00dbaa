"""TinyDB files that many processes share safely. The only module that imports tinydb.

Every file is a TinyDB JSON document with a `_meta` table naming what it holds and its schema
version, so that a foreign or newer file is refused rather than overwritten.

- Reads take no lock: writers replace the file atomically, so a reader always sees a whole state.
- Writes happen in `transaction()`: an exclusive file lock (flock, which the kernel drops when a
  process dies), one read, any number of TinyDB operations in memory,
  then at most one rewrite: temp file (mode 0600), fsync, rename. A process killed at any point
  leaves either the old or the new file, never half of one.
- Every folder and file is checked by `trust` (ours, not writable by others, no symbolic links), and
  a file that is not what groupmsg wrote (not JSON, the wrong shape) is refused with the way to
  recover, never overwritten; a derived file (`derived=True`: a cache) is moved aside and rebuilt.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from tinydb import TinyDB
from tinydb.storages import Storage

from ...errors import StateError
from .trust import NOFOLLOW, open_checked, private_dir, read_file, set_aside, trust_again

T = TypeVar("T")
Notify = Callable[[str], None]

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
    """Create a state folder readable by its owner only; refuse one that is not ours (`trust`)."""
    private_dir(path)


def atomic_write(path: Path, payload: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `payload`: temp file created 0600 (O_EXCL: never an existing file or a
    link), fsync, rename."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW, 0o600)
    except OSError as exc:
        raise StateError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise StateError(
                f"cannot write {path}: {exc.strerror}",
                hint=f"if {path} is a folder, move it aside (mv '{path}' '{path}.corrupt')"
                if isinstance(exc, IsADirectoryError)
                else None,
            ) from None
        raise


@contextmanager
def locked_file(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[int]:
    """Open `path` (created 0600, never through a link) and hold an exclusive lock on it; yields its
    file descriptor.

    The lock is shared by every groupmsg process and thread on the machine. POSIX: flock, taken
    without blocking and retried so that a timeout is possible; the kernel releases it when a
    process dies. Elsewhere: the `filelock` package on a sibling `.lock` file (it costs ~7 ms of
    imports, so cron runs on POSIX do without it).

    A holder may delete the file as it lets go (a run's activity lock, an idle rate-limit window),
    and a damaged derived file is moved aside and replaced. A process that opened it just before and
    locks it just after would hold a lock nobody else sees: so once locked, the file must still be
    the one at `path`, or it is opened and locked again.
    """
    private_dir(path.parent)
    if os.name != "posix":  # pragma: no cover - exercised on Windows only
        import filelock

        fd = _open_lock(path)[0]
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
        fd, opened = _open_lock(path)
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
        if _still_at(opened, path):
            break
        fcntl.flock(fd, fcntl.LOCK_UN)  # deleted or replaced while we waited: lock the file at `path` now
        os.close(fd)
    try:
        yield fd
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _open_lock(path: Path) -> tuple[int, os.stat_result]:
    """A lock file, created 0600 if missing; never through a symbolic link (`trust.open_file`)."""
    try:
        return open_checked(path, os.O_RDWR | os.O_CREAT)
    except FileNotFoundError:  # the folder vanished meanwhile
        trust_again()
        private_dir(path.parent)
        return open_checked(path, os.O_RDWR | os.O_CREAT)


def _still_at(held: os.stat_result, path: Path) -> bool:
    """The file opened with status `held` is still the one at `path` (not deleted or replaced since)."""
    try:
        here = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
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
    except Locked:
        if acquired:  # raised by the caller's block, not by the lock
            raise
        yield False


@contextmanager
def file_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive lock, held on the (empty) file `path`."""
    with locked_file(path, timeout):
        yield


class Locked(StateError):
    """Another process holds the lock."""


def _locked(path: Path, timeout: float) -> Locked:
    return Locked(
        f"{path} is locked by another groupmsg process (waited {timeout:.0f} s)",
        hint=f"wait for the other process to finish, or find it with `fuser '{path}'`",
    )


# What to do with a damaged file of each kind, after moving it aside.
RECOVERY = {
    "registry": "restore the groups from a backup (`groupmsg groups import FILE`)",
    "runs": "the runs it holds disappear from `groupmsg runs list`",
    "records": "the records it holds disappear from the form",
    "dedupe": "its keys are forgotten: a repeated --dedupe-key may send again",
}


class Store:
    """One TinyDB file of a given kind (`registry`, `tokens`, `runs`, …).

    `derived=True` marks a file groupmsg can rebuild (a cache): when it is damaged it is moved aside
    (`NAME.corrupt-<time>`, said through `notify`) and started afresh, instead of being refused."""

    def __init__(
        self, path: Path, kind: str, version: int = 1, *, derived: bool = False, notify: Notify | None = None
    ) -> None:
        self.path = path
        self.kind = kind
        self.version = version
        self.derived = derived
        self.notify = notify

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def _empty(self) -> dict[str, Any]:
        return {META_TABLE: {"1": {"kind": self.kind, "version": self.version}}}

    def corrupt(self, problem: str) -> StateError:
        """The error for a file that is not what groupmsg wrote: what is wrong, and how to recover."""
        then = RECOVERY.get(self.kind)
        return StateError(
            f"{self.path} {problem}; groupmsg will not overwrite it",
            hint=f"move it aside (mv '{self.path}' '{self.path}.corrupt')" + (f"; {then}" if then else "")
            + "; groupmsg starts a fresh file when none exists",
        )

    def load(self, *, locked: bool = False) -> dict[str, Any]:
        """The file's tables as plain dicts (empty when the file does not exist yet). `locked`: the
        caller holds the file's lock, so a damaged derived file may be moved aside."""
        try:
            return self._parse(read_file(self.path))
        except FileNotFoundError:
            return self._empty()
        except StateError as exc:
            if not self.derived or isinstance(exc, _Foreign):
                raise
            if locked:
                aside = set_aside(self.path)
                if self.notify:
                    self.notify(f"note: {exc.message.removesuffix(_NO_OVERWRITE)}; moved it aside to {aside} "
                                "and started a new one")
            return self._empty()

    def _parse(self, raw: bytes) -> dict[str, Any]:
        try:
            data = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            raise self.corrupt(f"is not valid JSON ({exc.__class__.__name__})") from None
        self._check_meta(data)
        assert isinstance(data, dict)
        for name, table in data.items():
            if not isinstance(table, dict) or not all(isinstance(doc, dict) for doc in table.values()):
                raise self.corrupt(f"has a table {name!r} that is not a mapping of documents")
        return data

    def _check_meta(self, data: Any) -> None:
        meta = data.get(META_TABLE) if isinstance(data, dict) else None
        meta = meta.get("1") if isinstance(meta, dict) else None
        if not isinstance(meta, dict) or meta.get("kind") != self.kind:
            raise _Foreign(
                f"{self.path} is not a groupmsg {self.kind} file; groupmsg will not overwrite it",
                hint="point GROUPMSG_HOME (or --home) at a groupmsg data folder; if this is one and the file is "
                f"damaged, move it aside (mv '{self.path}' '{self.path}.corrupt')",
            )
        version = meta.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version > self.version:
            raise _Foreign(
                f"{self.path} was written by a newer groupmsg (schema {version!r}, this one reads {self.version})",
                hint="upgrade groupmsg (pip install -U groupmsg)",
            )

    def table(self, name: str) -> dict[str, Any]:
        """One table's raw documents, keyed by document id; cheaper than a TinyDB query for scans."""
        table: dict[str, Any] = self.load().get(name, {})
        return table

    def convert(self, doc: Any, make: Callable[[Any], T]) -> T:
        """A stored document as a value (`Group.from_doc`, …); one of the wrong shape is a StateError
        naming this file, never a crash."""
        try:
            return make(doc)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise self.corrupt(f"holds a {self.kind} entry of the wrong shape ({exc})") from None

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
            storage_data = self.load(locked=True)
            db = TinyDB(storage=_Snapshot, data=storage_data)
            yield db
            storage = db.storage
            assert isinstance(storage, _Snapshot)
            if storage.dirty:
                storage.data.setdefault(META_TABLE, {"1": {"kind": self.kind, "version": self.version}})
                atomic_write(self.path, dump_json(storage.data))


_NO_OVERWRITE = "; groupmsg will not overwrite it"


class _Foreign(StateError):
    """A file of another kind or a newer version: never moved aside, even when derived."""


def dump_json(data: Any) -> bytes:
    """Compact UTF-8 JSON: Chinese names stay readable and half the size of `\\uXXXX` escapes."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
