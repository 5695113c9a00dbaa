"""Tables that forms and data nodes read and write: the group registry (`groups`) and each form's
records (a table named after the form).

Rows are plain dicts. Every read returns rows newest first, and every lookup that expects one row
takes the first: **when several rows match, the most recently created one wins** (Yida's get-data
node returns the first after sorting; newest first is the order a form user expects).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import BadInput
from ..state.model import Group, Record
from .model import GROUP_COLUMNS, GROUP_WRITABLE, GROUPS_TABLE, FlowsFile
from .templating import to_text

if TYPE_CHECKING:
    from ..state.base import RecordStore, RegistryStore


def group_row(group: Group) -> dict[str, Any]:
    return {c: getattr(group, c) for c in GROUP_COLUMNS}


# Told of every form record a data node writes: (form, created | updated | deleted, the record).
OnWrite = Callable[[str, str, Record], None]


class Tables:
    def __init__(
        self, registry: RegistryStore, records: RecordStore, model: FlowsFile, *, on_write: OnWrite | None = None
    ) -> None:
        self.registry = registry
        self.records = records
        self.model = model
        self.on_write = on_write  # how 「允许自动触发」 learns of records written by a flow

    # Reading ---------------------------------------------------------------------------------
    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row, newest first."""
        if table == GROUPS_TABLE:  # newest first, so options from it keep their places as groups are added
            for group in sorted(self.registry.list(), key=lambda g: (g.created_at, g.name), reverse=True):
                yield group_row(group)
            return
        for record in self.records.iter(table):
            yield record.row()

    def find(self, table: str, where: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows whose columns equal `where` (compared as text), newest first."""
        if table == GROUPS_TABLE and set(where) == {"name"}:
            # The common case (选择群聊 → 群ID) reads one registry shard, not the whole registry.
            group = self._find_group(to_text(where["name"]))
            return [group_row(group)] if group else []
        if table != GROUPS_TABLE:
            return [r.row() for r in self.records.find(table, where)]
        wanted = {k: to_text(v).strip() for k, v in where.items()}
        return [row for row in self.rows(table) if all(to_text(row.get(k)).strip() == v for k, v in wanted.items())]

    def _find_group(self, name: str) -> Group | None:
        try:
            return self.registry.find(name)
        except BadInput:  # an empty or malformed name matches nothing
            return None

    def first(self, table: str, where: Mapping[str, Any]) -> dict[str, Any] | None:
        found = self.find(table, where)
        return found[0] if found else None

    def column_values(self, table: str, column: str) -> list[str]:
        """The distinct non-empty values of a column, oldest row first (the order options appear in)."""
        seen: dict[str, None] = {}
        for row in reversed(list(self.rows(table))):
            value = row.get(column)
            for item in value if isinstance(value, list) else [value]:
                text = to_text(item).strip()
                if text:
                    seen.setdefault(text, None)
        return list(seen)

    # Writing ---------------------------------------------------------------------------------
    def insert(self, table: str, values: Mapping[str, Any], *, source: str) -> dict[str, Any]:
        if table == GROUPS_TABLE:
            return group_row(self.registry.add(self._new_group(values, source)))
        return self._written(table, "created", self.records.add(table, values, source=source)).row()

    def update(self, table: str, row: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        if table == GROUPS_TABLE:
            return self._update_group(str(row["name"]), values)
        return self._written(table, "updated", self.records.update(table, str(row["id"]), values)).row()

    def delete(self, table: str, row: Mapping[str, Any]) -> None:
        if table == GROUPS_TABLE:
            self.registry.remove(str(row["name"]))
        else:
            self._written(table, "deleted", self.records.delete(table, str(row["id"])))

    def _written(self, form: str, event: str, record: Record) -> Record:
        if self.on_write is not None:
            self.on_write(form, event, record)
        return record

    @staticmethod
    def _new_group(values: Mapping[str, Any], source: str) -> Group:
        name = to_text(values.get("name")).strip()
        chat_id = to_text(values.get("chat_id")).strip() or None
        cid = to_text(values.get("open_conversation_id")).strip() or None
        if not name:
            raise BadInput("cannot add a group without a name", hint="map `name:` in the add_data node's values")
        if not (chat_id or cid):
            raise BadInput(
                f"cannot add group {name!r} without a chat id",
                hint='map `chat_id: "{{ nodes.<create_group node>.chat_id }}"` in the add_data node\'s values',
            )
        owner = to_text(values.get("owner")).strip() or None
        return Group(name=name, kind="app", chat_id=chat_id, open_conversation_id=cid, owner=owner, source=source)

    def _update_group(self, name: str, values: Mapping[str, Any]) -> dict[str, Any]:
        group = self.registry.get(name)
        new_name = to_text(values.get("name", name)).strip() or name
        if new_name != group.name:
            group = self.registry.rename(group.name, new_name)
        changes: dict[str, Any] = {
            k: (to_text(v).strip() or None) for k, v in values.items() if k in GROUP_WRITABLE and k != "name"
        }
        if changes:
            group = self.registry.add(replace(group, **changes), replace_existing=True)
        return group_row(group)
