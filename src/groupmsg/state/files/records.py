"""Form records (Yida's 表单数据): every submission, with an id and its times.

Storage: one folder per form (`records/form-<crc32 of the name>/`), holding TinyDB segments of at
most SEGMENT_RECORDS records (`records-000001.json`, …). A submission appends to the newest segment
of its form, so its cost does not grow with the form's history; updating or deleting an old record
rewrites only the segment that holds it. Lookups (data linkage, get_data, options) read the
segments newest first, which is what their "most recent wins" rule needs.
"""

from __future__ import annotations

import builtins
import zlib
from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from ...clock import now_iso
from ..model import Record, new_record_id, pick_by_id, record_choices, row_matches
from .store import Store, file_lock
from .trust import check_folder

SEGMENT_RECORDS = 500
TABLE = "records"


class Records:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        check_folder(directory)

    def _folder(self, form: str) -> Path:
        # A hash, not the name: form names are free text (slashes, Chinese, spaces).
        return self.directory / f"form-{zlib.crc32(form.encode('utf-8')):08x}"

    def _segments(self, form: str) -> list[Path]:
        folder = self._folder(form)
        if not check_folder(folder):
            return []
        return sorted(p for p in folder.glob("records-*.json") if p.name[8:-5].isdigit())

    @staticmethod
    def _store(path: Path) -> Store:
        return Store(path, kind="records")

    def _lock(self, form: str) -> Any:
        return file_lock(self._folder(form) / "records.lock")

    # Reading ---------------------------------------------------------------------------------
    def iter(self, form: str) -> Iterator[Record]:
        """Every record of `form`, newest first."""
        for path in reversed(self._segments(form)):
            store = self._store(path)
            docs = list(store.table(TABLE).values())
            for doc in reversed(docs):
                if doc.get("form") == form:  # two names could share a crc32 folder
                    yield store.convert(doc, partial(Record.from_doc, segment=path.name))

    def list(self, form: str, limit: int | None = None) -> builtins.list[Record]:
        out: builtins.list[Record] = []
        for record in self.iter(form):
            out.append(record)
            if limit and len(out) >= limit:
                break
        return out

    def get(self, form: str, record_id: str) -> Record:
        """A record by id, or by a unique end or start of its id (as `runs show` accepts)."""
        return pick_by_id(self.iter(form), record_id, id_of=lambda r: r.id, **record_choices(form, record_id))

    def find(self, form: str, where: Mapping[str, Any]) -> builtins.list[Record]:
        """Records whose row has every `where` column equal (as text) to the given value, newest first."""
        return [r for r in self.iter(form) if row_matches(r.row(), where)]

    def forms(self) -> builtins.list[str]:
        """The forms that have records (read from their documents: folders are named by a hash)."""
        names: set[str] = set()
        if self.directory.is_dir():
            for path in self.directory.glob("form-*/records-*.json"):
                names.update(str(d.get("form")) for d in self._store(path).table(TABLE).values() if d.get("form"))
        return sorted(names)

    # Writing ---------------------------------------------------------------------------------
    def restore(self, form: str, records: Iterable[Record]) -> int:
        """Append records as they are (ids and times kept), oldest first; ids already here are skipped."""
        added = 0
        with self._lock(form):
            have = {r.id for r in self.iter(form)}
            todo = [r for r in records if r.id not in have]
            while todo:
                path = self._segment_for_insert(form)
                room = SEGMENT_RECORDS - len(self._store(path).table(TABLE))
                batch, todo = todo[:room], todo[room:]
                with self._store(path).transaction(locked=True) as db:
                    db.table(TABLE).insert_multiple({**r.to_doc(), "form": form} for r in batch)
                added += len(batch)
        return added

    def add(self, form: str, values: Mapping[str, Any], *, source: str = "submit") -> Record:
        record = Record(id=new_record_id(), form=form, values=dict(values), created_at=now_iso(), source=source)
        with self._lock(form):
            path = self._segment_for_insert(form)
            with self._store(path).transaction(locked=True) as db:
                db.table(TABLE).insert(record.to_doc())
        return Record.from_doc(record.to_doc(), path.name)

    def _segment_for_insert(self, form: str) -> Path:
        segments = self._segments(form)
        if not segments:
            return self._folder(form) / "records-000001.json"
        newest = segments[-1]
        if len(self._store(newest).table(TABLE)) < SEGMENT_RECORDS:
            return newest
        number = int(newest.stem.split("-")[1]) + 1
        return self._folder(form) / f"records-{number:06d}.json"

    def update(self, form: str, record_id: str, values: Mapping[str, Any]) -> Record:
        """Set some fields of one record (the others are kept)."""
        with self._lock(form):
            current = self.get(form, record_id)
            updated = Record(
                id=current.id,
                form=form,
                values={**current.values, **values},
                created_at=current.created_at,
                updated_at=now_iso(),
                source=current.source,
                segment=current.segment,
            )
            self._rewrite(form, current, updated.to_doc())
        return updated

    def delete(self, form: str, record_id: str) -> Record:
        with self._lock(form):
            current = self.get(form, record_id)
            self._rewrite(form, current, None)
        return current

    def _rewrite(self, form: str, record: Record, doc: dict[str, Any] | None) -> None:
        assert record.segment is not None
        with self._store(self._folder(form) / record.segment).transaction(locked=True) as db:
            table = db.table(TABLE)
            if doc is None:
                table.remove(lambda d: d.get("id") == record.id)
            else:
                table.update(doc, lambda d: d.get("id") == record.id)

