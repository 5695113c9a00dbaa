"""`groupmsg runs …`: what was sent, what failed, and resuming failed runs."""

from typing import Annotated

import typer

from . import output
from .context import state

runs_app = typer.Typer(help="Inspect and retry runs (sends and flow runs).", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@runs_app.command("list")
def list_runs(
    status: Annotated[
        str | None,
        typer.Option("--status", help="succeeded, failed, running, or unsettled (left pending by a killed process)."),
    ] = None,
    flow: Annotated[str | None, typer.Option("--flow", help="Only runs of this flow (`send` for sends).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first (0: all).")] = 50,
    json_out: JsonOpt = False,
) -> None:
    """List runs, newest first."""
    app = state.app()
    runs = app.runs.list(status=status, name=flow, limit=limit or None)
    if json_out:
        output.emit_json([r.to_doc() for r in runs])
        return
    if not runs:
        output.note("no runs")
        return
    output.table(
        ["run", "status", "flow", "steps", "started"],
        [
            (
                r.id,
                "unsettled" if app.runs.unsettled(r) else r.status,
                r.name,
                f"{sum(s.status == 'succeeded' for s in r.steps)}/{len(r.steps)}",
                r.started_at,
            )
            for r in runs
        ],
    )


@runs_app.command("show")
def show(run_id: Annotated[str, typer.Argument(help="A run id (or a unique part of it).")], json_out: JsonOpt = False) -> None:
    """Show a run step by step: inputs, outputs, status, duration, DingTalk's code on failure."""
    run = state.app().runs.get(run_id)
    if json_out:
        output.emit_json(run.to_doc())
        return
    status = "unsettled" if state.app().runs.unsettled(run) else run.status
    output.out(f"run {run.id}  {run.name}  {status}  started {run.started_at}")
    if run.form:
        output.out(f"form {run.form}  record {run.record_id}")
    for s in run.steps:
        took = f"{s.duration_ms} ms" if s.duration_ms is not None else ""
        output.out(f"  [{s.status}] {s.id} {s.kind} {s.name}  {took}")
        if s.inputs:
            output.out(f"      inputs:  {s.inputs}")
        if s.outputs:
            output.out(f"      outputs: {s.outputs}")
        if s.error:
            output.out(f"      error:   {s.error.get('message')}")
            if s.error.get("hint"):
                output.out(f"      fix:     {s.error['hint']}")


@runs_app.command("retry")
def retry(
    run_id: Annotated[str | None, typer.Argument(help="The run to resume.")] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Resume every failed or unsettled run.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Resume a failed run from the step that failed; steps that succeeded are not repeated."""
    from ..app import delivery_failed
    from ..errors import BadInput, NothingToDo

    app = state.app()
    if failed == bool(run_id):
        raise BadInput("give a run id or --failed (not both)")
    ids = [run_id] if run_id else [r.id for r in app.runs.list(limit=None) if r.status == "failed" or app.runs.unsettled(r)]
    if not ids:
        raise NothingToDo("no failed or unsettled runs")
    from ..errors import GroupmsgError

    results, problems = [], []
    for i in ids:  # one run's problem does not stop the others
        try:
            results.append(app.retry(i))
        except GroupmsgError as exc:
            if run_id:
                raise
            problems.append(exc)
            output.error(f"run {i}: {exc.message}", exc.hint)
    if json_out:
        output.emit_json([r.to_doc() for r in results])
    for run in results:
        if not json_out:
            output.out(f"run {run.id}: {run.status}")
    failures = [f for f in (delivery_failed(r) for r in results) if f]
    if failures:
        raise failures[0]
    if problems:  # nothing failed to deliver, but some runs could not be resumed
        raise typer.Exit(max(int(p.exit_code) for p in problems))


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
