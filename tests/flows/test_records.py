"""The form records store: ids and times, newest first, segments so cost does not grow with history."""

from __future__ import annotations

import json
import re

import pytest

from groupmsg.state.files import records as records_module
from groupmsg.errors import BadInput, StateError
from groupmsg.state.files.records import Records


@pytest.fixture
def store(tmp_path) -> Records:
    return Records(tmp_path / "records")


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


def test_submissions_go_to_the_newest_segment(store, monkeypatch):
    monkeypatch.setattr(records_module, "SEGMENT_RECORDS", 3)
    ids = [store.add("甲", {"n": n}).id for n in range(7)]
    folder = next((store.directory).iterdir())
    segments = sorted(p.name for p in folder.glob("records-*.json"))
    assert segments == ["records-000001.json", "records-000002.json", "records-000003.json"]
    sizes = [len(json.loads((folder / s).read_text())["records"]) for s in segments]
    assert sizes == [3, 3, 1]
    assert [r.id for r in store.list("甲")] == ids[::-1]
    # Updating an old record rewrites its own segment only.
    before = (folder / "records-000003.json").read_bytes()
    store.update("甲", ids[0], {"n": 99})
    assert (folder / "records-000003.json").read_bytes() == before
    assert store.get("甲", ids[0]).values["n"] == 99


def test_files_are_private_and_a_foreign_file_is_refused(store):
    store.add("甲", {"n": 1})
    (path,) = store.directory.glob("form-*/records-*.json")
    assert path.stat().st_mode & 0o777 == 0o600
    path.write_text('{"_meta": {"1": {"kind": "registry", "version": 1}}}')
    with pytest.raises(StateError, match="is not a groupmsg records file"):
        store.list("甲")
