"""The embedded backend: TinyDB files in the home folder, shared by every process on the machine.

Each kind of state is its own module (and folder), opened on first use so that a one-shot send
imports and reads only what it touches: `registry/`, `runs/`, `records/`, `dedupe/`, `limits/`,
`tokens.json`, `schedules.json`. The home and each folder must be the user's own and writable by
nobody else (`trust`), or every command stops with exit 2 before reading anything in them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from .trust import check_folder, trust_again

if TYPE_CHECKING:
    from .dedupe import DedupeIndex
    from .limits import RateLimiter
    from .records import Records
    from .registry import Registry
    from .runs import RunLog
    from .schedules import ScheduleMarks
    from .tokens import FileTokenCache


class FileState:
    def __init__(self, home: Path, *, notify: Callable[[str], None] | None = None) -> None:
        self.home = home
        self.notify = notify  # told when a damaged derived file (a window, HEAD, the token cache) is rebuilt
        trust_again()  # each state opened (a command) looks at its folders once more
        check_folder(home)

    @cached_property
    def registry(self) -> Registry:
        from .registry import Registry

        return Registry(self.home / "registry")

    @cached_property
    def runs(self) -> RunLog:
        from .runs import RunLog

        return RunLog(self.home / "runs", notify=self.notify)

    @cached_property
    def records(self) -> Records:
        from .records import Records

        return Records(self.home / "records")

    @cached_property
    def dedupe(self) -> DedupeIndex:
        from .dedupe import DedupeIndex

        return DedupeIndex(self.home / "dedupe", run_exists=lambda run_id: self.runs.find(run_id) is not None)

    @cached_property
    def limits(self) -> RateLimiter:
        from .limits import RateLimiter

        return RateLimiter(self.home / "limits", notify=self.notify)

    @cached_property
    def schedules(self) -> ScheduleMarks:
        from .schedules import ScheduleMarks

        return ScheduleMarks(self.home / "schedules.json")

    @cached_property
    def tokens(self) -> FileTokenCache:
        from .store import ensure_private_dir
        from .tokens import FileTokenCache

        ensure_private_dir(self.home)
        return FileTokenCache(self.home / "tokens.json", notify=self.notify)

    def describe(self) -> dict[str, str]:
        return {
            "store": f"files in {self.home}",
            "registry": str(self.home / "registry"),
            "runs": str(self.home / "runs"),
            "records": str(self.home / "records"),
            "tokens": str(self.home / "tokens.json"),
        }

    def probe(self) -> list[tuple[str, str, str, str | None]]:
        """Nothing beyond doctor's check of the home folder (permissions, writable)."""
        return []

    def close(self) -> None:
        """Nothing to close: every file is opened and closed per operation."""
