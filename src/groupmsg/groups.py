"""Groups as the rest of groupmsg sees them: names, globs and raw chat ids resolved to groups, and
the one rule for creating a DingTalk group (Yida's 「创建群聊」 connector).

`create-group` and the flows' `create_group` node both call `Directory.create`; the command then
records the group (新增数据), while a flow does that with its own `add_data` node.
"""

from __future__ import annotations

import fnmatch
import os
from typing import TYPE_CHECKING

from .errors import BadInput, DuplicateGroup, NothingToDo
from .state.model import Group, check_name, check_text

if TYPE_CHECKING:
    from .dingtalk.client import DingTalkClient, Request
    from .state.base import RegistryStore

GLOB_CHARS = "*?["
GROUP_NAME_MAX = 20  # DingTalk: group names are 1–20 characters
SCENE_TITLE_MAX = 30  # scene-group titles ≤ 30
REUSE_HINT = "pass --reuse to use the registered group, or choose another name"


class Directory:
    def __init__(self, registry: RegistryStore, client: DingTalkClient) -> None:
        self.registry = registry
        self.client = client

    # Resolving -----------------------------------------------------------------------------
    def resolve(self, name_or_id: str) -> Group:
        """A registered group by name; else a raw chat id (`chat…`) or open conversation id (`cid…`)."""
        group = self.registry.find(name_or_id)
        if group is not None:
            return group
        if name_or_id.startswith("chat"):
            return self.registry.find_by_address(name_or_id) or Group(name=name_or_id, kind="app", chat_id=name_or_id)
        if name_or_id.startswith("cid"):
            return self.registry.find_by_address(name_or_id) or Group(
                name=name_or_id, kind="app", open_conversation_id=name_or_id
            )
        return self.registry.get(name_or_id)  # raises UnknownGroup with the closest names

    def targets(self, names: list[str], *, all_groups: bool = False) -> list[Group]:
        """The groups a send names: registered names (exact first), globs like '项目*', or --all."""
        registry = self.registry
        if all_groups:
            groups = registry.list()
            if not groups:
                raise NothingToDo("the registry is empty: there is no group to send to")
            return groups
        if not names:
            raise BadInput("no group given", hint="name one with --group NAME (or --all)")
        chosen: dict[str, Group] = {}
        everything: list[Group] | None = None
        for name in names:
            exact = registry.find(name)  # a registered name wins, even with * ? [ in it
            if exact is not None:
                chosen[exact.name] = exact
            elif any(c in name for c in GLOB_CHARS):
                everything = everything if everything is not None else registry.list()
                matched = [g for g in everything if fnmatch.fnmatchcase(g.name, name)]
                if not matched:
                    raise BadInput(f"no registered group matches {name!r}", hint="see `groupmsg groups list`")
                chosen.update((g.name, g) for g in matched)
            else:
                group = registry.get(name)
                chosen[group.name] = group
        return list(chosen.values())

    # Creating ------------------------------------------------------------------------------
    def create_request(
        self, name: str, owner: str, members: list[str], *, template_id: str | None = None, uuid: str | None = None
    ) -> Request:
        """The request `create` would make (for dry runs)."""
        return self.client.create_group_request(
            name, owner, _with_owner(owner, members), template_id=template_id, uuid=uuid
        )

    def claim_name(
        self, name: str, *, template_id: str | None = None, reuse: bool = False, reuse_hint: str = REUSE_HINT
    ) -> Group | None:
        """The registered group to reuse, or None when a group called `name` may be created.

        A name already in the registry never creates a second DingTalk group: it is an error, or
        with `reuse` the registered group is returned. A name the registry would refuse (control or
        invisible characters) is refused here, before a DingTalk group exists.
        """
        check_name(name)
        existing = self.registry.find(name)
        if existing is not None:
            if reuse:
                return existing
            raise DuplicateGroup(
                f"a group named {existing.name!r} is already registered; no new DingTalk group was created",
                hint=reuse_hint,
            )
        limit = SCENE_TITLE_MAX if template_id else GROUP_NAME_MAX
        if len(name.strip()) > limit:
            raise BadInput(f"DingTalk group names are at most {limit} characters; {name!r} has {len(name.strip())}")
        return None

    def create(
        self,
        name: str,
        owner: str,
        members: list[str],
        *,
        template_id: str | None = None,
        uuid: str | None = None,
        reuse: bool = False,
        reuse_hint: str = REUSE_HINT,
        source: str = "create-group",
    ) -> tuple[Group, bool]:
        """Create a DingTalk group (after `claim_name`); returns (group, created). The group is not
        recorded here. A scene group carries an idempotency key (`uuid`, generated when not given),
        so a retry after a lost answer creates no second group."""
        existing = self.claim_name(name, template_id=template_id, reuse=reuse, reuse_hint=reuse_hint)
        if existing is not None:
            return existing, False
        check_text(owner, "the owner")  # recorded with the group: refused before the group exists
        if template_id and uuid is None:
            uuid = f"groupmsg-{os.urandom(8).hex()}"
        chat_id, cid = self.client.create_group(
            name, owner, _with_owner(owner, members), template_id=template_id, uuid=uuid
        )
        group = Group(
            name=name, kind="app", chat_id=chat_id or None, open_conversation_id=cid or None, owner=owner, source=source
        )
        return group, True


def _with_owner(owner: str, members: list[str]) -> list[str]:
    """DingTalk wants the owner among the members."""
    return list(dict.fromkeys([owner, *members]))
