"""`groupmsg submit`, `groupmsg forms …`, `groupmsg flows …` (forms and flows, Yida's 集成&自动化).

Only typer is imported here at module level: yaml and the flows engine load inside the commands,
so `groupmsg send` from cron never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .completion import form_names
from .context import session
from .output import Output, cells, interactive, pad

if TYPE_CHECKING:
    from ..app.forms import Prompt
    from ..app.types import EventResult, FlowOutcome, Step, TickResult

forms_app = typer.Typer(help="Forms: their fields and rules, and the records submitted to them.", no_args_is_help=True)
flows_app = typer.Typer(
    help="Flows (automations): list and check them, run manual ones, tick scheduled ones.", no_args_is_help=True
)

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


# --- submit ---------------------------------------------------------------------------------------


def submit(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name, e.g. 群消息内容录入表.", autocompletion=form_names)],
    field: FieldOpt = [],  # noqa: B006 — typer reads the default, never mutates it
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show exactly what would be sent; store and send nothing.")
    ] = False,
    no_input: Annotated[bool, typer.Option("--no-input", help="Never prompt, even on a terminal.")] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Submit without the summary and confirmation asked on a terminal.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Give up retrying a delivery after this many seconds (default 60)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Submit a form: validate, store the record, and run every enabled flow its `created` event triggers.

    On a terminal, missing required fields (and any given with a wrong value) are asked for, each
    until its answer is valid; then a summary of the record and of what each matching flow will do
    is shown and confirmed (--yes skips that). Nothing is asked without a terminal, or with
    --no-input. Ctrl-C at any prompt exits 130 with nothing stored. Exit 0 when the flows ran, 1
    when a flow run failed (the record is kept and the run recorded: `groupmsg runs retry RUN`), 2
    when the submission is invalid (nothing stored or sent), 3 when it was stored but no flow
    matched (or was not confirmed).
    """
    s = session(ctx)
    forms = s.app.forms
    given = parse_fields(field, lambda name: forms.value_limit(form, name))
    options = s.send_options(timeout=timeout)
    if not no_input and interactive():
        for prompt in forms.prompts(form, given, reask_invalid=True):

            def check(answer: Any, name: str = prompt.name) -> Any:
                return forms.check_answer(form, name, answer, given)

            given[prompt.name] = _ask(s.output, prompt, check)
        if not (yes or dry_run):
            plan = forms.submit(form, given, options, dry_run=True)
            _summary(s.output, plan)
            if not s.output.confirm("Submit?", default=not plan.failed):
                from ..errors import NothingToDo

                raise NothingToDo(f"not submitted: nothing was stored in {plan.event.form} or sent")
    result = forms.submit(form, given, options, dry_run=dry_run)
    _report(s.output, result, json_out)


def parse_fields(pairs: list[str], max_length: Callable[[str], int | None] = lambda name: None) -> dict[str, Any]:
    """`NAME=VALUE` options → {name: value, or a list of values when a name is repeated}.

    `@FILE` and `-` are read within the field's `max_length(NAME)` (when it has one) and 1 MiB."""
    import unicodedata

    from ..errors import BadInput
    from .inputs import read_value

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
            value = read_value(None, f"--field {name}=-", max_chars=max_length(name), chomp=True)
            stdin_used = True
        elif value.startswith("@@"):
            value = value[1:]
        elif value.startswith("@"):
            what = f"--field {name}={value}"
            value = read_value(
                value[1:],
                what,
                max_chars=max_length(name),
                chomp=True,
                missing=(f"{what}: no such file {value[1:]}", "write @@ for a value that starts with @"),
            )
        if name in given:
            previous = given[name]
            given[name] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            given[name] = value
    return given




def _ask(out: Output, prompt: Prompt, check: Callable[[Any], Any]) -> Any:
    """Ask for one field until its answer is valid (`check` is the service's rule for it); the
    answers already given are kept whatever happens here."""
    from ..errors import ValidationError

    if prompt.problem:
        out.error(f"{prompt.label}: {prompt.problem}")
    if prompt.description:
        out.note(f"{prompt.label}: {prompt.description}")
    for i, value in enumerate(prompt.options, 1):
        out.note(f"  {i}) {value}")
    label = prompt.label + (" (numbers or names, comma-separated)" if prompt.options and prompt.many else "")
    label += " (a number or a name)" if prompt.options and not prompt.many else ""
    while True:
        answer: Any = out.ask_lines(label) if prompt.multiline else out.ask(label)
        if prompt.options:
            parts = [_option_answer(part, prompt.options) for part in answer.split(",")] if prompt.many else None
            answer = [p for p in parts if p] if parts is not None else _option_answer(answer, prompt.options)
        try:
            return check(answer)
        except ValidationError as exc:
            out.error(exc.message, "type it again (Ctrl-C to stop; nothing is stored until the end)")


def _option_answer(answer: str, options: list[str]) -> str:
    """A choice's number (as listed) or its name."""
    answer = answer.strip()
    if answer.isdigit() and 1 <= int(answer) <= len(options) and answer not in options:
        return options[int(answer) - 1]
    return answer


def _summary(out: Output, plan: EventResult) -> None:
    """What a submission will store and what each matching flow will do (a dry run's result)."""
    record = plan.event.record
    out.note(f"About to submit to {plan.event.form}:")
    width = max((cells(k) for k in record.values), default=0)
    for name, value in record.values.items():
        shown = "" if value is None else ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        shown = shown.replace("\n", "\n" + " " * (width + 4))
        out.note(f"  {pad(name, width)}  {shown}")
    if not plan.ran:
        out.note("No flow will run for it (no enabled flow matches).")
    for outcome in plan.outcomes:
        if outcome.status == "not_matched":
            out.note(f"flow {outcome.flow}: will not run ({outcome.note})")
            continue
        verdict = "would fail" if outcome.status == "failed" else "will"
        out.note(f"flow {outcome.flow} {verdict}:")
        for preview in outcome.previews:
            out.note(f"  - {_would(preview)}")
        for step in outcome.run.steps if outcome.run else []:
            if step.status == "failed":
                out.note(f"  ✗ {step.name}: {(step.error or {}).get('message')}")


def _would(preview: dict[str, Any]) -> str:
    kind, node = preview.get("kind"), preview.get("node")
    if kind == "send_group_message":
        return f"send a message to {preview.get('group')} ({preview.get('channel')})"
    if kind == "create_group":
        return f"create a DingTalk group ({node})"
    details = ", ".join(f"{k}={v}" for k, v in preview.items() if k not in ("node", "kind", "request"))
    return f"{kind} {node}" + (f": {details}" if details else "")


# --- rendering an event's result ----------------------------------------------------------------


def _report(out: Output, result: EventResult, json_out: bool) -> None:
    if result.dry_run:
        out.emit_json(result.to_doc())
        out.note("dry run: nothing was stored, sent or recorded")
    elif json_out:
        out.emit_json(result.to_doc())
    else:
        _print_result(out, result)
    error = result.error()
    if error is not None:
        raise error


def _print_result(out: Output, result: EventResult) -> None:
    event, record = result.event, result.event.record
    if event.kind != "manual":
        verb = {"created": "stored", "updated": "updated", "deleted": "deleted"}[event.kind]
        out.out(f"{verb} record {record.id} in {event.form}")
    for outcome in result.outcomes:
        _print_outcome(out, outcome)


def _print_outcome(out: Output, outcome: FlowOutcome, indent: str = "", note: str = "") -> None:
    """A flow's outcome, its steps, and the runs the records it wrote fired (indented under it)."""
    run = outcome.run
    ident = f" (run {run.id})" if run else ""
    note = note or outcome.note or outcome.cause
    head = "↳ " if outcome.cause else ""
    out.out(f"{indent}{head}flow {outcome.flow}: {outcome.status.replace('_', ' ')}{ident}" + (f" — {note}" if note else ""))
    if run is not None and outcome.status != "duplicate":  # a duplicate's steps are an earlier run's
        for step in run.steps:
            out.out(f"{indent}  {step.status:<9} {step.name}  {_step_summary(step)}")
    for child in outcome.triggered:
        _print_outcome(out, child, indent + "    ")


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
    if step.kind == "delete_data":
        return f"deleted {o.get('count')} row(s) of {step.inputs.get('table')}"
    if step.kind == "branch" and "branches" in o:
        return f"took branches {', '.join(o['branches'])}" if o["branches"] else "no branch matched"
    if step.kind == "branch":
        return f"took branch {o.get('branch')}" if o.get("branch") else "no branch matched"
    return ""


# --- forms ----------------------------------------------------------------------------------------


@forms_app.command("list")
def list_forms(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the forms of the flows file and the flows each one triggers."""
    s = session(ctx)
    rows = s.app.forms.list_forms()
    if json_out:
        s.output.emit_json(rows)
        return
    if not rows:
        s.output.note(f"no forms in {s.app.settings.flows_file}")
        return
    s.output.table(
        ["form", "fields", "flows"], [(r["form"], ", ".join(r["fields"]), ", ".join(r["flows"])) for r in rows]
    )


@forms_app.command("show")
def show_form(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    json_out: JsonOpt = False,
) -> None:
    """Show a form's fields, their rules, and their options as they are right now."""
    s = session(ctx)
    doc = s.app.forms.show_form(form)
    if json_out:
        s.output.emit_json(doc)
        return
    out = s.output
    out.out(f"form {doc['form']}" + (f" — {doc['description']}" if doc["description"] else ""))
    for field_doc in doc["fields"]:
        out.out(f"  {field_doc['name']}  ({field_doc['type']})  {' '.join(field_doc['rules'])}".rstrip())
        if field_doc.get("default"):
            out.out(f"      default: {field_doc['default']}")
        if field_doc.get("options") is not None:
            shown = ", ".join(field_doc["options"]) if field_doc["options"] else "(none yet)"
            source = f" from {field_doc['options_from']}" if field_doc.get("options_from") else ""
            out.out(f"      options{source}: {shown}")


@forms_app.command("records")
def form_records(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (0: all).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List the records submitted to a form, newest first."""
    s = session(ctx)
    table = s.app.forms.records(form, limit=limit or None)
    if json_out:
        s.output.emit_json([r.to_doc() for r in table.records])
        return
    if not table.records:
        s.output.note(f"no records in {table.form} yet: submit one with `groupmsg submit {table.form}`")
        return
    s.output.table(
        ["id", "created", *table.fields],
        [(r.id, r.created_at, *(_cell(c) for c in cells)) for r, cells in zip(table.records, table.cells, strict=True)],
    )


def _cell(text: str, width: int = 40) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@forms_app.command("update")
def update_record(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    field: FieldOpt = [],  # noqa: B006
    json_out: JsonOpt = False,
) -> None:
    """Change fields of a record (validated like a submission) and run the flows its `updated` event triggers."""
    s = session(ctx)
    forms = s.app.forms
    given = parse_fields(field, lambda n: forms.value_limit(form, n))
    _report(s.output, forms.update(form, record, given, s.send_options()), json_out)


@forms_app.command("delete")
def delete_record(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a record and run the flows its `deleted` event triggers."""
    s = session(ctx)
    _report(s.output, s.app.forms.delete(form, record, s.send_options()), json_out)


# --- flows ----------------------------------------------------------------------------------------


@flows_app.command("list")
def list_flows(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the flows: trigger, filter, nodes, whether enabled."""
    s = session(ctx)
    rows = s.app.forms.list_flows()
    if json_out:
        s.output.emit_json(rows)
        return
    if not rows:
        s.output.note(f"no flows in {s.app.settings.flows_file}")
        return
    s.output.table(
        ["flow", "enabled", "trigger", "filter", "nodes"],
        [
            (
                r["flow"],
                "yes" if r["enabled"] else "no",
                _trigger_text(r),
                r["filter"],
                " → ".join(r["nodes"]),
            )
            for r in rows
        ],
    )


def _trigger_text(row: dict[str, Any]) -> str:
    if row["trigger"] == "schedule":
        return f"schedule {row['schedule']} ({row['timezone']})"
    if row["trigger"] == "manual":
        return "manual" + (f" ({row['form']})" if row["form"] else "")
    auto = " (allow_auto_trigger)" if row["allow_auto_trigger"] else ""
    return f"{row['form']} {'/'.join(row['events'])}{auto}"


NowOpt = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Act as if it were this time (ISO 8601, e.g. 2027-01-04T09:00+08:00; without an offset, "
        "this machine's local time): for tests and for catching up by hand.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option("--timeout", help="Give up retrying a delivery after this many seconds (default 60)."),
]


@flows_app.command("run")
def run_flow(
    ctx: typer.Context,
    flow: Annotated[str, typer.Argument(help="The manual flow's name.")],
    field: FieldOpt = [],  # noqa: B006
    record: Annotated[
        str | None,
        typer.Option("--record", help="Run it on this stored record of its form (an id, or a unique end of it)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show exactly what would be done; do nothing.")
    ] = False,
    timeout: TimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a manual flow (`trigger: manual`, Yida's 自定义按钮触发) now.

    A manual trigger with a form (`{manual: true, form: F}`) takes F's fields: -f NAME=VALUE, filled
    and validated like a submission but not stored, or --record ID for a stored record. Exit 0 when
    the run succeeded, 1 when it failed (`groupmsg runs retry RUN`), 2 for bad input, 3 when the
    flow is disabled.
    """
    s = session(ctx)
    given = parse_fields(field)
    result = s.app.forms.run_manual(flow, given, s.send_options(timeout=timeout), record=record, dry_run=dry_run)
    _report(s.output, result, json_out)


@flows_app.command("tick")
def tick(ctx: typer.Context, now: NowOpt = None, timeout: TimeoutOpt = None, json_out: JsonOpt = False) -> None:
    """Run every scheduled flow with an occurrence due since its last run: the one cron line.

    Each occurrence runs once however many ticks run at once, on one host or many sharing the
    state. Missed occurrences collapse into one run that says how many it skipped; a flow new to
    the state runs from its next occurrence. Run it every minute from cron or a systemd timer.
    Exit 0 when nothing failed, 1 when a run failed, 3 when the flows file has no scheduled flow.
    """
    s = session(ctx)
    result = s.app.forms.tick(s.send_options(timeout=timeout), now)
    if json_out:
        s.output.emit_json(result.to_doc())
    else:
        _print_tick(s.output, result)
    error = result.error(str(s.app.settings.flows_file))
    if error is not None:
        raise error


def _print_tick(out: Output, result: TickResult) -> None:
    for t in result.ticks:
        if t.status == "ran" and t.outcome is not None:
            skipped = f"; skipped {t.skipped} missed occurrence(s) since {t.skipped_since}" if t.skipped else ""
            resumed = f"; {t.outcome.note}" if t.outcome.note else ""
            _print_outcome(out, t.outcome, note=f"occurrence {t.occurrence} ({t.schedule}, {t.timezone}){skipped}{resumed}")
        elif t.status == "not_due":
            out.out(f"flow {t.flow}: not due (next {t.next or 'never'})")
        else:
            skipped = f" (skipped {t.skipped} missed occurrence(s) since {t.skipped_since})" if t.skipped else ""
            at = f" {t.occurrence}" if t.occurrence else ""
            out.out(f"flow {t.flow}: {t.status.replace('_', ' ')}{at}{skipped} — {t.note} (next {t.next or 'never'})")


@flows_app.command("next")
def next_occurrences(ctx: typer.Context, now: NowOpt = None, json_out: JsonOpt = False) -> None:
    """List the next occurrence of each scheduled flow, in its time zone, and the last one run."""
    s = session(ctx)
    rows = s.app.forms.upcoming(now)
    if json_out:
        s.output.emit_json(rows)
        return
    if not rows:
        s.output.note(f"no scheduled flows in {s.app.settings.flows_file}")
        return
    s.output.table(
        ["flow", "enabled", "schedule", "timezone", "next", "last"],
        [
            (r["flow"], "yes" if r["enabled"] else "no", r["schedule"], r["timezone"], r["next"] or "never", r["last"] or "")
            for r in rows
        ],
    )


@flows_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[
        str | None, typer.Argument(help="The flows file (default: --flows, $GROUPMSG_FLOWS or ./flows.yaml).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a flows file and report every problem at once, each with file:line and its fix (exit 2)."""
    from pathlib import Path

    from ..errors import ValidationError

    s = session(ctx)
    path = Path(file) if file else s.app.settings.flows_file
    try:
        model = s.app.forms.check(path)
    except ValidationError as exc:
        if json_out:
            s.output.emit_json({"file": str(path), "ok": False, "problems": exc.problems})
        raise
    if json_out:
        s.output.emit_json(
            {"file": str(path), "ok": True, "problems": [], "forms": len(model.forms), "flows": len(model.flows)}
        )
    else:
        s.output.out(f"{path}: ok — {len(model.forms)} form(s), {len(model.flows)} flow(s)")


def register(app: typer.Typer) -> None:
    from . import examples

    app.command("submit", epilog=examples.SUBMIT)(submit)
    app.add_typer(forms_app, name="forms")
    app.add_typer(flows_app, name="flows")
