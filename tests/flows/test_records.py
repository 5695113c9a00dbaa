"""The file store of form records: segments so cost does not grow with history, private files.

The records' behaviour on every backend is in tests/state."""

from __future__ import annotations

import json

import pytest

from groupmsg.errors import StateError
from groupmsg.state.files import records as records_module
from groupmsg.state.files.records import Records


@pytest.fixture
def store(tmp_path) -> Records:
    return Records(tmp_path / "records")


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
