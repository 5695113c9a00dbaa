"""Rate limits shared by every groupmsg process on the machine.

DingTalk blocks a custom robot for 10 minutes after its 21st message in a minute, and throttles an
app to 20 requests per second per API. Ten cron jobs firing at the same minute must queue politely
instead of earning the block, so the sliding windows live in the home, one small file per robot or
app API, changed under a file lock.

DingTalk counts a request when it arrives, which is somewhere between when it left and when its
answer came back. So a slot is held as "in flight" while the request is out, and stamped with the
time its answer came back: the 21st request then leaves a full window after the 1st one's answer,
and so arrives a full window after the 1st one did, whatever the network did in between.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ...errors import StateError
from ...settings import Rate
from ..limiting import Attempt, wait_for_slot
from .store import atomic_write, locked_file
from .trust import UntrustedState, check_folder, private_dir, read_file, set_aside

GUARD = 1.0  # no margin needed: stamps are answer times, already later than DingTalk's arrivals
# Housekeeping: once a day, the first acquire deletes the windows of robots and APIs unused for a day
# and the blocks that have ended, so the folder holds only what is in use.
SWEEP_EVERY_S = IDLE_S = 24 * 3600.0
INFLIGHT_MAX_S = 30.0  # a slot held longer than this belongs to a process that died mid-request
POLL_S = 0.02  # how often to look again while the window is full of requests in flight

Slot = tuple[float, bool, str]  # (time, in flight, id): stamped with its answer's time once answered


class _Window:
    """A locked window file: its descriptor and its length when read."""

    __slots__ = ("fd", "size")

    def __init__(self, fd: int, size: int) -> None:
        self.fd, self.size = fd, size


class RateLimiter:
    """Sliding windows in `directory`, one JSON file per key: [[time, in_flight, id], …]."""

    def __init__(
        self,
        directory: Path,
        *,
        sleep: Callable[[float], None] = time.sleep,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.sleep = sleep
        self.notify = notify  # says that a damaged window was moved aside and rebuilt
        check_folder(directory)
        self._paths: dict[str, Path] = {}  # a broadcast asks for the same few keys many times
        self._sweep_checked = 0.0  # monotonic time this process last looked at the sweep stamp

    def _path(self, key: str) -> Path:
        # Not a secret-bearing digest, just a file name (the key holds a webhook token, so it must
        # not appear itself); two keys sharing a file would only share a window.
        path = self._paths.get(key)
        if path is None:
            raw = key.encode()
            path = self._paths[key] = self.directory / f"{zlib.crc32(raw):08x}{zlib.adler32(raw):08x}.json"
        return path

    @staticmethod
    def _parse(raw: bytes) -> list[Slot]:
        slots = json.loads(raw) if raw.strip() else []
        if not isinstance(slots, list):
            raise ValueError("not a list of slots")
        out = []
        for slot in slots:
            if not (isinstance(slot, list) and len(slot) == 3 and isinstance(slot[0], (int, float))):
                raise ValueError("a slot is not [time, in flight, id]")
            out.append((float(slot[0]), bool(slot[1]), str(slot[2])))
        return out

    @contextmanager
    def _window(self, key: str, rate: Rate) -> Iterator[tuple[_Window, float, list[Slot]]]:
        """Lock `key`'s window and yield (its open file, the time now, the slots still in the window).

        A window file that is damaged, written by another version, or not a file of ours is moved
        aside (`….corrupt-<time>`, said through `notify`) and rebuilt as a full window from now on:
        a late message beats a 10-minute block, and the window heals by itself."""
        path = self._path(key)
        window = rate.per_s * GUARD
        private_dir(self.directory)  # a folder that is not ours stops here, whatever the file is
        for attempt in range(3):
            with ExitStack() as stack:
                try:
                    fd = stack.enter_context(locked_file(path))
                except UntrustedState as exc:  # a link, a folder, another user's file
                    if attempt == 2:
                        raise
                    self._rebuild(path, exc.message.removeprefix(f"{path} "), rate)
                    continue
                now = time.time()
                data = os.pread(fd, 1 << 20, 0)
                try:
                    slots = self._parse(data)
                except (ValueError, TypeError, UnicodeDecodeError) as exc:
                    self._rebuild(path, f"cannot be read ({exc})", rate)
                    continue
                yield _Window(fd, len(data)), now, self._live(slots, now, window)
                return
        raise StateError(f"{path} keeps being damaged", hint=f"look at what writes to {self.directory}")

    def _rebuild(self, path: Path, problem: str, rate: Rate) -> None:
        """Move a damaged window aside and put a full one in its place; the caller then looks again."""
        aside = set_aside(path)
        now = time.time()
        atomic_write(path, json.dumps([(now, False, f"unknown{n}") for n in range(rate.count)]).encode(), fsync=False)
        if self.notify:
            self.notify(f"note: the rate-limit window {path} {problem}; moved it aside to {aside} and "
                        "counted the window as full")

    @staticmethod
    def _live(slots: list[Slot], now: float, window: float) -> list[Slot]:
        kept: list[Slot] = []
        for t, in_flight, ident in slots:
            slot = (t + INFLIGHT_MAX_S, False, ident) if in_flight and now - t > INFLIGHT_MAX_S else (t, in_flight, ident)
            if slot[1] or now - slot[0] < window:  # a slot held this long: its process died mid-request
                kept.append(slot)
        return kept

    @staticmethod
    def _write(window: _Window, slots: list[Slot]) -> None:
        # In place, under the lock: a window file is tiny, and the lock, not a rename, keeps
        # readers from seeing half of it. One write, padded with spaces (valid after JSON) to the
        # old length (as read under this lock) rather than truncated, so a process killed mid-way
        # leaves no torn file. No fsync: a power cut costs at worst a lost window.
        payload = json.dumps(slots).encode()
        os.pwrite(window.fd, payload.ljust(window.size), 0)

    def _try(self, key: str, rate: Rate) -> tuple[str | None, float]:
        """Take a slot: (its id, 0), or (None, seconds to wait before looking again)."""
        window = rate.per_s * GUARD
        with self._window(key, rate) as (win, now, slots):
            if len(slots) >= rate.count:
                done = sorted(t for t, in_flight, _ in slots if not in_flight)
                excess = len(slots) - rate.count  # this many must leave the window first
                return None, (done[excess] + window - now) if excess < len(done) else POLL_S
            ident = os.urandom(4).hex()
            slots.append((now, True, ident))
            self._write(win, slots)
            return ident, 0.0

    def release(self, key: str, rate: Rate, ident: str, *, reached: bool = True) -> None:
        """The request that held `ident` got its answer (or gave up): stamp the slot now. A request
        that never reached DingTalk (`reached=False`: refused, DNS, TLS) gives its slot back."""
        with self._window(key, rate) as (win, now, slots):
            if reached:
                kept = [(now, False, i) if i == ident else (t, f, i) for t, f, i in slots]
            else:
                kept = [slot for slot in slots if slot[2] != ident]
            self._write(win, kept)

    def _block_path(self, key: str) -> Path:
        return self._path(key).with_suffix(".block")

    def block(self, key: str, seconds: float) -> None:
        """DingTalk blocked `key` (a robot after 130101 / 410100) for `seconds` from now (written
        under the window's lock, which the sweep takes to delete an ended block)."""

        with locked_file(self._path(key)):
            until = time.time() + seconds
            if until > time.time() + self.blocked_for(key):
                atomic_write(self._block_path(key), f"{until:.3f}".encode(), fsync=False)

    def sweep(self, idle_s: float = IDLE_S) -> int:
        """Delete the windows unused for `idle_s` (no slot left in them) and the blocks that have
        ended; how many files were deleted. A file in use is skipped, never waited for."""
        from ...errors import StateError

        removed, now = 0, time.time()
        for window in sorted(self.directory.glob("*.json")):
            block = window.with_suffix(".block")
            try:
                with locked_file(window, timeout=0) as fd:
                    if block.exists() and _block_ended(block, now):
                        block.unlink()
                        removed += 1
                    idle = now - os.fstat(fd).st_mtime >= idle_s and not block.exists()
                    if idle and _all_older(os.pread(fd, 1 << 20, 0), now - idle_s):
                        window.unlink()  # under its lock: a process waiting for it opens a new one
                        removed += 1
            except (StateError, OSError):
                continue  # in use right now, or gone already
        return removed

    def _maybe_sweep(self) -> None:
        if self._sweep_checked and time.monotonic() - self._sweep_checked < 3600:
            return  # looked already (a broadcast acquires thousands of slots)
        stamp = self.directory / "swept"
        try:
            if time.time() - stamp.stat().st_mtime < SWEEP_EVERY_S:
                self._sweep_checked = time.monotonic()
                return
        except FileNotFoundError:
            pass
        try:
            stamp.touch(mode=0o600)
        except OSError:
            return  # the folder is not made yet: look again next time
        self._sweep_checked = time.monotonic()
        self.sweep()

    def blocked_for(self, key: str) -> float:
        """Seconds left of a block DingTalk put on `key` (0 when none). A damaged block file is moved
        aside (said through `notify`): DingTalk will say again if the robot is still blocked."""
        path = self._block_path(key)
        try:
            until = float(read_file(path))
        except FileNotFoundError:
            return 0.0
        except (StateError, ValueError) as exc:
            problem = exc.message.removeprefix(f"{path} ") if isinstance(exc, StateError) else "is not a time"
            aside = set_aside(path)
            if self.notify:
                self.notify(f"note: the block record {path} {problem}; moved it aside to {aside}")
            return 0.0
        return max(0.0, until - time.time())

    def acquire(
        self,
        key: str,
        rate: Rate,
        *,
        label: str,
        wait: bool = True,
        deadline: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> str:
        """Block until a slot is free and return its id, or fail at once with `wait=False`, or at
        the deadline. Pass the id to `release` when the request is answered."""
        self._maybe_sweep()

        def try_once() -> Attempt:
            return self._try(key, rate)

        return wait_for_slot(
            try_once, rate, label=label, wait=wait, deadline=deadline, on_wait=on_wait, sleep=self.sleep
        )


def _block_ended(path: Path, now: float) -> bool:
    try:
        return float(path.read_bytes()) <= now
    except (OSError, ValueError):
        return True  # unreadable: worth nothing


def _all_older(raw: bytes, cutoff: float) -> bool:
    """Every slot in a window file is older than `cutoff` (then no window can still count it)."""
    try:
        return all(float(t) < cutoff for t, _, _ in (json.loads(raw) if raw.strip() else []))
    except (ValueError, TypeError):
        return True
