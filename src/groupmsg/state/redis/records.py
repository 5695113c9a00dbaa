"""Form records in Redis: per form a hash (`<prefix>records:<form>:docs`, id → document) and a
sorted set giving their order (`…:order`, id → a sequence number shared by every host), so reads
are newest first whichever host submitted. `<prefix>records:forms` lists the forms.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from ...clock import now_iso
from ..model import Record, new_record_id, pick_by_id, record_choices, row_matches
from .conn import Conn, dumps

PAGE = 500
SEGMENT = "redis"  # what Record.segment says for a record kept here


class RedisRecords:
    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def _keys(self, form: str) -> tuple[str, str]:
        return self.conn.key("records", form, "docs"), self.conn.key("records", form, "order")

    def _add_keys(self, form: str) -> builtins.list[str]:
        return [*self._keys(form), self.conn.key("records", "seq"), self.conn.key("records", "forms")]

    # Reading ---------------------------------------------------------------------------------
    def iter(self, form: str) -> Iterator[Record]:
        """Every record of `form`, newest first, read a page at a time."""
        docs_key, order_key = self._keys(form)
        start = 0
        while True:
            ids: list[str] = self.conn.call(partial(_page, order_key, start))
            if not ids:
                return
            docs: list[str | None] = self.conn.call(partial(_hmget, docs_key, ids))
            for raw in docs:
                if raw is not None:  # deleted between the two reads
                    yield Record.from_doc(json.loads(raw), SEGMENT)
            if len(ids) < PAGE:
                return
            start += PAGE

    def list(self, form: str, limit: int | None = None) -> builtins.list[Record]:
        out: builtins.list[Record] = []
        for record in self.iter(form):
            out.append(record)
            if limit and len(out) >= limit:
                break
        return out

    def get(self, form: str, record_id: str) -> Record:
        """A record by id, or by a unique end or start of its id."""
        docs_key, _ = self._keys(form)
        raw = self.conn.call(lambda r: r.hget(docs_key, record_id)) if record_id else None
        if raw is not None:
            return Record.from_doc(json.loads(raw), SEGMENT)
        return pick_by_id(self.iter(form), record_id, id_of=lambda r: r.id, **record_choices(form, record_id))

    def find(self, form: str, where: Mapping[str, Any]) -> builtins.list[Record]:
        return [r for r in self.iter(form) if row_matches(r.row(), where)]

    def forms(self) -> builtins.list[str]:
        return sorted(self.conn.call(lambda r: r.smembers(self.conn.key("records", "forms"))))

    # Writing ---------------------------------------------------------------------------------
    def add(self, form: str, values: Mapping[str, Any], *, source: str = "submit") -> Record:
        record = Record(id=new_record_id(), form=form, values=dict(values), created_at=now_iso(), source=source)
        self.conn.run("RECORDS_ADD", self._add_keys(form), [form, record.id, dumps(record.to_doc())])
        return Record.from_doc(record.to_doc(), SEGMENT)

    def restore(self, form: str, records: Iterable[Record]) -> int:
        """Append records as they are (ids and times kept), oldest first; ids already here are skipped."""
        args = [form]
        for record in records:
            args += [record.id, dumps(record.to_doc())]
        if len(args) == 1:
            return 0
        return int(self.conn.run("RECORDS_ADD", self._add_keys(form), args))

    def update(self, form: str, record_id: str, values: Mapping[str, Any]) -> Record:
        """Set some fields of one record (the others are kept), compare-and-set against other hosts."""
        while True:
            current = self.get(form, record_id)
            updated = Record(
                id=current.id,
                form=form,
                values={**current.values, **values},
                created_at=current.created_at,
                updated_at=now_iso(),
                source=current.source,
                segment=SEGMENT,
            )
            if self._set(form, current, dumps(updated.to_doc())):
                return updated

    def delete(self, form: str, record_id: str) -> Record:
        while True:
            current = self.get(form, record_id)
            if self._set(form, current, ""):
                return current

    def _set(self, form: str, current: Record, new: str) -> bool:
        docs_key, order_key = self._keys(form)
        expected = self.conn.call(lambda r: r.hget(docs_key, current.id))
        if expected is None or Record.from_doc(json.loads(expected)) != current:
            return False
        return bool(self.conn.run("RECORD_SET", [docs_key, order_key], [current.id, expected, new]))


def _page(key: str, start: int, r: Any) -> Any:
    return r.zrevrange(key, start, start + PAGE - 1)


def _hmget(key: str, ids: builtins.list[str], r: Any) -> Any:
    return r.hmget(key, ids)
