"""A registry file kept in git (`--registry-file` / GROUPMSG_REGISTRY_FILE), laid over the store's registry.

The file is a read-only source of groups, in the format `groups export` writes and `groups import`
reads (JSON or CSV); it is parsed by that same import path, which the app passes in (`parse`), so
one set of rules applies to both. A file meant for a repository carries no secrets: a webhook
group names the variables that hold its URL and signing secret (`webhook_env`, `secret_env`).

Reads look in the file first, then in the store: a fresh CI runner or a new host knows its groups
with one setting. Writes go to the store, except for names the file defines, which are refused
(edit the file instead) so that a `groups add` can never be silently shadowed by it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import BadInput, ConfigError, DuplicateGroup
from .model import Group, normalize_name, unknown_group

if TYPE_CHECKING:
    from .base import (
        DedupeStore,
        RateLimitStore,
        RecordStore,
        RegistryStore,
        RunStore,
        ScheduleStore,
        State,
        TokenStore,
    )

# (file text, format, the file's name for messages) → the groups, every row validated.
Parser = Callable[[str, str, str], builtins.list[Group]]
SOURCE = "file"  # the `source` of a group read from the registry file


class RegistryFile:
    """The groups of one file, read (and validated) on first use."""

    def __init__(self, path: Path, parse: Parser) -> None:
        self.path = path
        self._parse = parse
        self._groups: dict[str, Group] | None = None

    def groups(self) -> dict[str, Group]:
        if self._groups is None:
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise ConfigError(
                    f"registry file {self.path} does not exist",
                    hint="check --registry-file / GROUPMSG_REGISTRY_FILE (a relative path is from the current folder)",
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read registry file {self.path}: {exc}") from None
            fmt = "csv" if self.path.suffix.lower() == ".csv" else "json"
            parsed = self._parse(text, fmt, str(self.path))
            self._groups = {}
            for group in parsed:
                if group.name in self._groups:
                    raise ConfigError(f"{self.path}: the group {group.name!r} is defined twice")
                self._groups[group.name] = replace(group, source=SOURCE)
        return self._groups

    def refuse(self, name: str) -> None:
        """A write to a name the file defines."""
        try:
            key = normalize_name(name)
        except BadInput:
            return  # the store refuses it with its own message
        if key in self.groups():
            raise DuplicateGroup(
                f"the group {key!r} is defined in the registry file {self.path}, which is read-only",
                hint="edit the file (it is kept in git), or give the group in the store another name",
            )


class LayeredRegistry:
    """The file's groups over the store's registry (a RegistryStore)."""

    def __init__(self, file: RegistryFile, store: RegistryStore) -> None:
        self.file = file
        self.store = store

    def find(self, name: str) -> Group | None:
        return self.file.groups().get(normalize_name(name)) or self.store.find(name)

    def get(self, name: str) -> Group:
        group = self.find(name)
        if group is None:
            raise unknown_group(normalize_name(name), self.names())
        return group

    def list(self) -> builtins.list[Group]:
        fixed = self.file.groups()
        return sorted([*fixed.values(), *(g for g in self.store.list() if g.name not in fixed)], key=lambda g: g.name)

    def names(self) -> builtins.list[str]:
        return [g.name for g in self.list()]

    def find_by_address(self, chat_id: str) -> Group | None:
        for group in self.file.groups().values():
            if chat_id in (group.chat_id, group.open_conversation_id):
                return group
        return self.store.find_by_address(chat_id)

    def add(self, group: Group, *, replace_existing: bool = False) -> Group:
        self.file.refuse(group.name)
        return self.store.add(group, replace_existing=replace_existing)

    def add_many(self, groups: builtins.list[Group], *, replace_existing: bool = False) -> int:
        for group in groups:
            self.file.refuse(group.name)
        return self.store.add_many(groups, replace_existing=replace_existing)

    def remove(self, name: str) -> Group:
        self.file.refuse(name)
        return self.store.remove(name)

    def rename(self, old: str, new: str) -> Group:
        self.file.refuse(old)
        self.file.refuse(new)
        return self.store.rename(old, new)


class WithRegistryFile:
    """A State whose registry is the file laid over the backend's; everything else is the backend's."""

    def __init__(self, state: State, file: RegistryFile) -> None:
        self.inner = state
        self.file = file
        self._registry: LayeredRegistry | None = None

    @property
    def registry(self) -> RegistryStore:
        if self._registry is None:
            self._registry = LayeredRegistry(self.file, self.inner.registry)
        return self._registry

    @property
    def runs(self) -> RunStore:
        return self.inner.runs

    @property
    def records(self) -> RecordStore:
        return self.inner.records

    @property
    def dedupe(self) -> DedupeStore:
        return self.inner.dedupe

    @property
    def limits(self) -> RateLimitStore:
        return self.inner.limits

    @property
    def tokens(self) -> TokenStore:
        return self.inner.tokens

    @property
    def schedules(self) -> ScheduleStore:
        return self.inner.schedules

    def describe(self) -> dict[str, str]:
        described = self.inner.describe()
        return {**described, "registry": f"{self.file.path} (read-only), then {described.get('registry', '')}"}

    def probe(self) -> builtins.list[tuple[str, str, str, str | None]]:
        return self.inner.probe()

    def close(self) -> None:
        self.inner.close()
