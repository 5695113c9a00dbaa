"""The form records store on every backend: ids and times, newest first, update, delete."""

from __future__ import annotations

import re

import pytest

from groupmsg.errors import BadInput
from groupmsg.state.model import Record


@pytest.fixture
def store(state):
    return state.records


def test_a_record_gets_an_id_and_times(store):
    record = store.add("群消息内容录入表", {"消息内容": "hi", "选择群聊": "项目A"})
    assert re.fullmatch(r"FINST-\d{14}-[0-9a-f]{8}", record.id)
    assert record.created_at and record.updated_at is None and record.source == "submit"
    assert store.get("群消息内容录入表", record.id) == record
    assert record.row() == {
        "消息内容": "hi",
        "选择群聊": "项目A",
        "id": record.id,
        "created_at": record.created_at,
        "updated_at": None,
    }


def test_forms_are_kept_apart_and_listed_newest_first(store):
    a1 = store.add("甲", {"n": 1})
    store.add("乙", {"n": 2})
    a2 = store.add("甲", {"n": 3})
    assert [r.id for r in store.list("甲")] == [a2.id, a1.id]
    assert [r.values["n"] for r in store.list("乙")] == [2]
    assert store.list("甲", limit=1) == [a2]
    assert store.list("丙") == []
    assert store.forms() == sorted(["甲", "乙"])


def test_get_by_a_unique_part_of_the_id(store):
    record = store.add("甲", {"n": 1})
    assert store.get("甲", record.id[-8:]) == record
    with pytest.raises(BadInput, match="no record 'zzz' in form 甲"):
        store.get("甲", "zzz")


def test_find_compares_as_text_newest_first(store):
    store.add("值班", {"级别": 0, "群": "旧"})
    store.add("值班", {"级别": "1", "群": "别的"})
    store.add("值班", {"级别": "0", "群": "新"})
    assert [r.values["群"] for r in store.find("值班", {"级别": "0"})] == ["新", "旧"]
    assert store.find("值班", {"级别": "9"}) == []


def test_update_and_delete_touch_one_record(store):
    keep = store.add("甲", {"a": 1, "b": 2})
    change = store.add("甲", {"a": 3, "b": 4})
    updated = store.update("甲", change.id, {"b": 5})
    assert updated.values == {"a": 3, "b": 5} and updated.updated_at and updated.created_at == change.created_at
    assert store.get("甲", change.id).values == {"a": 3, "b": 5}
    assert store.delete("甲", keep.id).id == keep.id
    assert [r.id for r in store.list("甲")] == [change.id]


def test_restore_keeps_ids_times_and_order_and_skips_what_is_there(store):
    old = [Record(id=f"FINST-20260101000000-0000000{i}", form="甲", values={"n": i},
                  created_at=f"2026-01-01T00:00:0{i}.000+00:00", source="submit") for i in range(3)]
    assert store.restore("甲", old) == 3
    assert store.restore("甲", old) == 0  # a repeated copy adds nothing
    assert [r.id for r in store.list("甲")] == [r.id for r in reversed(old)]
    assert store.get("甲", old[1].id).created_at == old[1].created_at
