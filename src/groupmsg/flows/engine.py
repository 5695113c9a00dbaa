"""Form events → matching flows → runs, node by node, each recorded in the run log.

`Engine(services, model)` acts on one flows file with the collaborators it is given:
- `submit()`: fill and validate a form, store the record, fire `created`;
- `update_record()` / `delete_record()`: change a stored record and fire `updated` / `deleted`;
- `fire()`: run every enabled flow whose trigger and filter match the event, in file order. Runs are
  independent: one flow failing does not stop the next;
- `run_manual()`: run a manual flow (`flows run`, Yida's 自定义按钮触发);
- `launch()`: start a run of any flow with its context (what scheduled runs use, `flows.ticks`);
- `resume()`: continue a failed run from the node that failed (`runs retry`).

A run is saved with all its steps `pending` before the first node acts, and after every node, so a
process killed mid-run leaves a record that `runs list --status unsettled` finds and `runs retry`
completes.

「允许自动触发」: form records that a run's data nodes write (add, update, delete) fire the flows
with `allow_auto_trigger: true` listening to that event, once the run has finished — never the
writing flow itself, and no flow without the switch (Yida's default). Each such run knows the
chain of flows that led to it; a chain stops at MAX_CHAIN runs with an error naming the loop, and
nothing more is started after that.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..clock import now_iso
from ..errors import BadInput, NothingToDo
from ..state.model import (
    RUNNING,
    SUCCEEDED,
    Record,
    Run,
    Step,
    new_run_id,
    nothing_to_retry,
)
from . import forms
from .conditions import matches
from .execution import Execution, system_values
from .model import MANUAL, Flow, FlowsFile, Form
from .results import CREATED, DELETED, MANUAL_EVENT, STOPPED, UPDATED, Event, EventResult, FlowOutcome
from .services import FlowServices
from .tables import Tables
from .templating import Scope, suggest, to_text

MAX_CHAIN = 5  # runs in one chain of auto-triggered flows (the first one included)


def find_form(model: FlowsFile, name: str) -> Form:
    form = model.form(unicodedata.normalize("NFC", name).strip())
    if form is None:
        names = [f.name for f in model.forms]
        raise BadInput(
            f"no form named {name!r} in {model.path}",
            hint=suggest(name, names, what="a form") + " (see `groupmsg forms list`)",
        )
    return form


def plan_steps(flow: Flow) -> list[Step]:
    """One pending step per node, branches included, in document order."""
    return [Step(id=n.id, name=n.name, kind=n.KIND) for n in flow.all_nodes()]


def find_flow(model: FlowsFile, name: str) -> Flow:
    flow = model.flow(unicodedata.normalize("NFC", name).strip())
    if flow is None:
        raise BadInput(
            f"no flow named {name!r} in {model.path}",
            hint=suggest(name, [f.name for f in model.flows], what="a flow") + " (see `groupmsg flows list`)",
        )
    return flow


@dataclass
class Cascade:
    """The flows that led to a run through records they wrote (its own name last), and the one
    error that stops every chain of this cascade once any of them grows too long."""

    flows: tuple[str, ...]
    stopped: list[str] = field(default_factory=list)  # shared by the whole cascade

    def then(self, flow: str) -> Cascade:
        return Cascade((*self.flows, flow), self.stopped)


def chain_message(flows: tuple[str, ...], refused: str) -> str:
    """Why `refused` was not run: the chain, and the loop in it when there is one."""
    shown = " → ".join((*flows, refused))
    if refused in flows:
        start = len(flows) - 1 - flows[::-1].index(refused)
        loop = " → ".join((*flows[start:], refused))
        return (
            f"auto-triggered flows do not stop: {shown}; {refused} was not run "
            f"(a chain stops after {MAX_CHAIN} runs; the loop: {loop})"
        )
    return f"a chain of auto-triggered flows longer than {MAX_CHAIN} runs: {shown}; {refused} was not run"


class Engine:
    def __init__(self, services: FlowServices, model: FlowsFile) -> None:
        self.services = services
        self.model = model
        self.tables = Tables(services.registry, services.records, model)

    # Forms and events ----------------------------------------------------------------------
    def submit(self, form_name: str, given: dict[str, Any], *, dry_run: bool = False) -> EventResult:
        """Validate and store a submission, then run the flows its `created` event triggers. A dry run
        validates and plans exactly the same way but stores, sends and records nothing."""
        form = find_form(self.model, form_name)
        values = forms.fill(form, given, self.tables)
        if dry_run:
            record = Record(id="(not stored)", form=form.name, values=values, created_at=now_iso())
        else:
            record = self.services.records.add(form.name, values)
        return self.fire(Event(form.name, CREATED, record), dry_run=dry_run)

    def update_record(self, form_name: str, record_id: str, given: dict[str, Any]) -> EventResult:
        """Change fields of a stored record (validated like a submission), then fire `updated`."""
        form = find_form(self.model, form_name)
        records = self.services.records
        current = records.get(form.name, record_id)
        kept = {
            k: v
            for k, v in current.values.items()
            if (f := form.field(k)) is not None and not f.readonly and k not in given
        }
        values = forms.fill(form, {**kept, **given}, self.tables)
        record = records.update(form.name, current.id, values)
        return self.fire(Event(form.name, UPDATED, record))

    def delete_record(self, form_name: str, record_id: str) -> EventResult:
        form = find_form(self.model, form_name)
        record = self.services.records.delete(form.name, record_id)
        return self.fire(Event(form.name, DELETED, record))

    def fire(self, event: Event, *, dry_run: bool = False) -> EventResult:
        outcomes = []
        for flow in self.model.flows_for(event.form, event.kind):
            if not _filter_matches(flow, event):
                outcomes.append(FlowOutcome(flow.name, "not_matched", note="the trigger's filter did not match"))
                continue
            outcomes.append(self.run_flow(flow, event, dry_run=dry_run))
        return EventResult(event, outcomes, dry_run)

    def run_manual(
        self, name: str, given: dict[str, Any], *, record_id: str | None = None, dry_run: bool = False
    ) -> EventResult:
        """Run a manual flow (自定义按钮触发). With a form on its trigger, the run is given that
        form's fields: `given` filled and validated like a submission (and not stored), or the
        values of the stored record `record_id` (Yida's button on a record's page)."""
        flow = find_flow(self.model, name)
        if flow.trigger.kind != MANUAL:
            raise BadInput(
                f"flow {flow.name} is not a manual flow: it runs {_runs_on(flow)}",
                hint="only flows with `trigger: manual` run with `groupmsg flows run`",
            )
        if not flow.enabled:
            raise NothingToDo(f"flow {flow.name} is disabled", hint="set `enabled: true` on it to run it")
        form = find_form(self.model, flow.trigger.form) if flow.trigger.form else None
        if form is None and (given or record_id):
            raise BadInput(
                f"flow {flow.name} takes no fields: its manual trigger names no form",
                hint="give its trigger a form whose fields it takes: {manual: true, form: FORM}",
            )
        if record_id is not None and given:
            raise BadInput("give --record or --field, not both", hint="--record runs the flow on a stored record")
        if form is None:
            record = Record(id="", form="", values={}, created_at=now_iso())
        elif record_id is not None:
            record = self.services.records.get(form.name, record_id)
        else:
            record = Record(id="", form=form.name, values=forms.fill(form, given, self.tables), created_at=now_iso())
        event = Event(form.name if form else "", MANUAL_EVENT, record)
        return EventResult(event, [self.run_flow(flow, event, dry_run=dry_run)], dry_run)

    # Runs ----------------------------------------------------------------------------------
    def run_flow(
        self,
        flow: Flow,
        event: Event,
        *,
        dry_run: bool = False,
        cascade: Cascade | None = None,
        triggered_by: Run | None = None,
    ) -> FlowOutcome:
        context = _event_context(event)
        if triggered_by is not None:
            context["triggered_by"] = {"run": triggered_by.id, "flow": triggered_by.name}
        return self.launch(
            flow,
            context,
            form=event.form or None,
            record_id=None if dry_run else (event.record.id or None),
            dry_run=dry_run,
            cascade=cascade,
        )

    def launch(
        self,
        flow: Flow,
        context: dict[str, Any],
        *,
        form: str | None = None,
        record_id: str | None = None,
        dry_run: bool = False,
        cascade: Cascade | None = None,
        claim: Callable[[Run], FlowOutcome | None] | None = None,
        prepare: Callable[[], None] | None = None,
    ) -> FlowOutcome:
        """Start a run of `flow` with `context` (what its templates see, kept for a resume).
        `claim(run)` may answer instead of running (a duplicate); `prepare()` is called once the
        run is saved, before its first node acts."""
        cascade = cascade or Cascade((flow.name,))
        run = Run(
            id=new_run_id(),
            kind="flow",
            name=flow.name,
            form=form,
            record_id=record_id,
            steps=plan_steps(flow),
            context={"flows_file": str(Path(self.model.path).resolve()), **context},
        )
        if len(cascade.flows) > 1:
            run.context["chain"] = list(cascade.flows)
        execution = Execution(self.services, self.model, flow, run, dry_run=dry_run)
        if flow.dedupe is not None and not dry_run:
            key = to_text(flow.dedupe.render(execution.scope.lookup))
            run.context["dedupe_key"] = key
            earlier = self._claim(flow, key, run)
            if earlier is not None:
                return earlier
        if claim is not None and not dry_run:
            earlier = claim(run)
            if earlier is not None:
                return earlier
        outcome = FlowOutcome(flow.name, run.status, run=run, previews=execution.ctx.previews)
        execution.start(prepare=prepare, then=lambda: self._follow(execution, outcome, cascade))
        outcome.status = run.status
        return outcome

    def _follow(self, execution: Execution, outcome: FlowOutcome, cascade: Cascade) -> None:
        """Fire the flows that records written by this run trigger (「允许自动触发」), in the order
        the records were written, each run in turn; then note them in this run."""
        run = execution.run
        for form, kind, record in execution.writes:
            event = Event(form, kind, record)
            for target in self.model.flows_for(form, kind):
                if cascade.stopped:
                    break
                if not target.allow_auto_trigger or target.name == execution.flow.name:
                    continue
                if not _filter_matches(target, event):
                    continue
                cause = f"auto-triggered by flow {run.name} ({kind} {form} record {record.id})"
                if len(cascade.flows) >= MAX_CHAIN:
                    message = chain_message(cascade.flows, target.name)
                    cascade.stopped.append(message)
                    outcome.triggered.append(FlowOutcome(target.name, STOPPED, note=message, cause=cause))
                    run.context["stopped"] = message
                    break
                child = self.run_flow(target, event, cascade=cascade.then(target.name), triggered_by=run)
                child.cause = cause
                outcome.triggered.append(child)
        if outcome.triggered:
            run.context["triggered"] = [
                {"flow": t.flow, "status": t.status, "run": t.run.id if t.run else None} for t in outcome.triggered
            ]
            execution.save()

    def _claim(self, flow: Flow, key: str, run: Run) -> FlowOutcome | None:
        """Claim the flow's dedupe key for `run`. A key already held by a run that succeeded (or that
        a live process is still running) makes this event a no-op; one held by a failed or abandoned
        run resumes that run instead of starting again."""
        return self.claim_key(flow, f"flow:{flow.name}:{key}", run, shown=f"dedupe key {key!r}")

    def claim_key(self, flow: Flow, key: str, run: Run, *, shown: str) -> FlowOutcome | None:
        """`_claim` for any dedupe key (a scheduled flow claims its occurrences this way)."""
        runs = self.services.runs
        holder = self.services.dedupe().claim(key, run.id)
        if holder is None:
            return None
        earlier = runs.find(holder)
        if earlier is None:  # claimed a moment ago by a process that has not saved its run yet
            note = f"already running: run {holder} is being started by another process ({shown})"
            return FlowOutcome(flow.name, "duplicate", note=note)
        if earlier.status == SUCCEEDED or (earlier.status == RUNNING and not runs.unsettled(earlier)):
            state = "already done" if earlier.status == SUCCEEDED else "already running"
            note = f"{state}: run {earlier.id} ({shown})"
            return FlowOutcome(flow.name, "duplicate", run=earlier, note=note)
        resumed, idle = self._resume(earlier, self._flow_of(earlier))
        if idle:  # another process finished it after it was read
            note = f"already done: run {resumed.id} ({shown})"
            return FlowOutcome(flow.name, "duplicate", run=resumed, note=note)
        note = f"resumed run {earlier.id} (same {shown})"
        return FlowOutcome(flow.name, resumed.status, run=resumed, note=note)

    def resume(self, run: Run) -> Run:
        """Continue a failed or interrupted flow run: succeeded nodes keep their outputs and are not
        run again (a created group is not created twice); the failed node and those after it run with
        this engine's flows file, whose node list must still match the run's."""
        resumed, idle = self._resume(run, self._flow_of(run))
        if idle:
            raise idle
        return resumed

    def _flow_of(self, run: Run) -> Flow:
        flow = self.model.flow(run.name)
        if flow is None:
            raise BadInput(
                f"run {run.id} belongs to flow {run.name!r}, which is not in {self.model.path}",
                hint="point --flows / GROUPMSG_FLOWS at the file that defines it",
            )
        planned = [(s.id, s.name, s.kind) for s in plan_steps(flow)]
        recorded = [(s.id, s.name, s.kind) for s in run.steps]
        if planned != recorded:
            raise BadInput(
                f"flow {flow.name!r} has different nodes now than when run {run.id} started; it cannot be resumed",
                hint="submit the form again to run the flow as it is now",
            )
        return flow

    def _resume(self, run: Run, flow: Flow) -> tuple[Run, NothingToDo | None]:
        """(the run as it ends, why nothing ran if nothing did). Decided on the run as stored once
        held: another process may have finished it since `run` was read."""
        with self.services.runs.hold(run) as held:
            idle = nothing_to_retry(held)
            if idle:
                return held, idle
            held.status, held.finished_at = RUNNING, None
            execution = Execution(self.services, self.model, flow, held)
            execution.run_held()
            cascade = Cascade(tuple(held.context.get("chain") or (flow.name,)))
            self._follow(execution, FlowOutcome(flow.name, held.status, run=held), cascade)
        return held, None


def _event_context(event: Event) -> dict[str, Any]:
    """What a run keeps of its event: enough to render its templates again when it is resumed."""
    return {
        "event": event.kind,
        "record": {"id": event.record.id, "created_at": event.record.created_at},
        "values": dict(event.record.values),
    }


def _filter_matches(flow: Flow, event: Event) -> bool:
    scope = Scope(fields=dict(event.record.values), system=system_values(flow, _event_context(event), run_id=""))
    return matches(flow.trigger.filter, scope.lookup)


def _runs_on(flow: Flow) -> str:
    trigger = flow.trigger
    if trigger.schedule is not None:
        return f"on its schedule ({trigger.schedule.source}: `groupmsg flows tick`)"
    return f"on {'/'.join(trigger.events)} of form {trigger.form}"
