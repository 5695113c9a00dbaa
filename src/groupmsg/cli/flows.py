"""`groupmsg forms …` and `groupmsg flows …`: forms and their records, flows (Yida's 集成&自动化).

Only typer is imported here at module level: yaml and the flows engine load inside the commands,
so `groupmsg send` from cron never pays for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .context import session
from .events import FieldOpt, parse_fields, print_outcome, report
from .output import Output

if TYPE_CHECKING:
    from ..app.types import TickResult

forms_app = typer.Typer(help="Forms: their fields and rules, and the records submitted to them.", no_args_is_help=True)
flows_app = typer.Typer(
    help="Flows (automations): list and check them, run manual ones, tick scheduled ones.", no_args_is_help=True
)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
    report(s.output, forms.update(form, record, given, s.send_options()), json_out)


@forms_app.command("delete")
def delete_record(
    ctx: typer.Context,
    form: Annotated[str, typer.Argument(help="The form's name.")],
    record: Annotated[str, typer.Argument(help="The record id (or a unique end of it).")],
    json_out: JsonOpt = False,
) -> None:
    """Delete a record and run the flows its `deleted` event triggers."""
    s = session(ctx)
    report(s.output, s.app.forms.delete(form, record, s.send_options()), json_out)


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
    report(s.output, result, json_out)


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
            print_outcome(out, t.outcome, note=f"occurrence {t.occurrence} ({t.schedule}, {t.timezone}){skipped}{resumed}")
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
    app.add_typer(forms_app, name="forms")
    app.add_typer(flows_app, name="flows")
