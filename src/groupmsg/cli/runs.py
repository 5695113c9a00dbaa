"""`groupmsg runs …`: what was sent, what failed, and resuming failed runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .context import session

if TYPE_CHECKING:
    from ..app.types import Run

runs_app = typer.Typer(help="Inspect and retry runs (sends and flow runs).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option("--status", help="succeeded, failed, running, or unsettled (left pending by a killed process)."),
    ] = None,
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow (`send` for sends).")] = None,
    record: Annotated[
        str | None,
        typer.Option("--record", help="Only runs that acted on this form record (its id, or the end of it)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (0: all).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List runs, newest first (Yida's 运行日志): filter by status, flow and form record."""
    s = session(ctx)
    listed = s.app.runs.list(status=status, flow=flow, record=record, limit=limit or None)
    if json_out:
        s.output.emit_json([item.run.to_doc() for item in listed])
        return
    if not listed:
        s.output.note("no runs")
        return
    s.output.table(
        ["run", "status", "flow", "steps", "started"],
        [
            (
                item.run.id,
                item.status,
                item.run.name,
                f"{sum(st.status == 'succeeded' for st in item.run.steps)}/{len(item.run.steps)}",
                item.run.started_at,
            )
            for item in listed
        ],
    )


@runs_app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="A run id (or a unique part of it).")],
    json_out: JsonOpt = False,
) -> None:
    """Show a run step by step: inputs, outputs, status, duration, DingTalk's code on failure."""
    s = session(ctx)
    item = s.app.runs.show(run_id)
    run, out = item.run, s.output
    if json_out:
        out.emit_json(run.to_doc())
        return
    out.out(f"run {run.id}  {run.name}  {item.status}  started {run.started_at}")
    for line in _origin(run):
        out.out(line)
    for st in run.steps:
        took = f"{st.duration_ms} ms" if st.duration_ms is not None else ""
        out.out(f"  [{st.status}] {st.id} {st.kind} {st.name}  {took}")
        if st.inputs:
            out.out(f"      inputs:  {st.inputs}")
        if st.outputs:
            out.out(f"      outputs: {st.outputs}")
        if st.error:
            out.out(f"      error:   {st.error.get('message')}")
            if st.error.get("hint"):
                out.out(f"      fix:     {st.error['hint']}")


def _origin(run: Run) -> list[str]:
    """What started a flow run, and what it started: its form record or schedule occurrence, the
    run whose record fired it, the runs its records fired, a chain that was stopped."""
    c, lines = run.context, []
    schedule = c.get("schedule")
    if schedule:
        skipped = f"; {schedule['skipped']} missed occurrence(s) skipped since {schedule['skipped_since']}"
        lines.append(
            f"schedule {schedule.get('expression')} ({schedule.get('timezone_label') or schedule.get('timezone')}): "
            f"occurrence {schedule.get('time')}" + (skipped if schedule.get("skipped") else "")
        )
    elif c.get("event") == "manual":
        lines.append("run by hand (flows run)" + (f" on record {run.record_id}" if run.record_id else ""))
    if run.form and run.record_id and c.get("event") != "manual":
        lines.append(f"form {run.form}  record {run.record_id}  event {c.get('event')}")
    if c.get("triggered_by"):
        by = c["triggered_by"]
        lines.append(f"auto-triggered by run {by['run']} (flow {by['flow']}); chain {' → '.join(c.get('chain', []))}")
    for t in c.get("triggered", []):
        lines.append(f"triggered flow {t['flow']}: {t['status']}" + (f" (run {t['run']})" if t.get("run") else ""))
    if c.get("stopped"):
        lines.append(f"stopped: {c['stopped']}")
    return lines


@runs_app.command("retry")
def retry(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Argument(help="The run to resume.")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Resume every failed or unsettled run.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up retrying a delivery after this many seconds (default 60).")
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="The webhook URL of a `send --webhook URL` run (its token was not stored)."),
    ] = None,
    at_least_once: Annotated[
        bool, typer.Option("--at-least-once", help="Repeat requests that may have been delivered (see `send --help`).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Resume a failed run from the step that failed; steps that succeeded are not repeated.

    A run of `send --webhook URL` kept the URL masked (its access_token is a secret): give it again
    with --webhook URL."""
    from ..app.types import run_failure
    from ..errors import BadInput
    from .messaging import report_failures

    if failed == bool(run_id):
        raise BadInput("give a run id or --failed (not both)")
    s = session(ctx)
    out, options = s.output, s.send_options(timeout=timeout, at_least_once=at_least_once)
    if run_id:
        runs, problems = [s.app.runs.retry(run_id, options, webhook=webhook)], []
    else:
        report = s.app.runs.retry_all(
            options, on_problem=lambda i, exc: out.error(f"run {i}: {exc.message}", exc.hint), webhook=webhook
        )
        runs, problems = report.runs, [exc for _, exc in report.problems]
    if json_out:
        out.emit_json([r.to_doc() for r in runs])
    else:
        for run in runs:
            out.out(f"run {run.id}: {run.status}")
    failures = [(r, f) for r, f in ((r, run_failure(r)) for r in runs) if f]
    for run, failure in failures[1:]:  # the first is the error the command ends with
        report_failures(out, run)
        out.error(failure.message, failure.hint)
    if failures:
        report_failures(out, failures[0][0])
        raise failures[0][1]
    if problems:  # nothing failed to deliver, but some runs could not be resumed
        raise typer.Exit(max(int(p.exit_code) for p in problems))


@runs_app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="Days (default: $GROUPMSG_RUNS_RETENTION_DAYS or 30)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Forget runs that finished (succeeded or failed) more than --older-than days ago. Running and
    unsettled runs are kept. With Redis this also happens by itself as runs finish."""
    s = session(ctx)
    days = older_than if older_than is not None else s.app.retention_days()
    removed = s.app.runs.prune(days)
    if json_out:
        s.output.emit_json({"pruned": removed, "older_than_days": days})
    else:
        s.output.out(f"pruned {removed} run(s) finished more than {days:g} day(s) ago")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
