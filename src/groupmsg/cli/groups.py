"""`groupmsg groups …`: the group registry (Yida's 群信息记录表)."""

import sys
from typing import Annotated

import typer

from . import output
from .completion import group_names
from .context import state

groups_app = typer.Typer(help="Keep the registry of DingTalk groups: name → chat id or webhook.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
GroupArg = Annotated[str, typer.Argument(help="A registered group's name.", autocompletion=group_names)]


@groups_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The group's name (any language, unique).")],
    chat_id: Annotated[str | None, typer.Option("--chat-id", help="The group's chat id (chat/send).")] = None,
    open_conversation_id: Annotated[
        str | None, typer.Option("--open-conversation-id", help="The group's open conversation id (robot API).")
    ] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="A custom robot's webhook URL.")] = None,
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
    """Register an existing group by chat id, or a custom-robot webhook group."""
    from ..errors import BadInput
    from ..registry import Group, check_secret, parse_webhook

    if webhook and (chat_id or open_conversation_id):
        raise BadInput("give either --webhook or --chat-id/--open-conversation-id, not both")
    if not (webhook or chat_id or open_conversation_id):
        raise BadInput(
            "say how to reach the group",
            hint="add --chat-id ID (an app group) or --webhook URL (a custom robot)",
        )
    if (secret or secret_env or keyword) and not webhook:
        raise BadInput("--secret, --secret-env and --keyword apply to webhook groups only")
    if secret and secret_env:
        raise BadInput("give either --secret or --secret-env, not both")
    if secret == "-":
        secret = sys.stdin.readline().strip()
    if webhook:
        group = Group(
            name=name,
            kind="webhook",
            webhook=parse_webhook(webhook),
            secret=check_secret(secret) if secret else None,
            secret_env=secret_env,
            keywords=tuple(keyword),
            owner=owner,
        )
    else:
        group = Group(name=name, kind="app", chat_id=chat_id, open_conversation_id=open_conversation_id, owner=owner)
    group = state.app().registry.add(group, replace_existing=replace)
    if json_out:
        output.emit_json(group.public())
    else:
        output.out(f"added {group.name} ({group.kind}: {group.address})")


@groups_app.command("list")
def list_groups(json_out: JsonOpt = False) -> None:
    """List the registered groups (webhook tokens and secrets masked)."""
    groups = state.app().registry.list()
    if json_out:
        output.emit_json([g.public() for g in groups])
        return
    if not groups:
        output.note("no groups registered yet: add one with `groupmsg groups add` or `groupmsg create-group`")
        return
    output.table(
        ["name", "kind", "address", "signed", "owner", "source", "added"],
        [
            (g.name, g.kind, g.address, "yes" if (g.secret or g.secret_env) else "", g.owner, g.source, g.created_at)
            for g in groups
        ],
    )


@groups_app.command("show")
def show(name: GroupArg, json_out: JsonOpt = False) -> None:
    """Show one group (webhook token and secret masked)."""
    group = state.app().registry.get(name)
    doc = group.public()
    if json_out:
        output.emit_json(doc)
        return
    for key, value in doc.items():
        if value not in (None, ""):
            output.out(f"{key:<22} {value}")


@groups_app.command("remove")
def remove(name: GroupArg, json_out: JsonOpt = False) -> None:
    """Remove a group from the registry (the DingTalk group itself is not touched)."""
    group = state.app().registry.remove(name)
    if json_out:
        output.emit_json(group.public())
    else:
        output.out(f"removed {group.name}")


@groups_app.command("rename")
def rename(old: GroupArg, new: str, json_out: JsonOpt = False) -> None:
    """Rename a group in the registry (the DingTalk group keeps its name)."""
    group = state.app().registry.rename(old, new)
    if json_out:
        output.emit_json(group.public())
    else:
        output.out(f"renamed {old} → {group.name}")


FormatOpt = Annotated[
    str | None, typer.Option("--format", help="json or csv (default: from the file name, else json).")
]


def _format(fmt: str | None, path: str | None) -> str:
    from ..errors import BadInput
    from ..registry_io import FORMATS

    fmt = (fmt or (path.rsplit(".", 1)[-1] if path and "." in path else "json")).lower()
    if fmt not in FORMATS:
        raise BadInput(f"unknown format {fmt!r}", hint="use --format json or --format csv")
    return fmt


@groups_app.command("export")
def export(
    output_file: Annotated[str | None, typer.Option("--output", "-o", help="Write to this file (default stdout).")] = None,
    fmt: FormatOpt = None,
    include_secrets: Annotated[
        bool, typer.Option("--include-secrets", help="Include webhook URLs and signing secrets (keep the file private).")
    ] = False,
) -> None:
    """Export the registry as JSON or CSV (webhook URLs and secrets left out unless asked)."""
    from ..registry_io import dumps, export_rows
    from ..store import atomic_write

    fmt = _format(fmt, output_file)
    rows, withheld = export_rows(state.app().registry.list(), include_secrets=include_secrets)
    text = dumps(rows, fmt)
    if output_file:
        from pathlib import Path

        atomic_write(Path(output_file), text.encode("utf-8"))
        output.note(f"exported {len(rows)} group(s) to {output_file}")
    else:
        sys.stdout.write(text)
    if withheld:
        output.note(
            f"{withheld} webhook group(s) exported without their URL and secret; "
            "use --include-secrets for a private backup, or secret_env for a file kept in git"
        )


@groups_app.command("import")
def import_(
    path: Annotated[str, typer.Argument(help="A JSON or CSV file as `groups export` writes it; `-` for stdin.")],
    fmt: FormatOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Replace groups already registered under the same names.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import groups from JSON or CSV: every row is validated first, then all are added or none."""
    from ..errors import BadInput
    from ..registry_io import loads

    fmt = _format(fmt, None if path == "-" else path)
    if path == "-":
        text, source = sys.stdin.read(), "<stdin>"
    else:
        try:
            with open(path, encoding="utf-8-sig") as fh:
                text, source = fh.read(), path
        except OSError as exc:
            raise BadInput(f"cannot read {path}: {exc.strerror}") from None
    groups = loads(text, fmt, source)
    count = state.app().registry.add_many(groups, replace_existing=replace)
    if json_out:
        output.emit_json({"imported": count, "names": [g.name for g in groups]})
    else:
        output.out(f"imported {count} group(s) from {source}")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
