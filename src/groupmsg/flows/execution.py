"""One run of one flow, node by node: the walk through the nodes and branches (one arm, or every
matching arm of a parallel branch), each step recorded before and after it acts, what the data nodes
wrote (for 「允许自动触发」), and the failure alert (异常消息提醒).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from ..clock import now_iso
from ..errors import GroupmsgError
from ..state.model import FAILED, PENDING, RUNNING, SKIPPED, SUCCEEDED, Record, Run, Step, error_doc
from .model import Branch, Flow, FlowsFile, Node, walk
from .nodes import RUNNERS, NodeContext
from .services import FlowServices
from .tables import Tables
from .templating import Scope, to_text


def system_values(flow: Flow, context: dict[str, Any], run_id: str) -> dict[str, Mapping[str, Any]]:
    """The record.* / flow.* / run.* (and, in a scheduled run, schedule.*) values templates see."""
    record = context.get("record", {})
    system: dict[str, Mapping[str, Any]] = {
        "record": {"id": record.get("id"), "created_at": record.get("created_at"), "event": context.get("event")},
        "flow": {"name": flow.name},
        "run": {"id": run_id},
    }
    if "schedule" in context:
        system["schedule"] = context["schedule"]
    return system


class Execution:
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
        system = system_values(flow, run.context, run.id)
        self.scope = Scope(fields=dict(run.context.get("values", {})), nodes={}, system=system)
        self.writes: list[tuple[str, str, Record]] = []  # form records the data nodes wrote
        tables = Tables(
            services.registry, services.records, model, on_write=lambda *written: self.writes.append(written)
        )
        self.ctx = NodeContext(services, model, tables, self.scope, flow.name, run.id, dry_run=dry_run)

    def save(self) -> None:
        if not self.dry_run:
            self.services.runs.save(self.run)

    def start(self, *, prepare: Callable[[], None] | None = None, then: Callable[[], None] | None = None) -> None:
        """Run a new flow run (held, unless a dry run); `then()` runs once it has ended, still held."""
        if self.dry_run:
            self._execute(prepare)
            return
        with self.services.runs.hold(self.run):
            self.run_held(prepare)
            if then is not None:
                then()

    def run_held(self, prepare: Callable[[], None] | None = None) -> None:
        """Walk the nodes of a run this process holds, then send the failure alert if it failed."""
        self._execute(prepare)
        if self.run.status == FAILED and self.flow.on_failure is not None:
            self._alert()

    def _execute(self, prepare: Callable[[], None] | None = None) -> None:
        self.save()  # every step pending, before anything acts
        if prepare is not None:
            prepare()
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
        """Walk the arm the branch chose (recorded in its outputs, so a resume takes the same one).
        A parallel branch walks every arm it chose, in order, each whatever the others did; it
        fails if any of them did (a resume walks them again: only their unfinished nodes run)."""
        if node.parallel:
            chosen = step.outputs.get("branches") or []
            for arm in node.arms:
                if arm.name not in chosen:
                    self._skip(walk(arm.nodes), f"branch {arm.name}'s conditions did not hold")
            results = [self.walk(arm.nodes) for arm in node.arms if arm.name in chosen]
            return all(results)
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
