"""What a form event, a manual run or a tick did: for each flow whether it ran and how its run
ended, with the runs its records fired in turn (「允许自动触发」).

`EventResult.error()` is the one place that says what a command reports after a submit, an update,
a delete or a `flows run`: a failed run or a stopped chain (exit 1, the record is kept), no flow
matched (exit 3), or nothing; `TickResult.error()` the same for `flows tick`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import DeliveryError, GroupmsgError, NothingToDo
from ..state.model import FAILED, SUCCEEDED, Record, Run

CREATED, UPDATED, DELETED = "created", "updated", "deleted"
MANUAL_EVENT = "manual"  # the event of a `flows run`
STOPPED = "stopped"  # an auto-triggered run refused: its chain was too long


@dataclass(frozen=True)
class Event:
    form: str
    kind: str  # created | updated | deleted
    record: Record


@dataclass
class FlowOutcome:
    """What happened to one flow for one event."""

    flow: str
    status: str  # succeeded | failed | not_matched | duplicate | stopped
    run: Run | None = None
    previews: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be done
    note: str = ""
    # The runs that records written by this run fired (「允许自动触发」), and what fired this one.
    triggered: list[FlowOutcome] = field(default_factory=list)
    cause: str = ""  # "auto-triggered by flow A (record FINST-…)" for those

    def tree(self) -> Iterator[FlowOutcome]:
        """This outcome and every outcome it led to, depth first."""
        yield self
        for child in self.triggered:
            yield from child.tree()

    def to_doc(self, *, dry_run: bool = False) -> dict[str, Any]:
        if not dry_run:
            doc: dict[str, Any] = {"flow": self.flow, "status": self.status}
            if self.note:
                doc["note"] = self.note
            if self.cause:
                doc["cause"] = self.cause
            if self.run is not None:
                doc["run"] = self.run.to_doc()
            if self.triggered:
                doc["triggered"] = [t.to_doc() for t in self.triggered]
            return doc
        # A dry run's Run was never saved: show what each node would do, not a run record.
        status = {SUCCEEDED: "would succeed", FAILED: "would fail"}.get(self.status, self.status)
        steps = [
            {"node": s.name, "kind": s.kind, "status": s.status, **({"error": s.error} if s.error else {})}
            for s in (self.run.steps if self.run else [])
        ]
        note = {"note": self.note} if self.note else {}
        return {"flow": self.flow, "status": status, **note, "steps": steps, "would": self.previews}


@dataclass
class EventResult:
    event: Event
    outcomes: list[FlowOutcome]
    dry_run: bool = False

    @property
    def ran(self) -> list[FlowOutcome]:
        return [o for o in self.outcomes if o.status != "not_matched"]

    @property
    def failed(self) -> list[FlowOutcome]:
        """Failed runs, those fired by records written along the way included."""
        return [o for top in self.outcomes for o in top.tree() if o.status == FAILED]

    def error(self) -> GroupmsgError | None:
        """What the command reports after printing the result: a failed run or a stopped chain
        (exit 1, the record is kept), no flow matched (exit 3, the record is kept), or None."""
        kept = ""
        if self.event.kind != MANUAL_EVENT and not self.dry_run:
            kept = f"the record {self.event.record.id} is kept; "
        failure = outcomes_failure(self.outcomes, dry_run=self.dry_run, kept=kept)
        if failure is not None:
            return failure
        if not self.ran:
            stored = "" if self.dry_run else f"record {self.event.record.id} is stored, but "
            return NothingToDo(
                f"{stored}no enabled flow matched {self.event.kind} on {self.event.form}",
                hint="see the flows and their triggers with `groupmsg flows list`",
            )
        return None

    def to_doc(self) -> dict[str, Any]:
        record = self.event.record
        if self.event.kind == MANUAL_EVENT:
            return {
                "form": self.event.form or None,
                "event": MANUAL_EVENT,
                "dry_run": self.dry_run,
                "record": {"id": record.id or None, "values": dict(record.values)},
                "flows": [o.to_doc(dry_run=self.dry_run) for o in self.outcomes],
            }
        return {
            "form": self.event.form,
            "event": self.event.kind,
            "dry_run": self.dry_run,
            "record": {
                "id": None if self.dry_run else record.id,
                "created_at": record.created_at,
                "values": dict(record.values),
            },
            "flows": [o.to_doc(dry_run=self.dry_run) for o in self.outcomes],
        }


def outcomes_failure(outcomes: list[FlowOutcome], *, dry_run: bool, kept: str = "") -> DeliveryError | None:
    """What a command reports for these outcomes (and those they led to): a stopped chain of
    auto-triggered flows, else the first failed run, else None. `kept` starts the hint."""
    every = [o for top in outcomes for o in top.tree()]
    stopped = next((o for o in every if o.status == STOPPED), None)
    if stopped is not None:
        return DeliveryError(
            stopped.note,
            hint="give one of the flows in the loop a trigger `filter:` that ends it, or remove its "
            "allow_auto_trigger (`groupmsg flows check` names loops that can never end)",
        )
    failed = [o for o in every if o.status == FAILED]
    if not failed:
        return None
    first = failed[0]
    step = next((s for s in first.run.steps if s.status == FAILED), None) if first.run else None
    err = (step.error if step else None) or {}
    others = f" (and {len(failed) - 1} more flow(s))" if len(failed) > 1 else ""
    cause = f" ({first.cause})" if first.cause else ""
    if dry_run:
        verb, hint = "would fail", err.get("hint") or "nothing was stored or sent"
    else:
        fix = f" ({err['hint']})" if err.get("hint") else ""
        run_id = first.run.id if first.run else ""
        verb = "failed"
        hint = f"{kept}fix the cause{fix} and resume with `groupmsg runs retry {run_id}`"
        if err.get("retry") == "never":  # the message itself is refused: resuming would send it again
            hint = f"{kept}{err.get('hint') or 'change what the flow sends'}"
    return DeliveryError(
        f"flow {first.flow}{cause} {verb} at node {step.name if step else '?'}: {err.get('message')}{others}",
        hint=hint,
        code=err.get("code"),
    )


# --- ticks ------------------------------------------------------------------------------------------

RAN, NOT_DUE, FIRST_SEEN, CLAIMED, DISABLED = "ran", "not_due", "first_seen", "claimed", "disabled"


@dataclass
class TickOutcome:
    """What one tick did for one scheduled flow."""

    flow: str
    status: str  # ran | not_due | first_seen | claimed | disabled
    schedule: str  # the cron expression
    timezone: str  # the zone's label: "Asia/Shanghai", "Etc/UTC (this machine's)"
    occurrence: str | None = None  # the occurrence run (or claimed elsewhere), in the schedule's zone
    skipped: int = 0  # missed occurrences before it that this run stands for
    skipped_since: str | None = None  # the first of them
    next: str | None = None  # the next occurrence after this tick
    outcome: FlowOutcome | None = None  # the run, when this tick ran one
    note: str = ""

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "flow": self.flow,
            "status": self.status,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "occurrence": self.occurrence,
            "skipped": self.skipped,
            "skipped_since": self.skipped_since,
            "next": self.next,
        }
        if self.note:
            doc["note"] = self.note
        if self.outcome is not None:
            doc["run"] = self.outcome.to_doc()
        return doc


@dataclass
class TickResult:
    now: str
    ticks: list[TickOutcome]

    @property
    def outcomes(self) -> list[FlowOutcome]:
        return [t.outcome for t in self.ticks if t.outcome is not None]

    def error(self, flows_file: str) -> GroupmsgError | None:
        if not self.ticks:
            return NothingToDo(
                f"no scheduled flows in {flows_file}",
                hint='give a flow `trigger: {schedule: "0 9 * * 1-5", timezone: Asia/Shanghai}`',
            )
        return outcomes_failure(self.outcomes, dry_run=False)

    def to_doc(self) -> dict[str, Any]:
        return {"now": self.now, "flows": [t.to_doc() for t in self.ticks]}
