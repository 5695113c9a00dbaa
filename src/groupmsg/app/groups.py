"""Use cases of the group registry (Yida's 群信息记录表): add, list, show, remove, rename, import,
export, and creating a DingTalk group (「创建群聊」 + 新增数据)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInput, GroupmsgError
from ..state.model import Group, check_env_name, check_secret, parse_webhook

if TYPE_CHECKING:
    from ..groups import Directory
    from ..state.base import RegistryStore


@dataclass(frozen=True)
class Export:
    text: str
    count: int
    withheld: int  # webhook groups exported without their URL and secret


class GroupsService:
    def __init__(self, registry: RegistryStore, directory: Callable[[], Directory]) -> None:
        self.registry = registry
        self._directory = directory  # the DingTalk client is built only to create a group

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
        replace: bool = False,
    ) -> Group:
        """Register an existing app group (by chat id) or a custom-robot webhook group (its URL given,
        or read at send time from the variable `webhook_env` names)."""
        if webhook and webhook_env:
            raise BadInput("give either --webhook or --webhook-env, not both")
        if (webhook or webhook_env) and (chat_id or open_conversation_id):
            raise BadInput("give either --webhook or --chat-id/--open-conversation-id, not both")
        if not (webhook or webhook_env or chat_id or open_conversation_id):
            raise BadInput(
                "say how to reach the group",
                hint="add --chat-id ID (an app group) or --webhook URL (a custom robot)",
            )
        if (secret or secret_env or keywords) and not (webhook or webhook_env):
            raise BadInput("--secret, --secret-env and --keyword apply to webhook groups only")
        if secret and secret_env:
            raise BadInput("give either --secret or --secret-env, not both")
        if webhook or webhook_env:
            group = Group(
                name=name,
                kind="webhook",
                webhook=parse_webhook(webhook) if webhook else None,
                webhook_env=check_env_name(webhook_env, "--webhook-env") if webhook_env else None,
                secret=check_secret(secret) if secret else None,
                secret_env=secret_env,
                keywords=keywords,
                owner=owner,
            )
        else:
            group = Group(
                name=name, kind="app", chat_id=chat_id, open_conversation_id=open_conversation_id, owner=owner
            )
        return self.registry.add(group, replace_existing=replace)

    def list(self) -> builtins.list[Group]:
        return self.registry.list()

    def names(self) -> builtins.list[str]:
        return self.registry.names()

    def show(self, name: str) -> Group:
        return self.registry.get(name)

    def remove(self, name: str) -> Group:
        return self.registry.remove(name)

    def rename(self, old: str, new: str) -> Group:
        return self.registry.rename(old, new)

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
        except GroupmsgError as exc:  # e.g. another process registered the name meanwhile
            raise type(exc)(
                f"created DingTalk group {name!r} (chat id {group.chat_id}, open conversation id "
                f"{group.open_conversation_id}) but could not record it: {exc.message}",
                hint=f"register it under another name: groupmsg groups add NAME --chat-id {group.chat_id}",
            ) from None
