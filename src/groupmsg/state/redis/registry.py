"""The group registry in one Redis hash: `<prefix>registry`, name → the group's JSON document.

A send resolves a name with one HGET; adding, removing and renaming are one script each, so two
hosts adding the same name at once register it once, and a rename is never both names or neither.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import replace
from typing import Any

from ...errors import DuplicateGroup, UnknownGroup
from ..model import Group, check_name, normalize_name, unknown_group
from .conn import Conn, dumps


class RedisRegistry:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.key = conn.key("registry")

    @staticmethod
    def _group(raw: Any) -> Group:
        return Group.from_doc(json.loads(raw))

    # Reading ---------------------------------------------------------------------------------
    def find(self, name: str) -> Group | None:
        name = normalize_name(name)
        (raw,) = self.conn.pipeline_first(lambda pipe: pipe.hget(self.key, name))
        return None if raw is None else self._group(raw)

    def get(self, name: str) -> Group:
        group = self.find(name)
        if group is None:
            raise self.unknown(name)
        return group

    def unknown(self, name: str) -> UnknownGroup:
        return unknown_group(name, self.names())

    def list(self) -> builtins.list[Group]:
        docs = self.conn.call(lambda r: r.hvals(self.key))
        return sorted((self._group(d) for d in docs), key=lambda g: g.name)

    def names(self) -> builtins.list[str]:
        return sorted(self.conn.call(lambda r: r.hkeys(self.key)))

    def find_by_address(self, chat_id: str) -> Group | None:
        for group in self.list():
            if chat_id in (group.chat_id, group.open_conversation_id):
                return group
        return None

    # Writing ---------------------------------------------------------------------------------
    def add(self, group: Group, *, replace_existing: bool = False) -> Group:
        group = group.stamped()
        added = self.conn.run(
            "REGISTRY_ADD", [self.key], [group.name, dumps(group.to_doc()), "1" if replace_existing else "0"]
        )
        if not added:
            raise DuplicateGroup(
                f"a group named {group.name!r} is already registered",
                hint="choose another name, or `groupmsg groups remove` it first",
            )
        return group

    def add_many(self, groups: builtins.list[Group], *, replace_existing: bool = False) -> int:
        """Add several groups as one step (one script): all of them, or none."""
        args: builtins.list[str] = ["1" if replace_existing else "0"]
        seen: set[str] = set()
        for group in groups:
            g = group.stamped()
            if g.name in seen:
                raise DuplicateGroup(f"{g.name!r} appears twice in the input")
            seen.add(g.name)
            args += [g.name, dumps(g.to_doc())]
        taken = self.conn.run("REGISTRY_ADD_MANY", [self.key], args)
        if taken:
            raise DuplicateGroup(
                f"a group named {taken!r} is already registered; nothing was added",
                hint="remove it first, or replace registered groups with --replace",
            )
        return len(seen)

    def remove(self, name: str) -> Group:
        name = normalize_name(name)
        raw = self.conn.run("REGISTRY_REMOVE", [self.key], [name])
        if raw is None:
            raise self.unknown(name)
        return self._group(raw)

    def rename(self, old: str, new: str) -> Group:
        old, new = normalize_name(old), check_name(new)
        while True:  # compare-and-set: read, then rename only if nobody changed the group meanwhile
            (raw,) = self.conn.pipeline_first(lambda pipe: pipe.hget(self.key, old))
            if raw is None:
                raise self.unknown(old)
            group = self._group(raw)
            if old == new:
                return group
            renamed = replace(group, name=new)
            outcome = self.conn.run("REGISTRY_RENAME", [self.key], [old, new, raw, dumps(renamed.to_doc())])
            if outcome == "done":
                return renamed
            if outcome == "taken":
                raise DuplicateGroup(f"a group named {new!r} is already registered")
            if outcome == "missing":
                raise self.unknown(old)
