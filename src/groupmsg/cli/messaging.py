"""`groupmsg send` and `groupmsg create-group`."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..settings import DEFAULT_CONCURRENCY
from .completion import group_names
from .context import session
from .output import Output

if TYPE_CHECKING:
    from ..app.types import Run


def send(
    ctx: typer.Context,
    text: Annotated[
        str | None, typer.Argument(help="The message. `-` (or nothing, when piped) reads it from stdin.")
    ] = None,
    group: Annotated[
        list[str], typer.Option("--group", "-g", help="A registered group's name (or a glob like '项目*'); repeat for several.", autocompletion=group_names)
    ] = [],  # noqa: B006
    all_groups: Annotated[bool, typer.Option("--all", help="Send to every registered group.")] = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Send as markdown (needs --title).")] = False,
    title: Annotated[str | None, typer.Option("--title", help="Markdown title (shown in the chat list).")] = None,
    at_mobile: Annotated[list[str], typer.Option("--at-mobile", help="@ a member by mobile number (webhook groups).")] = [],  # noqa: B006
    at_user: Annotated[list[str], typer.Option("--at-user", help="@ a member by user id (webhook groups).")] = [],  # noqa: B006
    at_all: Annotated[bool, typer.Option("--at-all", help="@ everyone (webhook groups).")] = False,
    dedupe_key: Annotated[
        str | None,
        typer.Option("--dedupe-key", help="Send at most once per KEY (7 days): a repeat exits 0 and sends nothing."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the exact requests; send nothing.")] = False,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up retrying (and waiting for rate limits) after this many seconds (default 60).")
    ] = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail at once (exit 1) instead of waiting for a rate-limit slot.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Requests in flight at once when sending to many groups.")
    ] = DEFAULT_CONCURRENCY,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Send a message to one or more registered groups.

    Webhook groups get the custom-robot webhook (signed when a secret is set); app groups get
    chat/send, or the robot API when DINGTALK_ROBOT_CODE is set. Transient failures are retried;
    DingTalk's rate limits are respected across processes. Exit 1 if any delivery failed.
    """
    from ..app.types import Message, SendOptions, run_failure

    if text is None or text == "-":
        if text is None and sys.stdin.isatty():
            from ..errors import BadInput

            raise BadInput("no message given", hint="give the text as an argument, or `-` to read stdin")
        text = sys.stdin.read()
    msg = Message(
        text=text,
        markdown=markdown,
        title=title,
        at_mobiles=tuple(at_mobile),
        at_user_ids=tuple(at_user),
        at_all=at_all,
    )
    s = session(ctx)
    out = s.output
    if dry_run:
        previews = s.app.messages.preview(group, msg, all_groups=all_groups)
        out.emit_json(previews)
        out.note(f"dry run: {len(previews)} request(s) not sent")
        return
    with out.progress("sending") as progress:
        options = SendOptions(
            timeout=timeout, wait=not no_wait, concurrency=concurrency, on_wait=out.waiting, on_progress=progress
        )
        result = s.app.messages.send(group, msg, options, all_groups=all_groups, dedupe_key=dedupe_key)
    run = result.run
    if json_out:
        out.emit_json({**run.to_doc(), "duplicate": result.duplicate})
    elif result.duplicate and run.status == "running":
        out.note(f"already being sent by another process (run {run.id}, key {dedupe_key!r}); nothing sent")
    elif result.resumed:
        out.note(f"key {dedupe_key!r} belongs to run {run.id}, which had not finished: resumed it")
        _report(out, run)
    elif result.duplicate and run.status == "succeeded":
        out.note(f"already sent (run {run.id} at {run.finished_at}, key {dedupe_key!r}); nothing sent")
    else:
        _report(out, run)
    failure = run_failure(run)
    if failure:
        raise failure


def _report(out: Output, run: "Run") -> None:
    failed = [s for s in run.steps if s.status != "succeeded"]
    if len(run.steps) > 20:  # a broadcast: a summary, and only the failures in detail
        out.out(f"sent to {len(run.steps) - len(failed)} of {len(run.steps)} groups (run {run.id})")
    else:
        for step in run.steps:
            if step.status == "succeeded":
                out.out(f"sent to {step.name} ({step.inputs['channel']})")
    for step in failed:
        err = step.error or {}
        out.error(f"{step.name}: {err.get('message')}", err.get("hint"))


def create_group(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new group's name (1–20 characters).")],
    owner: Annotated[str, typer.Option("--owner", help="The owner's DingTalk user id.")],
    member: Annotated[list[str], typer.Option("--member", "-m", help="A member's user id; repeat for several.")] = [],  # noqa: B006
    template_id: Annotated[
        str | None, typer.Option("--template-id", help="Create a scene group from this template.")
    ] = None,
    reuse: Annotated[
        bool, typer.Option("--reuse", help="If NAME is already registered, use it instead of failing.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the group as JSON.")] = False,
) -> None:
    """Create a DingTalk group through the API and record it in the registry.

    A name that is already registered never creates a second DingTalk group: exit 2, or with
    --reuse the registered group is used.
    """
    s = session(ctx)
    group, created = s.app.groups.create(name, owner, member, template_id=template_id, reuse=reuse)
    if json_out:
        s.output.emit_json({**group.public(), "created": created})
    elif created:
        s.output.out(
            f"created {group.name} (chat id {group.chat_id}, open conversation id {group.open_conversation_id})"
        )
    else:
        s.output.out(f"{group.name} is already registered (chat id {group.chat_id}); reused it")


def register(app: typer.Typer) -> None:
    from . import examples

    app.command("send", epilog=examples.SEND)(send)
    app.command("create-group", epilog=examples.CREATE_GROUP)(create_group)
