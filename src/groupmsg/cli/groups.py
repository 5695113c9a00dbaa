"""`groupmsg groups …`: the group registry (Yida's 群信息记录表)."""

import sys
from typing import Annotated

import typer

from . import examples
from .completion import group_names
from .context import session

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
    replace: Annotated[bool, typer.Option("--replace", help="Replace a group already registered under NAME.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Register an existing group by chat id, or a custom-robot webhook group.

    A webhook URL carries the robot's access token: with --webhook-env (and --secret-env) the
    registry keeps only the names of the variables that hold them at send time.
    """
    if secret == "-":
        secret = sys.stdin.readline().strip()
    s = session(ctx)
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
        replace=replace,
    )
    if json_out:
        s.output.emit_json(group.public())
    else:
        s.output.out(f"added {group.name} ({group.kind}: {group.address})")


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
    for key, value in doc.items():
        if value not in (None, ""):
            s.output.out(f"{key:<22} {value}")


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
    """Export the registry as JSON or CSV (webhook URLs and secrets left out unless asked)."""
    s = session(ctx)
    exported = s.app.groups.export(_format(fmt, output_file), include_secrets=include_secrets)
    if output_file:
        _write_private(output_file, exported.text)
        s.output.note(f"exported {exported.count} group(s) to {output_file}")
    else:
        sys.stdout.write(exported.text)
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
    """Import groups from JSON or CSV: every row is validated first, then all are added or none."""
    from ..errors import BadInput

    fmt = _format(fmt, None if path == "-" else path)
    if path == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        try:
            with open(path, encoding="utf-8-sig") as fh:
                text, source = fh.read(), path
        except OSError as exc:
            raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    s = session(ctx)
    groups = s.app.groups.import_(text, fmt, source=source, replace=replace)
    if json_out:
        s.output.emit_json({"imported": len(groups), "names": [g.name for g in groups]})
    else:
        s.output.out(f"imported {len(groups)} group(s) from {source}")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
