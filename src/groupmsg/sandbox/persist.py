"""A sandbox that remembers: its state in a folder (``groupmsg sandbox --state DIR``).

* ``state.json`` — groups, access tokens, idempotency keys, counters, and the changes made to the
  organisation while it ran (robots and apps added, changed, removed), rewritten atomically
  whenever one of them changes;
* ``messages.jsonl`` — every accepted message, one JSON object a line, appended as it arrives;
* ``requests.jsonl`` — the request log, appended likewise (the last ``max_request_log`` are
  loaded again; the file is trimmed to them at each start).

Rate windows and injected faults are not kept (a restart is a fresh minute).  The folder is
0700 and its files 0600: they hold webhook tokens and secrets, like DingTalk's robot settings.
A second sandbox on the same folder is refused while the first one runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

FORMAT = 1
STATE, MESSAGES, REQUESTS, LOCK = "state.json", "messages.jsonl", "requests.jsonl", "lock"


class StateFolderError(Exception):
    """The state folder cannot be used (in use, unreadable, or written by something else)."""


class Persistence:
    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as e:
            raise StateFolderError(f"cannot create the state folder {self.folder}: {e.strerror}") from None
        self._lock = self._take_lock()
        self._files: dict[str, IO[str]] = {}

    def _take_lock(self) -> IO[str] | None:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: no lock, one sandbox per folder by convention
            return None
        handle = os.fdopen(os.open(self.folder / LOCK, os.O_RDWR | os.O_CREAT, 0o600), "r+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StateFolderError(
                f"the state folder {self.folder} is in use by another sandbox; stop it or use another folder"
            ) from None
        return handle

    # -- reading -----------------------------------------------------------
    def load(self, max_requests: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """The saved state (None for a new folder), the messages and the last requests."""
        path = self.folder / STATE
        doc: dict[str, Any] | None = None
        if path.exists():
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as e:
                raise StateFolderError(f"{path} is not a sandbox state file ({e}); move it away to start afresh") from None
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise StateFolderError(f"{path} was written by another version of the sandbox (format {doc.get('format') if isinstance(doc, dict) else '?'})")
        messages = list(self._lines(MESSAGES))
        requests = list(self._lines(REQUESTS))[-max_requests:] if max_requests else []
        self._rewrite(REQUESTS, requests)
        return doc, messages, requests

    def _lines(self, name: str) -> Iterable[dict[str, Any]]:
        path = self.folder / name
        if not path.exists():
            return
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(entry, dict):
                    yield entry

    # -- writing -----------------------------------------------------------
    def save(self, doc: dict[str, Any]) -> None:
        self._atomic(STATE, json.dumps({**doc, "format": FORMAT}, ensure_ascii=False))

    def append(self, name: str, entries: Iterable[dict[str, Any]]) -> None:
        f = self._files.get(name)
        if f is None:
            f = self._files[name] = self._open(name, "a")
        for entry in entries:
            f.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        f.flush()

    def clear_records(self) -> None:
        for name in (MESSAGES, REQUESTS):
            self._rewrite(name, [])

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _rewrite(self, name: str, entries: list[dict[str, Any]]) -> None:
        old = self._files.pop(name, None)
        if old is not None:
            old.close()
        self._atomic(name, "".join(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n" for e in entries))

    def _open(self, name: str, mode: str) -> IO[str]:
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC), 0o600)
        return os.fdopen(fd, mode, encoding="utf-8")

    def _atomic(self, name: str, text: str) -> None:
        tmp = self.folder / f".{name}.tmp"
        with self._open(tmp.name, "w") as f:
            f.write(text)
        os.replace(tmp, self.folder / name)
