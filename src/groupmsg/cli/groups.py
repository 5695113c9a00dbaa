"""`groupmsg groups …`: the group registry (Yida's 群信息记录表)."""

from typing import Annotated

import typer

from . import examples
from .completion import group_names
from .context import session
from .output import interactive

groups_app = typer.Typer(help="Keep the registry of DingTalk groups: name → chat id or webhook.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
GroupArg = Annotated[str, typer.Argument(help="A registered group's name.", autocompletion=group_names)]


@groups_app.command("add", epilog=examples.GROUPS_ADD)
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The group's name (any language, unique).")],
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="The group's chat id (chat/send).")] = None,
    open_conversation_id: Annotated[
        str | None, typer.Option("--open-conversation-id", help="The group's open conversation id (robot API).")
    ] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="A custom robot's webhook URL.")] = None,
    webhook_env: Annotated[
        str | None,
        typer.Option(
            "--webhook-env", help="Name of an environment variable that will hold the webhook URL at send time."
        ),
    ] = None,
    secret: Annotated[
        str | None, typer.Option("--secret", help="The webhook robot's signing secret (SEC…); `-` reads it from stdin.")
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option("--secret-env", help="Name of an environment variable that will hold the secret at send time."),
    ] = None,
    keyword: Annotated[
        list[str],
        typer.Option("--keyword", help="One of the webhook robot's keywords; messages without any are refused early."),
    ] = [],  # noqa: B006
    owner: Annotated[str | None, typer.Option("--owner", help="The group owner's user id (for the record).")] = None,
    allow_host: Annotated[
        str | None,
        typer.Option(
            "--allow-host",
            help="Let the webhook send its access token to HOST, which is not DingTalk's (oapi.dingtalk.com) "
            "nor this machine: your own gateway. Recorded, and shown by `groups show` and `doctor`.",
        ),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace a group already registered under NAME.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Register an existing group by chat id, or a custom-robot webhook group.

    A webhook must point at DingTalk (https://oapi.dingtalk.com) or at this machine (a sandbox);
    any other host, or plain http:// to another machine, needs --allow-host HOST. Keep the signing
    secret off the command line: `--secret -` reads it from stdin, `--secret-env VAR` names the
    variable that will hold it at send time. The URL carries the robot's access token:
    `--webhook-env VAR` keeps only the name of the variable that will hold it.
    """
    if secret == "-":
        from .inputs import read_secret

        secret = read_secret()
    s = session(ctx)
    replacing = replace and s.app.groups.exists(name)
    group = s.app.groups.add(
        name,
        chat_id=chat_id,
        open_conversation_id=open_conversation_id,
        webhook=webhook,
        webhook_env=webhook_env,
        secret=secret,
        secret_env=secret_env,
        keywords=tuple(keyword),
        owner=owner,
        allow_host=allow_host,
        replace=replace,
    )
    if json_out:
        s.output.emit_json(group.public())
    else:
        s.output.out(f"{'replaced' if replacing else 'added'} {group.name} ({group.kind}: {group.address})")


@groups_app.command("set")
def set_(
    ctx: typer.Context,
    name: GroupArg,
    secret: Annotated[
        str | None, typer.Option("--secret", help="A new signing secret (SEC…); `-` reads it from stdin.")
    ] = None,
    secret_env: Annotated[
        str | None, typer.Option("--secret-env", help="Read the secret from this environment variable at send time.")
    ] = None,
    no_secret: Annotated[bool, typer.Option("--no-secret", help="The robot no longer signs (加签 turned off).")] = False,
    webhook: Annotated[str | None, typer.Option("--webhook", help="A new webhook URL (the robot's access_token changed).")] = None,
    keyword: Annotated[
        list[str], typer.Option("--keyword", help="The robot's keywords now (repeat for several; replaces the old ones).")
    ] = [],  # noqa: B006
    no_keywords: Annotated[bool, typer.Option("--no-keywords", help="The robot has no keywords any more.")] = False,
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="A new chat id (app groups).")] = None,
    open_conversation_id: Annotated[
        str | None, typer.Option("--open-conversation-id", help="A new open conversation id (app groups).")
    ] = None,
    owner: Annotated[str | None, typer.Option("--owner", help="A new owner user id (for the record).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a registered group's secret, webhook, keywords or ids in place (the rest is kept).

    E.g. after DingTalk answered 310000 sign not match: copy the robot's 加签 secret again and
    `groupmsg groups set NAME --secret -` (pasted on stdin, so it stays out of the shell history).
    """
    from ..errors import BadInput

    if keyword and no_keywords:
        raise BadInput("--keyword and --no-keywords contradict each other")
    if secret == "-":
        from .inputs import read_secret

        secret = read_secret()
    s = session(ctx)
    group, changed = s.app.groups.set(
        name,
        webhook=webhook,
        secret=secret,
        secret_env=secret_env,
        no_secret=no_secret,
        keywords=() if no_keywords else (tuple(keyword) if keyword else None),
        chat_id=chat_id,
        open_conversation_id=open_conversation_id,
        owner=owner,
    )
    if json_out:
        s.output.emit_json({**group.public(), "changed": changed})
    elif changed:
        s.output.out(f"changed {', '.join(changed)} of {group.name} ({group.kind}: {group.address})")
    else:
        s.output.note(f"{group.name} already had those settings; nothing changed")


@groups_app.command("test")
def test(
    ctx: typer.Context,
    name: GroupArg,
    text: Annotated[
        str, typer.Option("--text", help="The test message (a keyword of the group's robot is added if it has none).")
    ] = "groupmsg 测试消息 / test message",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before sending (never asked without a terminal).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Send a short test message to a group and report DingTalk's verdict (like the 测试 button in a
    robot's settings): exit 0 when DingTalk accepted it, 1 with DingTalk's code and the fix when not.
    A real message: on a terminal it asks first."""
    s = session(ctx)
    group = s.app.groups.show(name)
    question = f"Send a test message to {group.name} ({group.kind}: {group.address})?"
    if not yes and interactive() and not s.output.confirm(question, default=True):
        from ..errors import NothingToDo

        raise NothingToDo("no test message sent")
    from ..errors import DeliveryError

    try:
        group, channel, sent = s.app.groups.test(name, text, s.send_options(timeout=30))
    except DeliveryError as exc:  # DingTalk's verdict (or why there was none), said as such
        exc.message = f"the test message to {group.name} was not delivered: {exc.message}"
        raise
    if json_out:
        s.output.emit_json({"group": group.name, "channel": channel, "accepted": True, "message_id": sent.message_id})
    else:
        ident = f", message id {sent.message_id}" if sent.message_id else ""
        s.output.out(f"DingTalk accepted the test message for {group.name} ({channel}{ident}): look for it in the group")


@groups_app.command("list")
def list_groups(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the registered groups (webhook tokens and secrets masked)."""
    s = session(ctx)
    groups = s.app.groups.list()
    if json_out:
        s.output.emit_json([g.public() for g in groups])
        return
    if not groups:
        s.output.note("no groups registered yet: add one with `groupmsg groups add` or `groupmsg create-group`")
        return
    s.output.table(
        ["name", "kind", "address", "signed", "owner", "source", "added"],
        [
            (g.name, g.kind, g.address, "yes" if (g.secret or g.secret_env) else "", g.owner, g.source, g.created_at)
            for g in groups
        ],
    )


@groups_app.command("show")
def show(ctx: typer.Context, name: GroupArg, json_out: JsonOpt = False) -> None:
    """Show one group (webhook token and secret masked)."""
    s = session(ctx)
    doc = s.app.groups.show(name).public()
    if json_out:
        s.output.emit_json(doc)
        return
    s.output.fields(doc)


@groups_app.command("remove")
def remove(ctx: typer.Context, name: GroupArg, json_out: JsonOpt = False) -> None:
    """Remove a group from the registry (the DingTalk group itself is not touched)."""
    s = session(ctx)
    group = s.app.groups.remove(name)
    if json_out:
        s.output.emit_json(group.public())
    else:
        s.output.out(f"removed {group.name}")


@groups_app.command("rename")
def rename(ctx: typer.Context, old: GroupArg, new: str, json_out: JsonOpt = False) -> None:
    """Rename a group in the registry (the DingTalk group keeps its name)."""
    s = session(ctx)
    group = s.app.groups.rename(old, new)
    if json_out:
        s.output.emit_json(group.public())
    else:
        s.output.out(f"renamed {old} → {group.name}")


FormatOpt = Annotated[
    str | None, typer.Option("--format", help="json or csv (default: from the file name, else json).")
]


def _format(fmt: str | None, path: str | None) -> str:
    from ..app.transfer import FORMATS
    from ..errors import BadInput

    fmt = (fmt or (path.rsplit(".", 1)[-1] if path and "." in path else "json")).lower()
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}", hint="use --format json or --format csv")
    return fmt


@groups_app.command("export")
def export(
    ctx: typer.Context,
    output_file: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")] = None,
    fmt: FormatOpt = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Include webhook URLs and signing secrets (keep the file private).")
    ] = False,
) -> None:
    """Export the registry as JSON or CSV (webhook URLs and secrets left out unless asked).

    CSV cells that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
    return) get a leading ' (removed again by `groups import`)."""
    s = session(ctx)
    exported = s.app.groups.export(_format(fmt, output_file), include_secrets=include_secrets)
    if output_file:
        _write_private(output_file, exported.text)
        s.output.note(f"exported {exported.count} group(s) to {output_file}")
    else:
        s.output.data(exported.text)
    if exported.withheld:
        s.output.note(
            f"{exported.withheld} webhook group(s) exported without their URL and secret; "
            "use --include-secrets for a private backup, or webhook_env and secret_env (variable names) for a file kept in git"
        )


def _write_private(path: str, text: str) -> None:
    """Write a file only its owner can read (it may hold secrets), replacing it atomically."""
    import os
    import tempfile

    from ..errors import BadInput

    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".groupmsg-export-")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise BadInput(f"cannot write {path}: {exc.strerror}") from None


@groups_app.command("import")
def import_(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="A JSON or CSV file as `groups export` writes it; `-` for stdin.")],
    fmt: FormatOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace groups already registered under the same names.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import groups from JSON or CSV: every row is validated first, then all are added or none.

    A webhook whose host is not DingTalk's (nor this machine) needs that host in the row's
    `allow_host` column, as --allow-host does for `groups add`. At most 64 MiB is read."""
    from .inputs import MAX_IMPORT_BYTES, read_value

    fmt = _format(fmt, None if path == "-" else path)
    source = "<stdin>" if path == "-" else path
    text = read_value(None if path == "-" else path, source, max_bytes=MAX_IMPORT_BYTES, encoding="utf-8-sig")
    s = session(ctx)
    groups = s.app.groups.import_(text, fmt, source=source, replace=replace)
    if json_out:
        s.output.emit_json({"imported": len(groups), "names": [g.name for g in groups]})
    else:
        s.output.out(f"imported {len(groups)} group(s) from {source}")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
