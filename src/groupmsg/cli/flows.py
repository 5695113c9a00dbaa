"""`groupmsg submit`, `groupmsg forms …`, `groupmsg flows …` (forms and flows, Yida's 集成&自动化).

Only typer is imported here at module level: yaml and the flows engine load inside the commands,
so `groupmsg send` from cron never pays for them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .completion import form_names
from .context import session
from .output import Output

if TYPE_CHECKING:
    from ..app.forms import Prompt
    from ..app.types import EventResult, Step

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


def _options(timeout: float | None = None) -> Any:
    from ..app.types import SendOptions

    return SendOptions(timeout=timeout)


# --- submit ---------------------------------------------------------------------------------------


def submit(
    ctx: typer.Context,
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
    s = session(ctx)
    forms = s.app.forms
    given = parse_fields(field)
    if not no_input and sys.stdin.isatty():
        for prompt in forms.prompts(form, given):
            given[prompt.name] = _ask(s.output, prompt)
    result = forms.submit(form, given, _options(timeout), dry_run=dry_run)
    _report(s.output, result, json_out)


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


def _ask(out: Output, prompt: Prompt) -> str:
    if prompt.description:
        out.note(f"{prompt.label}: {prompt.description}")
    if prompt.options:
        for i, value in enumerate(prompt.options, 1):
            out.note(f"  {i}) {value}")
        many = " (numbers or values, comma-separated)" if prompt.many else ""
        answer = str(typer.prompt(f"{prompt.label}{many}"))
        return (
            ",".join(_option_answer(part, prompt.options) for part in answer.split(","))
            if prompt.many
            else _option_answer(answer, prompt.options)
        )
    if prompt.multiline:
        out.note(f"{prompt.label} (end with an empty line):")
        return _read_lines()
    return str(typer.prompt(prompt.label))


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
    verb = {"created": "stored", "updated": "updated", "deleted": "deleted"}[event.kind]
    out.out(f"{verb} record {record.id} in {event.form}")
    for outcome in result.outcomes:
        run = outcome.run
        ident = f" (run {run.id})" if run else ""
        out.out(
            f"flow {outcome.flow}: {outcome.status.replace('_', ' ')}{ident}"
            + (f" — {outcome.note}" if outcome.note else "")
        )
        if run is not None and outcome.status != "duplicate":  # a duplicate's steps are an earlier run's
            for step in run.steps:
                out.out(f"  {step.status:<9} {step.name}  {_step_summary(step)}")


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
    _report(s.output, s.app.forms.update(form, record, parse_fields(field), _options()), json_out)


@forms_app.command("delete")
def delete_record(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a record and run the flows its `deleted` event triggers."""
    s = session(ctx)
    _report(s.output, s.app.forms.delete(form, record, _options()), json_out)


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
                f"{r['form']} {'/'.join(r['events'])}",
                r["filter"],
                " → ".join(r["nodes"]),
            )
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
