"""Form events → matching flows → runs, node by node, each recorded in the run log.

`Engine(services, model)` acts on one flows file with the collaborators it is given:
- `submit()`: fill and validate a form, store the record, fire `created`;
- `update_record()` / `delete_record()`: change a stored record and fire `updated` / `deleted`;
- `fire()`: run every enabled flow whose trigger and filter match the event, in file order. Runs are
  independent: one flow failing does not stop the next;
- `resume()`: continue a failed run from the node that failed (`runs retry`).

A run is saved with all its steps `pending` before the first node acts, and after every node, so a
process killed mid-run leaves a record that `runs list --status unsettled` finds and `runs retry`
completes. Records written by data nodes do not fire events (Yida's 「允许自动触发」 default): a
flow cannot trigger itself in a loop.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..clock import now_iso
from ..errors import BadInput, GroupmsgError, NothingToDo
from ..state.model import (
    FAILED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Record,
    Run,
    Step,
    error_doc,
    new_run_id,
    nothing_to_retry,
)
from . import forms
from .conditions import matches
from .model import Branch, Flow, FlowsFile, Form, Node, walk
from .nodes import RUNNERS, NodeContext
from .results import CREATED, DELETED, UPDATED, Event, EventResult, FlowOutcome
from .services import FlowServices
from .tables import Tables
from .templating import Scope, suggest, to_text


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
            scope = Scope(fields=dict(event.record.values), system=_system(flow, _event_context(event), run_id=""))
            if not matches(flow.trigger.filter, scope.lookup):
                outcomes.append(FlowOutcome(flow.name, "not_matched", note="the trigger's filter did not match"))
                continue
            outcomes.append(self.run_flow(flow, event, dry_run=dry_run))
        return EventResult(event, outcomes, dry_run)

    # Runs ----------------------------------------------------------------------------------
    def run_flow(self, flow: Flow, event: Event, *, dry_run: bool = False) -> FlowOutcome:
        run = Run(
            id=new_run_id(),
            kind="flow",
            name=flow.name,
            form=event.form,
            record_id=None if dry_run else event.record.id,
            steps=plan_steps(flow),
            context={"flows_file": str(Path(self.model.path).resolve()), **_event_context(event)},
        )
        execution = _Execution(self.services, self.model, flow, run, dry_run=dry_run)
        if flow.dedupe is not None and not dry_run:
            key = to_text(flow.dedupe.render(execution.scope.lookup))
            run.context["dedupe_key"] = key
            earlier = self._claim(flow, key, run)
            if earlier is not None:
                return earlier
        execution.start()
        return FlowOutcome(flow.name, run.status, run=run, previews=execution.ctx.previews)

    def _claim(self, flow: Flow, key: str, run: Run) -> FlowOutcome | None:
        """Claim the flow's dedupe key for `run`. A key already held by a run that succeeded (or that
        a live process is still running) makes this event a no-op; one held by a failed or abandoned
        run resumes that run instead of starting again."""
        runs = self.services.runs
        holder = self.services.dedupe().claim(f"flow:{flow.name}:{key}", run.id)
        if holder is None:
            return None
        earlier = runs.find(holder)
        if earlier is None:  # claimed a moment ago by a process that has not saved its run yet
            note = f"already running: run {holder} is being started by another process (dedupe key {key!r})"
            return FlowOutcome(flow.name, "duplicate", note=note)
        if earlier.status == SUCCEEDED or (earlier.status == RUNNING and not runs.unsettled(earlier)):
            state = "already done" if earlier.status == SUCCEEDED else "already running"
            note = f"{state}: run {earlier.id} (dedupe key {key!r})"
            return FlowOutcome(flow.name, "duplicate", run=earlier, note=note)
        resumed, idle = self._resume(earlier, self._flow_of(earlier))
        if idle:  # another process finished it after it was read
            note = f"already done: run {resumed.id} (dedupe key {key!r})"
            return FlowOutcome(flow.name, "duplicate", run=resumed, note=note)
        note = f"resumed run {earlier.id} (same dedupe key {key!r})"
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
            _Execution(self.services, self.model, flow, held).run_held()
        return held, None


def _event_context(event: Event) -> dict[str, Any]:
    """What a run keeps of its event: enough to render its templates again when it is resumed."""
    return {
        "event": event.kind,
        "record": {"id": event.record.id, "created_at": event.record.created_at},
        "values": dict(event.record.values),
    }


def _system(flow: Flow, context: dict[str, Any], run_id: str) -> dict[str, Mapping[str, Any]]:
    """The record.* / flow.* / run.* values templates see."""
    record = context.get("record", {})
    return {
        "record": {"id": record.get("id"), "created_at": record.get("created_at"), "event": context.get("event")},
        "flow": {"name": flow.name},
        "run": {"id": run_id},
    }


class _Execution:
    """One run of one flow: walks the nodes, records each step, sends the failure alert."""

    def __init__(
        self, services: FlowServices, model: FlowsFile, flow: Flow, run: Run, *, dry_run: bool = False
    ) -> None:
        if flow.delivery == "at_least_once":  # the flow's messages (and its alert) may repeat, never get lost
            from dataclasses import replace

            services = replace(services, send_options=replace(services.send_options, at_least_once=True))
        self.services = services
        self.flow = flow
        self.run = run
        self.dry_run = dry_run
        system = _system(flow, run.context, run.id)
        self.scope = Scope(fields=dict(run.context.get("values", {})), nodes={}, system=system)
        tables = Tables(services.registry, services.records, model)
        self.ctx = NodeContext(services, model, tables, self.scope, flow.name, run.id, dry_run=dry_run)

    def save(self) -> None:
        if not self.dry_run:
            self.services.runs.save(self.run)

    def start(self) -> None:
        """Run a new flow run (held, unless a dry run)."""
        if self.dry_run:
            self._execute()
            return
        with self.services.runs.hold(self.run):
            self.run_held()

    def run_held(self) -> None:
        """Walk the nodes of a run this process holds, then send the failure alert if it failed."""
        self._execute()
        if self.run.status == FAILED and self.flow.on_failure is not None:
            self._alert()

    def _execute(self) -> None:
        self.save()  # every step pending, before anything acts
        if not self.walk(self.flow.nodes):
            self._skip_rest()
        self.run.settle()
        self.save()

    def walk(self, nodes: tuple[Node, ...]) -> bool:
        """Run `nodes` in order; False as soon as one fails."""
        for node in nodes:
            step = self.run.step(node.id)
            if step.status != SUCCEEDED and not self.execute(node, step):
                return False
            self.scope.nodes[node.name] = step.outputs
            if isinstance(node, Branch) and not self._enter(node, step):
                return False
        return True

    def _enter(self, node: Branch, step: Step) -> bool:
        """Walk the arm the branch chose (recorded in its outputs, so a resume takes the same one)."""
        chosen = step.outputs.get("branch")
        for arm in node.arms:
            if arm.name != chosen:
                self._skip(walk(arm.nodes), f"branch {arm.name} was not taken")
        taken = next((a for a in node.arms if a.name == chosen), None)
        return taken is None or self.walk(taken.nodes)

    def execute(self, node: Node, step: Step) -> bool:
        started = time.monotonic()
        step.status, step.error, step.attempts = RUNNING, None, step.attempts + 1
        try:
            outputs = RUNNERS[type(node)](node, self.ctx, step)
        except GroupmsgError as exc:
            step.status, step.error = FAILED, error_doc(exc)
        else:
            step.status, step.outputs = SUCCEEDED, outputs
        step.duration_ms = int((time.monotonic() - started) * 1000)
        step.finished_at = now_iso()
        self.save()
        return step.status == SUCCEEDED

    def _skip_rest(self) -> None:
        failed = next((s for s in self.run.steps if s.status == FAILED), None)
        reason = f"not run: node {failed.name} failed" if failed else "not run"
        for step in self.run.steps:
            if step.status in (PENDING, RUNNING):
                step.status, step.outputs = SKIPPED, {"skipped": reason}

    def _skip(self, nodes: list[Node], reason: str) -> None:
        for node in nodes:
            step = self.run.step(node.id)
            if step.status != SUCCEEDED:
                step.status, step.outputs, step.error = SKIPPED, {"skipped": reason}, None

    def _alert(self) -> None:
        """异常消息提醒: tell a group which flow, node and code failed. Its own failure is recorded
        in the run's context and never replaces the run's failure."""
        from ..dingtalk.messages import Message

        alert = self.flow.on_failure
        assert alert is not None
        failed = next(s for s in self.run.steps if s.status == FAILED)
        error = failed.error or {}
        self.scope.system["failure"] = {
            "node": failed.name,
            "kind": failed.kind,
            "code": error.get("code") or "",
            "error": error.get("message") or "",
        }
        target = to_text(alert.group.render(self.scope.lookup)).strip()
        text = to_text(alert.text.render(self.scope.lookup)) if alert.text else self._alert_text(failed, error)
        record: dict[str, Any] = {"group": target, "status": "sent"}
        delivery = self.services.delivery
        try:
            group = self.services.directory.resolve(target)
            item = delivery.prepare(group, Message(text=text), msg_uuid=f"{self.run.id}-alert-{failed.attempts}")
            delivery.deliver_one(item, self.services.send_options)
        except GroupmsgError as exc:
            record.update(status="failed", error=exc.message)
        self.run.context["alert"] = record
        self.save()

    def _alert_text(self, failed: Step, error: dict[str, Any]) -> str:
        code = f" (code {error['code']})" if error.get("code") else ""
        return (
            f"流程「{self.flow.name}」运行失败 / flow failed\n"
            f"节点 node: {failed.name} ({failed.kind})\n"
            f"错误 error: {error.get('message') or 'unknown'}{code}\n"
            f"运行 run: {self.run.id} — groupmsg runs show {self.run.id}"
        )
