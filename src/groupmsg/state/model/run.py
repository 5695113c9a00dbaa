"""Runs and their steps: the outbox and the run log in one, and what a failed run reports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...clock import now_iso, stamp
from ...errors import (
    RETRY_AFTER_FIX,
    RETRY_CHECK_FIRST,
    RETRY_LATER,
    RETRY_NEVER,
    BadInput,
    DeliveryError,
    GroupmsgError,
    NothingToDo,
)
from .checks import typed_fields

PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED = "pending", "running", "succeeded", "failed", "skipped"
UNSETTLED = "unsettled"  # a run with pending steps and no live process (a filter, not a stored status)


def new_run_id() -> str:
    """Sortable by time, unique across processes: 20261125-103000-1a2b3c."""
    return stamp() + "-" + os.urandom(3).hex()


def run_choices(run_id: str) -> dict[str, str]:
    """How `pick_by_id` speaks of runs."""
    return {"many": "runs", "missing": f"no run {run_id!r}", "missing_hint": "see the run ids with `groupmsg runs list`"}


def error_doc(exc: GroupmsgError) -> dict[str, Any]:
    """A failed step's error as stored in the run log: DingTalk's code, the message, the fix, and
    what a retry can do about it (`later`, `after_fix`, `never`, `check`: errors.RETRY_*)."""
    retry = getattr(exc, "retry", None) or (RETRY_AFTER_FIX if isinstance(exc, BadInput) else RETRY_LATER)
    return {"code": getattr(exc, "code", None), "message": exc.message, "hint": exc.hint, "retry": retry}


@dataclass
class Step:
    id: str
    name: str
    kind: str
    status: str = PENDING
    inputs: dict[str, Any] = field(default_factory=dict)  # secrets already masked
    outputs: dict[str, Any] = field(default_factory=dict)
    error: dict[str, Any] | None = None  # {"code", "message", "hint"}
    attempts: int = 0
    duration_ms: int | None = None
    finished_at: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Step:
        return cls(**typed_fields(cls, doc))

    @property
    def open(self) -> bool:
        """Failed or never finished: what a retry sends again."""
        return self.status in (FAILED, PENDING, RUNNING)


@dataclass
class Run:
    id: str
    kind: str  # "send" | "flow"
    status: str = RUNNING
    name: str = ""  # the flow's name, or "send"
    form: str | None = None
    record_id: str | None = None
    steps: list[Step] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)  # what a retry needs (masked of secrets)
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    pid: int = field(default_factory=os.getpid)
    retry_of: str | None = None
    segment: str | None = None  # where a backend keeps it

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Run:
        values = typed_fields(cls, doc)
        steps = values.pop("steps", [])
        run = cls(**values)
        run.steps = [Step.from_doc(s) for s in steps]
        return run

    def to_doc(self) -> dict[str, Any]:
        # Shallow copies (not dataclasses.asdict's deep copy): a broadcast saves its run often.
        doc = dict(vars(self))
        doc["steps"] = [dict(vars(s)) for s in self.steps]
        return doc

    def step(self, step_id: str) -> Step:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    @property
    def failed_steps(self) -> list[Step]:
        return [s for s in self.steps if s.status == FAILED]

    def settle(self) -> str:
        """Derive the run's status from its steps."""
        states = {s.status for s in self.steps}
        if PENDING in states or RUNNING in states:
            self.status = RUNNING
        else:
            self.status = FAILED if FAILED in states else SUCCEEDED
            self.finished_at = self.finished_at or now_iso()
        return self.status


def record_matches(run: Run, record_id: str) -> bool:
    """`runs list --record ID`: the run acted on that form record (ID may be the end of its id)."""
    return bool(run.record_id) and (run.record_id == record_id or str(run.record_id).endswith(record_id))


# --- dedupe keys ------------------------------------------------------------------------------

DEDUPE_RETENTION_S = 7 * 24 * 3600  # a key makes a repeat a no-op for a week
# A key is claimed a moment before its run is saved. A claim this old whose run was never saved
# belongs to a process killed in between: the next repeat takes it over instead of waiting for it.
ORPHAN_AFTER_S = 60.0


def nothing_to_retry(run: Run) -> NothingToDo | None:
    """Why `runs retry` has nothing to do for `run` (every step succeeded or was skipped), or None."""
    if any(s.open for s in run.steps):
        return None
    return NothingToDo(f"run {run.id} has nothing to retry (status {run.status})")


def same_cause(steps: list[Step]) -> bool:
    """Every one of `steps` failed for the same reason (one message says it for all)."""
    return len({((s.error or {}).get("code"), (s.error or {}).get("message")) for s in steps}) <= 1


def run_failure(run: Run) -> DeliveryError | None:
    """What a command reports for a run with failed steps (exit 1), or None: the cause (every
    failed step's when they share one), how many were not sent, and the way out — `runs retry`
    only where a retry can help."""
    failed = run.failed_steps
    if not failed:
        return None
    first = failed[0].error or {}
    if run.kind == "flow":
        message = f"flow {run.name} failed at node {failed[0].name}: {first.get('message')} (run {run.id})"
    elif len(run.steps) == 1:
        message = f"{failed[0].name}: {first.get('message')} (run {run.id})"
    elif same_cause(failed):
        names = ", ".join(s.name for s in failed[:5]) + (", …" if len(failed) > 5 else "")
        message = (
            f"{first.get('message')}; {len(failed)} of {len(run.steps)} messages were not sent: {names} (run {run.id})"
        )
    else:
        message = f"{len(failed)} of {len(run.steps)} messages were not sent (run {run.id})"
    one = run.kind == "flow" or same_cause(failed)
    return DeliveryError(message, hint=way_out(run, [first] if one else [s.error or {} for s in failed]),
                         code=first.get("code"))


def way_out(run: Run, errors: list[dict[str, Any]]) -> str | None:
    """The hint for a failed run: each cause's fix, and `runs retry` where a retry can help."""
    retry = f"`groupmsg runs retry {run.id}`"
    them = "it" if len(run.failed_steps) == 1 else "them"
    kinds = {e.get("retry") or RETRY_LATER for e in errors}
    if len(errors) == 1:
        fix, kind = errors[0].get("hint"), kinds.pop()
        if kind == RETRY_NEVER:
            return fix
        if errors[0].get("code") == "blocked":
            return f"{fix}; {retry} after that time" if fix else f"{retry} after that time"
        if kind == RETRY_CHECK_FIRST:
            return f"{fix}; if it is missing, {retry} sends it again" if fix else f"{retry} sends {them} again"
        action = f"then {retry} sends {them} again" if kind == RETRY_AFTER_FIX else f"{retry} sends {them} again"
        return f"{fix}; {action}" if fix else action
    if kinds == {RETRY_NEVER}:
        return "each message above says what to change"
    if kinds <= {RETRY_LATER}:
        return f"{retry} sends the failed ones again (after any block named above has ended)"
    return f"fix what is named above, then {retry} sends the failed ones again"
