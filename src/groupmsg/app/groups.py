"""Use cases of the group registry (Yida's 群信息记录表): add, list, show, remove, rename, import,
export, and creating a DingTalk group (「创建群聊」 + 新增数据)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from ..errors import BadInput, DuplicateGroup, GroupmsgError
from ..state.model import Group, check_env_name, check_name

if TYPE_CHECKING:
    from ..delivery import DeliveryService, SendOptions
    from ..dingtalk.client import Sent
    from ..groups import Directory
    from ..state.base import RegistryStore


@dataclass(frozen=True)
class Export:
    text: str
    count: int
    withheld: int  # webhook groups exported without their URL and secret


class GroupsService:
    def __init__(
        self,
        registry: RegistryStore,
        directory: Callable[[], Directory],
        delivery: Callable[[], DeliveryService] | None = None,
    ) -> None:
        self.registry = registry
        self._directory = directory  # the DingTalk client is built only to create a group
        self._delivery_of = delivery  # … or to send a test message

    def _delivery(self) -> DeliveryService:
        assert self._delivery_of is not None, "App wires the delivery service"
        return self._delivery_of()

    def add(
        self,
        name: str,
        *,
        chat_id: str | None = None,
        open_conversation_id: str | None = None,
        webhook: str | None = None,
        webhook_env: str | None = None,
        secret: str | None = None,
        secret_env: str | None = None,
        keywords: tuple[str, ...] = (),
        owner: str | None = None,
        allow_host: str | None = None,
        replace: bool = False,
    ) -> Group:
        """Register an existing app group (by chat id) or a custom-robot webhook group. A webhook
        must point at DingTalk (https://oapi.dingtalk.com) or this machine, or at `allow_host`; its
        URL is given, or read at send time from the variable `webhook_env` names."""
        group = self._build(
            name,
            chat_id=chat_id,
            open_conversation_id=open_conversation_id,
            webhook=webhook,
            webhook_env=webhook_env,
            secret=secret,
            secret_env=secret_env,
            keywords=keywords,
            owner=owner,
            allow_host=allow_host,
        )
        return self.registry.add(group, replace_existing=replace)

    def _build(
        self,
        name: str,
        *,
        chat_id: str | None,
        open_conversation_id: str | None,
        webhook: str | None,
        secret: str | None,
        secret_env: str | None,
        keywords: tuple[str, ...],
        owner: str | None,
        allow_host: str | None,
        webhook_env: str | None = None,
    ) -> Group:
        """A group from what a person gave, every rule checked (`add` and `set` both come here)."""
        if webhook and webhook_env:
            raise BadInput("give either --webhook or --webhook-env, not both")
        if (webhook or webhook_env) and (chat_id or open_conversation_id):
            raise BadInput("give either --webhook or --chat-id/--open-conversation-id, not both")
        if not (webhook or webhook_env or chat_id or open_conversation_id):
            raise BadInput(
                "say how to reach the group",
                hint="add --chat-id ID (an app group) or --webhook URL (a custom robot)",
            )
        if (secret or secret_env or keywords or allow_host) and not (webhook or webhook_env):
            raise BadInput("--secret, --secret-env, --keyword and --allow-host apply to webhook groups only")
        if secret and secret_env:
            raise BadInput("give either --secret or --secret-env, not both")
        if webhook or webhook_env:
            group = Group(
                name=name,
                kind="webhook",
                webhook=webhook,
                webhook_env=check_env_name(webhook_env, "--webhook-env") if webhook_env else None,
                secret=secret,
                secret_env=secret_env,
                keywords=keywords,
                owner=owner,
                allow_host=allow_host,
            )
        else:
            group = Group(name=name, kind="app", chat_id=chat_id, open_conversation_id=open_conversation_id, owner=owner)
        return group.checked()

    def exists(self, name: str) -> bool:
        return self.registry.find(name) is not None

    def set(
        self,
        name: str,
        *,
        webhook: str | None = None,
        secret: str | None = None,
        secret_env: str | None = None,
        no_secret: bool = False,
        keywords: tuple[str, ...] | None = None,
        chat_id: str | None = None,
        open_conversation_id: str | None = None,
        owner: str | None = None,
    ) -> tuple[Group, builtins.list[str]]:
        """Change some of a registered group's settings in place (the rest, its name, source and
        creation time stay); returns the group and the names of the settings that changed."""
        current = self.registry.get(name)
        if not any(v is not None for v in (webhook, secret, secret_env, keywords, chat_id, open_conversation_id, owner)) \
                and not no_secret:
            raise BadInput(
                f"nothing to change for {current.name!r}",
                hint="give what to change: --secret, --secret-env, --webhook, --keyword, --chat-id, …",
            )
        if no_secret and (secret or secret_env):
            raise BadInput("--no-secret contradicts --secret / --secret-env")
        if current.kind == "webhook" and (chat_id or open_conversation_id):
            raise BadInput(
                f"{current.name!r} is a webhook group; an app group needs its chat id instead",
                hint=f"`groupmsg groups add {current.name} --chat-id ID --replace` replaces it",
            )
        if current.kind == "app" and (webhook or secret or secret_env or no_secret or keywords is not None):
            raise BadInput(
                f"{current.name!r} is an app group (chat id); secrets, webhooks and keywords belong to webhook groups",
                hint=f"`groupmsg groups add {current.name} --webhook URL --replace` replaces it",
            )
        keep_secret = not (secret or secret_env or no_secret)
        group = self._build(
            current.name,
            chat_id=chat_id or current.chat_id,
            open_conversation_id=open_conversation_id or current.open_conversation_id,
            webhook=webhook or current.webhook,
            secret=secret or (current.secret if keep_secret else None),
            secret_env=secret_env or (current.secret_env if keep_secret else None),
            keywords=current.keywords if keywords is None else keywords,
            owner=owner or current.owner,
            allow_host=current.allow_host,
        )
        group = replace(group, source=current.source, created_at=current.created_at)
        changed = [f.name for f in fields(Group) if getattr(group, f.name) != getattr(current, f.name)]
        return self.registry.add(group, replace_existing=True), changed

    def test(self, name: str, text: str, options: SendOptions) -> tuple[Group, str, Sent]:
        """Send a short test message to a registered group (like the 测试 button of a robot's
        settings): (the group, the channel, what DingTalk answered); raises its refusal."""
        from ..dingtalk.messages import Message

        group = self.registry.get(name)
        if group.keywords and not any(k in text for k in group.keywords):
            text = f"{group.keywords[0]} {text}"  # the robot would refuse it without one
        delivery = self._delivery()
        item = delivery.prepare(group, Message(text=text))
        return group, item.channel, delivery.deliver_one(item, options)

    def list(self) -> builtins.list[Group]:
        return self.registry.list()

    def names(self) -> builtins.list[str]:
        return self.registry.names()

    def show(self, name: str) -> Group:
        return self.registry.get(name)

    def remove(self, name: str) -> Group:
        return self.registry.remove(name)

    def rename(self, old: str, new: str) -> Group:
        return self.registry.rename(old, check_name(new))

    def export(self, fmt: str, *, include_secrets: bool) -> Export:
        from .transfer import dumps, export_rows

        rows, withheld = export_rows(self.registry.list(), include_secrets=include_secrets)
        return Export(dumps(rows, fmt), len(rows), withheld)

    def import_(self, text: str, fmt: str, *, source: str, replace: bool) -> builtins.list[Group]:
        """Every row validated first, then all of them added as one step, or none."""
        from .transfer import loads

        groups = loads(text, fmt, source)
        self.registry.add_many(groups, replace_existing=replace)
        return groups

    def create(
        self, name: str, owner: str, members: builtins.list[str], *, template_id: str | None = None, reuse: bool = False
    ) -> tuple[Group, bool]:
        """Create a DingTalk group and record it; returns (group, created)."""
        group, created = self._directory().create(name, owner, members, template_id=template_id, reuse=reuse)
        if not created:
            return group, False
        try:
            return self.registry.add(group), True
        except GroupmsgError as exc:  # another process registered the name meanwhile, or the state is unsafe
            register = f"groupmsg groups add NAME --chat-id {group.chat_id}"
            raise type(exc)(
                f"created DingTalk group {name!r} (chat id {group.chat_id}, open conversation id "
                f"{group.open_conversation_id}) but could not record it: {exc.message}",
                hint=f"register it under another name: {register}"
                if isinstance(exc, DuplicateGroup)
                else f"{exc.hint or 'fix that'}; then register it: {register.replace('NAME', repr(name))}",
            ) from None
