"""Flows: the trigger (a form event with its filter, a schedule, or manual), the nodes, the failure
alert, dedupe and 「允许自动触发」."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import replace

from ..model import EVENTS, FORM_EVENT, MANUAL, SCHEDULE, Alert, ConditionGroup, Flow, Trigger
from ..schedule import CronError, parse_cron, zone
from ..templating import FAILURE_REFS, SCHEDULE_REFS, SYSTEM_REFS, StaticScope, suggest
from .checker import Checker, as_list
from .conditions import ConditionChecker
from .locate import Y
from .nodes import NodesChecker, node_names
from .schema import Schema

FLOW_KEYS = (
    "name",
    "description",
    "enabled",
    "trigger",
    "nodes",
    "on_failure",
    "dedupe",
    "delivery",
    "allow_auto_trigger",
)
DELIVERY = ("no_duplicates", "at_least_once")
TRIGGER_KEYS = ("form", "event", "filter", "schedule", "timezone", "manual")
FORM_KEYS = ("form", "event", "filter")
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
        kind = trigger_kind(m.get("trigger"))
        trigger = self._trigger(m.get("trigger"), f"flow {name}", kind)
        form = self._trigger_form(m.get("trigger"))
        types = self.schema.fields(form)
        raw = m.get("trigger")
        named_form = raw is not None and isinstance(raw.value, dict) and "form" in raw.value
        base = StaticScope(
            fields=tuple(types),
            where=f"form {form}" if form or named_form else f"flow {name} ({NO_FIELDS.get(kind, '')})",
            namespaces=SCHEDULE_REFS if kind == SCHEDULE else SYSTEM_REFS,
            in_flow=True,
            # the unknown trigger form is already reported: no cascade
            any_field=form is None and (kind == FORM_EVENT or named_form),
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
        auto = self.c.boolean(m.get("allow_auto_trigger"), f"flow {name} allow_auto_trigger")
        if auto and kind != FORM_EVENT:
            self.c.problem(
                m["allow_auto_trigger"].line,
                f"flow {name}: allow_auto_trigger is for form-event triggers (records written by other flows)",
                f"remove it: a {kind} flow is not fired by records",
            )
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
            allow_auto_trigger=auto,
            delivery=delivery,
        )

    def _trigger_form(self, y: Y | None) -> str | None:
        """The trigger's form name when that form exists (read before the trigger is checked)."""
        form = y.value.get("form") if y is not None and isinstance(y.value, dict) else None
        name = unicodedata.normalize("NFC", form.value.strip()) if form and isinstance(form.value, str) else None
        return name if name in self.schema.form_fields else None

    def _trigger(self, y: Y | None, what: str, kind: str) -> Trigger | None:
        if y is not None and isinstance(y.value, str):
            if y.value.strip() == MANUAL:
                return Trigger(form="", events=(), filter=None, line=y.line, kind=MANUAL)
            self.c.problem(
                y.line,
                f"{what} trigger {y.value.strip()!r} is not a trigger",
                "write `manual`, or a mapping: {form: F, event: created} or {schedule: \"0 9 * * 1-5\"}",
            )
            return None
        if kind == SCHEDULE:
            return self._schedule(y, what)
        if kind == MANUAL:
            return self._manual(y, what)
        m = self.c.mapping(y, f"{what} trigger", allowed=TRIGGER_KEYS, required=("form",))
        if m is None or y is None:
            return None
        if "timezone" in m:
            self.c.problem(m["timezone"].line, f"{what}: `timezone:` goes with `schedule:`", "remove it")
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

    def _schedule(self, y: Y | None, what: str) -> Trigger | None:
        """定时触发: `{schedule: CRON, timezone: ZONE}`; no form, event or filter."""
        m = self.c.mapping(y, f"{what} trigger", allowed=TRIGGER_KEYS)
        if m is None or y is None:
            return None
        ok = self._refuse(m, what, (*FORM_KEYS, "manual"), "a schedule fires at times, not on records")
        cron = None
        text = self.c.text(m.get("schedule"), f"{what} schedule")
        if text is not None:
            try:
                cron = parse_cron(text)
            except CronError as exc:
                self.c.problem(m["schedule"].line, f"{what} schedule: {exc.message}", CRON_FIX)
        timezone = self.c.text(m.get("timezone"), f"{what} timezone") if "timezone" in m else None
        if timezone is not None:
            timezone = timezone.strip()
            try:
                zone(timezone)
            except ValueError as exc:
                self.c.problem(m["timezone"].line, f"{what}: {exc}", "leave it out for this machine's zone")
                timezone = None
        if cron is None or not ok or ("timezone" in m and timezone is None):
            return None
        return Trigger(form="", events=(), filter=None, line=y.line, kind=SCHEDULE, schedule=cron, timezone=timezone)

    def _manual(self, y: Y | None, what: str) -> Trigger | None:
        """自定义按钮触发: `manual` or `{manual: true, form: F}` (the run is given F's fields)."""
        m = self.c.mapping(y, f"{what} trigger", allowed=TRIGGER_KEYS)
        if m is None or y is None:
            return None
        flow = what.removeprefix("flow ")
        ok = self._refuse(
            m, what, ("event", "filter", "schedule", "timezone"), f"a manual flow runs with `groupmsg flows run {flow}`"
        )
        if m["manual"].value is not True:
            self.c.problem(m["manual"].line, f"{what}: `manual:` must be true", "or leave `manual:` out")
            ok = False
        form = None
        if "form" in m:
            form = self.c.text(m["form"], f"{what} trigger form")
            if form is not None and form.strip() not in self.schema.form_fields:
                self.c.problem(
                    m["form"].line,
                    f"{what}: trigger form {form.strip()!r} is not defined",
                    suggest(form.strip(), self.schema.form_fields, what="a form of this file"),
                )
                form = None
            ok = ok and form is not None
        if not ok:
            return None
        return Trigger(form=(form or "").strip(), events=(), filter=None, line=y.line, kind=MANUAL)

    def _refuse(self, m: Mapping[str, Y], what: str, keys: tuple[str, ...], why: str) -> bool:
        """A problem for each of `keys` present in the trigger `m`; whether there was none."""
        found = [k for k in keys if k in m]
        for key in found:
            self.c.problem(m[key].line, f"{what}: {why}; it takes no `{key}:`", f"remove `{key}:`")
        return not found

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


NO_FIELDS = {SCHEDULE: "a scheduled flow has no fields", MANUAL: "a manual flow without a form has no fields"}
CRON_FIX = "five fields: minute hour day-of-month month day-of-week, e.g. `0 9 * * 1-5` (weekdays at 09:00)"


def trigger_kind(y: Y | None) -> str:
    """Which kind of trigger the raw `trigger:` is (read before it is checked)."""
    if y is not None and isinstance(y.value, str) and y.value.strip() == MANUAL:
        return MANUAL
    if y is None or not isinstance(y.value, dict):
        return FORM_EVENT
    if "schedule" in y.value:
        return SCHEDULE
    if "manual" in y.value:
        return MANUAL
    return FORM_EVENT
