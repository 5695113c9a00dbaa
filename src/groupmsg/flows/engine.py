"""Form events → matching flows → runs, node by node, each recorded in the run log.

- `submit()`: fill and validate a form, store the record, fire `created`.
- `update_record()` / `delete_record()`: change a stored record and fire `updated` / `deleted`.
- `fire()`: run every enabled flow whose trigger and filter match the event, in file order. Runs are
  independent: one flow failing does not stop the next.
- `resume()`: continue a failed run from the node that failed (App.retry calls it).

A run is saved with all its steps `pending` before the first node acts, and after every node, so a
process killed mid-run leaves a record that `runs list --status unsettled` finds and `runs retry`
completes. Records written by data nodes do not fire events (Yida's 「允许自动触发」 default): a
flow cannot trigger itself in a loop.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BadInput, DeliveryError, GroupmsgError, NothingToDo
from ..records import Record
from ..runs import FAILED, PENDING, RUNNING, SKIPPED, SUCCEEDED, Run, Step, error_doc, new_run_id, now_iso
from . import forms
from .conditions import matches
from .model import Branch, Flow, FlowsFile, Form, Node, walk
from .nodes import RUNNERS, NodeContext
from .tables import Tables
from .templating import Scope, suggest, to_text

if TYPE_CHECKING:
    from ..app import App

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


# --- forms and events -----------------------------------------------------------------------------


def find_form(model: FlowsFile, name: str) -> Form:
    form = model.form(unicodedata.normalize("NFC", name).strip())
    if form is None:
        names = [f.name for f in model.forms]
        raise BadInput(
            f"no form named {name!r} in {model.path}",
            hint=suggest(name, names, what="a form") + " (see `groupmsg forms list`)",
        )
    return form


def submit(app: App, model: FlowsFile, form_name: str, given: dict[str, Any], *, dry_run: bool = False) -> EventResult:
    """Validate and store a submission, then run the flows its `created` event triggers. A dry run
    validates and plans exactly the same way but stores, sends and records nothing."""
    form = find_form(model, form_name)
    tables = Tables(app, model)
    values = forms.fill(form, given, tables)
    if dry_run:
        record = Record(id="(not stored)", form=form.name, values=values, created_at=now_iso())
    else:
        record = tables.records.add(form.name, values)
    return fire(app, model, Event(form.name, CREATED, record), dry_run=dry_run)


def update_record(app: App, model: FlowsFile, form_name: str, record_id: str, given: dict[str, Any]) -> EventResult:
    """Change fields of a stored record (validated like a submission), then fire `updated`."""
    form = find_form(model, form_name)
    tables = Tables(app, model)
    current = tables.records.get(form.name, record_id)
    kept = {
        k: v
        for k, v in current.values.items()
        if (f := form.field(k)) is not None and not f.readonly and k not in given
    }
    values = forms.fill(form, {**kept, **given}, tables)
    record = tables.records.update(form.name, current.id, values)
    return fire(app, model, Event(form.name, UPDATED, record))


def delete_record(app: App, model: FlowsFile, form_name: str, record_id: str) -> EventResult:
    form = find_form(model, form_name)
    record = Tables(app, model).records.delete(form.name, record_id)
    return fire(app, model, Event(form.name, DELETED, record))


def fire(app: App, model: FlowsFile, event: Event, *, dry_run: bool = False) -> EventResult:
    outcomes = []
    for flow in model.flows_for(event.form, event.kind):
        scope = Scope(fields=dict(event.record.values), system=_system(flow, _event_context(event), run_id=""))
        if not matches(flow.trigger.filter, scope.lookup):
            outcomes.append(FlowOutcome(flow.name, "not_matched", note="the trigger's filter did not match"))
            continue
        outcomes.append(run_flow(app, model, flow, event, dry_run=dry_run))
    return EventResult(event, outcomes, dry_run)


def _absolute(path: str) -> str:
    from pathlib import Path

    return str(Path(path).resolve())


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


# --- runs -----------------------------------------------------------------------------------------


def plan_steps(flow: Flow) -> list[Step]:
    """One pending step per node, branches included, in document order."""
    return [Step(id=n.id, name=n.name, kind=n.KIND) for n in flow.all_nodes()]


def run_flow(app: App, model: FlowsFile, flow: Flow, event: Event, *, dry_run: bool = False) -> FlowOutcome:
    run = Run(
        id=new_run_id(),
        kind="flow",
        name=flow.name,
        form=event.form,
        record_id=None if dry_run else event.record.id,
        steps=plan_steps(flow),
        context={"flows_file": _absolute(model.path), **_event_context(event)},
    )
    execution = _Execution(app, model, flow, run, dry_run=dry_run)
    if flow.dedupe is not None and not dry_run:
        key = to_text(flow.dedupe.render(execution.scope.lookup))
        run.context["dedupe_key"] = key
        earlier = _claim(app, model, flow, key, run)
        if earlier is not None:
            return earlier
    execution.start()
    return FlowOutcome(flow.name, run.status, run=run, previews=execution.ctx.previews)


def _claim(app: App, model: FlowsFile, flow: Flow, key: str, run: Run) -> FlowOutcome | None:
    """Claim the flow's dedupe key for `run`. A key already held by a run that succeeded (or that a
    live process is still running) makes this event a no-op; one held by a failed or abandoned run
    resumes that run instead of starting again."""
    holder = app.dedupe.claim(f"flow:{flow.name}:{key}", run.id)
    if holder is None:
        return None
    earlier = app.runs.get(holder)
    if earlier.status == SUCCEEDED or (earlier.status == RUNNING and not app.runs.unsettled(earlier)):
        state = "already done" if earlier.status == SUCCEEDED else "already running"
        return FlowOutcome(flow.name, "duplicate", run=earlier, note=f"{state}: run {earlier.id} (dedupe key {key!r})")
    resumed = resume(app, earlier, model)
    return FlowOutcome(
        flow.name, resumed.status, run=resumed, note=f"resumed run {earlier.id} (same dedupe key {key!r})"
    )


def resume(app: App, run: Run, model: FlowsFile | None = None) -> Run:
    """Continue a failed or interrupted flow run: succeeded nodes keep their outputs and are not run
    again (a created group is not created twice); the failed node and those after it run with the
    current flows file, whose node list must still match the run's."""
    model = model or _model_for(app, run)
    flow = model.flow(run.name)
    if flow is None:
        raise BadInput(
            f"run {run.id} belongs to flow {run.name!r}, which is not in {model.path}",
            hint="point --flows / GROUPMSG_FLOWS at the file that defines it",
        )
    planned = [(s.id, s.name, s.kind) for s in plan_steps(flow)]
    recorded = [(s.id, s.name, s.kind) for s in run.steps]
    if planned != recorded:
        raise BadInput(
            f"flow {flow.name!r} has different nodes now than when run {run.id} started; it cannot be resumed",
            hint="submit the form again to run the flow as it is now",
        )
    run.status, run.finished_at = RUNNING, None
    _Execution(app, model, flow, run).start()
    return run


def _model_for(app: App, run: Run) -> FlowsFile:
    """The flows file to resume `run` with: the one in use now if it defines the run's flow (the
    user may have just fixed it), else the file the run came from."""
    from pathlib import Path

    from .loader import load  # not on the send path: only a flow retry needs YAML

    current = app.settings.flows_file
    recorded = Path(str(run.context.get("flows_file") or current))
    for path in dict.fromkeys([current, recorded]):
        if path.is_file():
            model = load(path)
            if model.flow(run.name) is not None:
                return model
    return load(current)  # says which file is missing, or lets resume() say the flow is not in it


class _Execution:
    """One run of one flow: walks the nodes, records each step, sends the failure alert."""

    def __init__(self, app: App, model: FlowsFile, flow: Flow, run: Run, *, dry_run: bool = False) -> None:
        self.app = app
        self.flow = flow
        self.run = run
        self.dry_run = dry_run
        system = _system(flow, run.context, run.id)
        self.scope = Scope(fields=dict(run.context.get("values", {})), nodes={}, system=system)
        self.ctx = NodeContext(app, model, Tables(app, model), self.scope, flow.name, run.id, dry_run=dry_run)

    def save(self) -> None:
        if not self.dry_run:
            self.app.runs.save(self.run)

    def start(self) -> None:
        if self.dry_run:
            self._execute()
        else:
            with self.app.runs.active(self.run):
                self._execute()
        if self.run.status == FAILED and self.flow.on_failure is not None and not self.dry_run:
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
        try:
            group = self.app.resolve_chat(target)
            self.app.deliver_one(group, Message(text=text), msg_uuid=f"{self.run.id}-alert-{failed.attempts}")
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
