"""`groupmsg submit`, `groupmsg forms …`, `groupmsg flows …` (forms and flows, Yida's 集成&自动化).

Only typer is imported here at module level: yaml and the flows engine load inside the commands,
so `groupmsg send` from cron never pays for them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import output
from .completion import form_names
from .context import state

if TYPE_CHECKING:
    from ..flows.engine import EventResult
    from ..flows.model import Field, FlowsFile, Form
    from ..runs import Step

forms_app = typer.Typer(help="Forms: their fields and rules, and the records submitted to them.", no_args_is_help=True)
flows_app = typer.Typer(help="Flows (automations): list them, check a flows file.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
FieldOpt = Annotated[
    list[str],
    typer.Option(
        "--field",
        "-f",
        help="NAME=VALUE; NAME=@FILE reads the value from a file, NAME=- from stdin (@@ for a literal @). "
        "Repeat for several fields, or for several values of a multiselect.",
    ),
]


def _model() -> FlowsFile:
    from ..flows.loader import load

    return load(state.app().settings.flows_file)


# --- submit ---------------------------------------------------------------------------------------


def submit(
    form: Annotated[str, typer.Argument(help="The form's name, e.g. 群消息内容录入表.", autocompletion=form_names)],
    field: FieldOpt = [],  # noqa: B006 — typer reads the default, never mutates it
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show exactly what would be sent; store and send nothing.")
    ] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt, even on a terminal.")] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Give up retrying a delivery after this many seconds (default 60)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a form: validate, store the record, and run every enabled flow its `created` event triggers.

    Missing required fields are prompted for on a terminal. Exit 0 when the flows ran, 1 when a
    flow run failed (the record is kept and the run recorded: `groupmsg runs retry RUN`), 2 when the
    submission is invalid (nothing stored or sent), 3 when it was stored but no flow matched.
    """
    from ..flows import engine

    state.timeout = timeout
    app = state.app()
    model = _model()
    target = engine.find_form(model, form)
    given = parse_fields(field)
    if not no_input and sys.stdin.isatty():
        from ..flows import forms

        refused = forms.refused_names(target, given)
        if refused:
            raise forms.invalid(target, refused)
        _prompt_missing(app, model, target, given)
    result = engine.submit(app, model, target.name, given, dry_run=dry_run)
    _report(result, json_out)


def parse_fields(pairs: list[str]) -> dict[str, Any]:
    """`NAME=VALUE` options → {name: value, or a list of values when a name is repeated}."""
    import unicodedata

    from ..errors import BadInput

    given: dict[str, Any] = {}
    stdin_used = False
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = unicodedata.normalize("NFC", name).strip()
        if not sep or not name:
            raise BadInput(f"--field {pair!r} is not NAME=VALUE", hint="e.g. --field 消息内容=你好")
        if value == "-":
            if stdin_used:
                raise BadInput("only one --field can read stdin (NAME=-)")
            value, stdin_used = _chomp(sys.stdin.read()), True
        elif value.startswith("@@"):
            value = value[1:]
        elif value.startswith("@"):
            value = _read_file(name, value[1:])
        if name in given:
            previous = given[name]
            given[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            given[name] = value
    return given


def _chomp(text: str) -> str:
    """Drop the one newline a file or a pipe ends with, as `$(cat file)` does."""
    return text[:-1] if text.endswith("\n") else text


def _read_file(name: str, path: str) -> str:
    from pathlib import Path

    from ..errors import BadInput

    try:
        return _chomp(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(
            f"--field {name}=@{path}: no such file", hint="write @@ for a value that starts with @"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--field {name}=@{path}: cannot read it ({exc})") from None


def _prompt_missing(app: Any, model: FlowsFile, form: Form, given: dict[str, Any]) -> None:
    from ..flows import forms
    from ..flows.tables import Tables

    tables = Tables(app, model)
    for fld in forms.missing_required(form, given):
        if fld.hidden:
            continue
        opts = forms.options(fld, tables) if fld.has_options else []
        given[fld.name] = _ask(fld, [o.value for o in opts])


def _ask(fld: Field, options: list[str]) -> str:
    label = fld.label or fld.name
    if fld.description:
        output.note(f"{label}: {fld.description}")
    if options:
        for i, value in enumerate(options, 1):
            output.note(f"  {i}) {value}")
        many = " (numbers or values, comma-separated)" if fld.is_list else ""
        answer = str(typer.prompt(f"{label}{many}"))
        return (
            ",".join(_option_answer(part, options) for part in answer.split(","))
            if fld.is_list
            else _option_answer(answer, options)
        )
    if fld.type == "textarea":
        output.note(f"{label} (end with an empty line):")
        return _read_lines()
    return str(typer.prompt(label))


def _read_lines() -> str:
    """Lines typed until an empty one (or end of input): a textarea answer."""
    lines = []
    for line in sys.stdin:
        if not line.strip("\r\n"):
            break
        lines.append(line.rstrip("\r\n"))
    return "\n".join(lines)


def _option_answer(answer: str, options: list[str]) -> str:
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(options) and answer not in options:
        return options[int(answer) - 1]
    return answer


# --- rendering an event's result ----------------------------------------------------------------


def _report(result: EventResult, json_out: bool) -> None:
    if result.dry_run:
        output.emit_json(result.to_doc())
        output.note("dry run: nothing was stored, sent or recorded")
    elif json_out:
        output.emit_json(result.to_doc())
    else:
        _print_result(result)
    _raise_for(result)


def _print_result(result: EventResult) -> None:
    event, record = result.event, result.event.record
    verb = {"created": "stored", "updated": "updated", "deleted": "deleted"}[event.kind]
    output.out(f"{verb} record {record.id} in {event.form}")
    for outcome in result.outcomes:
        run = outcome.run
        ident = f" (run {run.id})" if run else ""
        output.out(
            f"flow {outcome.flow}: {outcome.status.replace('_', ' ')}{ident}"
            + (f" — {outcome.note}" if outcome.note else "")
        )
        if run is not None and outcome.status != "duplicate":  # a duplicate's steps are an earlier run's
            for step in run.steps:
                output.out(f"  {step.status:<9} {step.name}  {_step_summary(step)}")


def _step_summary(step: Step) -> str:
    if step.status == "failed":
        err = step.error or {}
        message, code = str(err.get("message")), err.get("code")
        return message if not code or str(code) in message else f"{message} [{code}]"
    o = step.outputs
    if step.status == "skipped":
        return str(o.get("skipped", ""))
    if step.kind == "send_group_message":
        return f"sent to {o.get('group')} ({o.get('channel')})"
    if step.kind == "create_group":
        return f"{'created' if o.get('created') else 'reused'} group {o.get('group_name')} (chat id {o.get('chat_id')})"
    if step.kind == "add_data":
        return f"added a row to {step.inputs.get('table')}"
    if step.kind == "update_data":
        return f"{'inserted' if o.get('inserted') else 'updated'} {o.get('count')} row(s) of {step.inputs.get('table')}"
    if step.kind == "get_data":
        return f"{'found' if o.get('found') else 'no'} row in {step.inputs.get('table')}"
    if step.kind == "branch":
        return f"took branch {o.get('branch')}" if o.get("branch") else "no branch matched"
    return ""


def _raise_for(result: EventResult) -> None:
    error = result.error()
    if error is not None:
        raise error


# --- forms ----------------------------------------------------------------------------------------


@forms_app.command("list")
def list_forms(json_out: JsonOpt = False) -> None:
    """List the forms of the flows file and the flows each one triggers."""
    model = _model()
    rows = []
    for form in model.forms:
        flows = [f.name for f in model.flows if f.trigger.form == form.name]
        rows.append(
            {"form": form.name, "fields": list(form.field_names), "flows": flows, "description": form.description}
        )
    if json_out:
        output.emit_json(rows)
        return
    if not rows:
        output.note(f"no forms in {model.path}")
        return
    output.table(
        ["form", "fields", "flows"], [(r["form"], ", ".join(r["fields"]), ", ".join(r["flows"])) for r in rows]
    )


@forms_app.command("show")
def show_form(
    form: Annotated[str, typer.Argument(help="The form's name.")],
    json_out: JsonOpt = False,
) -> None:
    """Show a form's fields, their rules, and their options as they are right now."""
    from ..flows import engine, forms
    from ..flows.tables import Tables

    model = _model()
    target = engine.find_form(model, form)
    tables = Tables(state.app(), model)
    docs = [
        _field_doc(f, [o.value for o in forms.options(f, tables)] if f.has_options else None) for f in target.fields
    ]
    if json_out:
        output.emit_json({"form": target.name, "description": target.description, "fields": docs})
        return
    output.out(f"form {target.name}" + (f" — {target.description}" if target.description else ""))
    for doc in docs:
        output.out(f"  {doc['name']}  ({doc['type']})  {' '.join(doc['rules'])}".rstrip())
        if doc.get("default"):
            output.out(f"      default: {doc['default']}")
        if doc.get("options") is not None:
            shown = ", ".join(doc["options"]) if doc["options"] else "(none yet)"
            output.out(f"      options{' from ' + doc['options_from'] if doc.get('options_from') else ''}: {shown}")


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


@forms_app.command("records")
def form_records(
    form: Annotated[str, typer.Argument(help="The form's name.")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (0: all).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List the records submitted to a form, newest first."""
    from ..flows import engine
    from ..flows.templating import to_text

    model = _model()
    target = engine.find_form(model, form)
    records = state.app().records.list(target.name, limit=limit or None)
    if json_out:
        output.emit_json([r.to_doc() for r in records])
        return
    if not records:
        output.note(f"no records in {target.name} yet: submit one with `groupmsg submit {target.name}`")
        return
    columns = ["id", "created", *target.field_names]
    output.table(
        columns,
        [(r.id, r.created_at, *(_cell(to_text(r.values.get(n))) for n in target.field_names)) for r in records],
    )


def _cell(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@forms_app.command("update")
def update_record(
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    field: FieldOpt = [],  # noqa: B006
    json_out: JsonOpt = False,
) -> None:
    """Change fields of a record (validated like a submission) and run the flows its `updated` event triggers."""
    from ..errors import BadInput
    from ..flows import engine

    if not field:
        raise BadInput("nothing to change", hint="give --field NAME=VALUE")
    result = engine.update_record(state.app(), _model(), form, record, parse_fields(field))
    _report(result, json_out)


@forms_app.command("delete")
def delete_record(
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a record and run the flows its `deleted` event triggers."""
    from ..flows import engine

    _report(engine.delete_record(state.app(), _model(), form, record), json_out)


# --- flows ----------------------------------------------------------------------------------------


@flows_app.command("list")
def list_flows(json_out: JsonOpt = False) -> None:
    """List the flows: trigger, filter, nodes, whether enabled."""
    from ..flows.conditions import describe

    model = _model()
    rows: list[dict[str, Any]] = [
        {
            "flow": f.name,
            "enabled": f.enabled,
            "form": f.trigger.form,
            "events": list(f.trigger.events),
            "filter": describe(f.trigger.filter),
            "nodes": [f"{n.name} ({n.KIND})" for n in f.nodes],
            "on_failure": f.on_failure.group.source if f.on_failure else None,
        }
        for f in model.flows
    ]
    if json_out:
        output.emit_json(rows)
        return
    if not rows:
        output.note(f"no flows in {model.path}")
        return
    output.table(
        ["flow", "enabled", "trigger", "filter", "nodes"],
        [
            (
                r["flow"],
                "yes" if r["enabled"] else "no",
                f"{r['form']} {'/'.join(r['events'])}",
                r["filter"],
                " → ".join(r["nodes"]),
            )
            for r in rows
        ],
    )


@flows_app.command("check")
def check(
    file: Annotated[
        str | None, typer.Argument(help="The flows file (default: --flows, $GROUPMSG_FLOWS or ./flows.yaml).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a flows file and report every problem at once, each with file:line and its fix (exit 2)."""
    from pathlib import Path

    from ..errors import ValidationError
    from ..flows.loader import load

    path = Path(file) if file else state.app().settings.flows_file
    try:
        model = load(path)
    except ValidationError as exc:
        if json_out:
            output.emit_json({"file": str(path), "ok": False, "problems": exc.problems})
        raise
    if json_out:
        output.emit_json(
            {"file": str(path), "ok": True, "problems": [], "forms": len(model.forms), "flows": len(model.flows)}
        )
    else:
        output.out(f"{path}: ok — {len(model.forms)} form(s), {len(model.flows)} flow(s)")


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.add_typer(forms_app, name="forms")
    app.add_typer(flows_app, name="flows")
