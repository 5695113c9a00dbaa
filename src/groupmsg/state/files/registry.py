"""The group registry (Yida's 群信息记录表): group name → how to reach the group.

Two kinds of group:
- `app`: a group an enterprise app can post to, by `chat_id` (chat/send) and/or
  `open_conversation_id` (the robot API);
- `webhook`: a custom-robot webhook URL, optionally with its signing secret (or the name of the
  environment variable that holds it, for CI).

Storage: TinyDB files sharded by a hash of the name (`registry/groups-NN.json`), so that resolving a
name on the send path reads one small file however many groups there are, and adding a group
rewrites one shard. One lock covers the whole registry so that renames across shards are atomic.
"""

from __future__ import annotations

import builtins
import re
import zlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import DuplicateGroup, UnknownGroup
from ..model import Group, check_name, normalize_name, unknown_group
from .journal import recover, write_all
from .store import Store, file_lock
from .trust import check_folder

SHARDS = 64
TABLE = "groups"
SHARD_NAME = re.compile(r"groups-\d{2}\.json")  # the only files a journal may rename onto


class Registry:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        check_folder(directory)

    @property
    def lock_path(self) -> Path:
        return self.directory / "registry.lock"

    @property
    def journal_path(self) -> Path:
        return self.directory / "registry.journal"

    def _settle(self) -> None:
        """Complete an import that a killed process left half-renamed (cheap when there is none)."""
        if self.journal_path.exists():
            with file_lock(self.lock_path):
                self._recover()

    def _recover(self) -> None:
        recover(self.journal_path, SHARD_NAME)

    def _shard(self, name: str) -> Store:
        index = zlib.crc32(name.encode("utf-8")) % SHARDS
        return Store(self.directory / f"groups-{index:02d}.json", kind="registry")

    def _shards(self) -> builtins.list[Store]:
        if not self.directory.is_dir():
            return []
        return [Store(p, kind="registry") for p in sorted(self.directory.glob("groups-*.json"))]

    # Reading ---------------------------------------------------------------------------------
    def find(self, name: str) -> Group | None:
        name = normalize_name(name)
        self._settle()
        shard = self._shard(name)
        for doc in shard.table(TABLE).values():
            if doc.get("name") == name:
                return shard.convert(doc, Group.from_doc)
        return None

    def get(self, name: str) -> Group:
        group = self.find(name)
        if group is None:
            raise self.unknown(name)
        return group

    def unknown(self, name: str) -> UnknownGroup:
        return unknown_group(name, self.names())

    def list(self) -> builtins.list[Group]:
        self._settle()
        groups = [s.convert(d, Group.from_doc) for s in self._shards() for d in s.table(TABLE).values()]
        return sorted(groups, key=lambda g: g.name)

    def names(self) -> builtins.list[str]:
        return [g.name for g in self.list()]

    def find_by_address(self, chat_id: str) -> Group | None:
        for group in self.list():
            if chat_id in (group.chat_id, group.open_conversation_id):
                return group
        return None

    # Writing ---------------------------------------------------------------------------------
    def add(self, group: Group, *, replace_existing: bool = False) -> Group:
        group = group.stamped()
        shard = self._shard(group.name)
        with file_lock(self.lock_path):
            self._recover()  # before reading the shard, or its write would undo the recovery
            self._insert_locked(shard, group, replace_existing)
        return group

    @staticmethod
    def _insert_locked(shard: Store, group: Group, replace_existing: bool) -> None:
        with shard.transaction(locked=True) as db:
            table = db.table(TABLE)
            existing = table.get(lambda d: d.get("name") == group.name)
            if existing is not None and not replace_existing:
                raise DuplicateGroup(
                    f"a group named {group.name!r} is already registered",
                    hint=f"add --replace to replace it, `groupmsg groups set {group.name} …` to change some of "
                    "its settings (secret, webhook, keywords), or choose another name",
                )
            if existing is not None:
                table.remove(doc_ids=[existing.doc_id])
            table.insert(group.to_doc())

    def add_many(self, groups: builtins.list[Group], *, replace_existing: bool = False) -> int:
        """Add several groups as one step: all of them, or (on a bad row, a duplicate, a crash) none."""
        by_shard: dict[Path, builtins.list[Group]] = {}
        seen: set[str] = set()
        for group in groups:
            g = group.stamped()
            if g.name in seen:
                raise DuplicateGroup(f"{g.name!r} appears twice in the input")
            seen.add(g.name)
            by_shard.setdefault(self._shard(g.name).path, []).append(g)
        with file_lock(self.lock_path):
            self._recover()
            if not replace_existing:
                for g in (g for gs in by_shard.values() for g in gs):
                    if self.find(g.name) is not None:
                        raise DuplicateGroup(
                            f"a group named {g.name!r} is already registered; nothing was added",
                            hint="remove it first, or replace registered groups with --replace",
                        )

            def change(gs: builtins.list[Group]) -> Callable[[Any], None]:
                def apply(db: Any) -> None:
                    table = db.table(TABLE)
                    names = {g.name for g in gs}
                    table.remove(lambda d: d.get("name") in names)
                    table.insert_multiple(g.to_doc() for g in gs)

                return apply

            write_all(
                {path: Store(path, kind="registry").staged(change(gs)) for path, gs in by_shard.items()},
                self.journal_path,
            )
        return len(seen)

    def remove(self, name: str) -> Group:
        name = normalize_name(name)
        shard = self._shard(name)
        with file_lock(self.lock_path):
            self._recover()
            with shard.transaction(locked=True) as db:
                table = db.table(TABLE)
                doc = table.get(lambda d: d.get("name") == name)
                if doc is None:
                    raise self.unknown(name)
                table.remove(doc_ids=[doc.doc_id])
                return shard.convert(dict(doc), Group.from_doc)

    def rename(self, old: str, new: str) -> Group:
        old, new = normalize_name(old), check_name(new)
        with file_lock(self.lock_path):
            self._recover()
            group = self.get(old)
            if old == new:
                return group
            if self.find(new) is not None:
                raise DuplicateGroup(f"a group named {new!r} is already registered")
            renamed = replace(group, name=new).stamped()
            src, dst = self._shard(old), self._shard(new)

            def drop(db: Any) -> None:
                db.table(TABLE).remove(lambda d: d.get("name") == old)

            def put(db: Any) -> None:
                db.table(TABLE).insert(renamed.to_doc())

            def both(db: Any) -> None:
                drop(db)
                put(db)

            if src.path == dst.path:
                write_all({src.path: src.staged(both)}, self.journal_path)
            else:  # two shards change as one step: never both names, never neither
                write_all({src.path: src.staged(drop), dst.path: dst.staged(put)}, self.journal_path)
        return renamed

