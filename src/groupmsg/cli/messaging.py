"""`groupmsg send` and `groupmsg create-group` (and the message options `groupmsg preview` shares)."""

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..settings import DEFAULT_CONCURRENCY
from .completion import group_names
from .context import session
from .output import Output

if TYPE_CHECKING:
    from ..app.types import Message, Run


# The options that say what the message is and where it goes: `send` and `preview` (preview.py) take the same.
TextOpt = Annotated[
    str | None,
    typer.Argument(help="The message (an action card's markdown, a link's text). `-` (or nothing, when piped) reads it from stdin."),
]
GroupOpt = Annotated[
    list[str], typer.Option("--group", "-g", help="A registered group's name (or a glob like '项目*'); repeat for several.", autocompletion=group_names)
]
AllGroupsOpt = Annotated[bool, typer.Option("--all", help="Send to every registered group.")]
WebhookOpt = Annotated[
    str | None, typer.Option("--webhook", help="Send once to this custom robot webhook URL, without the registry.")
]
SecretEnvOpt = Annotated[
    str | None, typer.Option("--secret-env", help="With --webhook: the variable holding the robot's SEC… secret.")
]
ChatIdOpt = Annotated[str | None, typer.Option("--chat-id", help="Send once to this chat id (chat/send), without the registry.")]
OpenConversationIdOpt = Annotated[
    str | None,
    typer.Option("--open-conversation-id", help="Send once to this open conversation id (robot API), without the registry."),
]
MarkdownOpt = Annotated[bool, typer.Option("--markdown", help="Send as markdown (needs --title).")]
TitleOpt = Annotated[
    str | None, typer.Option("--title", help="The title of a markdown message (shown in the chat list), a link or an action card.")
]
LinkOpt = Annotated[str | None, typer.Option("--link", help="Send a link message to this URL (needs --title and TEXT).")]
PicOpt = Annotated[str | None, typer.Option("--pic", help="With --link: the picture's URL.")]
ButtonOpt = Annotated[
    list[str],
    typer.Option("--button", help="Send an action card with a button 'TITLE=URL' (needs --title; TEXT is markdown); repeat for several."),
]
HorizontalOpt = Annotated[bool, typer.Option("--horizontal", help="With several --button: side by side.")]
FeedOpt = Annotated[
    list[str], typer.Option("--feed", help="Send a feed card with a link 'TITLE=URL=PIC_URL' (webhooks); repeat for several.")
]
ImageOpt = Annotated[
    str | None, typer.Option("--image", help="Send an image: a URL (robot API) or a local file (uploaded; chat/send, robot API).")
]
MessageFileOpt = Annotated[
    str | None,
    typer.Option("--message", help="Send the message described in this YAML/JSON document (`-`: stdin): any kind."),
]
AtMobileOpt = Annotated[list[str], typer.Option("--at-mobile", help="@ a member by mobile number (webhook groups).")]
AtUserOpt = Annotated[list[str], typer.Option("--at-user", help="@ a member by user id (webhook groups).")]
AtAllOpt = Annotated[bool, typer.Option("--at-all", help="@ everyone (webhook groups).")]


def send(
    ctx: typer.Context,
    text: TextOpt = None,
    group: GroupOpt = [],  # noqa: B006
    all_groups: AllGroupsOpt = False,
    webhook: WebhookOpt = None,
    secret_env: SecretEnvOpt = None,
    chat_id: ChatIdOpt = None,
    open_conversation_id: OpenConversationIdOpt = None,
    markdown: MarkdownOpt = False,
    title: TitleOpt = None,
    link: LinkOpt = None,
    pic: PicOpt = None,
    button: ButtonOpt = [],  # noqa: B006
    horizontal: HorizontalOpt = False,
    feed: FeedOpt = [],  # noqa: B006
    image: ImageOpt = None,
    message_file: MessageFileOpt = None,
    at_mobile: AtMobileOpt = [],  # noqa: B006
    at_user: AtUserOpt = [],  # noqa: B006
    at_all: AtAllOpt = False,
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
    at_least_once: Annotated[
        bool,
        typer.Option(
            "--at-least-once",
            help="Repeat a request that may have been delivered (HTTP 500/502/504, no answer): "
            "a rare duplicate instead of a lost message. Webhooks never duplicate (msgUuid).",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run as JSON.")] = False,
) -> None:
    """Send a message to one or more registered groups, or once to a webhook or chat id.

    Text by default; --markdown, --link, --button (an action card), --feed (a feed card), --image,
    or any kind from a --message document. Webhook groups get the custom-robot webhook (signed when a
    secret is set); app groups get chat/send, or the robot API when DINGTALK_ROBOT_CODE is set. A kind
    a group's channel does not take is refused (exit 2) before anything is sent. Transient failures
    are retried; DingTalk's rate limits are respected across processes. Exit 1 if any delivery failed.
    """
    from ..app.types import Target, run_failure

    s = session(ctx)
    out = s.output
    msg = message_from_options(ctx, message_file, text, markdown, title, link, pic, button, horizontal, feed, image, at_mobile, at_user, at_all)
    target = Target(webhook=webhook, secret_env=secret_env, chat_id=chat_id, open_conversation_id=open_conversation_id)
    if dry_run:
        previews = s.app.messages.preview(group, msg, all_groups=all_groups, target=target)
        out.emit_json(previews)
        out.note(f"dry run: {len(previews)} request(s) not sent")
        return
    with out.progress("sending") as progress:
        options = s.send_options(
            timeout=timeout, wait=not no_wait, concurrency=concurrency, on_progress=progress, at_least_once=at_least_once
        )
        result = s.app.messages.send(group, msg, options, all_groups=all_groups, dedupe_key=dedupe_key, target=target)
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
        report_failures(out, run)
        raise failure


def message_from_options(
    ctx: typer.Context,
    message_file: str | None,
    text: str | None,
    markdown: bool,
    title: str | None,
    link: str | None,
    pic: str | None,
    buttons: list[str],
    horizontal: bool,
    feeds: list[str],
    image: str | None,
    at_mobile: list[str],
    at_user: list[str],
    at_all: bool,
) -> "Message":
    """The message of `send`'s (and `preview`'s) options: a --message document, or the flags."""
    from ..errors import BadInput

    if message_file is not None:
        given = [flag for flag, on in (("TEXT", text is not None), ("--markdown", markdown), ("--title", title),
                                       ("--link", link), ("--pic", pic), ("--button", buttons), ("--horizontal", horizontal),
                                       ("--feed", feeds), ("--image", image), ("--at-*", at_mobile or at_user or at_all)) if on]
        if given:
            raise BadInput(f"--message is the whole message: drop {', '.join(given)}", hint="put them in the document")
        from .inputs import read_value

        path = None if message_file == "-" else message_file
        missing = (f"no message document at {message_file}", "give a YAML or JSON file, or `-` for stdin")
        document = read_value(path, f"the message document {message_file}", missing=missing)
        return session(ctx).app.messages.load_message(message_file, document)
    # Else the flags: the kind from the one kind flag given (text when none).
    from ..app.types import Message, parse_button, parse_feed_link

    kinds = [(flag, kind) for flag, kind, on in (("--markdown", "markdown", markdown), ("--link", "link", link),
                                                 ("--button", "action_card", buttons), ("--feed", "feed_card", feeds),
                                                 ("--image", "image", image)) if on]
    if len(kinds) > 1:
        raise BadInput(f"{kinds[0][0]} and {kinds[1][0]} make different kinds of message: choose one")
    kind = kinds[0][1] if kinds else "text"
    if pic and not link:
        raise BadInput("--pic goes with --link (the picture of a link message)")
    if horizontal and not buttons:
        raise BadInput("--horizontal goes with --button (several buttons side by side)")
    if kind in ("text", "markdown", "link", "action_card") and (text is None or text == "-"):
        if text is None and sys.stdin.isatty():
            raise BadInput("no message given", hint="give the text as an argument, or `-` to read stdin")
        from .inputs import read_value

        text = read_value(None, "the message read from stdin")
    return Message(
        kind=kind,
        text=text or "",
        title=title,
        url=link,
        pic=pic,
        buttons=tuple(parse_button(b) for b in buttons),
        horizontal=horizontal,
        links=tuple(parse_feed_link(f) for f in feeds),
        image=image,
        at_mobiles=tuple(at_mobile),
        at_user_ids=tuple(at_user),
        at_all=at_all,
    )


def _report(out: Output, run: "Run") -> None:
    failed = [s for s in run.steps if s.status != "succeeded"]
    if len(run.steps) > 20:  # a broadcast: a summary, and only the failures in detail
        out.out(f"sent to {len(run.steps) - len(failed)} of {len(run.steps)} groups (run {run.id})")
    else:
        for step in run.steps:
            if step.status == "succeeded":
                out.out(f"sent to {step.name} ({step.inputs['channel']})")


def report_failures(out: Output, run: "Run") -> None:
    """Each failed step's cause and fix on stderr (with --json too), unless they share one cause,
    which the run's failure then says once."""
    from ..app.types import same_cause

    failed = run.failed_steps
    if len(run.steps) > 1 and not same_cause(failed):
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
