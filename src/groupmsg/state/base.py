"""The storage seam: one small interface per kind of state, which every backend implements.

Callers (delivery, flows, the app's services) depend on these protocols only; `state.open_state`
chooses the backend from the settings. The behaviour tests in `tests/state` run against every
backend, so a new one proves itself by passing them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..settings import Rate
from .model import Group, Record, Run


class RegistryStore(Protocol):
    """Group name → Group. Names are normalised (`model.normalize_name`) by the store."""

    def find(self, name: str) -> Group | None: ...

    def get(self, name: str) -> Group:
        """The group, or UnknownGroup with the closest names as a hint."""
        ...

    def list(self) -> builtins.list[Group]:
        """Every group, sorted by name."""
        ...

    def names(self) -> builtins.list[str]: ...

    def find_by_address(self, chat_id: str) -> Group | None:
        """The group registered with this chat id or open conversation id."""
        ...

    def add(self, group: Group, *, replace_existing: bool = False) -> Group:
        """Add (or replace) one group; DuplicateGroup if the name is taken and not replacing."""
        ...

    def add_many(self, groups: builtins.list[Group], *, replace_existing: bool = False) -> int:
        """All of them or, on a duplicate or a crash, none."""
        ...

    def remove(self, name: str) -> Group: ...

    def rename(self, old: str, new: str) -> Group:
        """Atomic: never both names, never neither."""
        ...


class RunStore(Protocol):
    """Runs (sends and flow runs), the outbox and the run log in one."""

    def save(self, run: Run) -> None:
        """Insert or update a run."""
        ...

    def find(self, run_id: str) -> Run | None: ...

    def get(self, run_id: str) -> Run:
        """By id, or by a unique start or end of it; BadInput otherwise."""
        ...

    def list(
        self,
        *,
        status: str | None = None,
        name: str | None = None,
        limit: int | None = 50,
        record_id: str | None = None,
    ) -> builtins.list[Run]:
        """Newest first. `status` may be `unsettled` (left pending by a process that is gone);
        `record_id` keeps the runs of one form record (its id, or a unique end of it)."""
        ...

    def hold(self, run: Run) -> AbstractContextManager[Run]:
        """Hold `run` while delivering it, yielding it as stored once held (a copy read before may be
        stale); NothingToDo if another live process holds it. Released when the process dies."""
        ...

    def unsettled(self, run: Run) -> bool:
        """A run left unfinished by a process that is gone (killed, crashed)."""
        ...

    def prune(self, older_than_s: float) -> int:
        """Forget finished runs (succeeded or failed) that finished more than `older_than_s` seconds
        ago; runs still running or unsettled are kept. Returns how many were removed."""
        ...


class RecordStore(Protocol):
    """Form records, newest first on every read (data linkage's "most recent wins")."""

    def iter(self, form: str) -> Iterator[Record]: ...

    def list(self, form: str, limit: int | None = None) -> builtins.list[Record]: ...

    def get(self, form: str, record_id: str) -> Record: ...

    def find(self, form: str, where: Mapping[str, Any]) -> builtins.list[Record]: ...

    def add(self, form: str, values: Mapping[str, Any], *, source: str = "submit") -> Record: ...

    def update(self, form: str, record_id: str, values: Mapping[str, Any]) -> Record: ...

    def delete(self, form: str, record_id: str) -> Record: ...

    def forms(self) -> builtins.list[str]:
        """The names of the forms that have records (for `store copy`)."""
        ...

    def restore(self, form: str, records: Iterable[Record]) -> int:
        """Append records as they are (ids and times kept), given oldest first; ids already
        stored are skipped. Returns how many were added (for `store copy`)."""
        ...


class DedupeStore(Protocol):
    def claim(self, key: str, run_id: str) -> str | None:
        """Record `key` → `run_id` and return None, or return the run id that already holds it."""
        ...


class ScheduleStore(Protocol):
    """Where each scheduled flow stands: the last occurrence a tick took for it (or, for a flow
    first seen by a tick, that tick's time), as ISO 8601 text with its UTC offset. Shared by every
    process that uses this state, so that ticks on several hosts move one mark per flow."""

    def last(self, flow: str) -> str | None:
        """The flow's mark, or None for a flow no tick has seen."""
        ...

    def compare_and_set(self, flow: str, expected: str | None, new: str) -> bool:
        """Set the mark to `new` if it is still `expected` (None: not set yet), atomically with
        respect to every other process; True too if it already is `new` (a call repeated after a
        dropped connection finds its own effect); False, and nothing changed, otherwise."""
        ...


class RateLimitStore(Protocol):
    """Sliding windows shared by every process that uses this state."""

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
        """Wait for a slot of `key`'s window (RateLimited if `wait` is false or the deadline comes
        first); its id. A recorded block is not looked at here: the caller's pacing
        (`delivery.retry.Pacing`) waits out or refuses a blocked robot, the one rule for blocks."""
        ...

    def release(self, key: str, rate: Rate, ident: str, *, reached: bool = True) -> None:
        """The request holding slot `ident` was answered: stamp the slot with the time now. With
        `reached=False` (the request never reached DingTalk) the slot is given back."""
        ...

    def block(self, key: str, seconds: float) -> None:
        """Record that DingTalk blocked `key` for `seconds` from now (shared by every process)."""
        ...

    def blocked_for(self, key: str) -> float:
        """Seconds left of a recorded block on `key`, 0 when there is none."""
        ...


class TokenStore(Protocol):
    """Access tokens shared by every process (DingTalk throttles re-requesting them)."""

    def get(self, key: str) -> str | None: ...

    def refresh(self, key: str, fetch: Callable[[], tuple[str, int]], stale: str | None) -> str:
        """Fetch a new token unless another process already replaced `stale`."""
        ...


class State(Protocol):
    """Every kind of state, from one backend. Stores are opened on first use."""

    @property
    def registry(self) -> RegistryStore: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def records(self) -> RecordStore: ...

    @property
    def dedupe(self) -> DedupeStore: ...

    @property
    def limits(self) -> RateLimitStore: ...

    @property
    def schedules(self) -> ScheduleStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    def describe(self) -> dict[str, str]:
        """Where each kind of state lives (for `groupmsg paths`), secrets masked."""
        ...

    def probe(self) -> builtins.list[tuple[str, str, str, str | None]]:
        """Checks of the store itself for `doctor`: (status ok|warn|fail, name, detail, fix).
        Never raises: a store that does not answer is a failed check."""
        ...

    def close(self) -> None: ...
