"""Flows: the trigger (its form, events and filter), the nodes, the failure alert and dedupe."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import replace

from ..model import EVENTS, Alert, ConditionGroup, Flow, Trigger
from ..templating import FAILURE_REFS, SYSTEM_REFS, StaticScope, suggest
from .checker import Checker, as_list
from .conditions import ConditionChecker
from .locate import Y
from .nodes import NodesChecker, node_names
from .schema import Schema

FLOW_KEYS = ("name", "description", "enabled", "trigger", "nodes", "on_failure", "dedupe", "delivery")
DELIVERY = ("no_duplicates", "at_least_once")
TRIGGER_KEYS = ("form", "event", "filter")
EVENT_ALIASES = {"创建成功": "created", "更新成功": "updated", "删除成功": "deleted"}
ALL_DATA = ("all", "全部数据")


class FlowChecker:
    def __init__(self, checker: Checker, schema: Schema, conditions: ConditionChecker) -> None:
        self.c = checker
        self.schema = schema
        self.conditions = conditions

    def flow(self, y: Y) -> Flow | None:
        m = self.c.mapping(y, "a flow", allowed=FLOW_KEYS, required=("name", "trigger", "nodes"))
        if m is None:
            return None
        name = self.c.name(m.get("name"), "flow name")
        trigger = self._trigger(m.get("trigger"), f"flow {name}")
        form = self._trigger_form(m.get("trigger"))
        types = self.schema.fields(form)
        base = StaticScope(
            fields=tuple(types),
            where=f"form {form}",
            namespaces=SYSTEM_REFS,
            in_flow=True,
            any_field=form is None,  # the unknown trigger form is already reported: no cascade
        )
        raw_nodes = self.c.seq(m.get("nodes"), f"flow {name} nodes")
        if "nodes" in m and not raw_nodes:
            self.c.problem(
                m["nodes"].line, f"flow {name} has no nodes", "add at least one node, e.g. send_group_message"
            )
        all_names = node_names(raw_nodes)
        nodes_checker = NodesChecker(self.c, self.schema, self.conditions, base=base, all_names=all_names, types=types)
        nodes = nodes_checker.nodes(raw_nodes, prefix="", available={})
        self.c.unique([(n, line) for n, line in all_names], f"node name in flow {name}:")
        alert = self._alert(m.get("on_failure"), name, base)
        dedupe = self.c.template(m.get("dedupe"), f"flow {name} dedupe", replace(base, in_flow=False))
        delivery = self.c.choice(m.get("delivery"), f"flow {name} delivery", DELIVERY, DELIVERY[0])
        if name is None or trigger is None or nodes is None:
            return None
        return Flow(
            name=name,
            trigger=trigger,
            nodes=nodes,
            line=y.line,
            enabled=self.c.boolean(m.get("enabled"), f"flow {name} enabled", default=True),
            description=self.c.text(m.get("description"), "description", default="") or "",
            on_failure=alert,
            dedupe=dedupe,
            delivery=delivery,
        )

    def _trigger_form(self, y: Y | None) -> str | None:
        """The trigger's form name when that form exists (read before the trigger is checked)."""
        form = y.value.get("form") if y is not None and isinstance(y.value, dict) else None
        name = unicodedata.normalize("NFC", form.value.strip()) if form and isinstance(form.value, str) else None
        return name if name in self.schema.form_fields else None

    def _trigger(self, y: Y | None, what: str) -> Trigger | None:
        m = self.c.mapping(y, f"{what} trigger", allowed=TRIGGER_KEYS, required=("form",))
        if m is None or y is None:
            return None
        form_fields = self.schema.form_fields
        form = self.c.text(m.get("form"), f"{what} trigger form")
        if form is not None and form.strip() not in form_fields:
            self.c.problem(
                m["form"].line,
                f"{what}: trigger form {form.strip()!r} is not defined",
                suggest(form.strip(), form_fields, what="a form of this file"),
            )
            form = None
        events = self._events(m.get("event"), what)
        types = self.schema.fields(form.strip() if form else None)
        scope = StaticScope(fields=tuple(types), where=f"form {form}", namespaces=SYSTEM_REFS)
        ok, condition_filter = self._filter(m.get("filter"), what, scope, types)
        if form is None or events is None or not ok:
            return None
        return Trigger(form=form.strip(), events=events, filter=condition_filter, line=y.line)

    def _events(self, y: Y | None, what: str) -> tuple[str, ...] | None:
        if y is None:
            return ("created",)
        events: list[str] = []
        for item in as_list(y):
            value = self.c.text(item, f"{what} trigger event")
            if value is None:
                return None
            value = EVENT_ALIASES.get(value.strip(), value.strip())
            if value not in EVENTS:
                self.c.problem(
                    item.line,
                    f"{what}: unknown event {value!r}",
                    f"use one of {', '.join(EVENTS)} (创建成功, 更新成功, 删除成功)",
                )
                return None
            events.append(value)
        return tuple(dict.fromkeys(events))

    def _filter(
        self, y: Y | None, what: str, scope: StaticScope, types: Mapping[str, str]
    ) -> tuple[bool, ConditionGroup | None]:
        """(whether it is valid, the condition group or None for 全部数据)."""
        if y is None or (isinstance(y.value, str) and y.value.strip() in ALL_DATA):
            return True, None
        group = self.conditions.group(y, f"{what} filter", scope, types)
        return group is not None, group

    def _alert(self, y: Y | None, flow: str | None, base: StaticScope) -> Alert | None:
        m = self.c.mapping(y, f"flow {flow} on_failure", allowed=("notify", "text"), required=("notify",))
        if m is None or y is None:
            return None
        scope = replace(base, in_flow=False, namespaces={**SYSTEM_REFS, **FAILURE_REFS})
        group = self.c.template(m.get("notify"), f"flow {flow} on_failure notify", scope)
        text = self.c.template(m.get("text"), f"flow {flow} on_failure text", scope)
        return Alert(group, text, y.line) if group is not None else None
