"""What each node kind does when a flow runs (the branch node's walking is the engine's).

A runner renders its templates, records them as the step's inputs *before* acting (so a failed
step still shows what it was asked to do), acts — or, in a dry run, describes the request it would
make — and returns the outputs later nodes may read. Failures are GroupmsgErrors; the engine turns
them into a failed step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..dingtalk.messages import Message
from ..errors import BadInput
from ..state.model import Group
from . import forms
from .conditions import is_empty, matches
from .message import people, render
from .model import (
    GROUP_WRITABLE,
    GROUPS_TABLE,
    AddData,
    Arm,
    Branch,
    CreateGroup,
    DeleteData,
    GetData,
    Node,
    SendGroupMessage,
    UpdateData,
)
from .services import FlowServices
from .tables import Tables
from .templating import Scope, Template, to_text

if TYPE_CHECKING:
    from ..state.model import Step
    from .model import FlowsFile

UPDATE_MAX_ROWS = 100  # Yida's cap for 更新数据 (直接更新): a runaway `where` cannot rewrite a whole table
DELETE_MAX_ROWS = 100  # the same cap for 删除数据; more matching rows fail the node before any is deleted


@dataclass
class NodeContext:
    services: FlowServices
    model: FlowsFile
    tables: Tables
    scope: Scope
    flow: str
    run_id: str
    dry_run: bool = False
    previews: list[dict[str, Any]] = field(default_factory=list)  # dry run: what would be done
    placeholders: set[str] = field(default_factory=set)  # dry run: stand-ins for values not known yet

    def render(self, template: Template) -> Any:
        return template.render(self.scope.lookup)

    def text(self, template: Template) -> str:
        return to_text(self.render(template)).strip()

    def preview(self, step: Step, **what: Any) -> None:
        self.previews.append({"node": step.name, "kind": step.kind, **what})

    def placeholder(self, step: Step, output: str) -> str:
        """A dry run's stand-in for a value only the real call would return."""
        value = f"<{output} from {step.name}>"
        self.placeholders.add(value)
        return value

    def resolve_chat(self, chat: str) -> Group:
        if chat in self.placeholders:  # a dry run sending to the group it would have created
            return Group(name=chat, kind="app", chat_id=chat)
        return self.services.directory.resolve(chat)


Runner = Callable[[Any, NodeContext, "Step"], dict[str, Any]]


def _empty(what: str, template: Template, node: Node) -> BadInput:
    return BadInput(
        f"node {node.name}: {what} is empty ({template.source!r} gave no value)",
        hint="check the form fields and earlier nodes it refers to (`groupmsg runs show` lists their values)",
    )


def _people(ctx: NodeContext, template: Template | None) -> tuple[str, ...]:
    """Mobiles or user ids to @: a list (a multiselect field), or text separated by commas/spaces."""
    if template is None:
        return ()
    return people(ctx.render(template))


def _message(node: SendGroupMessage, ctx: NodeContext, step: Step, chat: str) -> Message:
    """The message the node sends, its rendered parts recorded as the step's inputs first."""
    if node.message is not None:

        def empty(what: str, template: Template) -> Exception:
            return _empty(what, template, node)

        step.inputs = {"chat": chat, "kind": node.message.kind}
        msg = render(node.message, ctx.scope.lookup, empty)
        step.inputs["message"] = msg.to_doc()
        return msg
    text = to_text(ctx.render(node.text))
    title = ctx.text(node.title) if node.title else None
    step.inputs = {"chat": chat, "text": text, "markdown": node.markdown, "title": title}
    if not text.strip():
        raise _empty("the message text", node.text, node)
    if node.markdown and not title:
        raise _empty("the markdown title", node.title or Template.literal(""), node)
    at_mobiles, at_users = _people(ctx, node.at_mobiles), _people(ctx, node.at_users)
    if at_mobiles or at_users or node.at_all:
        step.inputs.update(at_mobiles=list(at_mobiles), at_users=list(at_users), at_all=node.at_all)
    return Message(
        text=text,
        markdown=node.markdown,
        title=title if node.markdown else None,  # a plain text message has no title (it was never sent)
        at_mobiles=at_mobiles,
        at_user_ids=at_users,
        at_all=node.at_all,
    )


def send_group_message(node: SendGroupMessage, ctx: NodeContext, step: Step) -> dict[str, Any]:
    chat = ctx.text(node.chat)
    msg = _message(node, ctx, step, chat)
    if not chat:
        raise _empty("the chat", node.chat, node)
    group = ctx.resolve_chat(chat)
    step.inputs.update(group=group.name, to=group.address)
    delivery = ctx.services.delivery
    # The idempotency key DingTalk honours on webhooks: a resumed step cannot post twice.
    built = delivery.build([group], msg, uuids=[f"{ctx.run_id}-{step.id}"])
    (item,) = built.items
    outputs = {"group": group.name, "chat_id": group.chat_id, "channel": item.channel, "message_id": None}
    if ctx.dry_run:
        if built.upload is not None:
            ctx.preview(step, group=group.name, channel="media", request=built.upload.public())
        ctx.preview(step, group=group.name, channel=item.channel, request=item.request.public())
        return outputs
    built = delivery.upload(built, ctx.services.send_options)
    if built.uploaded:
        step.inputs["message"] = built.message.to_doc()  # the media id it was sent with
    sent = delivery.deliver_one(built.items[0], ctx.services.send_options)
    return {**outputs, "message_id": sent.message_id}


def create_group(node: CreateGroup, ctx: NodeContext, step: Step) -> dict[str, Any]:
    name, owner = ctx.text(node.group_name), ctx.text(node.owner)
    members = forms.coerce_list([ctx.render(t) for t in node.members])
    template_id = ctx.text(node.template_id) if node.template_id else None
    step.inputs = {"group_name": name, "owner": owner, "members": members, "template_id": template_id}
    if not name:
        raise _empty("the group name", node.group_name, node)
    if not owner:
        raise _empty("the owner", node.owner, node)
    directory = ctx.services.directory
    # `uuid` makes the scene-group API idempotent: a resumed step cannot create a second group.
    uuid = f"{ctx.run_id}-{step.id}"
    reuse, hint = node.if_exists == "reuse", "choose another name, or set `if_exists: reuse` on the create_group node"
    if not ctx.dry_run:
        group, created = directory.create(
            name, owner, members, template_id=template_id, uuid=uuid, reuse=reuse, reuse_hint=hint, source="flow"
        )
    elif (existing := directory.claim_name(name, template_id=template_id, reuse=reuse, reuse_hint=hint)) is not None:
        group, created = existing, False
    else:
        req = directory.create_request(name, owner, members, template_id=template_id, uuid=uuid)
        ctx.preview(step, request=req.public())
        chat_id, cid = ctx.placeholder(step, "chat_id"), ctx.placeholder(step, "open_conversation_id")
        group, created = Group(name=name, kind="app", chat_id=chat_id, open_conversation_id=cid, owner=owner), True
    return {
        "group_name": group.name,
        "chat_id": group.chat_id,
        "open_conversation_id": group.open_conversation_id,
        "owner": group.owner,
        "created": created,
    }


def _row_values(ctx: NodeContext, table: str, values: tuple[tuple[str, Template], ...]) -> dict[str, Any]:
    """Rendered values, typed as the target form's fields (numbers, dates, lists)."""
    rendered = {column: ctx.render(template) for column, template in values}
    form = ctx.model.form(table)
    if form is None:
        return rendered
    out: dict[str, Any] = {}
    for column, value in rendered.items():
        target = form.field(column)
        try:
            out[column] = forms.coerce(target, value) if target else value
        except forms.FieldError as exc:
            raise BadInput(f"cannot write {to_text(value)!r} to {table}.{column}: it {exc}") from None
    return out


def add_data(node: AddData, ctx: NodeContext, step: Step) -> dict[str, Any]:
    values = _row_values(ctx, node.table, node.values)
    step.inputs = {"table": node.table, "values": values}
    if ctx.dry_run:
        ctx.preview(step, table=node.table, insert=values)
        return {**values, "id": ctx.placeholder(step, "id")}
    return ctx.tables.insert(node.table, values, source=f"flow:{ctx.flow}")


def update_data(node: UpdateData, ctx: NodeContext, step: Step) -> dict[str, Any]:
    table = node.lookup.table
    where = forms.render_where(node.lookup, ctx.scope)
    values = _row_values(ctx, table, node.values)
    step.inputs = {"table": table, "where": where, "values": values}
    rows = ctx.tables.find(table, where)[:UPDATE_MAX_ROWS]
    if not rows:
        return _update_none(node, ctx, step, where, values)
    if ctx.dry_run:
        ctx.preview(step, table=table, update=len(rows), set=values)
    else:
        for row in rows:
            ctx.tables.update(table, row, values)
    return {"count": len(rows), "inserted": False}


def _update_none(
    node: UpdateData, ctx: NodeContext, step: Step, where: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    table = node.lookup.table
    if node.if_none == "fail":
        raise BadInput(f"node {node.name}: no row of {table} matches {_shown(where)}", hint=_none_hint(node))
    if node.if_none == "skip":
        return {"count": 0, "inserted": False}
    writable = GROUP_WRITABLE if table == GROUPS_TABLE else tuple(where)
    row = {**{k: v for k, v in where.items() if k in writable}, **values}
    if ctx.dry_run:
        ctx.preview(step, table=table, insert=row)
    else:
        ctx.tables.insert(table, row, source=f"flow:{ctx.flow}")
    return {"count": 1, "inserted": True}


def get_data(node: GetData, ctx: NodeContext, step: Step) -> dict[str, Any]:
    table = node.lookup.table
    where = forms.render_where(node.lookup, ctx.scope)
    step.inputs = {"table": table, "where": where}
    row = None if any(is_empty(v) for v in where.values()) else ctx.tables.first(table, where)
    if row is not None:
        return {"found": True, **row}
    if node.if_none == "fail":
        raise BadInput(f"node {node.name}: no row of {table} matches {_shown(where)}", hint=_none_hint(node))
    columns = ctx.model.columns(table) or ()
    return {"found": False, **dict.fromkeys(columns)}


def _shown(where: dict[str, Any]) -> str:
    return ", ".join(f"{k} = {to_text(v)!r}" for k, v in where.items())


def _none_hint(node: Node) -> str:
    return f"check the values it looks up, or set `if_none:` on node {node.name} to carry on without a row"


def delete_data(node: DeleteData, ctx: NodeContext, step: Step) -> dict[str, Any]:
    """Delete the matching rows. A `where` with an empty value matches nothing (as in get_data):
    a missing field must not turn into "delete every row whose column is empty"."""
    table = node.lookup.table
    where = forms.render_where(node.lookup, ctx.scope)
    step.inputs = {"table": table, "where": where}
    rows = [] if any(is_empty(v) for v in where.values()) else ctx.tables.find(table, where)
    if len(rows) > DELETE_MAX_ROWS:
        raise BadInput(
            f"node {node.name}: {len(rows)} rows of {table} match {_shown(where)}; "
            f"delete_data removes at most {DELETE_MAX_ROWS} in one run, so it removed none",
            hint="narrow its `where:`",
        )
    if ctx.dry_run:
        ctx.preview(step, table=table, delete=len(rows))
    else:
        for row in rows:
            ctx.tables.delete(table, row)
    return {"count": len(rows)}


def branch(node: Branch, ctx: NodeContext, step: Step) -> dict[str, Any]:
    if node.parallel:
        arms = [a for a in node.arms if a.when is None or matches(a.when, ctx.scope.lookup)]
        step.inputs = {"mode": node.mode, "arms": [a.name for a in node.arms]}
        return {"branches": [a.name for a in arms]}
    arm = choose_arm(node, ctx.scope)
    step.inputs = {"tried": [a.name for a in node.ordered_arms()]}
    return {"branch": arm.name if arm else None}


def choose_arm(node: Branch, scope: Scope) -> Arm | None:
    """The highest-priority arm whose conditions hold; else the default arm; else None."""
    for arm in node.ordered_arms():
        if arm.default or matches(arm.when, scope.lookup):
            return arm
    return None


RUNNERS: dict[type[Node], Runner] = {
    SendGroupMessage: send_group_message,
    CreateGroup: create_group,
    AddData: add_data,
    UpdateData: update_data,
    GetData: get_data,
    DeleteData: delete_data,
    Branch: branch,
}
