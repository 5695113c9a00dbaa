"""`groupmsg submit`: fill a form (asking on a terminal for what is missing), store the record and
run the flows its `created` event triggers.

Only typer is imported here at module level: yaml and the flows engine load inside the command,
so `groupmsg send` from cron never pays for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .completion import form_names
from .context import session
from .events import FieldOpt, parse_fields, report
from .output import Output, cells, interactive, pad

if TYPE_CHECKING:
    from ..app.forms import Prompt
    from ..app.types import EventResult

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
    report(s.output, result, json_out)


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


def register(app: typer.Typer) -> None:
    from . import examples

    app.command("submit", epilog=examples.SUBMIT)(submit)
