"""`groupmsg doctor`: preflight checks with fixes."""

from typing import Annotated

import typer

from .completion import group_names
from .context import session


def doctor(
    ctx: typer.Context,
    group: Annotated[list[str], typer.Option("--group", "-g", help="Check these groups (default: all, up to 50).", autocompletion=group_names)] = [],  # noqa: B006
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="A sample message: check its size and keywords per group.")
    ] = None,
    markdown_title: Annotated[str | None, typer.Option("--title", help="Check the sample as markdown with this title.")] = None,
    at_mobile: Annotated[list[str], typer.Option("--at-mobile", help="Check @mentions of these mobiles.")] = [],  # noqa: B006
    at_user: Annotated[list[str], typer.Option("--at-user", help="Check @mentions of these user ids.")] = [],  # noqa: B006
    offline: Annotated[bool, typer.Option("--offline", help="Skip the checks that call DingTalk.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check credentials, clock, webhook secrets and keywords, message sizes, the registry, the flows
    file and the state folder, and say how to fix each problem. Exit 0 if all pass, 1 otherwise."""
    from ..app.doctor import FAIL, WARN, run_checks
    from ..app.types import Message

    sample = None
    if message is not None:
        sample = Message(
            text=message,
            markdown=markdown_title is not None,
            title=markdown_title,
            at_mobiles=tuple(at_mobile),
            at_user_ids=tuple(at_user),
        )
    s = session(ctx)
    checks = run_checks(s.app, names=group, message=sample, offline=offline)
    if json_out:
        s.output.emit_json([c.to_doc() for c in checks])
    else:
        marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
        for c in checks:
            s.output.out(f"[{marks[c.status]}] {c.name}: {c.detail}")
            if c.fix and c.status in (FAIL, WARN):
                s.output.out(f"       fix: {c.fix}")
    if any(c.status in (FAIL, WARN) for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
