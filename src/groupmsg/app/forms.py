"""Use cases of forms and flows (Yida's 表单 and 集成&自动化): submit, update and delete records, list
and show forms and flows, check a flows file, run manual flows, tick scheduled ones, and resume a
flow run."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from ..state.model import Record

if TYPE_CHECKING:
    from datetime import datetime

    from ..delivery import SendOptions
    from ..flows.engine import Engine
    from ..flows.model import Field, FlowsFile, Form
    from ..flows.results import EventResult, TickResult
    from ..state.model import Run
    from . import App


@dataclass(frozen=True)
class Prompt:
    """A required field a person must still fill in (for interactive `submit`)."""

    name: str
    label: str
    description: str
    multiline: bool
    many: bool  # several values, comma-separated
    options: list[str]  # the live choices, when the field has any (oldest first: numbers stay put)
    required: bool = True
    problem: str | None = None  # why a value given on the command line is asked for again


@dataclass(frozen=True)
class RecordsTable:
    form: str
    fields: tuple[str, ...]
    records: list[Record]
    cells: list[list[str]]  # each record's field values as text, in field order


class FormsService:
    def __init__(self, app: App) -> None:
        self._app = app  # flows wire the registry, records, runs, directory and delivery together

    @cached_property
    def model(self) -> FlowsFile:
        """The flows file in use (--flows, $GROUPMSG_FLOWS or ./flows.yaml)."""
        from ..flows.loader import load

        return load(self._app.settings.flows_file)

    def engine(self, options: SendOptions, model: FlowsFile | None = None) -> Engine:
        from ..flows.engine import Engine
        from ..flows.services import FlowServices

        app, state = self._app, self._app.state
        services = FlowServices(
            registry=state.registry,
            records=state.records,
            runs=state.runs,
            dedupe=lambda: state.dedupe,
            directory=app.directory,
            delivery=app.delivery,
            send_options=options,
        )
        return Engine(services, model or self.model)

    def form(self, name: str) -> Form:
        from ..flows.engine import find_form

        return find_form(self.model, name)

    def value_limit(self, form_name: str, field: str) -> int | None:
        """The most characters a value of `field` may have (its max_length), None when unbounded
        or when the form has no such field (validation says so later)."""
        import unicodedata

        wanted = unicodedata.normalize("NFC", field).strip()
        for f in self.form(form_name).fields:
            if f.name == wanted:
                return f.max_length
        return None

    # Records -------------------------------------------------------------------------------
    def prompts(self, form_name: str, given: dict[str, Any], *, reask_invalid: bool = False) -> list[Prompt]:
        """What to ask a person for before submitting: the required fields not given (and, with
        `reask_invalid`, the given ones whose value is wrong), in the form's order. Fields the
        submitter may not set are refused first, before anything is asked."""
        from ..flows import forms
        from ..flows.tables import Tables

        form = self.form(form_name)
        refused = forms.refused_names(form, given)
        if refused:
            raise forms.invalid(form, refused)
        tables = Tables(self._app.state.registry, self._app.state.records, self.model)
        missing = {f.name for f in forms.missing_required(form, given) if not f.hidden}
        problems: dict[str, str] = {}
        if reask_invalid:
            for f in form.fields:
                if f.name in given and f.name not in missing:
                    try:
                        forms.check_one(f, given[f.name], tables)
                    except forms.FieldError as exc:
                        problems[f.name] = f"{given[f.name]!r} {exc}" if str(exc).startswith("is ") else str(exc)
        asked = [
            Prompt(
                name=f.name,
                label=f.label or f.name,
                description=f.description,
                multiline=f.type == "textarea",
                many=f.is_list,
                options=[o.value for o in forms.options(f, tables)] if f.has_options else [],
                required=f.required,
                problem=problems.get(f.name),
            )
            for f in form.fields
            if f.name in missing or f.name in problems
        ]
        # A choice with nothing to choose from cannot be answered: say so before anything is typed.
        empty = [forms.Problem(p.name, forms.no_options(form.field(p.name))) for p in asked
                 if not p.options and (fld := form.field(p.name)) is not None and fld.has_options]
        if empty:
            raise forms.invalid(form, empty)
        return asked

    def check_answer(self, form_name: str, field_name: str, answer: Any, given: dict[str, Any]) -> Any:
        """One field's answer (required, type, length, range, live options, and the fields filled
        from it by data linkage, with the answers `given` so far): the value to submit, or
        ValidationError naming the field and what is wrong."""
        from ..errors import ValidationError
        from ..flows import forms
        from ..flows.tables import Tables

        form = self.form(form_name)
        field = form.field(field_name)
        if field is None:
            raise BadInput(f"form {form.name} has no field {field_name!r}")
        tables = Tables(self._app.state.registry, self._app.state.records, self.model)
        try:
            return forms.check_answer(form, field.name, answer, given, tables)
        except forms.FieldError as exc:
            problem = f"{field.label or field.name}: {exc}"
            raise ValidationError(problem, problems=[problem]) from None

    def submit(self, form: str, given: dict[str, Any], options: SendOptions, *, dry_run: bool = False) -> EventResult:
        return self.engine(options).submit(form, given, dry_run=dry_run)

    def update(self, form: str, record_id: str, given: dict[str, Any], options: SendOptions) -> EventResult:
        if not given:
            raise BadInput("nothing to change", hint="give --field NAME=VALUE")
        return self.engine(options).update_record(form, record_id, given)

    def delete(self, form: str, record_id: str, options: SendOptions) -> EventResult:
        return self.engine(options).delete_record(form, record_id)

    def records(self, form_name: str, *, limit: int | None) -> RecordsTable:
        from ..flows.templating import to_text

        form = self.form(form_name)
        records = self._app.state.records.list(form.name, limit=limit)
        cells = [[to_text(r.values.get(n)) for n in form.field_names] for r in records]
        return RecordsTable(form.name, form.field_names, records, cells)

    # Forms and flows -----------------------------------------------------------------------
    def list_forms(self) -> list[dict[str, Any]]:
        model = self.model
        return [
            {
                "form": form.name,
                "fields": list(form.field_names),
                "flows": [f.name for f in model.flows if f.trigger.form == form.name],
                "description": form.description,
            }
            for form in model.forms
        ]

    def show_form(self, name: str) -> dict[str, Any]:
        """A form's fields, their rules, and their options as they are right now."""
        from ..flows import forms
        from ..flows.tables import Tables

        form = self.form(name)
        tables = Tables(self._app.state.registry, self._app.state.records, self.model)
        fields = [
            _field_doc(f, [o.value for o in forms.options(f, tables)] if f.has_options else None) for f in form.fields
        ]
        return {"form": form.name, "description": form.description, "fields": fields}

    def list_flows(self) -> list[dict[str, Any]]:
        from ..flows.conditions import describe
        from ..flows.ticks import flow_zone

        rows = []
        for f in self.model.flows:
            trigger = f.trigger
            rows.append(
                {
                    "flow": f.name,
                    "enabled": f.enabled,
                    "trigger": trigger.kind,
                    "form": trigger.form or None,
                    "events": list(trigger.events),
                    "filter": describe(trigger.filter),
                    "schedule": trigger.schedule.source if trigger.schedule else None,
                    "timezone": flow_zone(f).label if trigger.schedule else None,
                    "allow_auto_trigger": f.allow_auto_trigger,
                    "nodes": [f"{n.name} ({n.KIND})" for n in f.nodes],
                    "on_failure": f.on_failure.group.source if f.on_failure else None,
                }
            )
        return rows

    # Manual and scheduled flows ----------------------------------------------------------------
    def run_manual(
        self,
        name: str,
        given: dict[str, Any],
        options: SendOptions,
        *,
        record: str | None = None,
        dry_run: bool = False,
    ) -> EventResult:
        """`flows run`: a manual flow (自定义按钮触发), given its form's fields or a stored record."""
        return self.engine(options).run_manual(name, given, record_id=record, dry_run=dry_run)

    def tick(self, options: SendOptions, now: str | None = None) -> TickResult:
        """`flows tick`: run every scheduled flow with an occurrence due since its last run."""
        from ..flows.ticks import tick

        return tick(self.engine(options), self._app.state.schedules, _instant(now))

    def upcoming(self, now: str | None = None) -> list[dict[str, Any]]:
        """`flows next`: each scheduled flow's next occurrence, in its zone, and its last one."""
        from ..delivery import SendOptions
        from ..flows.ticks import upcoming

        return upcoming(self.engine(SendOptions()), self._app.state.schedules, _instant(now))

    def check(self, path: Path | None) -> FlowsFile:
        """Load a flows file; ValidationError lists every problem with file:line."""
        from ..flows.loader import load

        return load(path or self._app.settings.flows_file)

    def resume(self, run: Run, options: SendOptions) -> Run:
        """Continue a failed flow run with the flows file in use if it defines the run's flow (the
        user may have just fixed it), else with the file the run came from."""
        from ..flows.loader import load  # not on the send path: only a flow retry needs YAML
        from ..state.model import nothing_to_retry

        error = nothing_to_retry(run)
        if error:
            raise error
        current = self._app.settings.flows_file
        recorded = Path(str(run.context.get("flows_file") or current))
        model = None
        for path in dict.fromkeys([current, recorded]):
            if path.is_file():
                candidate = load(path)
                if candidate.flow(run.name) is not None:
                    model = candidate
                    break
        # Without a file that defines the flow, loading the current one says which file is missing,
        # or the engine says the flow is not in it.
        return self.engine(options, model or load(current)).resume(run)


def _instant(text: str | None) -> datetime:
    """`--now` (ISO 8601; without an offset, the machine's local time), or the clock's now."""
    from datetime import UTC, datetime

    from ..clock import now

    if text is None:
        return datetime.fromtimestamp(now(), UTC)
    from ..flows.schedule import parse_instant

    try:
        return parse_instant(text)
    except ValueError:
        raise BadInput(
            f"--now {text!r} is not an ISO 8601 time", hint="e.g. --now 2027-01-04T09:00+08:00"
        ) from None


def _field_doc(fld: Field, options: list[str] | None) -> dict[str, Any]:
    from ..flows.model import Linkage
    from ..flows.templating import Template, to_text

    rules = [flag for flag in ("required", "readonly", "hidden") if getattr(fld, flag)]
    for key in ("min_length", "max_length", "min", "max"):
        if getattr(fld, key) is not None:
            rules.append(f"{key}={to_text(getattr(fld, key))}")
    doc: dict[str, Any] = {"name": fld.name, "type": fld.type, "label": fld.label, "rules": rules}
    if isinstance(fld.default, Linkage):
        lk = fld.default
        where = ", ".join(f"{col} = {t.source}" for col, t in lk.lookup.where)
        doc["default"] = f"data linkage: {lk.take} of the newest row of {lk.lookup.table} where {where}"
    elif isinstance(fld.default, Template):
        doc["default"] = f"template {fld.default.source}"
    elif fld.default is not None:
        doc["default"] = to_text(fld.default)
    if options is not None:
        doc["options"] = options
    if fld.options_from is not None:
        doc["options_from"] = f"{fld.options_from.table}.{fld.options_from.column}"
    return doc
