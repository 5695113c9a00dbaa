"""Use cases of the group registry (Yida's 群信息记录表): add, list, show, remove, rename, import,
export, and creating a DingTalk group (「创建群聊」 + 新增数据)."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BadInput, DuplicateGroup, GroupmsgError
from ..state.model import Group, check_name

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
        secret: str | None = None,
        secret_env: str | None = None,
        keywords: tuple[str, ...] = (),
        owner: str | None = None,
        allow_host: str | None = None,
        replace: bool = False,
    ) -> Group:
        """Register an existing app group (by chat id) or a custom-robot webhook group. A webhook
        must point at DingTalk (https://oapi.dingtalk.com) or this machine, or at `allow_host`."""
        if webhook and (chat_id or open_conversation_id):
            raise BadInput("give either --webhook or --chat-id/--open-conversation-id, not both")
        if not (webhook or chat_id or open_conversation_id):
            raise BadInput(
                "say how to reach the group",
                hint="add --chat-id ID (an app group) or --webhook URL (a custom robot)",
            )
        if (secret or secret_env or keywords or allow_host) and not webhook:
            raise BadInput("--secret, --secret-env, --keyword and --allow-host apply to webhook groups only")
        if secret and secret_env:
            raise BadInput("give either --secret or --secret-env, not both")
        if webhook:
            group = Group(
                name=name,
                kind="webhook",
                webhook=webhook,
                secret=secret,
                secret_env=secret_env,
                keywords=keywords,
                owner=owner,
                allow_host=allow_host,
            )
        else:
            group = Group(
                name=name, kind="app", chat_id=chat_id, open_conversation_id=open_conversation_id, owner=owner
            )
        return self.registry.add(group.checked(), replace_existing=replace)

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
