"""`groupmsg store …`: move state between the file store and Redis."""

from typing import Annotated

import typer

from .context import session

store_app = typer.Typer(help="The state store: copy the registry and records between files and Redis.",
                        no_args_is_help=True)


@store_app.command("copy")
def copy(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(metavar="FROM", help="files, files:PATH, redis (= $GROUPMSG_STORE), or redis://host:port/db.")],
    target: Annotated[str, typer.Argument(metavar="TO", help="Same forms as FROM.")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace groups already in TO (default: copy nothing if any is).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Copy the group registry (webhook tokens and secrets included, never printed) and every form's
    records from FROM to TO. Passwords never go on the command line: `redis` means the Redis of
    GROUPMSG_STORE, and a redis:// URL takes its password from GROUPMSG_REDIS_PASSWORD. Records
    already in TO are skipped, so the copy can be repeated. Runs, dedupe keys and tokens stay."""
    s = session(ctx)
    report = s.app.copy_store(source, target, replace=replace)
    if json_out:
        s.output.emit_json(report.to_doc())
        return
    forms = ", ".join(f"{form}: {n}" for form, n in report.records.items()) or "none"
    s.output.out(f"copied {report.groups} group(s) and {sum(report.records.values())} record(s) ({forms})")
    s.output.out(f"  from {report.source}")
    s.output.out(f"  to   {report.target}")


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
