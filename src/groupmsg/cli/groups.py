"""`groupmsg groups …`: the group registry (Yida's 群信息记录表)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import output
from .context import state

groups_app = typer.Typer(help="Keep the registry of DingTalk groups: name → chat id or webhook.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


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
    if (secret or secret_env) and not webhook:
        raise BadInput("--secret and --secret-env apply to webhook groups only")
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
def show(name: str, json_out: JsonOpt = False) -> None:
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
def remove(name: str) -> None:
    """Remove a group from the registry (the DingTalk group itself is not touched)."""
    group = state.app().registry.remove(name)
    output.out(f"removed {group.name}")


@groups_app.command("rename")
def rename(old: str, new: str) -> None:
    """Rename a group in the registry (the DingTalk group keeps its name)."""
    group = state.app().registry.rename(old, new)
    output.out(f"renamed {old} → {group.name}")


def register(app: typer.Typer) -> None:
    app.add_typer(groups_app, name="groups")
