"""What a form event did: the record, and for each flow whether it ran and how its run ended.

`EventResult.error()` is the one place that says what a command reports after a submit, an update
or a delete: a failed run (exit 1, the record is kept), no flow matched (exit 3), or nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import DeliveryError, GroupmsgError, NothingToDo
from ..state.model import FAILED, SUCCEEDED, Record, Run

CREATED, UPDATED, DELETED = "created", "updated", "deleted"


@dataclass(frozen=True)
class Event:
    form: str
    kind: str  # created | updated | deleted
    record: Record


@dataclass
class FlowOutcome:
    """What happened to one flow for one event."""

    flow: str
    status: str  # succeeded | failed | not_matched | duplicate
    run: Run | None = None
    previews: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be done
    note: str = ""

    def to_doc(self, *, dry_run: bool = False) -> dict[str, Any]:
        if not dry_run:
            doc: dict[str, Any] = {"flow": self.flow, "status": self.status}
            if self.note:
                doc["note"] = self.note
            if self.run is not None:
                doc["run"] = self.run.to_doc()
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
        return [o for o in self.outcomes if o.status == FAILED]

    def error(self) -> GroupmsgError | None:
        """What the command reports after printing the result: a failed run (exit 1, the record is
        kept), no flow matched (exit 3, the record is kept), or None."""
        if self.failed:
            return self._failure()
        if not self.ran:
            stored = "" if self.dry_run else f"record {self.event.record.id} is stored, but "
            return NothingToDo(
                f"{stored}no enabled flow matched {self.event.kind} on {self.event.form}",
                hint="see the flows and their triggers with `groupmsg flows list`",
            )
        return None

    def _failure(self) -> DeliveryError:
        first = self.failed[0]
        step = next((s for s in first.run.steps if s.status == FAILED), None) if first.run else None
        err = (step.error if step else None) or {}
        others = f" (and {len(self.failed) - 1} more flow(s))" if len(self.failed) > 1 else ""
        if self.dry_run:
            verb, hint = "would fail", err.get("hint") or "nothing was stored or sent"
        else:
            fix = f" ({err['hint']})" if err.get("hint") else ""
            run_id = first.run.id if first.run else ""
            verb = "failed"
            hint = (
                f"the record {self.event.record.id} is kept; fix the cause{fix} "
                f"and resume with `groupmsg runs retry {run_id}`"
            )
            if err.get("retry") == "never":  # the message itself is refused: resuming would send it again
                hint = f"the record {self.event.record.id} is kept; {err.get('hint') or 'change what the flow sends'}"
        return DeliveryError(
            f"flow {first.flow} {verb} at node {step.name if step else '?'}: {err.get('message')}{others}",
            hint=hint,
            code=err.get("code"),
        )

    def to_doc(self) -> dict[str, Any]:
        record = self.event.record
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
