"""`groupmsg preview`: how a message will look in DingTalk, without sending it.

Its own module so that a `send` from cron does not build this command too (root.COMMAND_MODULES);
it takes `send`'s message and target options, declared once in messaging.py.
"""

from typing import Annotated

import typer

from .context import session
from .messaging import (
    AllGroupsOpt,
    AtAllOpt,
    AtMobileOpt,
    AtUserOpt,
    ButtonOpt,
    ChatIdOpt,
    FeedOpt,
    GroupOpt,
    HorizontalOpt,
    ImageOpt,
    LinkOpt,
    MarkdownOpt,
    MessageFileOpt,
    OpenConversationIdOpt,
    PicOpt,
    SecretEnvOpt,
    TextOpt,
    TitleOpt,
    WebhookOpt,
    message_from_options,
)


def preview(
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
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="Write the HTML here (default: a file in the temporary folder).")
    ] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open it in a browser.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the verdicts and the rendered messages as JSON.")] = False,
) -> None:
    """Show how a message will look in DingTalk, without sending it: an HTML file rendered exactly
    as the sandbox inbox renders it.

    Takes the same options as `send`. With a group (or --webhook/--chat-id/--open-conversation-id),
    the message is built for that channel with its rules and limits, and the verdict says what
    DingTalk would refuse (exit 2 then). Sends nothing, records nothing.
    """
    from ..app.types import Target
    from ..errors import BadInput

    s = session(ctx)
    msg = message_from_options(ctx, message_file, text, markdown, title, link, pic, button, horizontal, feed, image, at_mobile, at_user, at_all)
    target = Target(webhook=webhook, secret_env=secret_env, chat_id=chat_id, open_conversation_id=open_conversation_id)
    result = s.app.messages.render(group, msg, all_groups=all_groups, target=target)
    path = _write_preview(result.html, output)
    out = s.output
    if json_out:
        out.emit_json({"file": path, "targets": [t.to_doc() for t in result.targets]})
    else:
        for t in result.targets:
            where = f"{t.group} ({t.channel or 'not sendable'})" if t.group else "preview"
            verdict = "DingTalk would accept it" if t.accepted else f"DingTalk would refuse it: {t.refusal}"
            out.out(f"{where}: {verdict}")
            for note in t.notes:
                out.note(f"  note: {note}")
        out.out(f"wrote {path}")
    if open_browser:
        import webbrowser
        from pathlib import Path

        webbrowser.open(Path(path).resolve().as_uri())
    refused = [t for t in result.targets if not t.accepted]
    if refused:
        raise BadInput(
            f"DingTalk would refuse the message for {len(refused)} of {len(result.targets)} group(s)",
            hint="the preview file shows each verdict; fix the message and preview again",
        )


def _write_preview(html: str, output: str | None) -> str:
    import os
    import tempfile

    if output is None:
        fd, output = tempfile.mkstemp(prefix="groupmsg-preview-", suffix=".html")
        os.close(fd)
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(html)
    except OSError as e:
        from ..errors import BadInput

        raise BadInput(f"cannot write {output}: {e.strerror}") from None
    return output



def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
