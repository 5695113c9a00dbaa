"""A form event from the command line: its `--field` values in, its result out. Shared by
`submit`, `forms update`/`delete` and `flows run`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..app.types import EventResult, FlowOutcome, Step
    from .output import Output

FieldOpt = Annotated[
    list[str],
    typer.Option(
        "--field",
        "-f",
        help="NAME=VALUE; NAME=@FILE reads the value from a file, NAME=- from stdin (@@ for a literal @). "
        "Repeat for several fields, or for several values of a multiselect.",
    ),
]

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


def report(out: Output, result: EventResult, json_out: bool) -> None:
    if result.dry_run:
        out.emit_json(result.to_doc())
        out.note("dry run: nothing was stored, sent or recorded")
    elif json_out:
        out.emit_json(result.to_doc())
    else:
        print_result(out, result)
    error = result.error()
    if error is not None:
        raise error


def print_result(out: Output, result: EventResult) -> None:
    event, record = result.event, result.event.record
    if event.kind != "manual":
        verb = {"created": "stored", "updated": "updated", "deleted": "deleted"}[event.kind]
        out.out(f"{verb} record {record.id} in {event.form}")
    for outcome in result.outcomes:
        print_outcome(out, outcome)


def print_outcome(out: Output, outcome: FlowOutcome, indent: str = "", note: str = "") -> None:
    """A flow's outcome, its steps, and the runs the records it wrote fired (indented under it)."""
    run = outcome.run
    ident = f" (run {run.id})" if run else ""
    note = note or outcome.note or outcome.cause
    head = "↳ " if outcome.cause else ""
    out.out(f"{indent}{head}flow {outcome.flow}: {outcome.status.replace('_', ' ')}{ident}" + (f" — {note}" if note else ""))
    if run is not None and outcome.status != "duplicate":  # a duplicate's steps are an earlier run's
        for step in run.steps:
            out.out(f"{indent}  {step.status:<9} {step.name}  {step_summary(step)}")
    for child in outcome.triggered:
        print_outcome(out, child, indent + "    ")


def step_summary(step: Step) -> str:
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
