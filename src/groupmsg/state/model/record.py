"""Form records (Yida's 表单数据), and how ids and lookups pick them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...clock import stamp
from .checks import typed_fields

RECORD_ID_PREFIX = "FINST-"  # like Yida's form instance ids


def new_record_id() -> str:
    """Sortable by time and unique across processes: FINST-20261125103000-1a2b3c4d."""
    return RECORD_ID_PREFIX + stamp().replace("-", "") + "-" + os.urandom(4).hex()


@dataclass(frozen=True)
class Record:
    id: str
    form: str
    values: Mapping[str, Any]
    created_at: str
    updated_at: str | None = None
    source: str = "submit"  # "submit", or "flow:<flow name>" for rows written by a data node
    segment: str | None = field(default=None, compare=False)  # where a backend keeps it

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any], segment: str | None = None) -> Record:
        values = typed_fields(cls, doc)
        return cls(
            id=values["id"],
            form=values.get("form", ""),
            values=dict(values.get("values") or {}),  # a copy: stored documents may be cached and mutable
            created_at=values.get("created_at", ""),
            updated_at=values.get("updated_at"),
            source=values.get("source", "submit"),
            segment=segment,
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "form": self.form,
            "values": dict(self.values),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "source": self.source,
        }

    def row(self) -> dict[str, Any]:
        """The record as a table row: its fields plus id, created_at and updated_at."""
        return {**self.values, "id": self.id, "created_at": self.created_at, "updated_at": self.updated_at}


def record_choices(form: str, record_id: str) -> dict[str, str]:
    """How `pick_by_id` speaks of a form's records."""
    return {
        "many": f"records of {form}",
        "missing": f"no record {record_id!r} in form {form}",
        "missing_hint": f"see the record ids with `groupmsg forms records {form}`",
    }


def as_text(value: Any) -> str:
    """Compare lookups as text: a number stored as 3 matches the template output "3"."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):
        return ",".join(as_text(v) for v in value)
    return str(value).strip()


def row_matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    return all(as_text(row.get(k)) == as_text(v) for k, v in where.items())


